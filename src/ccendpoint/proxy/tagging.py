"""Give an answer's reasoning an id on its way to VS Code, so VS Code sends the reasoning back.

VS Code 1.139 keeps the reasoning of an answer for the rest of the turn's tool loop only when a
reasoning delta carries an id (it reads ``cot_id``, ``reasoning_opaque`` or ``signature``); it
then returns the whole reasoning text on the assistant message (``cot_id`` and ``cot_summary``).
Providers such as Kimi, MiMo and DeepSeek send no id, so their reasoning was lost.

The taggers add ``cot_id`` to the first delta (or message) that carries reasoning text and no id
of its own. Every other byte passes unchanged: a stream is split into events only until the first
reasoning event has been tagged, or until the answer has moved on to content or tool calls without
any reasoning; from then on chunks go straight through.
"""

from __future__ import annotations

import os
from typing import Any

import orjson

#: Fields whose text VS Code shows as reasoning (the ones providers send).
REASONING_FIELDS = ("reasoning_content", "reasoning")
#: Fields VS Code takes as the reasoning's id; a delta that has one is left alone.
ID_FIELDS = ("cot_id", "reasoning_opaque", "signature")
#: An event longer than this without its end in sight: stop looking and pass everything through.
MAX_PENDING = 1024 * 1024
#: The largest non-streamed answer that is read whole to be tagged; larger ones pass untouched.
MAX_JSON_BODY = 8 * 1024 * 1024


def new_reasoning_id() -> str:
    """A fresh id for one answer's reasoning."""
    return "ccr-" + os.urandom(9).hex()


def _part(event: Any) -> dict[str, Any] | None:
    """The first choice's ``delta`` (stream) or ``message`` (whole answer)."""
    choices = event.get("choices") if isinstance(event, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        return None
    choice = choices[0]
    part = choice.get("delta", choice.get("message"))
    return part if isinstance(part, dict) else None


def _has_text(part: dict[str, Any], field: str) -> bool:
    value = part.get(field)
    return isinstance(value, str) and value != ""


def tag_part(part: dict[str, Any], reasoning_id: str) -> str:
    """Tag ``part`` in place; returns ``"tagged"``, ``"has id"``, ``"moved on"`` or ``"wait"``.

    ``moved on``: the answer carries content or tool calls and no reasoning, so no later delta
    will be the first reasoning one.
    """
    if any(_has_text(part, field) for field in REASONING_FIELDS):
        if any(field in part for field in ID_FIELDS):
            return "has id"
        part["cot_id"] = reasoning_id
        return "tagged"
    if _has_text(part, "content") or part.get("tool_calls"):
        return "moved on"
    return "wait"


def tag_json_answer(body: bytes, reasoning_id: str) -> bytes | None:
    """A whole (non-streamed) answer with its reasoning tagged, or None when there is nothing to tag."""
    if b'"reasoning' not in body:
        return None
    try:
        answer = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    part = _part(answer)
    if part is None or tag_part(part, reasoning_id) != "tagged":
        return None
    return orjson.dumps(answer)


def _event_end(buffer: bytes, start: int) -> int:
    """Index just after the blank line ending the event that begins at ``start``; -1 if incomplete."""
    lf = buffer.find(b"\n\n", start)
    crlf = buffer.find(b"\n\r\n", start)
    if crlf != -1 and (lf == -1 or crlf < lf):
        return crlf + 3
    return lf + 2 if lf != -1 else -1


def _retag_event(event: bytes, reasoning_id: str) -> tuple[str, bytes]:
    """(outcome of :func:`tag_part`, the event's bytes: rewritten only when tagged)."""
    lines = event.splitlines()
    data = [line[5:].removeprefix(b" ") for line in lines if line.startswith(b"data:")]
    if not data:
        return "wait", event
    try:
        parsed = orjson.loads(b"\n".join(data))
    except orjson.JSONDecodeError:
        return "wait", event
    part = _part(parsed)
    if part is None:
        return "wait", event
    outcome = tag_part(part, reasoning_id)
    if outcome != "tagged":
        return outcome, event
    newline = b"\r\n" if event.endswith(b"\r\n") else b"\n"
    kept = [line for line in lines if line and not line.startswith(b"data:")]  # event:, id:, comments
    return outcome, b"".join(line + newline for line in kept) + b"data: " + orjson.dumps(parsed) + newline + newline


class StreamTagger:
    """Tags the first reasoning event of an SSE answer; :meth:`feed` returns the bytes to send now."""

    def __init__(self, reasoning_id: str) -> None:
        self.reasoning_id = reasoning_id
        self.tagged = False
        self.active = True  # still splitting events
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        if not self.active:
            return chunk
        buffer = self._pending + chunk if self._pending else chunk
        out: list[bytes] = []
        start = 0
        while self.active:
            end = _event_end(buffer, start)
            if end == -1:
                break
            event = buffer[start:end]
            if b'"reasoning' in event or b'"content"' in event or b'"tool_calls"' in event:
                outcome, event = _retag_event(event, self.reasoning_id)
                if outcome != "wait":
                    self.active = False
                    self.tagged = outcome == "tagged"
            out.append(event)
            start = end
        rest = buffer[start:]
        if self.active and len(rest) > MAX_PENDING:
            self.active = False
        if self.active:
            self._pending = rest
        else:
            self._pending = b""
            out.append(rest)
        return b"".join(out) if len(out) != 1 else out[0]

    def flush(self) -> bytes:
        """What is still held back (an unfinished event at the end of the answer)."""
        rest, self._pending = self._pending, b""
        self.active = False
        return rest
