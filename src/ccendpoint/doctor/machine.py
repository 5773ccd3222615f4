"""The edge of ``doctor``: look at this machine (files, VS Code, ports, logs) and run every check."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccendpoint import dirs
from ccendpoint.catalog.model import Catalog
from ccendpoint.doctor.config_checks import check_catalog, check_keys, check_structure, custom_groups, models_of
from ccendpoint.doctor.findings import Finding, error, ok, warning
from ccendpoint.doctor.gateway_checks import check_gateways, without_gateways
from ccendpoint.doctor.log_checks import check_log
from ccendpoint.doctor.proxy_checks import check_proxies, check_service
from ccendpoint.doctor.settings_checks import check_settings, parse_version
from ccendpoint.errors import CcendpointError
from ccendpoint.proxy.logfiles import tail_records
from ccendpoint.proxy.probe import Probe, http_probe
from ccendpoint.service.manage import Machine, Status, status
from ccendpoint.vscode.document import DocumentError, parse, parse_value
from ccendpoint.vscode.facts import (
    EDITION_COMMANDS,
    MODELS_FILE,
    OPEN_MODELS_JSON,
    OPEN_SETTINGS_JSON,
    PRODUCT_FOLDER,
    PROFILES_FOLDER,
    SETTINGS_FILE,
)
from ccendpoint.vscode.paths import (
    FileRequest,
    Location,
    locate,
    parse_profiles,
    read_storage,
    storage_file,
    user_data_dir,
    user_folder,
)
from ccendpoint.vscode.store import read_file

LOG_TAIL = 2000  # log lines read per provider log


@dataclass
class Gathered:
    """What doctor found on the machine, for the report and for ``--live``."""

    location: Location | None = None
    document: Any = None  # the parsed file, None when missing or broken
    text: str | None = None
    findings: list[Finding] = field(default_factory=list)
    log_lines: list[str] = field(default_factory=list)
    version: str | None = None


def installations(
    platform: str, environ: Mapping[str, str]
) -> Iterator[tuple[str, Path, list[tuple[str, Path]], str | None]]:
    """Every edition whose user folder exists: (edition, user folder, [(profile, file)], problem)."""
    for edition in PRODUCT_FOLDER:
        data_dir, _ = user_data_dir(platform, environ, edition)
        user = Path(user_folder(platform, data_dir))
        if not user.is_dir():
            continue
        files = [("default", user / MODELS_FILE)]
        problem = None
        try:
            storage = read_storage(storage_file(platform, data_dir))
            profiles = parse_profiles(storage) if storage else []
        except CcendpointError as exc:  # one broken edition must not stop the others being checked
            profiles, problem = [], exc.message
        for profile in profiles:
            if not profile.uses_default_models:
                files.append((profile.name, user / PROFILES_FOLDER / profile.id / MODELS_FILE))
        yield edition, user, files, problem


def check_installations(platform: str, environ: Mapping[str, str], chosen: Location | None) -> list[Finding]:
    found = list(installations(platform, environ))
    if not found and (chosen is None or chosen.how == "default"):
        return [
            warning(
                "vscode.missing",
                "No VS Code user folder was found on this machine.",
                "chatLanguageModels.json lives in VS Code's user folder; without one there is nothing to configure.",
                "Install VS Code and start it once, or name the folder with --user-data-dir DIR or the file with "
                "--file PATH.",
            )
        ]
    findings = []
    for edition, user, files, problem in found:
        with_file = [f"{name}" for name, path in files if path.exists()]
        listing = ", ".join(with_file) if with_file else "none yet"
        findings.append(ok("vscode.installations", f"{edition}: {user} — profiles with {MODELS_FILE}: {listing}."))
        if problem:
            findings.append(
                warning(
                    "vscode.profiles",
                    f"{edition}: its profile list cannot be read ({problem}).",
                    "Profiles of this edition are not checked.",
                    "Start VS Code once so it rewrites globalStorage/storage.json, or name the file with --file PATH.",
                )
            )
    return findings


def read_document(location: Location) -> tuple[str | None, Any, list[Finding]]:
    path = Path(location.path)
    try:
        state = read_file(path)
    except CcendpointError as exc:
        return (
            None,
            None,
            [error("file.read", exc.message, "Nothing can be checked in a file that cannot be read.", exc.hint or "")],
        )
    if state.text is None:
        return (
            None,
            None,
            [
                warning(
                    "file.missing",
                    f"{path} does not exist yet.",
                    "VS Code has no Custom Endpoint groups until the file has some.",
                    "Run `ccendpoint add PROVIDER` (for example `ccendpoint add kimi`).",
                )
            ],
        )
    try:
        doc = parse(state.text, str(path))
    except DocumentError as exc:
        return (
            state.text,
            None,
            [
                error(
                    "file.parse",
                    exc.message,
                    "VS Code ignores what it cannot parse, so none of the groups in it work.",
                    f"Fix the file at that line (Command Palette → {OPEN_MODELS_JSON}), "
                    "or restore a backup with `ccendpoint restore`.",
                )
            ],
        )
    return state.text, doc.value, [ok("file.parse", f"{path} parses ({len(doc.value)} group(s)).")]


def read_settings(location: Location) -> tuple[dict[str, Any] | None, list[Finding]]:
    """settings.json beside the checked file (tolerant of comments); None when absent."""
    path = Path(location.path).with_name(SETTINGS_FILE)
    if location.profile_id:
        path = Path(location.path).parent / SETTINGS_FILE
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None, []
    except (OSError, UnicodeDecodeError) as exc:
        return None, [
            warning(
                "settings.read",
                f"Cannot read {path}: {exc}.",
                "Settings checks are skipped.",
                "Check the file's permissions and that it is saved as UTF-8 (VS Code: Preferences: Open User "
                "Settings (JSON)).",
            )
        ]
    if not text.strip():
        return {}, []
    try:
        value = parse_value(text, str(path)).value
    except DocumentError as exc:
        return None, [
            warning(
                "settings.parse",
                exc.message,
                "VS Code ignores a settings.json it cannot parse; settings checks are skipped.",
                f"Fix the file in VS Code ({OPEN_SETTINGS_JSON}).",
            )
        ]
    return (value if isinstance(value, dict) else {}), []


def vscode_version(edition: str | None, run: Callable[[list[str]], str | None] | None = None) -> str | None:
    """``code --version`` of the edition, when the command is on PATH."""
    command = EDITION_COMMANDS.get(edition or "stable", "code")
    if run is None:
        if shutil.which(command) is None:
            return None

        def run(argv: list[str]) -> str | None:
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=10, check=False)
            except (OSError, subprocess.TimeoutExpired):
                return None
            return done.stdout if done.returncode == 0 else None

    return run([command, "--version"])


def read_log_records(folder: Path, tail: int = LOG_TAIL) -> tuple[list[dict[str, Any]], list[str]]:
    """The last ``tail`` records of each provider's current log, oldest first, and their raw lines."""
    return tail_records(folder, tail)


