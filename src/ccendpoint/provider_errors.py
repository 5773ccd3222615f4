"""What a provider says when it refuses a request: its message, from any of the shapes providers use.

OpenAI-shaped answers put it in ``error.message``; some providers send ``error`` as a string, or a
top-level ``message``. The proxy's log, ``doctor --live`` and ``catalog drift`` all read it here.
"""

from __future__ import annotations

import json
from typing import Any

#: HTTP statuses that mean the key or the account, not the request, was refused.
AUTH_STATUSES = {401: "authentication", 402: "payment", 403: "permission", 429: "rate limit or quota"}
#: Longest message kept where a short one is wanted (findings, terminal lines).
SHORT = 300


def error_message(data: Any) -> str | None:
    """The message of a parsed error answer, or None when it has none."""
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    message = error.get("message") if isinstance(error, dict) else error
    if not isinstance(message, str) or not message:
        message = data.get("message")
    return message if isinstance(message, str) and message else None


def message_of_text(text: str, limit: int = SHORT) -> str:
    """The message of an answer body (JSON or not), at most ``limit`` characters."""
    try:
        found = error_message(json.loads(text))
    except ValueError:
        found = None
    return (found if found is not None else text.strip())[:limit]
