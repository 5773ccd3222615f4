"""Writing files safely: atomic replacement, and one ccendpoint process writing at a time.

Every file ccendpoint writes (VS Code's files, backups, records, the installed catalog, service
definitions, caches) goes through :func:`write_atomic`: a temporary file in the same folder, fsync,
rename, so a crash leaves the old file or the new one, never half of each. VS Code's own files go
through :func:`replace_checked`, which also makes sure no save of VS Code's is lost on the way. :func:`write_lock` makes
ccendpoint processes take turns; the OS drops the lock when a process dies.
"""

from __future__ import annotations

import contextlib
import errno
import os
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from ccendpoint import dirs, file_swap
from ccendpoint.errors import CcendpointError

if sys.platform == "win32":
    import msvcrt
else:
    import fcntl

#: The mode of a file ccendpoint creates, unless the caller says otherwise: only the user reads it.
NEW_FILE_MODE = 0o600
LOCK_TIMEOUT = 10.0


def write_atomic(target: Path, data: bytes, mode: int | None) -> None:
    """Write ``data`` to ``target`` through a temporary file in the same folder, then rename.

    ``mode``: the new file's permissions (None: :data:`NEW_FILE_MODE`). Run as root on someone
    else's file, the file keeps its owner.
    """
    temp = _write_temp(target, data, mode)
    try:
        os.replace(temp, target)
    except OSError as exc:
        _drop(temp)
        raise _write_error(target, exc) from None
    _fsync_folder(target.parent)


def replace_checked(target: Path, data: bytes, mode: int | None, expected: bytes | None) -> bytes | None:
    """Like :func:`write_atomic`, for a file another program may save at any moment (VS Code's).

    ``target`` is replaced only if it still holds ``expected`` (None: it does not exist), checked
    once the new bytes are on disk, right before the rename; otherwise nothing is written and a
    :class:`CcendpointError` says so. Where the system can swap files (:mod:`ccendpoint.file_swap`)
    the replaced file is swapped out rather than dropped: if a save slipped in after the check, its
    bytes are returned so the caller can keep them. Returns None when what was replaced was
    ``expected``.
    """
    temp = _write_temp(target, data, mode)
    try:
        if _bytes_of(target) != expected:
            raise _changed_error(target)
        if expected is None:
            _create(temp, target)
            return None
        if not file_swap.swap(temp, str(target)):
            os.replace(temp, target)
            return None
    except OSError as exc:
        _drop(temp)
        raise _write_error(target, exc) from None
    except CcendpointError:
        _drop(temp)
        raise
    _fsync_folder(target.parent)
    try:  # ``temp`` now names the file that was replaced
        replaced = Path(temp).read_bytes()
    except OSError as exc:
        raise CcendpointError(
            f"Wrote {target}, but cannot read the file it replaced: {exc.strerror or exc}.",
            hint=f"That file is kept as {temp}; copy it somewhere safe if you need it.",
        ) from None
    _drop(temp)
    return None if replaced == expected else replaced


def _write_temp(target: Path, data: bytes, mode: int | None) -> str:
    """The new bytes in a temporary file next to ``target``, flushed to disk, with their final mode."""
    folder = target.parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise _write_error(target, exc) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temp, NEW_FILE_MODE if mode is None else mode)
        _keep_owner(temp, target)
    except OSError as exc:
        _drop(temp)
        raise _write_error(target, exc) from None
    return temp


def _bytes_of(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def _create(temp: str, target: Path) -> None:
    """Put ``temp`` at ``target`` only if nothing is there (a hard link fails when it is)."""
    try:
        os.link(temp, target)
    except FileExistsError:
        raise _changed_error(target) from None
    except OSError:  # a file system without hard links: the check just before has to do
        os.replace(temp, target)
        return
    _drop(temp)


def _drop(temp: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(temp)


def _changed_error(target: Path) -> CcendpointError:
    return CcendpointError(
        f"{target} changed while ccendpoint was writing it (VS Code may have saved it).",
        hint="Run the command again; nothing was written.",
    )


def _keep_owner(temp: str, target: Path) -> None:
    """When run as root on someone's file, the new file keeps that someone as owner."""
    if sys.platform == "win32" or os.geteuid() != 0:
        return
    with contextlib.suppress(OSError):
        info = target.stat()
        os.chown(temp, info.st_uid, info.st_gid)


def _fsync_folder(folder: Path) -> None:
    if sys.platform == "win32":
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_error(target: Path, exc: OSError) -> CcendpointError:
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return CcendpointError(
            f"Cannot write {target}: {exc.strerror}.",
            hint=f"Check that you may write in {target.parent} (ls -ld), then run again. Nothing was changed.",
        )
    return CcendpointError(f"Cannot write {target}: {exc.strerror or exc}.", hint="Nothing was changed.")


def state_error(path: Path, exc: OSError) -> CcendpointError:
    """ccendpoint's own state folder (lock, backups, records) cannot be used."""
    return CcendpointError(
        f"Cannot use ccendpoint's state folder: {exc.strerror or exc}: {exc.filename or path}.",
        hint=f"Make sure {dirs.state_dir()} is a folder you may write in (ls -ld), then run again"
        + (" (XDG_STATE_HOME moves it)" if sys.platform.startswith("linux") else "")
        + ". Nothing was written.",
    )


# --- lock -----------------------------------------------------------------------------------------


def lock_path() -> Path:
    return dirs.state_dir() / "write.lock"


@contextlib.contextmanager
def write_lock(timeout: float = LOCK_TIMEOUT) -> Iterator[None]:
    """Only one ccendpoint process writes at a time. The OS drops the lock if a process dies."""
    path = lock_path()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(path, "a+b")  # noqa: SIM115 - held for the whole block
    except OSError as exc:
        raise state_error(path, exc) from None
    try:
        _acquire(handle, path, timeout)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()).encode())
        handle.flush()
        try:
            yield
        finally:
            _release(handle)
    finally:
        handle.close()


def _acquire(handle: IO[bytes], path: Path, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not _try_lock(handle):
        if time.monotonic() >= deadline:
            handle.seek(0)
            holder = handle.read().decode(errors="replace").strip() or "unknown"
            raise CcendpointError(
                f"Another ccendpoint command is writing VS Code's file (process {holder}).",
                hint=f"Wait for it to finish and run again. The lock is {path}.",
            )
        time.sleep(0.05)


def _try_lock(handle: IO[bytes]) -> bool:
    if sys.platform == "win32":
        handle.seek(0)
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)
        except OSError:
            return False
        return True
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    return True


def _release(handle: IO[bytes]) -> None:
    if sys.platform == "win32":
        handle.seek(0)
        with contextlib.suppress(OSError):
            msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)
        return
    fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
