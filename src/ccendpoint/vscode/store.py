"""Reading and writing VS Code's files (``chatLanguageModels.json``, ``settings.json``) safely.

- The file is read as bytes and decoded as UTF-8, so line endings and a BOM survive untouched.
- Before a write the previous file is copied aside (:mod:`ccendpoint.vscode.backups`).
- Writes are atomic (:mod:`ccendpoint.files`). A symlinked file is written through to its target,
  so the link stays. The file keeps its mode; new files are created 0600.
- One lock makes ccendpoint processes take turns, and the file is re-read under the lock: if it
  changed since the plan was made (VS Code saved it, say), nothing is written. It is checked once
  more right before the rename; a save of VS Code's that lands after even that check is kept as a
  backup of its own (:attr:`WriteResult.overtaken`), so the bytes ccendpoint replaced are always in a
  backup.
- The ownership record (:mod:`ccendpoint.vscode.ownership`) is updated only after the file was
  written.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ccendpoint.errors import CcendpointError
from ccendpoint.files import replace_checked, write_lock
from ccendpoint.vscode.backups import Backup, make_backup, read_backup
from ccendpoint.vscode.ownership import save_record
from ccendpoint.vscode.plan import Plan


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
class WriteResult:
    written: bool
    backup: Backup | None = None  # the file as ccendpoint found it
    overtaken: Backup | None = None  # a save that landed in the instant before the rename

    def warning(self, path: Path) -> str | None:
        """What to tell the user when a save of another program's was replaced."""
        if self.overtaken is None:
            return None
        return (
            f"{path} was saved by another program (VS Code?) at the very moment ccendpoint wrote it. "
            f"That save is kept in backup {self.overtaken.id}; `ccendpoint restore {self.overtaken.id}` "
            "puts it back (then run this command again)."
        )


# --- reading --------------------------------------------------------------------------------------


def real_target(path: Path) -> Path:
    """The file a write lands in: symlinks followed all the way, so a link stays a link."""
    return Path(os.path.realpath(path))


def read_file(path: Path) -> FileState:
    """The file as found; an error when it is not UTF-8 text."""
    state = read_raw(path)
    if state.raw is not None:
        try:
            state.raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CcendpointError(
                f"{path} is not UTF-8 text (byte {exc.start}); VS Code writes UTF-8.",
                hint="Save it as UTF-8 in VS Code, or restore a backup (ccendpoint restore). Nothing was written.",
            ) from None
    return state


def read_raw(path: Path) -> FileState:
    """The file's bytes as they are, whatever they hold (``restore`` must work on a broken file)."""
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
    """Refuse to replace a file the running user may not write (a rename would otherwise ignore that).

    The OS decides (owner, group and other bits, ACLs). root may write anything, so for root a file
    nobody may write counts as read-only: someone made it so on purpose.
    """
    if state.mode is None:
        return
    effective = os.access in os.supports_effective_ids
    if os.access(state.target, os.W_OK, effective_ids=effective) and not (_is_root() and not state.mode & 0o222):
        return
    raise CcendpointError(
        f"{state.path} is read-only for you, so ccendpoint leaves it alone.",
        hint=f"Make it writable first (ls -l '{state.target}'; chmod u+w or chown), "
        "or use --dry-run to see the change.",
    )


def _is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


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
        return _replace(now, data)


def apply_plan(path: Path, plan: Plan, before: FileState) -> WriteResult:
    """Back up, write and record ``plan``, under the lock. Writes nothing when nothing changes."""
    with write_lock():
        now = _unchanged_since(path, before)
        result = _replace(now, plan.new_text.encode("utf-8")) if plan.changed else WriteResult(False)
        save_record(now.key, plan.vendor, plan.group, plan.record)
    return result


def restore_backup(backup: Backup, path: Path) -> WriteResult:
    """Put a backup's bytes back in place; the file as it is now is backed up first, readable or not."""
    data = read_backup(backup)
    with write_lock():
        now = read_raw(path)
        if now.raw == data:
            return WriteResult(False)
        return _replace(now, data)


def _replace(now: FileState, data: bytes) -> WriteResult:
    """Back up the file as found, then replace it; a save that overtook the write gets a backup too."""
    check_writable(now)
    backup = make_backup(now.key, now.raw)
    overtaken_bytes = replace_checked(now.target, data, now.mode, now.raw)
    overtaken = make_backup(now.key, overtaken_bytes) if overtaken_bytes is not None else None
    return WriteResult(True, backup, overtaken)
