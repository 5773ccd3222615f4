"""How an answer ends: its last bytes and its end in one write, or, when it breaks, an end the client can read.

A broken stream gets a last error event only where the bytes already handed to the client end
between events (an event glued to half of another would be unreadable), and nothing ever follows
the end of an answer: a second chunked end marker, or an event after it, would be read as the
start of another HTTP message.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import aiohttp
from aiohttp import web

from ccendpoint.proxy.deadline import Expired, within
from ccendpoint.proxy.errors import error_response, internal_error_response, stream_error_event
from ccendpoint.proxy.record import RequestRecord
from ccendpoint.proxy.tagging import StreamTagger, new_reasoning_id, tag_json_answer

INTERNAL = "ccendpoint proxy: an internal error ended this answer; the request log has the details."
#: How many of the last bytes sent tell whether a stream ends between events (``\r\n\r\n``).
TAIL = 4
#: Larger writes go in pieces of this size (see :func:`send`).
PIECE = 256 * 1024
#: How long a last error event may wait for a client while the proxy stops (within its second).
STOPPING_PATIENCE = 0.5


def last_bytes(
    response: web.StreamResponse,
    out: bytes,
    tagger: StreamTagger | None,
    whole: list[bytes] | None,
    record: RequestRecord,
) -> bytes:
    """The answer's last bytes: ``out`` and what the tagger still holds, or the held answer, tagged
    (the response then gets its new length)."""
    data = out
    if tagger is not None:
        data += tagger.flush()  # an unfinished event held back at the end of the answer
        record.reasoning_tagged = tagger.tagged
    if whole is not None:
        body = b"".join(whole)
        tagged = tag_json_answer(body, new_reasoning_id())
        record.reasoning_tagged = tagged is not None
        data = tagged if tagged is not None else body
        response.content_length = len(data)
    return data


async def send(
    request: web.Request, response: web.StreamResponse, data: bytes, kept_up: Callable[[], None], *, end: bool = False
) -> None:
    """Hand ``data`` to the client (``end``: and end the answer with it, in the same write).

    The headers leave with the first bytes. More than :data:`PIECE` bytes go in pieces, calling
    ``kept_up`` after each: a client that keeps reading, however slowly, is not one that stopped.
    """
    if not response.prepared:
        await response.prepare(request)
    start = 0
    if len(data) > PIECE:
        view = memoryview(data)
        while len(data) - start > PIECE:
            await response.write(view[start : start + PIECE])
            kept_up()
            start += PIECE
    rest = data[start:] if start else data
    if end:
        await response.write_eof(rest)
    elif rest:
        await response.write(rest)


def between_events(tail: bytes) -> bool:
    """Whether a stream whose last bytes sent are ``tail`` ends between events (or sent none yet)."""
    return not tail or tail.replace(b"\r\n", b"\n").endswith(b"\n\n")


def close_after_end(request: web.Request) -> None:
    """The end of the answer is already with the connection: close it once that is sent, so that
    nothing (aiohttp's own end marker included) can follow it."""
    if request.transport is not None:
        request.transport.close()


def drop_client(request: web.Request) -> None:
    """Close a client's connection at once, discarding what it has not read."""
    if request.transport is not None:
        request.transport.abort()


async def end_broken(
    request: web.Request,
    response: web.StreamResponse,
    tail: bytes | None,
    record: RequestRecord,
    outcome: str,
    message: str,
    code: str = "upstream_stream_broken",
    *,
    patience: float,
) -> web.StreamResponse:
    """End the client's answer after a failure.

    An answer that has sent nothing yet becomes a JSON error. A stream (``tail``: the last bytes
    sent, None when the answer is not a stream) gets a final error event when it is between events;
    a client that does not take that end within ``patience`` seconds is dropped. Any other answer
    is cut off without its end, so that the client sees it is incomplete.
    """
    if not response.prepared:
        if outcome == "internal_error":
            record.fail(outcome, message, 500)
            return internal_error_response()
        status = {"upstream_idle_timeout": 504, "proxy_stopped": 503}.get(outcome, 502)
        record.fail(outcome, message, status)
        code = "upstream_timeout" if status == 504 else code
        return error_response(status, f"ccendpoint proxy: {message}.", code)
    record.fail(outcome, message)
    response.force_close()
    if tail is None or not between_events(tail):
        drop_client(request)  # an end marker now would make half an answer look whole
        return response
    # a bug's details stay in the log; the client is told only that the proxy failed
    told = INTERNAL if outcome == "internal_error" else f"ccendpoint proxy: {message}."
    event = stream_error_event(told, code)
    with contextlib.suppress(ConnectionResetError, aiohttp.ClientConnectionError):
        try:
            await within(response.write_eof(event), patience)
        except Expired:
            drop_client(request)
    return response
