"""Reading and writing VS Code's files (``chatLanguageModels.json``, ``settings.json``) safely.

- The file is read as bytes and decoded as UTF-8, so line endings and a BOM survive untouched.
- Before a write the previous file is copied to ``<state dir>/backups/`` (the newest 10 per file).
- Writes are atomic: a temporary file in the same folder, fsync, rename. A symlinked file is written
  through to its target, so the link stays. The file keeps its mode; new files are created 0600.
- One lock file makes ccendpoint processes take turns, and the file is re-read under the lock: if it
  changed since the plan was made (VS Code saved it, say), nothing is written.
- The ownership record (what ccendpoint wrote, as hashes per file, group and model) is updated only
  after the file was written.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import hashlib
import json
import os
import re
import stat
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccendpoint import dirs
from ccendpoint.errors import CcendpointError
from ccendpoint.files import NEW_FILE_MODE, state_error, write_atomic, write_lock
from ccendpoint.vscode.plan import GroupRecord, Plan

KEEP_BACKUPS = 10
RECORD_VERSION = 1


@dataclass(frozen=True)
class FileState:
    """The file as found: where it is, what it holds, and its mode (None when it does not exist)."""

    path: Path  # as the user named it (may be a symlink)
    target: Path  # the real file written to
    raw: bytes | None
    mode: int | None

    @property
    def exists(self) -> bool:
        return self.raw is not None

    @property
    def text(self) -> str | None:
        return None if self.raw is None else self.raw.decode("utf-8")

    @property
    def key(self) -> str:
        """How records and backups name this file: its real path."""
        return str(self.target)


@dataclass(frozen=True)
class Backup:
    id: str  # "<folder>/<stamp>.json", what `restore` takes
    path: Path
    target: str  # the file it is a copy of
    created: dt.datetime
    size: int

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.target,
            "created": self.created.isoformat(timespec="seconds"),
            "size": self.size,
            "path": str(self.path),
        }


@dataclass(frozen=True)
class WriteResult:
    written: bool
    backup: Backup | None = None


# --- reading --------------------------------------------------------------------------------------


def real_target(path: Path) -> Path:
    """The file a write lands in: symlinks followed all the way, so a link stays a link."""
    return Path(os.path.realpath(path))


def read_file(path: Path) -> FileState:
    target = real_target(path)
    if target.is_dir():
        raise CcendpointError(f"{path} is a folder, not a file.", hint="Name the file itself with --file PATH.")
    try:
        raw = target.read_bytes()
        mode = stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return FileState(path, target, None, None)
    except PermissionError:
        raise CcendpointError(
            f"Cannot read {path}: permission denied.",
            hint="Check the file's owner and permissions (ls -l), then run again.",
        ) from None
    except OSError as exc:
        raise _read_error(path, exc) from None
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CcendpointError(
            f"{path} is not UTF-8 text (byte {exc.start}); VS Code writes UTF-8.",
            hint="Save it as UTF-8 in VS Code, or restore a backup (ccendpoint backups). Nothing was written.",
        ) from None
    return FileState(path, target, raw, mode)


def _read_error(path: Path, exc: OSError) -> CcendpointError:
    if exc.errno == errno.ENOTDIR:
        return CcendpointError(
            f"Cannot read {path}: {exc.strerror}: part of the path is a file, not a folder.",
            hint="Check the path given with --file or --user-data-dir (every part but the last must be a "
            "folder), then run again. Nothing was written.",
        )
    return CcendpointError(
        f"Cannot read {path}: {exc.strerror or exc}.",
        hint="Check that the path exists and is readable (ls -l), then run again. Nothing was written.",
    )


# --- writing --------------------------------------------------------------------------------------


def check_writable(state: FileState) -> None:
    """Refuse to replace a file the user made read-only (a rename would otherwise ignore that)."""
    if state.mode is not None and not state.mode & stat.S_IWUSR:
        raise CcendpointError(
            f"{state.path} is read-only, so ccendpoint leaves it alone.",
            hint=f"Make it writable first (chmod u+w '{state.target}'), or use --dry-run to see the change.",
        )


def _unchanged_since(path: Path, before: FileState) -> FileState:
    """The file as it is now, under the lock; an error when it changed since ``before`` was read."""
    now = read_file(path)
    if now.raw != before.raw:
        raise CcendpointError(
            f"{path} changed while ccendpoint was planning (VS Code may have saved it).",
            hint="Run the command again; nothing was written.",
        )
    return now


def apply_text(path: Path, new_text: str, before: FileState) -> WriteResult:
    """Back up and write ``new_text`` under the lock (VS Code's settings.json, say); nothing when equal."""
    data = new_text.encode("utf-8")
    with write_lock():
        now = _unchanged_since(path, before)
        if now.raw == data:
            return WriteResult(False)
        check_writable(now)
        backup = make_backup(now)
        write_atomic(now.target, data, now.mode)
    return WriteResult(True, backup)


def apply_plan(path: Path, plan: Plan, before: FileState) -> WriteResult:
    """Back up, write and record ``plan``, under the lock. Writes nothing when nothing changes."""
    with write_lock():
        now = _unchanged_since(path, before)
        backup = None
        if plan.changed:
            check_writable(now)
            backup = make_backup(now)
            write_atomic(now.target, plan.new_text.encode("utf-8"), now.mode)
        save_record(now.key, plan.vendor, plan.group, plan.record)
    return WriteResult(plan.changed, backup)


# --- backups --------------------------------------------------------------------------------------


def backups_dir() -> Path:
    return dirs.state_dir() / "backups"


def _folder_for(key: str) -> Path:
    """One folder per file: readable names from the path, plus a hash so names never collide."""
    parts = [p for p in re.split(r"[\\/]", key) if p][-3:-1]
    readable = re.sub(r"[^A-Za-z0-9._-]+", "_", "-".join(parts)) or "file"
    digest = hashlib.sha256(key.encode("utf-8")).hexdigest()[:10]
    return backups_dir() / f"{readable}-{digest}"


def _stamp(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S.%fZ")


def make_backup(state: FileState, keep: int = KEEP_BACKUPS) -> Backup | None:
    """Copy the file's current bytes aside; None when there is no file yet."""
    if state.raw is None:
        return None
    folder = _folder_for(state.key)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
        (folder / "file.txt").write_text(state.key + "\n", encoding="utf-8")
    except OSError as exc:
        raise state_error(folder, exc) from None
    moment = dt.datetime.now(dt.timezone.utc)
    path = folder / f"{_stamp(moment)}.json"
    while path.exists():
        moment += dt.timedelta(microseconds=1)
        path = folder / f"{_stamp(moment)}.json"
    write_atomic(path, state.raw, NEW_FILE_MODE)
    _prune(folder, keep)
    return _backup_at(path, state.key)


def _prune(folder: Path, keep: int) -> None:
    copies = sorted(folder.glob("*.json"))
    for old in copies[: max(0, len(copies) - keep)]:
        with contextlib.suppress(OSError):
            old.unlink()


def _parse_stamp(name: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(name, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def _backup_at(path: Path, target: str) -> Backup | None:
    created = _parse_stamp(path.stem)
    if created is None:
        return None
    return Backup(f"{path.parent.name}/{path.name}", path, target, created, path.stat().st_size)


def list_backups(key: str | None = None) -> list[Backup]:
    """Backups, newest first; only those of one file when ``key`` is given."""
    root = backups_dir()
    if not root.is_dir():
        return []
    found: list[Backup] = []
    for folder in root.iterdir():
        marker = folder / "file.txt"
        if not marker.is_file():
            continue
        target = marker.read_text(encoding="utf-8").strip()
        if key is not None and target != key:
            continue
        for path in folder.glob("*.json"):
            backup = _backup_at(path, target)
            if backup is not None:
                found.append(backup)
    return sorted(found, key=lambda b: b.created, reverse=True)


def find_backup(name: str) -> Backup:
    """A backup by its id, its file name, or its path."""
    every = list_backups()
    candidate = Path(name)
    for backup in every:
        if name in (backup.id, backup.path.name) or (candidate.is_absolute() and candidate == backup.path):
            return backup
    shown = ", ".join(b.id for b in every[:3])
    raise CcendpointError(
        f"No backup named '{name}'.",
        hint=f"`ccendpoint backups` lists them{' (newest: ' + shown + ')' if shown else ''}.",
        exit_code=2,
    )


def read_backup(backup: Backup) -> bytes:
    try:
        return backup.path.read_bytes()
    except OSError as exc:
        raise CcendpointError(
            f"Cannot read backup {backup.id}: {exc.strerror or exc}.",
            hint="`ccendpoint backups` lists the backups that are there; pick another one.",
        ) from None


def restore_backup(backup: Backup, path: Path) -> WriteResult:
    """Put a backup's bytes back in place; the file as it is now is backed up first."""
    data = read_backup(backup)
    with write_lock():
        now = read_file(path)
        check_writable(now)
        if now.raw == data:
            return WriteResult(False)
        saved = make_backup(now)
        write_atomic(now.target, data, now.mode)
    return WriteResult(True, saved)


# --- ownership records ----------------------------------------------------------------------------


def records_path() -> Path:
    return dirs.state_dir() / "ownership.json"


def _load_all() -> dict[str, Any]:
    path = records_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"version": RECORD_VERSION, "files": {}}
    except (NotADirectoryError, PermissionError) as exc:
        raise state_error(path, exc) from None
    except (OSError, ValueError):
        raise CcendpointError(
            f"ccendpoint's ownership record {path} cannot be read.",
            hint="Delete it; ccendpoint then treats entries it wrote earlier as conflicts and asks before "
            "replacing them.",
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
        return {"version": RECORD_VERSION, "files": {}}
    return data


def load_records(key: str) -> list[GroupRecord]:
    """Every group ccendpoint remembers writing to this file."""
    groups = _load_all()["files"].get(key, {}).get("groups", [])
    return [record for item in groups if (record := _record_from(item)) is not None]


def load_record(key: str, vendor: str, name: str) -> GroupRecord | None:
    for record in load_records(key):
        if (record.vendor, record.name) == (vendor, name):
            return record
    return None


def _record_from(item: Any) -> GroupRecord | None:
    if not isinstance(item, dict):
        return None
    models = item.get("models")
    if not isinstance(models, dict):
        return None
    clean = {str(k): tuple(str(h) for h in v) for k, v in models.items() if isinstance(v, list)}
    return GroupRecord(
        str(item.get("vendor", "")),
        str(item.get("name", "")),
        str(item.get("provider", "")),
        clean,
        created=item.get("created") is True,
    )


def _record_data(record: GroupRecord) -> Mapping[str, Any]:
    return {
        "vendor": record.vendor,
        "name": record.name,
        "provider": record.provider,
        "models": {k: list(v) for k, v in record.models.items()},
        "created": record.created,
    }


def save_record(key: str, vendor: str, name: str, record: GroupRecord | None) -> None:
    """Remember (or forget, with None) what ccendpoint wrote to one group of one file."""
    if record is not None and (record.vendor, record.name) != (vendor, name):
        raise ValueError(f"the record belongs to group {record.name!r}, not {name!r}")
    data = _load_all()
    entry = data["files"].setdefault(key, {"groups": []})
    groups = [g for g in entry.get("groups", []) if (g.get("vendor"), g.get("name")) != (vendor, name)]
    if record is not None and record.models:
        groups.append(_record_data(record))
    if groups:
        entry["groups"] = groups
    else:
        data["files"].pop(key, None)
    text = json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True) + "\n"
    if records_path().exists() and records_path().read_text(encoding="utf-8") == text:
        return
    write_atomic(records_path(), text.encode("utf-8"), NEW_FILE_MODE)
