"""Reading a request body (bounded), parsing it as a JSON object, and writing it again."""

from __future__ import annotations

import gc
import json
import re
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError

from ccendpoint.proxy.deadline import Expired, within
from ccendpoint.proxy.errors import RequestRejected, not_http, parser_reason
from ccendpoint.proxy.splice import splice_messages

#: From this size on, a rewrite that left ``messages`` alone reuses the request's bytes of it
#: (see :mod:`.splice`); below it, serialising the whole body is as cheap as proving the splice.
SPLICE_FROM = 256 * 1024

#: Seconds the rest of a large body may take to arrive once its request holds a turn.
LARGE_READ_TIMEOUT = 30.0

#: The most JSON items (see :func:`count_values`) a body may hold. Parsed, an item costs up to about a hundred bytes (a
#: ``{}`` of three bytes becomes a 64-byte dict and its slot in a list), so a body of tiny values
#: would cost some twenty times its size; this bounds that cost at a few tens of MB. A long real
#: agent history holds some ten thousand values per MB; 250,000 leaves room for six times the
#: densest history measured (see benchmarks/worst_case_memory.py).
MAX_VALUES = 250_000
#: A JSON string, escapes included: what is inside one is not a value of its own. The closing quote
#: is optional so that a string that never closes is matched once, in linear time, not tried again
#: from every quote inside it.
_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"?')


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def count_values(raw: bytes) -> int:
    """The JSON items in ``raw``: its commas and opening brackets (each value after the first in an
    array or object follows a comma; each array or object opens with a bracket), counted inside
    strings too, so never fewer than those outside them."""
    return len(raw) - len(raw.translate(None, b",[{")) + 1  # one pass: half the time of three counts


def check_structure(raw: bytes) -> None:
    """Refuse (413) a body that holds more than :data:`MAX_VALUES` values, before it is parsed.

    Counting the separators of the whole body is cheap (about a millisecond per MB) and enough for
    nearly every request; only when that count is over the bound are the strings, with the commas
    and brackets inside them, taken out and the count made again.
    """
    if len(raw) <= MAX_VALUES or count_values(raw) <= MAX_VALUES:  # a value takes at least one byte
        return
    values = count_values(_STRING.sub(b'""', raw))
    if values > MAX_VALUES:
        raise RequestRejected(
            413,
            f"the request body has {values:,} JSON items (values and containers); the proxy reads at "
            f"most {MAX_VALUES:,}, far more than a chat request needs.",
            "body_too_complex",
        )


def parse_body(body: bytes) -> tuple[dict[str, Any], bool]:
    """The body as a JSON object, and whether orjson could read it (see :func:`encode_body`)."""
    if not body.strip():
        raise RequestRejected(400, "the request body is empty; a JSON object was expected.", "empty_body")
    fast = True
    try:
        data = _loads(body)
    except orjson.JSONDecodeError as exc:
        if "surrogate" not in str(exc):
            raise RequestRejected(400, f"the request body is not valid JSON ({exc}).", "invalid_json") from None
        # orjson refuses lone surrogates (\ud800), which JavaScript clients may send; json accepts them
        try:
            data = json.loads(body)
            fast = False
        except (ValueError, UnicodeDecodeError):
            raise RequestRejected(400, f"the request body is not valid JSON ({exc}).", "invalid_json") from None
        except RecursionError:
            raise RequestRejected(400, "the request body is nested too deeply to be read.", "invalid_json") from None
    if not isinstance(data, dict):
        raise RequestRejected(
            400, f"the request body must be a JSON object, not {_json_type(data)}.", "body_not_object"
        )
    model = data.get("model")
    if not isinstance(model, str):
        what = "missing" if "model" not in data else f"{_json_type(model)}, not a string"
        raise RequestRejected(400, f'the request\'s "model" is {what}; it must be the model id.', "invalid_model")
    return data, fast


