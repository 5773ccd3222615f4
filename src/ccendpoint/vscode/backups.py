"""Backups of VS Code's files: one folder per file, the first and newest copies kept, found by id or name.

Every write of ccendpoint to a file of VS Code's copies the file as it was to
``<state dir>/backups/<folder>/<UTC time>.json`` first; ``ccendpoint backups`` lists the copies and
``ccendpoint restore`` puts one back. A folder's ``file.txt`` says which file its copies are of.

The newest :data:`KEEP_BACKUPS` copies are kept, and always the first one: the file as it was before
ccendpoint ever changed it. ``first.txt`` names that copy.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccendpoint import dirs
from ccendpoint.errors import CcendpointError
from ccendpoint.files import NEW_FILE_MODE, state_error, write_atomic

#: Copies kept per file besides the first one; the oldest others go first.
KEEP_BACKUPS = 10
_FILE_MARKER = "file.txt"
_FIRST_MARKER = "first.txt"


@dataclass(frozen=True)
class Backup:
    id: str  # "<folder>/<stamp>.json", what `restore` takes
    path: Path
    target: str  # the file it is a copy of
    created: dt.datetime
    size: int
    first: bool = False  # the file as it was before ccendpoint first changed it; never rotated away

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "file": self.target,
            "created": self.created.isoformat(timespec="seconds"),
            "size": self.size,
            "first": self.first,
            "path": str(self.path),
        }


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


def make_backup(key: str, data: bytes | None, keep: int = KEEP_BACKUPS) -> Backup | None:
    """Copy a file's bytes aside (``key``: its real path); None when there is no file yet (``data`` None)."""
    if data is None:
        return None
    folder = _folder_for(key)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):
            os.chmod(folder, 0o700)
        (folder / _FILE_MARKER).write_text(key + "\n", encoding="utf-8")
    except OSError as exc:
        raise state_error(folder, exc) from None
    moment = dt.datetime.now(dt.timezone.utc)
    path = folder / f"{_stamp(moment)}.json"
    while path.exists():
        moment += dt.timedelta(microseconds=1)
        path = folder / f"{_stamp(moment)}.json"
    write_atomic(path, data, NEW_FILE_MODE)
    first = _first_copy(folder)
    _prune(folder, keep, first)
    return _backup_at(path, key, first)


def _first_copy(folder: Path) -> str:
    """The name of the folder's first copy, noted the first time a copy is made.

    A folder from before the note existed gets its oldest copy noted: the earliest left.
    """
    marker = folder / _FIRST_MARKER
    with contextlib.suppress(OSError):
        name = marker.read_text(encoding="utf-8").strip()
        if name:
            return name
    copies = sorted(folder.glob("*.json"))
    name = copies[0].name if copies else ""
    write_atomic(marker, (name + "\n").encode("utf-8"), NEW_FILE_MODE)
    return name


def _prune(folder: Path, keep: int, first: str) -> None:
    copies = [path for path in sorted(folder.glob("*.json")) if path.name != first]
    for old in copies[: max(0, len(copies) - keep)]:
        with contextlib.suppress(OSError):
            old.unlink()


def _parse_stamp(name: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(name, "%Y%m%dT%H%M%S.%fZ").replace(tzinfo=dt.timezone.utc)
    except ValueError:
        return None


def _backup_at(path: Path, target: str, first: str) -> Backup | None:
    created = _parse_stamp(path.stem)
    if created is None:
        return None
    size = path.stat().st_size
    return Backup(f"{path.parent.name}/{path.name}", path, target, created, size, path.name == first)


def _first_noted(folder: Path) -> str:
    try:
        return (folder / _FIRST_MARKER).read_text(encoding="utf-8").strip()
    except OSError:
        return ""


def list_backups(key: str | None = None) -> list[Backup]:
    """Backups, newest first; only those of one file when ``key`` is given."""
    root = backups_dir()
    if not root.is_dir():
        return []
    found: list[Backup] = []
    for folder in root.iterdir():
        marker = folder / _FILE_MARKER
        if not marker.is_file():
            continue
        target = marker.read_text(encoding="utf-8").strip()
        if key is not None and target != key:
            continue
        first = _first_noted(folder)
        for path in folder.glob("*.json"):
            backup = _backup_at(path, target, first)
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
