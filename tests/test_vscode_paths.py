"""Where chatLanguageModels.json lives, for every OS, edition, profile and override (by injection)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ccendpoint.errors import CcendpointError, UsageError
from ccendpoint.vscode.facts import VSCODIUM_WARNING
from ccendpoint.vscode.paths import (
    FileRequest,
    Location,
    parse_profiles,
    read_storage,
)
from ccendpoint.vscode.paths import locate as _locate

LINUX = {"HOME": "/home/ann"}
MAC = {"HOME": "/Users/ann"}
WINDOWS = {"APPDATA": r"C:\Users\ann\AppData\Roaming", "USERPROFILE": r"C:\Users\ann"}


def locate(platform: str, environ: dict[str, str], storage: str | None = None, **request: str) -> Location:
    return _locate(FileRequest(**request), platform, environ, lambda path: storage)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", LINUX, "/home/ann/.config/Code/User/chatLanguageModels.json"),
        ("linux", {**LINUX, "XDG_CONFIG_HOME": "/xdg"}, "/xdg/Code/User/chatLanguageModels.json"),
        ("darwin", MAC, "/Users/ann/Library/Application Support/Code/User/chatLanguageModels.json"),
        ("win32", WINDOWS, r"C:\Users\ann\AppData\Roaming\Code\User\chatLanguageModels.json"),
        (
            "win32",
            {"USERPROFILE": r"C:\Users\bob"},
            r"C:\Users\bob\AppData\Roaming\Code\User\chatLanguageModels.json",
        ),
    ],
)
def test_default_file_per_os(platform: str, environ: dict[str, str], expected: str) -> None:
    location = locate(platform, environ)
    assert location.path == expected
    assert location.how == "default"
    assert location.profile is None
    assert location.warnings == ()


def test_xdg_config_home_is_ignored_on_macos() -> None:
    location = locate("darwin", {**MAC, "XDG_CONFIG_HOME": "/xdg"})
    assert location.path.startswith("/Users/ann/Library/Application Support/Code/")


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", LINUX, "/home/ann/.config/Code - Insiders/User/chatLanguageModels.json"),
        ("darwin", MAC, "/Users/ann/Library/Application Support/Code - Insiders/User/chatLanguageModels.json"),
        ("win32", WINDOWS, r"C:\Users\ann\AppData\Roaming\Code - Insiders\User\chatLanguageModels.json"),
    ],
)
def test_insiders_has_its_own_folder(platform: str, environ: dict[str, str], expected: str) -> None:
    assert locate(platform, environ, edition="insiders").path == expected


def test_vscodium_is_found_but_warned_about() -> None:
    location = locate("linux", LINUX, edition="vscodium")
    assert location.path == "/home/ann/.config/VSCodium/User/chatLanguageModels.json"
    assert location.warnings == (VSCODIUM_WARNING,)
    assert "without GitHub Copilot" in VSCODIUM_WARNING


def test_windows_without_appdata_or_userprofile_is_a_clear_error() -> None:
    with pytest.raises(CcendpointError, match="APPDATA") as raised:
        locate("win32", {})
    assert "--file" in (raised.value.hint or "")


def test_missing_home_on_linux_is_a_clear_error() -> None:
    with pytest.raises(CcendpointError, match="HOME"):
        locate("linux", {})


@pytest.mark.parametrize(
    ("platform", "environ", "expected"),
    [
        ("linux", {**LINUX, "VSCODE_PORTABLE": "/opt/c/data"}, "/opt/c/data/user-data/User/chatLanguageModels.json"),
        (
            "win32",
            {**WINDOWS, "VSCODE_PORTABLE": r"D:\VSCode\data"},
            r"D:\VSCode\data\user-data\User\chatLanguageModels.json",
        ),
        (
            "darwin",
            {**MAC, "VSCODE_PORTABLE": "/Apps/code-portable-data"},
            "/Apps/code-portable-data/user-data/User/chatLanguageModels.json",
        ),
    ],
)
def test_portable_mode(platform: str, environ: dict[str, str], expected: str) -> None:
    location = locate(platform, environ)
    assert location.path == expected
    assert location.how == "portable"


def test_portable_mode_ignores_the_edition_folder() -> None:
    location = locate("linux", {**LINUX, "VSCODE_PORTABLE": "/p"}, edition="insiders")
    assert location.path == "/p/user-data/User/chatLanguageModels.json"


def test_vscode_appdata_replaces_the_platform_folder() -> None:
    location = locate("linux", {**LINUX, "VSCODE_APPDATA": "/data"}, edition="insiders")
    assert location.path == "/data/Code - Insiders/User/chatLanguageModels.json"
    assert location.how == "VSCODE_APPDATA"


def test_user_data_dir_wins_over_the_environment() -> None:
    location = locate("linux", {**LINUX, "VSCODE_PORTABLE": "/p"}, user_data_dir="/tmp/vsc")
    assert location.path == "/tmp/vsc/User/chatLanguageModels.json"
    assert location.how == "--user-data-dir"


def test_user_data_dir_on_windows_uses_backslashes() -> None:
    location = locate("win32", WINDOWS, user_data_dir=r"E:\vsc")
    assert location.path == r"E:\vsc\User\chatLanguageModels.json"


def test_explicit_file_is_taken_as_is() -> None:
    location = locate("linux", LINUX, file="/somewhere/models.json")
    assert location.path == "/somewhere/models.json"
    assert location.how == "--file"


@pytest.mark.parametrize("other", [{"profile": "Work"}, {"user_data_dir": "/x"}])
def test_explicit_file_does_not_combine_with_folder_options(other: dict[str, str]) -> None:
    with pytest.raises(UsageError, match="--file"):
        locate("linux", LINUX, file="/f.json", **other)


# --- profiles -------------------------------------------------------------------------------------

STORAGE = json.dumps(
    {
        "theme": "vs-dark",
        "userDataProfiles": [
            {"location": "-6d7a8e4b", "name": "Work", "icon": "briefcase"},
            {
                "location": {"$mid": 1, "path": "/home/ann/.config/Code/User/profiles/5f1c2d", "scheme": "file"},
                "name": "Python",
            },
            {"location": "77aa", "name": "Shared", "useDefaultFlags": {"languageModels": True}},
            {"name": "Broken"},
        ],
    }
)


def test_profile_name_resolves_to_its_folder() -> None:
    location = locate("linux", LINUX, storage=STORAGE, profile="Work")
    assert location.path == "/home/ann/.config/Code/User/profiles/-6d7a8e4b/chatLanguageModels.json"
    assert (location.profile, location.profile_id) == ("Work", "-6d7a8e4b")


def test_profile_stored_as_uri_and_matched_case_insensitively() -> None:
    location = locate("win32", WINDOWS, storage=STORAGE, profile="python")
    assert location.path == r"C:\Users\ann\AppData\Roaming\Code\User\profiles\5f1c2d\chatLanguageModels.json"


def test_profile_that_shares_the_default_language_models() -> None:
    location = locate("linux", LINUX, storage=STORAGE, profile="Shared")
    assert location.path == "/home/ann/.config/Code/User/chatLanguageModels.json"


def test_default_profile_by_name_needs_no_storage() -> None:
    location = locate("linux", LINUX, storage=None, profile="Default")
    assert location.path == "/home/ann/.config/Code/User/chatLanguageModels.json"


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(UsageError, match="no profile named 'Wrok'") as raised:
        locate("linux", LINUX, storage=STORAGE, profile="Wrok")
    hint = raised.value.hint or ""
    assert "'Work'" in hint and "'Python'" in hint and "'Default'" in hint
    assert "Broken" not in hint


def test_unknown_profile_without_a_profile_list() -> None:
    with pytest.raises(UsageError) as raised:
        locate("linux", LINUX, storage=None, profile="Work")
    assert "Only the default profile" in (raised.value.hint or "")


def test_profiles_of_a_user_data_dir_are_read_from_that_folder() -> None:
    seen: list[str] = []

    def read(path: str) -> str | None:
        seen.append(path)
        return STORAGE

    location = _locate(FileRequest(profile="Work", user_data_dir="/u"), "linux", LINUX, read)
    assert seen == ["/u/User/globalStorage/storage.json"]
    assert location.path == "/u/User/profiles/-6d7a8e4b/chatLanguageModels.json"


def test_unreadable_storage_json_is_a_clear_error() -> None:
    with pytest.raises(CcendpointError, match=r"storage\.json cannot be read"):
        parse_profiles("{not json")


def test_storage_json_without_profiles() -> None:
    assert parse_profiles("{}") == []
    assert parse_profiles("[]") == []


def test_read_storage_missing_file_is_none(tmp_path: Path) -> None:
    assert read_storage(str(tmp_path / "nope" / "storage.json")) is None