def _loads(body: bytes) -> Any:
    """orjson's parse with the cyclic collector paused: a parse creates no cycles, and a large body
    (tens of thousands of objects) would otherwise set off collections that walk all of them."""
    paused = gc.isenabled()
    if paused:
        gc.disable()
    try:
        return orjson.loads(body)
    finally:
        if paused:
            gc.enable()


def encode_body(
    body: dict[str, Any], fast: bool, *, raw: bytes = b"", original: Mapping[str, Any] | None = None
) -> bytes:
    """The rewritten ``body`` as bytes; ``raw`` and ``original`` (the request as it came and as it
    parsed) let a large body reuse its own bytes of ``messages`` when the rewrite left it alone."""
    if fast and original is not None and len(raw) >= SPLICE_FROM:
        spliced = splice_messages(raw, original, body)
        if spliced is not None:
            return spliced
    if fast:
        return orjson.dumps(body)
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode("ascii")


async def read_body(request: web.Request, limit: int, large: int, on_large: Callable[[], Awaitable[None]]) -> bytes:
    """The whole request body, refusing (413) anything larger than ``limit`` before reading it all.

    ``on_large`` is awaited once the body is known to reach ``large`` bytes: before reading when
    ``Content-Length`` says so, or as soon as a chunked body gets there. From then on the rest of
    the body must arrive within :data:`LARGE_READ_TIMEOUT` seconds (408), so a client that sends
    slowly cannot keep what ``on_large`` gave it. A body that turns out not to be valid HTTP half
    way (a bad chunk) is a 400, told without the bytes the parser quotes.
    """
    try:
        return await _read(request, limit, large, on_large)
    except (HttpProcessingError, web.RequestPayloadError) as exc:
        # aiohttp's pure-Python parser wraps what it refused in a RequestPayloadError whose text
        # quotes the bytes: only the parser's own exception, behind it, is described
        refused = exc if isinstance(exc, HttpProcessingError) else exc.__cause__
        reason = parser_reason(refused, None) if isinstance(refused, HttpProcessingError) else "the body is not valid"
        raise RequestRejected(400, not_http(reason), "bad_request") from None


async def _read(request: web.Request, limit: int, large: int, on_large: Callable[[], Awaitable[None]]) -> bytes:
    """:func:`read_body` without its care for bodies that are not valid HTTP."""
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        raise RequestRejected(
            415,
            f"the request body is compressed ({encoding}); the proxy takes request bodies uncompressed, "
            "as VS Code sends them.",
            "unsupported_encoding",
        )
    length = request.content_length
    if length is not None:
        if length > limit:
            raise RequestRejected(413, _too_large(length, limit), "body_too_large")
        if length < large:
            return await request.content.read()  # the parser stops at Content-Length
        await on_large()
        return await _within(request.content.read(), LARGE_READ_TIMEOUT)
    parts: list[bytes] = []
    size = 0
    deadline: float | None = None
    while True:
        if deadline is None:
            chunk = await request.content.readany()
        else:
            chunk = await _within(request.content.readany(), deadline - time.monotonic())
        if not chunk:
            break
        if size < large <= size + len(chunk):
            await on_large()
            deadline = time.monotonic() + LARGE_READ_TIMEOUT
        size += len(chunk)
        if size > limit:
            raise RequestRejected(413, _too_large(None, limit), "body_too_large")
        parts.append(chunk)
    return b"".join(parts)


async def _within(read: Coroutine[Any, Any, bytes], seconds: float) -> bytes:
    try:
        return await within(read, seconds)
    except Expired:
        raise RequestRejected(
            408,
            f"the request body did not arrive within {LARGE_READ_TIMEOUT:g} s; a large body must be "
            "sent without pauses.",
            "body_timeout",
        ) from None


def _too_large(length: int | None, limit: int) -> str:
    mib = limit / (1024 * 1024)
    size = f" ({length / (1024 * 1024):.1f} MiB)" if length is not None else ""
    return (
        f"the request body{size} is larger than the proxy's limit of {mib:g} MiB. "
        "Start the proxy with a larger --max-body-mb if this request is expected."
    )
