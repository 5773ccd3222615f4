"""Reading, backing up, writing atomically, locking, and remembering what was written."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ccendpoint import dirs, file_swap, files
from ccendpoint.errors import CcendpointError
from ccendpoint.vscode import backups, ownership, store
from ccendpoint.vscode.ownership import GroupRecord
from ccendpoint.vscode.plan import plan_add
from vscode_helpers import acme_group


@pytest.fixture(autouse=True)
def state_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    return state


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def backup_of(path: Path) -> backups.Backup | None:
    """A backup of the file as it is now, as ccendpoint makes one before each write."""
    state = store.read_file(path)
    return backups.make_backup(state.key, state.raw)


# --- reading --------------------------------------------------------------------------------------


def test_missing_file_reads_as_none(tmp_path: Path) -> None:
    state = store.read_file(tmp_path / "nope" / "chatLanguageModels.json")
    assert not state.exists and state.text is None and state.mode is None


def test_bytes_are_kept_exactly(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b"\xef\xbb\xbf[\r\n]")
    state = store.read_file(path)
    assert state.raw == b"\xef\xbb\xbf[\r\n]"
    assert state.text == "\ufeff[\r\n]"


def test_non_utf8_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_bytes(b'["caf\xe9"]')
    with pytest.raises(CcendpointError, match="not UTF-8"):
        store.read_file(path)


def test_folder_instead_of_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(CcendpointError, match="is a folder"):
        store.read_file(tmp_path)


def test_path_through_a_regular_file_is_a_clear_error(tmp_path: Path) -> None:
    regular = tmp_path / "regular"
    regular.write_text("x")
    with pytest.raises(CcendpointError) as caught:
        store.read_file(regular / "x.json")
    assert "Not a directory" in caught.value.message and str(regular / "x.json") in caught.value.message
    assert caught.value.hint is not None and "--file" in caught.value.hint


def test_other_read_errors_are_clear_too(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.json"
    path.write_text("[]")

    def broken(self: Path) -> bytes:
        raise OSError(5, "Input/output error", str(self))

    monkeypatch.setattr(Path, "read_bytes", broken)
    with pytest.raises(CcendpointError) as caught:
        store.read_file(path)
    assert "Input/output error" in caught.value.message and caught.value.hint


def _state_under_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    regular = tmp_path / "not-a-folder"
    regular.write_text("x")
    monkeypatch.setenv("XDG_STATE_HOME", str(regular / "state"))
    return regular


def test_lock_in_an_unusable_state_folder_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _state_under_a_file(tmp_path, monkeypatch)
    with pytest.raises(CcendpointError) as caught, files.write_lock():
        pass
    assert "state folder" in caught.value.message and "Not a directory" in caught.value.message
    assert caught.value.hint is not None and "ls -ld" in caught.value.hint


def test_records_and_backups_in_an_unusable_state_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "f.json"
    path.write_text("[]")
    _state_under_a_file(tmp_path, monkeypatch)
    with pytest.raises(CcendpointError, match="state folder"):
        ownership.load_records(str(path))
    with pytest.raises(CcendpointError, match="state folder"):
        backup_of(path)


# --- writing --------------------------------------------------------------------------------------


def test_new_file_is_private_and_its_folders_are_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "chatLanguageModels.json"
    files.write_atomic(target, b"[]", None)
    assert target.read_bytes() == b"[]"
    assert mode_of(target) == 0o600


def test_existing_mode_is_kept_and_no_temp_file_is_left(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    target.write_text("[1]")
    target.chmod(0o640)
    files.write_atomic(target, b"[2]", mode_of(target))
    assert target.read_text() == "[2]"
    assert mode_of(target) == 0o640
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.json"]


def test_symlink_is_written_through_and_stays_a_link(tmp_path: Path) -> None:
    real = tmp_path / "dotfiles" / "models.json"
    real.parent.mkdir()
    real.write_text("[]")
    link = tmp_path / "User" / "chatLanguageModels.json"
    link.parent.mkdir()
    link.symlink_to(real)
    state = store.read_file(link)
    assert state.target == real.resolve()
    plan = plan_add(state.text, acme_group(), None, "acme")
    store.apply_plan(link, plan, state)
    assert link.is_symlink()
    assert real.read_text() == plan.new_text


def test_read_only_file_is_refused_even_for_root(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text("[]")
    path.chmod(0o444)
    state = store.read_file(path)
    plan = plan_add(state.text, acme_group(), None, "acme")
    with pytest.raises(CcendpointError, match="read-only") as raised:
        store.apply_plan(path, plan, state)
    assert "chmod u+w" in (raised.value.hint or "")
    assert path.read_text() == "[]"
    assert backups.list_backups() == []


def test_read_only_file_that_is_up_to_date_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    first = plan_add(None, acme_group(), None, "acme")
    store.apply_plan(path, first, store.read_file(path))
    path.chmod(0o444)
    state = store.read_file(path)
    again = plan_add(state.text, acme_group(), first.record, "acme")
    assert not store.apply_plan(path, again, state).written


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root may write into any folder")
def test_unwritable_folder_is_a_clear_error(tmp_path: Path) -> None:
    folder = tmp_path / "locked"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        with pytest.raises(CcendpointError, match="Cannot write"):
            files.write_atomic(folder / "f.json", b"[]", None)
    finally:
        folder.chmod(0o700)


def test_file_changed_after_planning_is_not_overwritten(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text("[]")
    state = store.read_file(path)
    plan = plan_add(state.text, acme_group(), None, "acme")
    path.write_text('[{"name": "saved by VS Code meanwhile", "vendor": "x"}]')
    with pytest.raises(CcendpointError, match="changed while ccendpoint was planning"):
        store.apply_plan(path, plan, state)
    assert "meanwhile" in path.read_text()


def test_apply_plan_backs_up_writes_and_records(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text("[]")
    state = store.read_file(path)
    plan = plan_add(state.text, acme_group(), None, "acme")
    result = store.apply_plan(path, plan, state)
    assert result.written and result.backup is not None
    assert result.backup.path.read_bytes() == b"[]"
    assert path.read_text() == plan.new_text
    assert ownership.load_record(state.key, "customendpoint", "Acme") == plan.record


def test_unchanged_plan_writes_nothing_and_makes_no_backup(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    first = plan_add(None, acme_group(), None, "acme")
    store.apply_plan(path, first, store.read_file(path))
    before = path.stat().st_mtime_ns
    state = store.read_file(path)
    again = plan_add(state.text, acme_group(), first.record, "acme")
    result = store.apply_plan(path, again, state)
    assert not result.written and result.backup is None
    assert path.stat().st_mtime_ns == before
    assert backups.list_backups() == []


# --- lock -----------------------------------------------------------------------------------------


def test_second_writer_waits_then_gives_up_clearly() -> None:
    holder = files.write_lock()
    holder.__enter__()
    try:
        with pytest.raises(CcendpointError, match=f"process {os.getpid()}"), files.write_lock(timeout=0.2):
            pass
    finally:
        holder.__exit__(None, None, None)


def test_lock_is_released_after_use() -> None:
    with files.write_lock():
        pass
    with files.write_lock(timeout=0.2):
        pass


def test_lock_makes_writers_take_turns() -> None:
    inside: list[int] = []
    overlaps: list[bool] = []

    def writer(n: int) -> None:
        with files.write_lock():
            inside.append(n)
            overlaps.append(len(inside) > 1)
            threading.Event().wait(0.02)
            inside.remove(n)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert overlaps == [False] * 4


# --- backups --------------------------------------------------------------------------------------


def test_the_first_and_the_newest_ten_backups_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    for n in range(14):
        path.write_text(f"[{n}]")
        backup_of(path)
    kept = backups.list_backups(str(path.resolve()))
    assert len(kept) == backups.KEEP_BACKUPS + 1
    assert [b.path.read_text() for b in kept] == [f"[{n}]" for n in range(13, 3, -1)] + ["[0]"]
    assert [b.first for b in kept] == [False] * backups.KEEP_BACKUPS + [True]
    assert all(mode_of(b.path) == 0o600 for b in kept)
    assert mode_of(kept[0].path.parent) == 0o700
    assert kept[0].path.is_relative_to(dirs.state_dir() / "backups")


def test_backups_are_listed_per_file_and_found_by_id(tmp_path: Path) -> None:
    a, b = tmp_path / "a" / "chatLanguageModels.json", tmp_path / "b" / "chatLanguageModels.json"
    for path in (a, b):
        path.parent.mkdir()
        path.write_text("[]")
        backup_of(path)
    assert {x.target for x in backups.list_backups()} == {str(a), str(b)}
    only_a = backups.list_backups(str(a))
    assert [x.target for x in only_a] == [str(a)]
    assert backups.find_backup(only_a[0].id) == only_a[0]
    assert backups.find_backup(only_a[0].path.name).path.read_text() == "[]"
    with pytest.raises(CcendpointError, match="No backup named") as raised:
        backups.find_backup("nope")
    assert raised.value.exit_code == 2


def test_no_backup_for_a_file_that_did_not_exist(tmp_path: Path) -> None:
    assert backup_of(tmp_path / "none.json") is None


def test_restore_backs_up_the_current_file_first(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text("[1]")
    old = backup_of(path)
    assert old is not None
    path.write_text("[2]")
    result = store.restore_backup(old, path)
    assert path.read_text() == "[1]"
    assert result.backup is not None and result.backup.path.read_text() == "[2]"
    assert not store.restore_backup(old, path).written  # already in place


# --- ownership records ----------------------------------------------------------------------------


def test_records_round_trip_and_can_be_forgotten() -> None:
    record = GroupRecord("customendpoint", "Acme", "acme", {"m": ("h2", "h1")}, created=True)
    other = GroupRecord("customendpoint", "Other", "acme", {"n": ("h",)})
    ownership.save_record("/f.json", "customendpoint", "Acme", record)
    ownership.save_record("/f.json", "customendpoint", "Other", other)
    ownership.save_record("/g.json", "customendpoint", "Other", other)
    assert ownership.load_record("/f.json", "customendpoint", "Acme") == record
    assert ownership.load_records("/f.json") == [record, other]
    ownership.save_record("/f.json", "customendpoint", "Acme", None)
    assert ownership.load_record("/f.json", "customendpoint", "Acme") is None
    assert ownership.load_records("/g.json") == [other]
    assert mode_of(ownership.records_path()) == 0o600
    with pytest.raises(ValueError, match="belongs to"):
        ownership.save_record("/g.json", "customendpoint", "Acme", other)


def test_unreadable_record_is_a_clear_error() -> None:
    ownership.records_path().parent.mkdir(parents=True)
    ownership.records_path().write_text("{broken")
    with pytest.raises(CcendpointError, match="ownership record") as raised:
        ownership.load_records("/f.json")
    assert "Delete it" in (raised.value.hint or "")


def test_a_backup_folder_from_before_the_first_was_noted_keeps_its_oldest(tmp_path: Path) -> None:
    path = tmp_path / "f.json"
    path.write_text("[0]")
    first = backup_of(path)
    assert first is not None
    (first.path.parent / "first.txt").unlink()  # as an older ccendpoint left the folder
    for n in range(1, 13):
        path.write_text(f"[{n}]")
        backup_of(path)
    kept = backups.list_backups(str(path.resolve()))
    assert kept[-1].path.read_text() == "[0]" and kept[-1].first


# --- a save of VS Code's racing ccendpoint's write ------------------------------------------------


def _planned(path: Path) -> tuple[store.FileState, Any]:
    state = store.read_file(path)
    return state, plan_add(state.text, acme_group(), None, "acme")


SAVED = b'[{"name": "saved by VS Code", "vendor": "x"}]'


def test_a_save_while_the_new_file_is_written_stops_the_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The save lands after the locked re-read, while the new bytes go to disk: nothing is replaced."""
    path = tmp_path / "vscode" / "f.json"
    path.parent.mkdir()
    path.write_text("[]")
    state, plan = _planned(path)
    real_write_temp = files._write_temp

    def save_meanwhile(target: Path, data: bytes, mode: int | None) -> str:
        temp = real_write_temp(target, data, mode)
        target.write_bytes(SAVED)  # VS Code writes in place
        return temp

    monkeypatch.setattr(files, "_write_temp", save_meanwhile)
    with pytest.raises(CcendpointError, match="changed while ccendpoint was writing"):
        store.apply_plan(path, plan, state)
    assert path.read_bytes() == SAVED
    assert [p.name for p in path.parent.iterdir()] == ["f.json"], "no temporary file is left"


