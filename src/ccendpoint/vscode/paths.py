"""Where ``chatLanguageModels.json`` lives: OS × edition × profile × portable mode × explicit paths.

VS Code resolves its user-data folder in this order: ``VSCODE_PORTABLE`` (``<portable>/user-data``),
``VSCODE_APPDATA/<product>``, ``--user-data-dir``, then the platform default. The default profile
keeps the file in ``<user-data>/User/``; every other profile has its own copy in
``<user-data>/User/profiles/<profile id>/``. Profile names map to ids in
``User/globalStorage/storage.json``.

Here an explicit ``--user-data-dir`` or ``--file`` given to ccendpoint wins over the environment,
because the user asked for that folder by name.

The functions take the platform name and an environment mapping, so every OS is testable anywhere.
"""

from __future__ import annotations

import json
import ntpath
import posixpath
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccendpoint.errors import CcendpointError, UsageError
from ccendpoint.vscode.facts import (
    MODELS_FILE,
    PORTABLE_USER_DATA,
    PRODUCT_FOLDER,
    PROFILES_FOLDER,
    STORAGE_FILE,
    USER_FOLDER,
    VSCODIUM_WARNING,
    Edition,
)

DEFAULT_PROFILE_NAMES = ("default",)


@dataclass(frozen=True)
class Location:
    """The chosen file and how it was found."""

    path: str
    edition: Edition | None
    how: str  # "default", "portable", "VSCODE_APPDATA", "--user-data-dir", "--file"
    profile: str | None = None  # profile name as the user gave it; None for the default profile
    profile_id: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class Profile:
    name: str
    id: str
    uses_default_models: bool = False  # the profile reads the default profile's file


@dataclass(frozen=True)
class FileRequest:
    """What the user asked for on the command line."""

    edition: Edition | None = None  # None: stable
    profile: str | None = None
    user_data_dir: str | None = None
    file: str | None = None


def _join(platform: str, *parts: str) -> str:
    return ntpath.join(*parts) if platform == "win32" else posixpath.join(*parts)


def _home(platform: str, environ: Mapping[str, str]) -> str:
    home = environ.get("USERPROFILE") if platform == "win32" else environ.get("HOME")
    if not home:
        raise CcendpointError(
            "Cannot tell where your home folder is (HOME is not set).",
            hint="Set HOME, or name the file with --file PATH.",
        )
    return home


def app_data_root(platform: str, environ: Mapping[str, str]) -> str:
    """The folder VS Code puts its product folder in, on this platform."""
    if platform == "win32":
        appdata = environ.get("APPDATA")
        if appdata:
            return appdata
        profile = environ.get("USERPROFILE")
        if not profile:
            raise CcendpointError(
                "Neither %APPDATA% nor %USERPROFILE% is set, so VS Code's folder is unknown.",
                hint="Name the file with --file PATH or the folder with --user-data-dir DIR.",
            )
        return ntpath.join(profile, "AppData", "Roaming")
    if platform == "darwin":
        return posixpath.join(_home(platform, environ), "Library", "Application Support")
    return environ.get("XDG_CONFIG_HOME") or posixpath.join(_home(platform, environ), ".config")


def user_data_dir(
    platform: str,
    environ: Mapping[str, str],
    edition: Edition = "stable",
    explicit: str | None = None,
) -> tuple[str, str]:
    """VS Code's user-data folder and how it was chosen."""
    if explicit:
        return explicit, "--user-data-dir"
    portable = environ.get("VSCODE_PORTABLE")
    if portable:
        return _join(platform, portable, PORTABLE_USER_DATA), "portable"
    appdata = environ.get("VSCODE_APPDATA")
    if appdata:
        return _join(platform, appdata, PRODUCT_FOLDER[edition]), "VSCODE_APPDATA"
    return _join(platform, app_data_root(platform, environ), PRODUCT_FOLDER[edition]), "default"


def user_folder(platform: str, data_dir: str) -> str:
    return _join(platform, data_dir, USER_FOLDER)


