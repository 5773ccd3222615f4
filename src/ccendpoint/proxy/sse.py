"""Read a server-sent-events stream on the side while it is relayed.

The relay writes every upstream chunk to the client first and then hands the same bytes to a
:class:`StreamTap`. The tap splits them into events incrementally (a chunk may hold half an event,
or several) and offers each event's ``data`` to its collectors. Only events a collector asks for are
parsed as JSON, and each at most once, so the tap stays cheap on the hot path.

Collectors are small objects with two methods (see :class:`Collector`): :class:`UsageCollector`
keeps the token usage of the last event that carried one, :class:`AnswerCollector` the
answer's text and whether it called tools (for reasoning replay), :class:`ErrorCollector` the
message of an error answer, :class:`StreamErrorCollector` the message of an error event in a stream.

Lines may end with ``\\n`` or ``\\r\\n``; a bare ``\\r`` line ending is not recognised.
"""

from __future__ import annotations

from typing import Any, Protocol

import orjson

from ccendpoint.provider_errors import error_message

#: A line longer than this (no newline in sight) means the body is not SSE: the tap gives up.
MAX_PENDING = 4 * 1024 * 1024

DONE = b"[DONE]"


class Collector(Protocol):
    def wants(self, data: bytes) -> bool:
        """Cheap check on the raw event data: should it be parsed and passed to :meth:`take`?"""

    def take(self, event: dict[str, Any]) -> None:
        """One parsed JSON event that :meth:`wants` asked for."""


class UsageCollector:
    """The ``usage`` object of the stream (sent in the last chunk when ``include_usage`` is on)."""

    def __init__(self) -> None:
        self.usage: dict[str, Any] | None = None

    def wants(self, data: bytes) -> bool:
        return b'"usage"' in data

    def take(self, event: dict[str, Any]) -> None:
        usage = event.get("usage")
        if isinstance(usage, dict):
            self.usage = usage


class AnswerCollector:
    """Whether the answer called tools, and its text (up to ``limit`` characters), stream or not.

    Reasoning replay stores a finished turn under its final answer's text; an answer that called
    tools does not finish a turn. Only the first choice is followed, as VS Code asks for one
    (``n: 1``).
    """

    def __init__(self, limit: int = 4 * 1024 * 1024) -> None:
        self.limit = limit
        self.called_tools = False
        self.too_long = False
        self._text: list[str] = []
        self._size = 0

    def wants(self, data: bytes) -> bool:
        return b'"content"' in data or b'"tool_calls"' in data

    def take(self, event: dict[str, Any]) -> None:
        choices = event.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return
        choice = choices[0]
        part = choice.get("delta") if isinstance(choice.get("delta"), dict) else choice.get("message")
        if not isinstance(part, dict):
            return
        if part.get("tool_calls"):
            self.called_tools = True
        text = part.get("content")
        if isinstance(text, str) and text and not self.too_long:
            self._size += len(text)
            if self._size > self.limit:
                self.too_long = True
                self._text = []
            else:
                self._text.append(text)

    @property
    def final_text(self) -> str | None:
        """The answer's text when it finishes a turn (no tool calls, not cut for length), else None."""
        if self.called_tools or self.too_long:
            return None
        return "".join(self._text)


class ErrorCollector:
    """The ``error.message`` of a non-streamed error answer (for the log; the body passes unchanged)."""

    def __init__(self) -> None:
        self.message: str | None = None

    def wants(self, data: bytes) -> bool:
        return b'"error"' in data or b'"message"' in data

    def take(self, event: dict[str, Any]) -> None:
        message = error_message(event)
        if message is not None:
            self.message = message[:4096]  # the log masks it, then keeps the first 300 characters


class StreamErrorCollector:
    """The message of an error event inside a stream (``data: {"error": …}``).

    Some providers answer 200, start the stream, and then send an error event when the answer fails
    midway; the request log must not call such a request ``ok``.
    """

    def __init__(self) -> None:
        self.message: str | None = None

    def wants(self, data: bytes) -> bool:
        return b'"error"' in data

    def take(self, event: dict[str, Any]) -> None:
        if self.message is None and event.get("error") is not None:
            message = error_message(event) or "the stream carried an error event without a message"
            self.message = message[:4096]


class StreamTap:
    """Incremental SSE reader: :meth:`feed` it chunks as they pass, read the results at the end.

    A chunk is split into whole events at blank lines (one C-level split, not a loop over lines);
    what follows the last blank line waits for the next chunk.
    """

    def __init__(self, collectors: list[Collector] | None = None) -> None:
        self.collectors: list[Collector] = collectors if collectors is not None else []
        self.events = 0
        self.done = False  # saw ``data: [DONE]``
        self.broken = False  # gave up: not SSE, or an event too large to keep
        self.bad_events = 0  # events a collector wanted that were not valid JSON objects
        self._pending = b""  # the unfinished event after the last blank line (line endings as LF)

    def feed(self, chunk: bytes) -> None:
        if self.broken or not chunk:
            return
        buffer = self._pending + chunk if self._pending else chunk
        if b"\r" in buffer:
            # a CR that may be the first half of a CRLF split across chunks stays until the next one
            buffer = buffer.replace(b"\r\n", b"\n")
        blocks = buffer.split(b"\n\n")
        self._pending = pending = blocks.pop()
        if len(pending) > MAX_PENDING:
            self._give_up()
            return
        for block in blocks:
            if b"\n" in block:
                found = _data(block)
                if found is None:
                    continue  # comments or other fields only
                data = found
            elif block.startswith(b"data: "):  # the usual event: one data line
                data = block[6:]
            elif block.startswith(b"data:"):
                data = block[5:]
            else:
                continue  # a comment or another field alone (or an extra blank line)
            self.events += 1
            if data == DONE:
                self.done = True
                continue
            parsed: Any = None
            for collector in self.collectors:
                if not collector.wants(data):
                    continue
                if parsed is None:
                    parsed = _parse(data)
                    if parsed is None:
                        self.bad_events += 1
                        break
                collector.take(parsed)

    def _give_up(self) -> None:
        self.broken = True
        self._pending = b""


def _parse(data: bytes) -> dict[str, Any] | None:
    try:
        parsed = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _data(block: bytes) -> bytes | None:
    """The ``data`` of one event (its data lines joined), or None when it has no data line."""
    lines = [
        (line[6:] if line.startswith(b"data: ") else line[5:])
        for line in block.split(b"\n")
        if line.startswith(b"data:")
    ]
    # other fields (event:, id:, retry:) and comments (":") are not needed by any collector
    if not lines:
        return None
    return lines[0] if len(lines) == 1 else b"\n".join(lines)


class BodyTap:
    """The same collectors for a non-streamed JSON body: keeps up to ``limit`` bytes, parses once at the end."""

    def __init__(self, collectors: list[Collector], limit: int = 1024 * 1024) -> None:
        self.collectors = collectors
        self.limit = limit
        self._parts: list[bytes] = []
        self._size = 0

    def feed(self, chunk: bytes) -> None:
        if self._size <= self.limit:
            self._parts.append(chunk)
            self._size += len(chunk)

    def finish(self) -> None:
        if self._size > self.limit or not self._parts:
            return
        data = b"".join(self._parts)
        self._parts = []
        wanted = [c for c in self.collectors if c.wants(data)]
        if not wanted:
            return
        try:
            parsed = orjson.loads(data)
        except orjson.JSONDecodeError:
            return
        if isinstance(parsed, dict):
            for collector in wanted:
                collector.take(parsed)
