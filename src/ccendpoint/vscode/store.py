"""Reading and writing VS Code's files (``chatLanguageModels.json``, ``settings.json``) safely.

- The file is read as bytes and decoded as UTF-8, so line endings and a BOM survive untouched.
- Before a write the previous file is copied aside (:mod:`ccendpoint.vscode.backups`).
- Writes are atomic (:mod:`ccendpoint.files`). A symlinked file is written through to its target,
  so the link stays. The file keeps its mode; new files are created 0600.
- One lock makes ccendpoint processes take turns, and the file is re-read under the lock: if it
  changed since the plan was made (VS Code saved it, say), nothing is written.
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
from ccendpoint.files import write_atomic, write_lock
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
        backup = make_backup(now.key, now.raw)
        write_atomic(now.target, data, now.mode)
    return WriteResult(True, backup)


def apply_plan(path: Path, plan: Plan, before: FileState) -> WriteResult:
    """Back up, write and record ``plan``, under the lock. Writes nothing when nothing changes."""
    with write_lock():
        now = _unchanged_since(path, before)
        backup = None
        if plan.changed:
            check_writable(now)
            backup = make_backup(now.key, now.raw)
            write_atomic(now.target, plan.new_text.encode("utf-8"), now.mode)
        save_record(now.key, plan.vendor, plan.group, plan.record)
    return WriteResult(plan.changed, backup)


def restore_backup(backup: Backup, path: Path) -> WriteResult:
    """Put a backup's bytes back in place; the file as it is now is backed up first."""
    data = read_backup(backup)
    with write_lock():
        now = read_file(path)
        check_writable(now)
        if now.raw == data:
            return WriteResult(False)
        saved = make_backup(now.key, now.raw)
        write_atomic(now.target, data, now.mode)
    return WriteResult(True, saved)
