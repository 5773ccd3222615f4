"""The answers the proxy gives when a request fails: OpenAI-shaped JSON errors, and why an upstream failed."""

from __future__ import annotations

import aiohttp
import orjson
from aiohttp import web

JSON_TYPE = "application/json"


def error_body(message: str, kind: str, code: str) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "code": code}})


def error_response(status: int, message: str, code: str, *, kind: str | None = None) -> web.Response:
    """An OpenAI-shaped JSON error; VS Code shows ``message`` to the user."""
    kind = kind or ("invalid_request_error" if status < 500 else "proxy_error")
    return web.Response(status=status, body=error_body(message, kind, code), content_type=JSON_TYPE)


class RequestRejected(Exception):
    """The request cannot be forwarded as it is; carries the error response to send."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


def upstream_failure(exc: BaseException, host: str, connect_timeout: float) -> tuple[str, str]:
    """(message, code) for an upstream that could not be reached; never includes headers or keys."""
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return f"could not connect within {connect_timeout:g} s", "upstream_unreachable"
    if isinstance(exc, aiohttp.ClientConnectorDNSError):
        if isinstance(exc.os_error, TimeoutError):  # the server's BoundedResolver gave up
            return f"the host name could not be resolved within {connect_timeout:g} s", "upstream_unreachable"
        return "the host name could not be resolved", "upstream_unreachable"
    if isinstance(exc, aiohttp.ClientConnectorError):
        reason = exc.os_error.strerror or type(exc.os_error).__name__
        return f"connection failed ({reason})", "upstream_unreachable"
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the connection closed before an answer arrived", "upstream_disconnected"
    if isinstance(exc, aiohttp.ClientResponseError):
        return f"the answer was not valid HTTP ({exc.message})", "upstream_bad_response"
    return f"the request failed ({type(exc).__name__})", "upstream_unreachable"


def stream_error_event(message: str, code: str = "upstream_stream_broken") -> bytes:
    """The last event of a stream the proxy had to end: an OpenAI-shaped error, as VS Code reads one."""
    return b"data: " + error_body(message, "proxy_error", code) + b"\n\n"
