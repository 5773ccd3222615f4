"""Installing a catalog bundle: verify it, load it as a whole catalog, and switch to it atomically.

A bundle (its manifest: :mod:`ccendpoint.catalog.installed`) is installed only when every file
matches the manifest (size and SHA-256) and the whole set loads as a catalog (schema, semantic
checks, no clashes). The files go into a new folder next to the current one, and a small pointer
file (``active.json``) is then replaced atomically: an interrupted or refused update leaves the
active catalog exactly as it was.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ccendpoint.catalog.installed import (
    MANIFEST,
    MAX_MANIFEST_BYTES,
    POINTER,
    BundleError,
    Manifest,
    check_files,
    parse_manifest,
    root,
)
from ccendpoint.catalog.loader import Source, build_catalog
from ccendpoint.errors import CatalogError, CcendpointError, UsageError
from ccendpoint.files import write_atomic, write_lock
from ccendpoint.urls import hostname, is_loopback

KEEP_INSTALLED = 2


def check_catalog(files: Mapping[str, bytes]) -> int:
    """Load the files as a whole catalog (schema, semantic checks, clashes); the number of providers."""
    try:
        catalog = build_catalog([Source(name, files[name]) for name in sorted(files)])
    except CatalogError as exc:
        raise BundleError(f"the bundle is not a valid catalog: {exc.message}") from None
    return len(catalog.providers)


def install(manifest: Manifest, files: Mapping[str, bytes], source: str, *, now: dt.datetime | None = None) -> Path:
    """Put a checked bundle in place; the switch is one atomic rename of the pointer file."""
    check_files(manifest, files)
    check_catalog(files)
    moment = now or dt.datetime.now(dt.timezone.utc)
    name = f"{manifest.version}-{moment.strftime('%Y%m%dT%H%M%S%f')}"
    base = root()
    staging = base / f".incoming-{name}"
    final = base / name
    with write_lock():
        try:
            staging.mkdir(parents=True, exist_ok=False)
            for file_name in manifest.files:
                write_atomic(staging / file_name, files[file_name], 0o644)
            write_atomic(staging / MANIFEST, manifest.to_bytes(), 0o644)
            os.rename(staging, final)
        except (OSError, CcendpointError) as exc:
            shutil.rmtree(staging, ignore_errors=True)
            message = exc.message if isinstance(exc, CcendpointError) else f"{exc.strerror or exc}"
            raise BundleError(f"cannot write the catalog into {base}: {message}") from None
        pointer = {"folder": name, "source": source, "installed_at": moment.isoformat(timespec="seconds")}
        write_atomic(base / POINTER, (json.dumps(pointer, indent=2) + "\n").encode("utf-8"), 0o644)
        _prune(base, keep={name})
    return final


def _prune(base: Path, keep: set[str]) -> None:
    """Older installed catalogs beyond the newest few, and leftovers of interrupted installs."""
    folders = sorted((p for p in base.iterdir() if p.is_dir()), key=lambda p: p.stat().st_mtime, reverse=True)
    kept = 0
    for folder in folders:
        if folder.name in keep:
            continue
        if folder.name.startswith(".incoming-") or kept >= KEEP_INSTALLED - 1:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            kept += 1


def reset() -> bool:
    """Back to the bundled catalog; True when an installed one was removed."""
    base = root()
    if not (base / POINTER).exists() and not base.exists():
        return False
    with write_lock():
        had = (base / POINTER).exists()
        try:
            (base / POINTER).unlink(missing_ok=True)
        except OSError as exc:
            raise CcendpointError(
                f"Cannot remove {base / POINTER}: {exc.strerror}.", hint="Check its permissions."
            ) from None
        shutil.rmtree(base, ignore_errors=True)
    return had


# -- reading a bundle (files or HTTP) -------------------------------------------------------------


def _manifest_location(location: str) -> tuple[str, bool]:
    """(manifest URL or path, is_url). A folder or base URL means its manifest.json."""
    if re.match(r"^[A-Za-z][A-Za-z0-9+.-]*://", location):
        parts = urlsplit(location)
        if parts.scheme not in ("https", "http") or not parts.hostname:
            raise UsageError(f"--from {location!r}: only https URLs (or a file) are accepted.")
        if parts.scheme == "http" and not is_loopback(location):
            raise UsageError(
                f"--from {location!r}: plain http is only accepted for this machine (127.0.0.1, localhost).",
                hint="Use the https address of the bundle.",
            )
        url = location if parts.path.endswith(".json") else location.rstrip("/") + "/" + MANIFEST
        return url, True
    path = Path(location).expanduser()
    if path.is_dir():
        path = path / MANIFEST
    return str(path), False


def read_bundle(location: str, *, timeout: float = 60.0) -> tuple[Manifest, dict[str, bytes], str]:
    """The manifest and every file it lists, from a folder, a manifest path or an http(s) URL."""
    where, is_url = _manifest_location(location)
    if not is_url:
        return _read_folder(Path(where))
    return asyncio.run(_download(where, timeout))


def _read_folder(manifest_path: Path) -> tuple[Manifest, dict[str, bytes], str]:
    try:
        raw = manifest_path.read_bytes()
    except OSError as exc:
        raise BundleError(
            f"Cannot read {manifest_path}: {exc.strerror}.", "Give a bundle folder or its manifest.json."
        ) from None
    manifest = parse_manifest(raw, str(manifest_path))
    files: dict[str, bytes] = {}
    for name, entry in manifest.files.items():
        try:
            data = (manifest_path.parent / name).read_bytes()[: entry.size + 1]
        except OSError as exc:
            raise BundleError(f"Cannot read {manifest_path.parent / name}: {exc.strerror}.") from None
        files[name] = data
    return manifest, files, str(manifest_path.resolve())


async def _download(manifest_url: str, timeout: float) -> tuple[Manifest, dict[str, bytes], str]:
    import aiohttp  # only an update from a URL needs it: `catalog update --from FOLDER` stays quick

    host = hostname(manifest_url)
    client_timeout = aiohttp.ClientTimeout(total=timeout, connect=min(10.0, timeout))
    try:
        async with aiohttp.ClientSession(timeout=client_timeout) as session:
            raw = await _get(session, manifest_url, MAX_MANIFEST_BYTES)
            manifest = parse_manifest(raw, manifest_url)
            files: dict[str, bytes] = {}
            base = manifest_url.rsplit("/", 1)[0] + "/"
            for name, entry in manifest.files.items():
                files[name] = await _get(session, base + name, entry.size)
    except aiohttp.ClientConnectorError as exc:
        raise BundleError(
            f"Cannot connect to {host}: {exc.os_error or exc}.", "Check the network and the URL."
        ) from None
    except aiohttp.ClientPayloadError:
        raise BundleError(f"The download from {host} was interrupted.", "Try again.") from None
    except (aiohttp.ClientError, TimeoutError) as exc:
        raise BundleError(f"The download from {host} failed: {type(exc).__name__}.", "Try again.") from None
    return manifest, files, manifest_url


async def _get(session: Any, url: str, limit: int) -> bytes:
    async with session.get(url, allow_redirects=False) as response:
        if response.status != 200:
            extra = (
                " (redirects are not followed: give the final https address)" if 300 <= response.status < 400 else ""
            )
            raise BundleError(f"{url} answered HTTP {response.status}{extra}.")
        data: bytes = await response.content.read(limit + 1)
        return data
