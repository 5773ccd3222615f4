"""Reading a request body (bounded), parsing it as a JSON object, and writing it again."""

from __future__ import annotations

import gc
import json
from collections.abc import Mapping
from typing import Any

import orjson
from aiohttp import web

from ccendpoint.proxy.errors import RequestRejected
from ccendpoint.proxy.splice import splice_messages

#: From this size on, a rewrite that left ``messages`` alone reuses the request's bytes of it
#: (see :mod:`.splice`); below it, serialising the whole body is as cheap as proving the splice.
SPLICE_FROM = 256 * 1024


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


async def read_body(request: web.Request, limit: int) -> bytes:
    """The whole request body, refusing (413) anything larger than ``limit`` before reading it all."""
    length = request.content_length
    if length is not None:
        if length > limit:
            raise RequestRejected(413, _too_large(length, limit), "body_too_large")
        return await request.content.read()  # the parser stops at Content-Length
    parts: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.readany()
        if not chunk:
            break
        size += len(chunk)
        if size > limit:
            raise RequestRejected(413, _too_large(None, limit), "body_too_large")
        parts.append(chunk)
    return b"".join(parts)


def _too_large(length: int | None, limit: int) -> str:
    mib = limit / (1024 * 1024)
    size = f" ({length / (1024 * 1024):.1f} MiB)" if length is not None else ""
    return (
        f"the request body{size} is larger than the proxy's limit of {mib:g} MiB. "
        "start the proxy with a larger --max-body-mb if this request is expected."
    )
