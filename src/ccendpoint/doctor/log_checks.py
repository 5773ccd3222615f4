"""What the proxy's request log says about each model (pure: records in, findings out)."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ccendpoint.doctor.config_checks import custom_groups, models_of
from ccendpoint.doctor.findings import Finding, ok, warning

#: How many of the latest requests per model are looked at.
RECENT = 50
#: Share of failed requests above which a model gets a warning.
ERROR_SHARE = 0.2
_CHANGE = re.compile(r"^(?P<key>[A-Za-z_][\w.]*) (?P<before>.+?) → ")


#: Outcomes that are not the provider's or the proxy's fault (the user pressed Stop in VS Code).
BENIGN_OUTCOMES = (None, "ok", "client_disconnected")


def _failed(record: Mapping[str, Any]) -> bool:
    status = record.get("status")
    return (isinstance(status, int) and status >= 400) or record.get("outcome") not in BENIGN_OUTCOMES


def _message(record: Mapping[str, Any]) -> str:
    for key in ("upstream_error", "error"):
        value = record.get(key)
        if isinstance(value, str) and value:
            return value[:200]
    return f"HTTP {record.get('status')}" if record.get("status") else str(record.get("outcome"))


def check_log(records: Iterable[Mapping[str, Any]], document: Any = None) -> list[Finding]:
    by_model: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
    for record in records:
        provider, model = record.get("provider"), record.get("model")
        if isinstance(provider, str) and isinstance(model, str):
            by_model[(provider, model)].append(record)
    if not by_model:
        return [ok("log", "No proxy requests logged yet.")]
    findings: list[Finding] = []
    for (provider, model), entries in sorted(by_model.items()):
        recent = entries[-RECENT:]
        failed = [r for r in recent if _failed(r)]
        last = str(recent[-1].get("time", "?"))[:19].replace("T", " ")
        summary = f"{provider}/{model}: {len(recent)} recent request(s), last at {last}"
        if failed and len(failed) / len(recent) > ERROR_SHARE:
            common, count = Counter(_message(r) for r in failed).most_common(1)[0]
            findings.append(
                warning(
                    "log.errors",
                    f"{summary}; {len(failed)} failed. Most frequent ({count}×): {common}",
                    "Repeated upstream errors mean the model does not work from VS Code as configured.",
                    f"Look the message up in `ccendpoint show {provider}` (Troubleshooting), or run "
                    "`ccendpoint doctor --live`.",
                )
            )
        else:
            findings.append(ok("log.recent", f"{summary}; {len(failed)} failed."))
    findings += _check_sent_fields(by_model, document)
    return findings


def _configured_options(document: Any) -> dict[str, Mapping[str, Any]]:
    """Model id → the modelOptions the config asks VS Code to send."""
    options: dict[str, Mapping[str, Any]] = {}
    for group in custom_groups(document):
        for model in models_of(group):
            value = model.get("modelOptions")
            if isinstance(value, dict) and isinstance(model.get("id"), str):
                options[model["id"]] = value
    return options


def _check_sent_fields(by_model: Mapping[tuple[str, str], Sequence[Mapping[str, Any]]], document: Any) -> list[Finding]:
    """Did VS Code send the sampling values ``modelOptions`` asks for? The rewrite log shows what arrived."""
    findings: list[Finding] = []
    for model_id, wanted in _configured_options(document).items():
        seen: dict[str, str] = {}
        for (_provider, model), entries in by_model.items():
            if model != model_id:
                continue
            for change in (c for r in entries[-RECENT:] for c in (r.get("changes") or []) if isinstance(c, str)):
                match = _CHANGE.match(change)
                if match and match["key"] in wanted:
                    seen[match["key"]] = match["before"]
        for key, before in seen.items():
            expected = wanted[key]
            if expected is None or before == "removed":
                continue
            if not _same_number(before, expected):
                findings.append(
                    warning(
                        "log.model-options",
                        f"VS Code sent {key} {before} for {model_id}, although modelOptions asks for {expected}.",
                        "This VS Code ignores modelOptions (added in VS Code 1.128); the proxy still fixes the value, "
                        "but direct connections would get the wrong one.",
                        "Update VS Code, or keep this model in proxy mode.",
                    )
                )
    return findings


def _same_number(text: str, value: Any) -> bool:
    try:
        return float(text) == float(value)
    except (TypeError, ValueError):
        return text == str(value)