@pytest.mark.parametrize("how", ["in place", "by rename"])
@pytest.mark.skipif(not file_swap.can_swap(), reason="this system cannot swap two files in one step")
def test_a_save_in_the_last_instant_is_kept_in_a_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, how: str
) -> None:
    """The save lands after the last check, right before the rename: its exact bytes stay recoverable."""
    path = tmp_path / "vscode" / "f.json"
    path.parent.mkdir()
    path.write_text("[]")
    state, plan = _planned(path)
    real_swap = file_swap.swap

    def save_then_swap(first: str, second: str) -> bool:
        if how == "in place":
            with open(second, "r+b") as handle:
                handle.write(SAVED)
        else:
            other = tmp_path / "vscode-save.tmp"
            other.write_bytes(SAVED)
            os.replace(other, second)
        return real_swap(first, second)

    monkeypatch.setattr(file_swap, "swap", save_then_swap)
    result = store.apply_plan(path, plan, state)
    assert path.read_text() == plan.new_text
    assert result.backup is not None and result.backup.path.read_bytes() == b"[]"
    assert result.overtaken is not None and result.overtaken.path.read_bytes() == SAVED
    warning = result.warning(path)
    assert warning is not None and f"ccendpoint restore {result.overtaken.id}" in warning
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]


def test_a_file_system_that_cannot_swap_still_gets_the_write(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "vscode" / "f.json"
    path.parent.mkdir()
    path.write_text("[]")
    state, plan = _planned(path)
    monkeypatch.setattr(file_swap, "swap", lambda first, second: False)
    result = store.apply_plan(path, plan, state)
    assert result.written and result.overtaken is None
    assert path.read_text() == plan.new_text
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]


