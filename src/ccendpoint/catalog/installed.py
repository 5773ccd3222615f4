"""Which catalog is active: the bundled one, or an installed bundle, checked against its manifest.

A bundle is the provider YAML files plus ``manifest.json``::

    {"format": 1, "version": "2026.12.15", "date": "2026-12-15",
     "files": {"kimi.yaml": {"sha256": "…", "size": 5120}, …}}

An installed bundle (:mod:`ccendpoint.catalog.bundle` installs one) is used while it is newer than
the catalog this release bundles; every load re-checks its files against the manifest, so a file
changed behind ccendpoint's back is reported.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ccendpoint import dirs
from ccendpoint.errors import CatalogError, CcendpointError

MANIFEST = "manifest.json"
POINTER = "active.json"
FORMAT = 1
MAX_FILES = 100
MAX_FILE_BYTES = 4 * 1024 * 1024
MAX_MANIFEST_BYTES = 1024 * 1024
#: ``list`` and ``show`` warn when the active catalog is older than this.
STALE_DAYS = 60

_FILE_NAME = re.compile(r"^[a-z0-9][a-z0-9._-]*\.ya?ml$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,63}$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class BundleError(CcendpointError):
    """A bundle that cannot be installed; the active catalog is unchanged."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message, hint=(hint + " " if hint else "") + "Nothing was changed.")


@dataclass(frozen=True)
class FileEntry:
    sha256: str
    size: int


@dataclass(frozen=True)
class Manifest:
    version: str
    date: str
    files: Mapping[str, FileEntry]

    def to_bytes(self) -> bytes:
        files = {name: {"sha256": e.sha256, "size": e.size} for name, e in sorted(self.files.items())}
        data = {"format": FORMAT, "version": self.version, "date": self.date, "files": files}
        return (json.dumps(data, indent=2) + "\n").encode("utf-8")


@dataclass(frozen=True)
class ActiveCatalog:
    """Which catalog ``list``, ``show``, ``add`` and the proxy use, and how old it is."""

    kind: str  # "bundled" or "installed"
    version: str
    date: str
    bundled_version: str
    bundled_date: str
    source: str = ""  # where an installed catalog came from
    installed_at: str = ""
    folder: Path | None = None
    note: str = ""  # e.g. why an installed catalog is not used
    files: Mapping[str, FileEntry] = field(default_factory=dict)

    def age_days(self, today: dt.date | None = None) -> int:
        return ((today or dt.date.today()) - dt.date.fromisoformat(self.date)).days

    def stale_warning(self, today: dt.date | None = None) -> str | None:
        """A sentence for ``list`` and ``show`` when the catalog is older than :data:`STALE_DAYS`."""
        age = self.age_days(today)
        if age <= STALE_DAYS:
            return None
        return (
            f"The active catalog ({self.kind}, version {self.version}) is dated {self.date}, {age} days ago: "
            "prices and models may have changed. `ccendpoint catalog drift` checks against the providers; "
            "`ccendpoint catalog update --from URL` installs a newer one."
        )


def _installed_error(where: str, problem: str) -> CatalogError:
    error = CatalogError(where, "", problem)
    error.hint = "Run `ccendpoint catalog reset` to go back to the bundled catalog, then update again if you like."
    return error


def manifest_for(version: str, date: str, files: Mapping[str, bytes]) -> Manifest:
    return Manifest(
        version=version,
        date=date,
        files={name: FileEntry(hashlib.sha256(data).hexdigest(), len(data)) for name, data in files.items()},
    )


