"""What ``doctor`` reports: one finding per thing checked, with why it matters and the fix."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

Level = Literal["ok", "warning", "error"]
LEVELS: tuple[Level, ...] = ("ok", "warning", "error")


@dataclass(frozen=True)
class Finding:
    level: Level
    check: str  # stable id for scripts, e.g. "keys.plaintext"
    what: str  # what was found
    why: str = ""  # why it matters
    fix: str = ""  # the exact command to run or setting to change

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def ok(check: str, what: str) -> Finding:
    return Finding("ok", check, what)


def warning(check: str, what: str, why: str, fix: str) -> Finding:
    return Finding("warning", check, what, why, fix)


def error(check: str, what: str, why: str, fix: str) -> Finding:
    return Finding("error", check, what, why, fix)


def exit_code(findings: list[Finding]) -> int:
    """0 when nothing is an error, 1 otherwise."""
    return 1 if any(f.level == "error" for f in findings) else 0
