"""What the request log says about one request: a typed record the relay fills as the request goes.

Fields that stay ``None`` are left out of the log line. ``headers`` and the ids are kept as they
came; the log thread redacts them before anything is written (see :func:`.logs.redact_record`).
Message content is never part of a record: :func:`role_counts` and counts describe the history.
The relay hands the record itself to the log thread, which turns it into a dict (:meth:`as_dict`,
the time formatted there too), so a request pays nothing for that.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime, timezone
from time import perf_counter
from time import time as wall_clock
from typing import Any

from ccendpoint.rules.request import messages_of

_ids = iter(range(1, 1 << 62))
_ID_PREFIX = os.urandom(3).hex()
_ROLE_WORD = re.compile(r"^[a-z_]{1,20}$")
#: The roles chat-completions defines: counted without the pattern check.
_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})


def new_request_id() -> str:
    return f"{_ID_PREFIX}-{next(_ids):06d}"


def iso_time(seconds: float) -> str:
    """A wall-clock time as the log writes it: UTC, milliseconds, ``Z``."""
    moment = datetime.fromtimestamp(seconds, timezone.utc)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def role_counts(body: Mapping[str, Any]) -> dict[str, int]:
    """How many messages each role has (never their content); odd role values count as ``?``."""
    counts: dict[str, int] = {}
    for message in messages_of(body):
        role = message.get("role") if isinstance(message, dict) else None
        if not isinstance(role, str) or (role not in _ROLES and not _ROLE_WORD.match(role)):
            role = "?"
        counts[role] = counts.get(role, 0) + 1
    return counts


def count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


@dataclass(slots=True)
class RequestRecord:
    #: When the request arrived; filled from ``_wall`` by :meth:`as_dict` when left empty.
    time: str = ""
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
    _wall: float = field(default_factory=wall_clock, repr=False)

    def ms(self) -> float:
        """Milliseconds since the request arrived."""
        return round((perf_counter() - self._started) * 1000, 2)

    def fail(self, outcome: str, message: str, status: int | None = None) -> None:
        self.outcome, self.error = outcome, message
        if status is not None:
            self.status = status

    def as_dict(self) -> dict[str, Any]:
        """The fields that were set, in log order (``model`` and ``status`` always, even when unknown)."""
        out: dict[str, Any] = {"time": self.time or iso_time(self._wall)}
        for name in _LOGGED[1:]:
            value = getattr(self, name)
            if value is not None or name in ("model", "status"):
                out[name] = value
        return out


#: The record's fields in log order (``time`` first).
_LOGGED = tuple(item.name for item in fields(RequestRecord) if not item.name.startswith("_"))