def _service_status(catalog: Catalog) -> Status | None:
    """The proxy's login service as installed, its ports probed (nothing runs when none is installed)."""
    try:
        return status(Machine.current(), catalog)
    except CcendpointError:
        return None


def gather(
    request: FileRequest,
    catalog: Catalog,
    *,
    platform: str = sys.platform,
    environ: Mapping[str, str] | None = None,
    probe: Callable[[int], Probe] = http_probe,
    version_runner: Callable[[list[str]], str | None] | None = None,
    log_folder: Path | None = None,
    service: Callable[[Catalog], Status | None] | None = None,
) -> Gathered:
    env = os.environ if environ is None else environ
    result = Gathered()
    try:
        location = locate(request, platform, env, read_storage)
    except CcendpointError as exc:
        result.findings = check_installations(platform, env, None)
        result.findings.append(
            error("vscode.locate", exc.message, "doctor cannot pick the file to check.", exc.hint or "")
        )
        return result
    result.location = location
    result.findings += check_installations(platform, env, location)
    result.findings += [warning("vscode.edition", w, "", "Use VS Code Stable or Insiders.") for w in location.warnings]
    result.findings.append(ok("file.checked", f"Checking {location.path}."))
    result.text, result.document, file_findings = read_document(location)
    result.findings += file_findings
    document = result.document
    found_service = (service or _service_status)(catalog)
    result.findings += check_service(found_service)
    if document is not None:
        result.findings += check_structure(document)
        result.findings += check_keys(document)
        result.findings += check_catalog(without_gateways(document, catalog), catalog)
        result.findings += check_proxies(without_gateways(document, catalog), catalog, probe, found_service)
        result.findings += check_gateways(document, catalog)
    settings, settings_findings = read_settings(location)
    result.findings += settings_findings
    output = vscode_version(location.edition, version_runner)
    result.version = output.splitlines()[0].strip() if output else None
    ids = [str(m.get("id")) for g in custom_groups(document) for m in models_of(g)] if document is not None else []
    result.findings += check_settings(settings, parse_version(output) if output else None, len(ids), ids)
    records, result.log_lines = read_log_records(log_folder or dirs.log_dir())
    result.findings += check_log(records, document)
    return result
