"""What the request log says about one request: a typed record the relay fills as the request goes.

Fields that stay ``None`` are left out of the log line. ``headers`` and the ids are kept as they
came; the log thread redacts them before anything is written (see :func:`.logs.redact_record`).
Message content is never part of a record: :func:`role_counts` and counts describe the history.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from time import perf_counter
from typing import Any

from ccendpoint.rules.request import messages_of

_ids = iter(range(1, 1 << 62))
_ID_PREFIX = os.urandom(3).hex()
_ROLE_WORD = re.compile(r"^[a-z_]{1,20}$")


def new_request_id() -> str:
    return f"{_ID_PREFIX}-{next(_ids):06d}"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def role_counts(body: Mapping[str, Any]) -> dict[str, int]:
    """How many messages each role has (never their content); odd role values count as ``?``."""
    counts: dict[str, int] = {}
    for message in messages_of(body):
        role = message.get("role") if isinstance(message, dict) else None
        word = role if isinstance(role, str) and _ROLE_WORD.match(role) else "?"
        counts[word] = counts.get(word, 0) + 1
    return counts


def count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


@dataclass(slots=True)
class RequestRecord:
    time: str = field(default_factory=now_iso)
    id: str = field(default_factory=new_request_id)
    provider: str = ""
    port: int = 0
    path: str = ""
    model: str | None = None
    status: int | None = None
    #: ``ok``, or what went wrong: ``rejected``, ``client_disconnected``, ``upstream_unreachable``, …
    outcome: str = "ok"
    headers: Sequence[tuple[str, str]] | None = None
    client_request_id: str | None = None
    bytes_in: int | None = None
    stream: bool | None = None
    tool_turn: bool | None = None
    missing_reasoning: bool | None = None
    messages: int | None = None
    roles: dict[str, int] | None = None
    tools: int | None = None
    rule_set: str | None = None
    changes: list[str] | None = None
    bytes_upstream: int | None = None
    notes: list[str] | None = None
    reasoning_restored: int | None = None
    reasoning_missing: int | None = None
    reasoning_from_cache: int | None = None
    headers_ms: float | None = None
    upstream_request_id: str | None = None
    first_byte_ms: float | None = None
    bytes_out: int | None = None
    sse_events: int | None = None
    sse_done: bool | None = None
    usage: dict[str, Any] | None = None
    upstream_error: str | None = None
    reasoning_tagged: bool | None = None
    reasoning_stored: int | None = None
    error: str | None = None
    total_ms: float | None = None
    _started: float = field(default_factory=perf_counter, repr=False)

    def ms(self) -> float:
        """Milliseconds since the request arrived."""
        return round((perf_counter() - self._started) * 1000, 2)

    def fail(self, outcome: str, message: str, status: int | None = None) -> None:
        self.outcome, self.error = outcome, message
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        """The fields that were set, in log order (``model`` and ``status`` always, even when unknown)."""
        out: dict[str, Any] = {}
        for item in fields(self):
            if item.name.startswith("_"):
                continue
            value = getattr(self, item.name)
            if value is not None or item.name in ("model", "status"):
                out[item.name] = value
        return out
