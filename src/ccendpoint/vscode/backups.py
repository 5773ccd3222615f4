"""Backups of VS Code's files: one folder per file, the newest few copies kept, found by id or name.

Every write of ccendpoint to a file of VS Code's copies the file as it was to
``<state dir>/backups/<folder>/<UTC time>.json`` first; ``ccendpoint backups`` lists the copies and
``ccendpoint restore`` puts one back. A folder's ``file.txt`` says which file its copies are of.
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

#: Copies kept per file; the oldest go first.
KEEP_BACKUPS = 10


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
        (folder / "file.txt").write_text(key + "\n", encoding="utf-8")
    except OSError as exc:
        raise state_error(folder, exc) from None
    moment = dt.datetime.now(dt.timezone.utc)
    path = folder / f"{_stamp(moment)}.json"
    while path.exists():
        moment += dt.timedelta(microseconds=1)
        path = folder / f"{_stamp(moment)}.json"
    write_atomic(path, data, NEW_FILE_MODE)
    _prune(folder, keep)
    return _backup_at(path, key)


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
