"""Checks over VS Code's ``settings.json`` and version (pure)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from ccendpoint.doctor.findings import Finding, ok, warning
from ccendpoint.vscode.facts import (
    AGENT_HOST_SETTING,
    AGENT_HOST_SINCE,
    BYOK_UTILITY_DEFAULT,
    UTILITY_SETTINGS,
    VENDOR,
)
from ccendpoint.vscode.settings import banner_shows


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first ``X.Y.Z`` in ``code --version`` output."""
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def check_settings(
    settings: Mapping[str, Any] | None,
    version: tuple[int, int, int] | None,
    custom_models: int,
    model_ids: Sequence[str] = (),
) -> list[Finding]:
    """``model_ids``: the id of every Custom Endpoint model in the file (an id twice when two groups have it)."""
    if custom_models == 0:
        return [ok("settings", "No Custom Endpoint models configured; settings checks skipped.")]
    settings = settings or {}
    findings: list[Finding] = []
    if version is None:
        findings.append(
            ok("settings.version", "VS Code version unknown (`code` not on PATH); version-bound checks skipped.")
        )
    elif version[:2] >= AGENT_HOST_SINCE and settings.get(AGENT_HOST_SETTING) is not True:
        findings.append(
            warning(
                "settings.agent-host",
                f"VS Code {'.'.join(map(str, version))} without {AGENT_HOST_SETTING}.",
                "From 1.132 Custom Endpoint models can disappear from the Agent Host / Copilot harness picker "
                "(vscode#329545).",
                f'Add "{AGENT_HOST_SETTING}": true to settings.json and restart the agent host.',
            )
        )
    if banner_shows(settings):
        empty = [name for name in UTILITY_SETTINGS if not settings.get(name)]
        findings.append(
            warning(
                "settings.utility-model",
                f"No utility model is set ({' and '.join(empty)} empty).",
                "With no GitHub account signed in, VS Code 1.139 shows 'Set BYOK utility models' in the chat, "
                "and utility tasks (titles, summaries) run on no model.",
                "Run `ccendpoint setup PROVIDER`, which offers to set them, or set both in settings.json to "
                f'"{VENDOR}/<model id>", e.g. "{VENDOR}/kimi-k2.6" (or {BYOK_UTILITY_DEFAULT} to "mainAgent").',
            )
        )
    findings += _utility_references(settings, Counter(model_ids))
    return findings or [ok("settings", "settings.json has what Custom Endpoint models need.")]


def _utility_references(settings: Mapping[str, Any], ids: Counter[str]) -> list[Finding]:
    """A utility setting naming a Custom Endpoint model must match exactly one model of the file."""
    findings = []
    for name in UTILITY_SETTINGS:
        value = settings.get(name)
        if not isinstance(value, str) or not value.startswith(f"{VENDOR}/"):
            continue
        model_id = value.split("/", 1)[1]
        if ids[model_id] == 1:
            continue
        if ids[model_id] > 1:
            what = f"{name} names {value}, a model id that {ids[model_id]} Custom Endpoint groups share."
            why = "VS Code ignores a utility model that matches more than one model."
            fix = "Keep that model id in one group only, or pick another model for the setting."
        else:
            what = f"{name} names {value}, which matches no Custom Endpoint model in the file."
            why = "VS Code looks the model up by vendor and model id; without a match, utility tasks have no model."
            fix = f'Use "{VENDOR}/<model id>" with a model id of the file (the group name is not part of it).'
        findings.append(warning("settings.utility-reference", what, why, fix))
    return findings