def parse_manifest(raw: bytes, label: str) -> Manifest:
    """The manifest, or :class:`BundleError` naming what is wrong with it."""
    if len(raw) > MAX_MANIFEST_BYTES:
        raise BundleError(f"{label}: the manifest is larger than {MAX_MANIFEST_BYTES // 1024} KiB.")
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise BundleError(f"{label}: the manifest is not JSON ({exc}).") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise BundleError(
            f"{label}: not a ccendpoint catalog manifest (format {FORMAT} expected).",
            "A newer ccendpoint may be needed for this bundle.",
        )
    version, date, files = data.get("version"), data.get("date"), data.get("files")
    if not isinstance(version, str) or not _VERSION.match(version):
        raise BundleError(f"{label}: 'version' must be a short name such as 2026.12.15.")
    if not isinstance(date, str) or not _DATE.match(date):
        raise BundleError(f"{label}: 'date' must be written YYYY-MM-DD.")
    try:
        dt.date.fromisoformat(date)
    except ValueError:
        raise BundleError(f"{label}: 'date' {date!r} is not a calendar date.") from None
    if not isinstance(files, dict) or not files or len(files) > MAX_FILES:
        raise BundleError(f"{label}: 'files' must list 1 to {MAX_FILES} catalog files.")
    entries: dict[str, FileEntry] = {}
    for name, entry in files.items():
        if not isinstance(name, str) or not _FILE_NAME.match(name):
            raise BundleError(f"{label}: {name!r} is not a plain catalog file name (such as kimi.yaml).")
        sha = entry.get("sha256") if isinstance(entry, dict) else None
        size = entry.get("size") if isinstance(entry, dict) else None
        if not isinstance(sha, str) or not _SHA256.match(sha):
            raise BundleError(f"{label}: {name}: 'sha256' must be 64 lowercase hex digits.")
        if not isinstance(size, int) or isinstance(size, bool) or not 0 < size <= MAX_FILE_BYTES:
            raise BundleError(f"{label}: {name}: 'size' must be a byte count up to {MAX_FILE_BYTES // 1024} KiB.")
        entries[name] = FileEntry(sha, size)
    return Manifest(version=version, date=date, files=entries)


def check_files(manifest: Manifest, files: Mapping[str, bytes]) -> None:
    """Every file present, of the declared size and hash; :class:`BundleError` for the first that is not."""
    for name, entry in sorted(manifest.files.items()):
        data = files.get(name)
        if data is None:
            raise BundleError(f"{name} is listed in the manifest but missing from the bundle.")
        if len(data) != entry.size:
            raise BundleError(
                f"{name} has {len(data)} bytes, the manifest says {entry.size}.",
                "The download was cut short or the file was changed.",
            )
        if hashlib.sha256(data).hexdigest() != entry.sha256:
            raise BundleError(
                f"{name} does not match its SHA-256 in the manifest: it was changed after the bundle was made.",
                "Get the bundle again from its publisher.",
            )


# -- the active catalog ----------------------------------------------------------------------------


def root() -> Path:
    return dirs.data_dir() / "catalog"


def bundled_info() -> tuple[str, str]:
    """(version, date) of the catalog this release ships."""
    data = json.loads(resources.files("ccendpoint.catalog").joinpath("bundled.json").read_text("utf-8"))
    return str(data["version"]), str(data["date"])


def _pointer() -> dict[str, Any] | None:
    path = root() / POINTER
    try:
        data = json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise CatalogError(str(path), "", f"cannot read which catalog is installed ({exc})") from None
    return data if isinstance(data, dict) else None


def active() -> ActiveCatalog:
    """The installed catalog when there is one newer than the bundled one, else the bundled catalog."""
    version, date = bundled_info()
    bundled = ActiveCatalog("bundled", version, date, version, date)
    pointer = _pointer()
    if pointer is None:
        return bundled
    folder = root() / str(pointer.get("folder", ""))
    label = str(folder / MANIFEST)
    try:
        manifest = parse_manifest((folder / MANIFEST).read_bytes(), label)
    except (OSError, BundleError) as exc:
        raise _installed_error(label, f"the installed catalog is damaged ({getattr(exc, 'message', exc)})") from None
    installed = ActiveCatalog(
        "installed",
        manifest.version,
        manifest.date,
        version,
        date,
        source=str(pointer.get("source", "")),
        installed_at=str(pointer.get("installed_at", "")),
        folder=folder,
        files=manifest.files,
    )
    if manifest.date < date:
        note = (
            f"An installed catalog (version {manifest.version}, {manifest.date}) is older than the one this "
            "release bundles, so it is not used."
        )
        return ActiveCatalog("bundled", version, date, version, date, note=note)
    return installed


def installed_sources(info: ActiveCatalog) -> list[tuple[str, bytes]]:
    """(file name, bytes) of an installed catalog, each re-checked against its manifest."""
    assert info.folder is not None
    files: dict[str, bytes] = {}
    for name in info.files:
        path = info.folder / name
        try:
            files[name] = path.read_bytes()
        except OSError as exc:
            raise _installed_error(str(path), f"cannot read ({exc.strerror})") from None
    try:
        check_files(Manifest(info.version, info.date, info.files), files)
    except BundleError as exc:
        raise _installed_error(str(info.folder), f"the installed catalog was changed: {exc.message}") from None
    return sorted(files.items())