def test_a_file_created_at_the_last_instant_is_not_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ccendpoint makes a new file only where there is none, up to the very rename."""
    path = tmp_path / "vscode" / "f.json"
    path.parent.mkdir()
    state, plan = _planned(path)
    real_bytes_of = files._bytes_of

    def created_after_the_check(target: Path) -> bytes | None:
        found = real_bytes_of(target)
        target.write_bytes(SAVED)
        return found

    monkeypatch.setattr(files, "_bytes_of", created_after_the_check)
    with pytest.raises(CcendpointError, match="changed while ccendpoint was writing"):
        store.apply_plan(path, plan, state)
    assert path.read_bytes() == SAVED
    assert [p.name for p in path.parent.iterdir()] == ["f.json"]


# --- restore when the file is broken --------------------------------------------------------------


@pytest.mark.parametrize("broken", [b'["caf\xe9"]', b"{not json at all", b"\x00\xff\xfe"])
def test_restore_puts_a_backup_over_a_broken_file(tmp_path: Path, broken: bytes) -> None:
    path = tmp_path / "f.json"
    path.write_text("[1]")
    good = backup_of(path)
    assert good is not None
    path.write_bytes(broken)
    result = store.restore_backup(good, path)
    assert path.read_text() == "[1]"
    assert result.backup is not None and result.backup.path.read_bytes() == broken


# --- who may write --------------------------------------------------------------------------------


@contextlib.contextmanager
def acting_as(uid: int, gid: int) -> Iterator[None]:
    """Run the block with another user's effective ids (root only)."""
    os.setegid(gid)
    os.seteuid(uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


NOBODY = 65534


@pytest.mark.skipif(os.name != "posix" or os.geteuid() != 0, reason="making another user's file needs root")
@pytest.mark.parametrize(
    ("owner", "mode", "writable"),
    [
        ((0, 0), 0o644, False),  # someone else's file: its owner's write bit is not ours
        ((0, NOBODY), 0o464, True),  # our group may write, though its owner may not
        ((NOBODY, 0), 0o464, False),  # ours, and we made it read-only
        ((0, 0), 0o646, True),  # anyone may write
    ],
)
def test_read_only_means_what_the_system_allows_the_user(owner: tuple[int, int], mode: int, writable: bool) -> None:
    with tempfile.TemporaryDirectory() as shared:  # a folder the other user can reach
        os.chmod(shared, 0o777)
        path = Path(shared) / "f.json"
        path.write_text("[]")
        os.chown(path, *owner)
        path.chmod(mode)
        state = store.read_file(path)
        with acting_as(NOBODY, NOBODY):
            if writable:
                store.check_writable(state)
            else:
                with pytest.raises(CcendpointError, match="read-only for you"):
                    store.check_writable(state)