def storage_file(platform: str, data_dir: str) -> str:
    """VS Code's global state file that lists the profiles."""
    return _join(platform, user_folder(platform, data_dir), *STORAGE_FILE)


def parse_profiles(text: str) -> list[Profile]:
    """The profiles listed in ``storage.json`` (``userDataProfiles``)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CcendpointError(
            f"VS Code's storage.json cannot be read (line {exc.lineno}, column {exc.colno}).",
            hint="Open VS Code once so it rewrites it, or name the file with --file PATH.",
        ) from None
    stored = data.get("userDataProfiles") if isinstance(data, dict) else None
    profiles: list[Profile] = []
    for item in stored if isinstance(stored, list) else []:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        profile_id = _profile_id(item.get("location"))
        if profile_id:
            flags = item.get("useDefaultFlags")
            shared = isinstance(flags, dict) and flags.get("languageModels") is True
            profiles.append(Profile(item["name"], profile_id, shared))
    return profiles


def _profile_id(location: Any) -> str | None:
    """The folder name under ``User/profiles/``; stored as that name or as a file URI."""
    if isinstance(location, str):
        return posixpath.basename(location.rstrip("/")) or None
    if isinstance(location, dict):
        path = location.get("path") or location.get("fsPath")
        if isinstance(path, str):
            return posixpath.basename(path.replace("\\", "/").rstrip("/")) or None
    return None


def find_profile(profiles: list[Profile], name: str) -> Profile | None:
    for profile in profiles:
        if profile.name == name:
            return profile
    lowered = name.lower()
    matches = [p for p in profiles if p.name.lower() == lowered]
    return matches[0] if len(matches) == 1 else None


def unknown_profile(name: str, profiles: list[Profile], storage: str) -> UsageError:
    known = ", ".join(repr(p.name) for p in profiles)
    listing = f"Known profiles: 'Default', {known}." if profiles else f"Only the default profile exists ({storage})."
    return UsageError(
        f"VS Code has no profile named '{name}'.",
        hint=listing + " Profile names are shown in VS Code under File → Preferences → Profiles.",
    )


def locate(
    request: FileRequest,
    platform: str,
    environ: Mapping[str, str],
    read_text: Callable[[str], str | None] | None = None,
) -> Location:
    """Resolve the request to a file path. ``read_text(path) -> str | None`` reads storage.json."""
    if request.file:
        if request.profile or request.user_data_dir:
            raise UsageError(
                "--file names the file itself; it cannot be combined with --profile or --user-data-dir.",
                hint="Drop one of them.",
            )
        return Location(request.file, request.edition, "--file", warnings=_edition_warnings(request.edition))
    edition = request.edition or "stable"
    data_dir, how = user_data_dir(platform, environ, edition, request.user_data_dir)
    user = user_folder(platform, data_dir)
    warnings = _edition_warnings(edition)
    if not request.profile or request.profile.lower() in DEFAULT_PROFILE_NAMES:
        return Location(_join(platform, user, MODELS_FILE), edition, how, warnings=warnings)
    storage = storage_file(platform, data_dir)
    text = read_text(storage) if read_text else None
    profiles = parse_profiles(text) if text else []
    profile = find_profile(profiles, request.profile)
    if profile is None:
        raise unknown_profile(request.profile, profiles, storage)
    if profile.uses_default_models:
        path = _join(platform, user, MODELS_FILE)
    else:
        path = _join(platform, user, PROFILES_FOLDER, profile.id, MODELS_FILE)
    return Location(path, edition, how, profile.name, profile.id, warnings)


def _edition_warnings(edition: Edition | None) -> tuple[str, ...]:
    return (VSCODIUM_WARNING,) if edition == "vscodium" else ()


def read_storage(path: str) -> str | None:
    """Read storage.json if it exists (the one piece of I/O here, passed to :func:`locate`)."""
    try:
        return Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise CcendpointError(
            f"Cannot read VS Code's profile list {path}: {exc.strerror}.",
            hint="Check the file's permissions, or name the file with --file PATH.",
        ) from None
