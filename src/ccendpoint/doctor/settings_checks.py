"""Checks over VS Code's ``settings.json`` and version (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ccendpoint.doctor.findings import Finding, ok, warning

#: From this release on, Custom Endpoint models need a setting to show in the Agent Host picker.
AGENT_HOST_SINCE = (1, 132)
AGENT_HOST_SETTING = "chat.agentHost.byokModels.enabled"
UTILITY_SETTINGS = (
    "chat.utilityModel",
    "chat.utilitySmallModel",
    "chat.byokUtilityModelDefault",
    "chat.lm.utilitySmallModel",
)


def parse_version(text: str) -> tuple[int, int, int] | None:
    """The first ``X.Y.Z`` in ``code --version`` output."""
    match = re.search(r"(\d+)\.(\d+)\.(\d+)", text)
    return (int(match[1]), int(match[2]), int(match[3])) if match else None


def check_settings(
    settings: Mapping[str, Any] | None, version: tuple[int, int, int] | None, custom_models: int
) -> list[Finding]:
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
    if not any(settings.get(name) for name in UTILITY_SETTINGS):
        findings.append(
            warning(
                "settings.utility-model",
                "No utility model is set.",
                "When a Custom Endpoint model is the main model, utility tasks (titles, summaries, token counts) "
                "have no model and fail silently.",
                'Set "chat.utilitySmallModel" (Settings → Chat: Utility Small Model), e.g. to '
                '"customendpoint/<group>/<model id>".',
            )
        )
    return findings or [ok("settings", "settings.json has what Custom Endpoint models need.")]
