"""The answers the proxy gives when a request fails: OpenAI-shaped JSON errors, and why an upstream failed.

Every failure is answered in JSON, also those aiohttp meets before a route runs (a request that is
not valid HTTP, headers too large) and any exception a handler did not expect: see
:func:`json_errors` (a middleware) and :func:`install_error_pages` (aiohttp's own error answers).
Each is reported through a callback that writes it to the request log; nothing goes to stderr.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import traceback
from collections.abc import Callable
from typing import Any, cast

import aiohttp
import aiohttp.web_protocol
import orjson
from aiohttp import hdrs, web
from aiohttp.http_exceptions import (
    BadStatusLine,
    HttpProcessingError,
    InvalidURLError,
    LineTooLong,
    TransferEncodingError,
)
from aiohttp.typedefs import Handler, Middleware
from aiohttp.web_protocol import RequestHandler
from aiohttp.web_urldispatcher import _default_expect_handler

import ccendpoint
from ccendpoint.redact import scrub

JSON_TYPE = "application/json"

#: The package's own directory: its frames are the ones an internal error names (not a checkout's or a
#: virtualenv's that happens to be called ccendpoint too).
PACKAGE_DIR = os.path.dirname(ccendpoint.__file__) + os.sep
#: Called for each failure the pages below answer: (request or None, status, outcome, message).
Report = Callable[[web.BaseRequest | None, int, str, str], None]
#: What aiohttp's parser takes (set explicitly: aiohttp's own defaults differ between releases):
#: request line and header lines up to MAX_LINE bytes, at most MAX_HEADERS headers.
MAX_LINE = 8190
MAX_HEADERS = 128
PARSER_LIMITS = {"max_line_size": MAX_LINE, "max_field_size": MAX_LINE, "max_headers": MAX_HEADERS}
#: Set on a request whose handler writes its own log line (the chat path), so it is not logged twice.
LOGGED: Any = web.RequestKey("ccendpoint.logged", bool) if hasattr(web, "RequestKey") else "ccendpoint.logged"


def error_body(message: str, kind: str, code: str) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "code": code}})


def error_response(status: int, message: str, code: str, *, kind: str | None = None) -> web.Response:
    """An OpenAI-shaped JSON error; VS Code shows ``message`` to the user."""
    kind = kind or ("invalid_request_error" if status < 500 else "proxy_error")
    return web.Response(status=status, body=error_body(message, kind, code), content_type=JSON_TYPE)


class RequestRejected(Exception):
    """The request cannot be forwarded as it is; carries the error response to send."""

    def __init__(self, status: int, message: str, code: str, *, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code
        #: Seconds after which the client may try again (a ``Retry-After`` header), when it may.
        self.retry_after = retry_after

    def response(self) -> web.Response:
        """The JSON error this refusal is answered with."""
        answer = error_response(self.status, f"ccendpoint proxy: {self.message}", self.code)
        if self.retry_after is not None:
            answer.headers["Retry-After"] = str(self.retry_after)
        return answer


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


def describe_exception(exc: BaseException) -> str:
    """``internal error (KeyError: 'x') at relay.py:123``: what a log line says of an unexpected exception."""
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(PACKAGE_DIR)] or frames
    if ours:
        where = f" at {os.path.basename(ours[-1].filename)}:{ours[-1].lineno}"
    text = str(exc)
    detail = f"{type(exc).__name__}: {text[:200]}" if text else type(exc).__name__
    return f"internal error ({detail}){where}"


def internal_error_response() -> web.Response:
    response = error_response(
        500,
        "ccendpoint proxy: an internal error stopped this request; the request log has the details. "
        "Please report it with that log line.",
        "internal_error",
    )
    response.force_close()
    return response


async def expect_handler(request: web.Request) -> None:
    """A route's ``Expect`` handling: aiohttp's (``100 Continue``), but any other expectation is a 417.

    aiohttp's own 417 puts the header's value in its text, which fails (a 500) when the value is
    not UTF-8; here the value is not repeated at all (a client's header is not echoed back).
    """
    expect = request.headers.get(hdrs.EXPECT, "")
    if request.version == aiohttp.HttpVersion11 and expect.lower() != "100-continue":
        raise web.HTTPExpectationFailed(text="the proxy knows only Expect: 100-continue")
    await _default_expect_handler(request)


def json_errors(report: Report) -> Middleware:
    """A middleware: aiohttp's HTTP errors and any unexpected exception become OpenAI-shaped JSON."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            response = await handler(request)
            if response.status >= 400 and not request.get(LOGGED):  # 404, 405 … of the other routes
                report(request, response.status, "rejected", _message_of(response))
            return response
        except web.HTTPException as exc:
            if exc.status < 400:
                raise
            return _json_http_error(report, request, exc)
        except Exception as exc:  # every failure gets a JSON answer and a log line
            report(request, 500, "internal_error", describe_exception(exc))
            return internal_error_response()

    return middleware


def _json_http_error(report: Report, request: web.BaseRequest, exc: web.HTTPException) -> web.Response:
    """One of aiohttp's HTTP errors (plain text) as JSON, with the headers that matter kept."""
    detail = f" ({exc.text})" if exc.text and exc.text != exc.reason else ""
    message = f"ccendpoint proxy: {exc.reason}{detail}"
    answer = error_response(exc.status, message, _code(exc.status))
    for name in ("Allow", "Retry-After"):
        if name in exc.headers:
            answer.headers[name] = exc.headers[name]
    report(request, exc.status, "rejected", message)
    return answer


def _message_of(response: web.StreamResponse) -> str:
    body = response.body if isinstance(response, web.Response) else None
    if isinstance(body, bytes):
        try:
            return str(orjson.loads(body)["error"]["message"])
        except (orjson.JSONDecodeError, KeyError, TypeError):
            pass
    return f"HTTP {response.status}"


def _code(status: int) -> str:
    return {
        400: "bad_request",
        404: "not_found",
        405: "method_not_allowed",
        413: "body_too_large",
        417: "expectation_failed",  # an ``Expect`` header other than 100-continue
    }.get(status, "proxy_error" if status >= 500 else "bad_request")


# where aiohttp's parser quotes the bytes it refused: b'…', bytearray(b'…')
_EXCERPT = re.compile(r"""[\s:]*(?:bytearray\()?\bb['"].*""", re.DOTALL)


def parser_reason(exc: BaseException | None, message: str | None) -> str:
    """Why aiohttp's parser refused a request, in its words but without the bytes it quotes.

    The parser's text repeats the offending line (a header with its value, the request line with
    its query), which can hold a key: only its description is kept, and that is scrubbed too.
    """
    if isinstance(exc, LineTooLong):  # its text is the first 100 bytes of the line
        return f"a line is longer than {exc.args[1]} bytes" if len(exc.args) > 1 else "a line is too long"
    if isinstance(exc, InvalidURLError):  # its text is the URL
        return "the URL is not valid"
    if isinstance(exc, TransferEncodingError):  # its text can be the chunk-size line
        return "the chunked body is not valid"
    text = message or ((getattr(exc, "message", "") or str(exc)) if exc is not None else "")
    text = text.strip().split("\n\n")[0]  # the description; the quoted line and a ^ marker follow
    text = _EXCERPT.sub("", " ".join(line.strip() for line in text.splitlines()))
    if isinstance(exc, BadStatusLine):  # its text may quote the request line as a str
        text = re.split(r"""[\s:]*['"]""", text, maxsplit=1)[0]
    return scrub(text.strip(" :"))[:200] or "not a valid HTTP request"


#: The message of the request aiohttp hands the error page for input it could not parse (method
#: ``UNKNOWN``, path ``/``): that path is not the client's.
_UNPARSED: object = getattr(aiohttp.web_protocol, "ERROR", None)


def _with_path(request: web.BaseRequest) -> web.BaseRequest | None:
    """``request`` when it is the one the client sent; None for aiohttp's placeholder."""
    placeholder = _UNPARSED is not None and request._message is _UNPARSED  # .message is deprecated
    return None if placeholder else request


def not_http(reason: str) -> str:
    """What a client is told when its request is not valid HTTP (``reason``: see :func:`parser_reason`)."""
    return f"this is not a valid HTTP request ({reason})."


def _error_page(
    report: Report,
    request: web.BaseRequest,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    """aiohttp's answer to a request it could not take (not valid HTTP, headers too large …), as JSON."""
    if request.writer.output_size > 0:  # as aiohttp does: an answer has begun, the connection is broken
        raise ConnectionError("an answer was already being sent")
    if status >= 500:
        text = describe_exception(exc) if exc is not None else "internal error"
        report(_with_path(request), status, "internal_error", text)
        return internal_error_response()
    reason = parser_reason(exc, message)
    if isinstance(exc, LineTooLong) or reason.startswith("Too many headers"):
        status, code = 431, "headers_too_large"
        if not isinstance(exc, LineTooLong):
            reason = f"more than {MAX_HEADERS} headers"
        text = (
            f"ccendpoint proxy: the request line or headers are too large ({reason}). "
            f"The proxy takes lines of up to {MAX_LINE} bytes and up to {MAX_HEADERS} headers; "
            "send fewer or shorter headers."
        )
    else:
        code = "bad_request"
        text = f"ccendpoint proxy: {not_http(reason)}"
    report(_with_path(request), status, "bad_request", text)
    response = error_response(status, text, code)
    response.force_close()
    return response


class _Reporting(logging.Handler):
    def __init__(self, report: Report) -> None:
        super().__init__(logging.WARNING)
        self.report = report

    def emit(self, record: logging.LogRecord) -> None:
        exc = record.exc_info[1] if record.exc_info else None
        text = describe_exception(exc) if exc is not None else record.getMessage()[:300]
        self.report(None, 500, "internal_error", f"{record.getMessage()[:100]}: {text}" if exc else text)


def server_logger(report: Report) -> logging.Logger:
    """The logger aiohttp's request handlers get: what they would print to stderr is reported instead."""
    logger = logging.Logger("ccendpoint.proxy.server")  # not registered: nothing else writes to it
    logger.propagate = False
    logger.addHandler(_Reporting(report))
    return logger


class _JsonErrorHandler(RequestHandler):
    """aiohttp's connection handler, answering what it refuses before any route in JSON."""

    __slots__ = ()  # the same layout as aiohttp's: a handler's class can be switched to this one

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        report: Report | None = getattr(self._manager, "report", None)
        if report is None:
            return super().handle_error(request, status, exc, message)
        return _error_page(report, request, status, exc, message)

    def data_received(self, data: bytes) -> None:
        # a body that turns out not to be HTTP half way (a bad chunk size): aiohttp's C parser queues
        # the refusal as if it were the next request and leaves the request that reads the body
        # waiting for bytes that will never come. That request is told instead (a 400, see body.py).
        request = self._current_request
        queued = len(self._messages)
        super().data_received(data)
        if request is None or len(self._messages) == queued:
            return
        refused = getattr(self._messages[-1][0], "exc", None)
        payload = request.content
        if isinstance(refused, HttpProcessingError) and not payload.is_eof() and payload.exception() is None:
            self._messages.pop()
            payload.set_exception(refused)

    async def finish_response(self, request: web.BaseRequest, resp: web.StreamResponse, *args: Any) -> Any:
        # aiohttp answers some requests with an HTTP error before any middleware runs (an ``Expect``
        # header it does not know): those are made JSON here, where every answer passes
        report: Report | None = getattr(self._manager, "report", None)
        if report is not None and isinstance(resp, web.HTTPException) and resp.status >= 400:
            resp = _json_http_error(report, request, resp)
        return await super().finish_response(request, resp, *args)


class _JsonErrorServer(web.Server):
    report: Report

    def __call__(self) -> RequestHandler:
        handler = super().__call__()
        with contextlib.suppress(TypeError):  # another aiohttp layout: its own (plain text) pages stay
            handler.__class__ = _JsonErrorHandler
        return handler


def install_error_pages(server: web.Server, report: Report) -> None:
    """Make ``server``'s connections answer in JSON what aiohttp refuses before any route.

    aiohttp builds those answers (plain text, with a traceback logged) in
    ``RequestHandler.handle_error``; this server's handlers answer with :func:`_error_page` instead.
    Other aiohttp servers in the process are not touched.
    """
    server.__class__ = _JsonErrorServer
    cast(_JsonErrorServer, server).report = report
