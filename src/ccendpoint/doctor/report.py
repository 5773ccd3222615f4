"""``doctor --report FILE``: a support bundle that is safe to paste into an issue.

It holds the findings, the versions, the config file and the last proxy log lines. Every
``apiKey`` value, every ``${input:…}`` secret reference, every credential header value and
anything else that looks like a key is masked before it is written.
"""

from __future__ import annotations

import json
import platform
import sys
from collections.abc import Sequence
from typing import Any

from ccendpoint import __version__
from ccendpoint.doctor.findings import Finding
from ccendpoint.redact import redact, redact_json_text


def redact_text(text: str) -> str:
    """Config or log text with secrets masked; the structure (and comments) stay readable."""
    return redact_json_text(text)


def bundle(
    findings: Sequence[Finding],
    *,
    config_path: str | None,
    config_text: str | None,
    log_lines: Sequence[str],
    vscode_version: str | None,
    tail: int = 50,
) -> dict[str, Any]:
    return {
        "ccendpoint": __version__,
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "vscode": vscode_version or "unknown",
        "findings": [redact(f.as_dict()) for f in findings],
        "config": {"path": config_path, "text": redact_text(config_text) if config_text is not None else None},
        "log_tail": [redact_text(line) for line in log_lines[-tail:]],
    }


def to_markdown(data: dict[str, Any]) -> str:
    lines = [
        "# ccendpoint doctor report",
        "",
        f"- ccendpoint {data['ccendpoint']}, Python {data['python']}, {data['platform']}",
        f"- VS Code: {data['vscode']}",
        "",
        "## Findings",
        "",
    ]
    for f in data["findings"]:
        lines.append(f"- **{f['level']}** `{f['check']}`: {f['what']}")
        if f["why"]:
            lines.append(f"  - why: {f['why']}")
        if f["fix"]:
            lines.append(f"  - fix: {f['fix']}")
    config = data["config"]
    lines += ["", f"## Config file: {config['path'] or 'none'}", ""]
    lines += ["```jsonc", config["text"] if config["text"] is not None else "(missing)", "```", ""]
    lines += ["## Last proxy log lines", "", "```", *data["log_tail"], "```", ""]
    return "\n".join(lines)


def render(data: dict[str, Any], as_json: bool) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n" if as_json else to_markdown(data)
