"""Reading a request body (bounded), parsing it as a JSON object, and writing it again."""

from __future__ import annotations

import json
from typing import Any

import orjson
from aiohttp import web

from ccendpoint.proxy.errors import RequestRejected


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
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        # orjson refuses lone surrogates (\ud800), which JavaScript clients may send; json accepts them
        try:
            data = json.loads(body)
            fast = False
        except (ValueError, UnicodeDecodeError):
            raise RequestRejected(400, f"the request body is not valid JSON ({exc}).", "invalid_json") from None
    if not isinstance(data, dict):
        raise RequestRejected(
            400, f"the request body must be a JSON object, not {_json_type(data)}.", "body_not_object"
        )
    model = data.get("model")
    if not isinstance(model, str):
        what = "missing" if "model" not in data else f"{_json_type(model)}, not a string"
        raise RequestRejected(400, f'the request\'s "model" is {what}; it must be the model id.', "invalid_model")
    return data, fast


def encode_body(body: dict[str, Any], fast: bool) -> bytes:
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
