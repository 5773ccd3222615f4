"""The chat-completions path: read, check, rewrite, forward, and relay the answer as it arrives.

The order of work keeps the time to first byte low: nothing is awaited between parsing the body
and sending it upstream except the connection itself; the log record is handed to the log thread
only when the request is over. Upstream bytes are written to the client before the SSE tap looks
at them, and never changed, but for one thing: with reasoning replay, the first reasoning delta of
an answer gets an id (see :mod:`ccendpoint.proxy.tagging`) so that VS Code sends it back.

Timeouts are kept by one :class:`Watchdog` per request instead of a timer per read: it remembers
when the upstream last sent something and cancels the request task only when it has been silent
for longer than allowed (first byte, then idle between chunks). There is no total time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import time
from typing import TYPE_CHECKING, Any

import aiohttp
import orjson
from aiohttp import web
from multidict import CIMultiDict

from ccendpoint.proxy.logs import now_iso
from ccendpoint.proxy.reasoning import ReasoningCache, turn_entries
from ccendpoint.proxy.rules import role_counts
from ccendpoint.proxy.sse import AnswerCollector, BodyTap, Collector, ErrorCollector, StreamTap, UsageCollector
from ccendpoint.proxy.tagging import MAX_JSON_BODY, StreamTagger, new_reasoning_id, tag_json_answer

if TYPE_CHECKING:
    from ccendpoint.proxy.server import Listener

#: Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus old proxy variants.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
    }
)
#: Not forwarded upstream: recomputed by the client session (host, length) or answered here (expect).
REQUEST_SKIP = HOP_BY_HOP | {"host", "content-length", "expect"}
RESPONSE_SKIP = HOP_BY_HOP

READ_CHUNK = 256 * 1024
_JSON = "application/json"


# -- errors ----------------------------------------------------------------------------------------


def error_body(message: str, kind: str, code: str) -> bytes:
    return orjson.dumps({"error": {"message": message, "type": kind, "code": code}})


def error_response(status: int, message: str, code: str, *, kind: str | None = None) -> web.Response:
    """An OpenAI-shaped JSON error; VS Code shows ``message`` to the user."""
    kind = kind or ("invalid_request_error" if status < 500 else "proxy_error")
    return web.Response(status=status, body=error_body(message, kind, code), content_type=_JSON)


class RequestRejected(Exception):
    """The request cannot be forwarded as it is; carries the error response to send."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code


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


# -- headers ---------------------------------------------------------------------------------------


def _connection_tokens(headers: Any) -> frozenset[str]:
    values = headers.getall("Connection", ())
    return frozenset(token.strip().lower() for value in values for token in value.split(","))


def _end_to_end(headers: Any, skip: frozenset[str]) -> CIMultiDict[str]:
    """``headers`` without ``skip`` and without the headers their ``Connection`` header names."""
    if "Connection" in headers:
        skip = skip | _connection_tokens(headers)
    out: CIMultiDict[str] = CIMultiDict()
    for name, value in headers.items():
        if name.lower() not in skip:
            out.add(name, value)
    return out


def forward_headers(incoming: Any) -> CIMultiDict[str]:
    """The client's headers for the upstream: no hop-by-hop ones, ``Authorization`` unchanged."""
    out = _end_to_end(incoming, REQUEST_SKIP)
    out["Content-Type"] = _JSON
    if "Accept-Encoding" not in out:
        # otherwise the client session would ask for gzip on the client's behalf, and the
        # compressed body (passed through as it is) would reach a client that never asked for it
        out["Accept-Encoding"] = "identity"
    return out


def response_headers(upstream: Any) -> CIMultiDict[str]:
    return _end_to_end(upstream, RESPONSE_SKIP)


# -- timeouts --------------------------------------------------------------------------------------


class Watchdog:
    """Cancels the current task once the upstream has been silent for ``timeout`` seconds.

    :meth:`touch` on every chunk costs one clock read; the timer is only re-armed when it fires
    early. :attr:`fired` tells a timeout apart from other cancellations (client gone, shutdown).
    """

    def __init__(self, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self.timeout = timeout
        self.fired = False
        self._last = self._loop.time()
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self._last + timeout, self._check)

    def touch(self) -> None:
        self._last = self._loop.time()

    def switch(self, timeout: float) -> None:
        """Start a new phase (first byte → idle) with its own limit, counted from now."""
        self.timeout = timeout
        self._last = self._loop.time()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = self._loop.call_at(self._last + timeout, self._check)

    def _check(self) -> None:
        deadline = self._last + self.timeout
        if self._loop.time() >= deadline:
            self._handle = None
            self.fired = True
            self._task.cancel()
        else:
            self._handle = self._loop.call_at(deadline, self._check)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def absorb(self) -> None:
        """The cancellation was ours and is handled: let the task carry on normally."""
        uncancel = getattr(self._task, "uncancel", None)  # Python 3.11+
        if uncancel is not None:
            uncancel()


# -- the handler -----------------------------------------------------------------------------------

_ids = iter(range(1, 1 << 62))
_ID_PREFIX = os.urandom(3).hex()


def new_request_id() -> str:
    return f"{_ID_PREFIX}-{next(_ids):06d}"


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


def _upstream_failure(exc: BaseException, host: str, connect_timeout: float) -> tuple[str, str]:
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


def _stream_error_event(message: str) -> bytes:
    return b"data: " + error_body(message, "proxy_error", "upstream_stream_broken") + b"\n\n"


async def handle_chat(request: web.Request, listener: Listener) -> web.StreamResponse:
    started = time.perf_counter()
    record: dict[str, Any] = {
        "time": now_iso(),
        "id": new_request_id(),
        "provider": listener.provider_id,
        "port": listener.bound_port,
        "path": request.path,
        "model": None,
        "status": None,
        "outcome": "ok",
    }
    listener.in_flight += 1
    try:
        return await _chat(request, listener, record, started)
    except asyncio.CancelledError:
        if record["outcome"] == "ok":
            record["outcome"] = "client_disconnected"
        raise
    finally:
        listener.in_flight -= 1
        listener.served += 1
        record["total_ms"] = _ms(started)
        listener.log.emit(record, listener.settings.log_path)


async def _chat(request: web.Request, listener: Listener, record: dict[str, Any], started: float) -> web.StreamResponse:
    settings = listener.settings
    # raw here; the log thread redacts them before anything is written (see logs.redact_record)
    record["headers"] = tuple(request.headers.items())
    client_id = request.headers.get("X-Request-Id")
    if client_id:
        record["client_request_id"] = client_id

    try:
        raw = await read_body(request, settings.max_body_bytes)
        record["bytes_in"] = len(raw)
        data, fast = parse_body(raw)
    except RequestRejected as rejected:
        record.update(status=rejected.status, outcome="rejected", error=rejected.message)
        response = error_response(rejected.status, f"ccendpoint proxy: {rejected.message}", rejected.code)
        if rejected.code == "body_too_large":
            response.force_close()  # the rest of the body is never read
        return response

    cache = listener.reasoning
    rewrite = listener.rules.rewrite(data, cache.get if cache is not None else None)
    payload = encode_body(rewrite.body, fast) if rewrite.modified else raw
    facts = rewrite.facts
    record.update(
        model=facts.model,
        stream=facts.stream,
        tool_turn=facts.tool_turn,
        missing_reasoning=facts.missing_reasoning,
        messages=_count(data.get("messages")),
        roles=role_counts(data),
        tools=_count(data.get("tools")),
        rule_set=rewrite.rule_set,
        changes=rewrite.changes_text(),
        bytes_upstream=len(payload),
    )
    if not rewrite.known_model:
        record["notes"] = [f"model not in the catalog: used the provider's default rules ({rewrite.rule_set})"]
    remember: Remember | None = None
    replay = rewrite.replay
    if replay is not None:
        record.update(reasoning_restored=replay.restored, reasoning_missing=replay.missing)
        if replay.from_cache:
            record["reasoning_from_cache"] = replay.from_cache
        remember = Remember(cache, listener.provider_id, rewrite.body.get("messages"), record)

    headers = forward_headers(request.headers)
    watchdog = Watchdog(settings.first_byte_timeout)
    upstream: aiohttp.ClientResponse | None = None
    try:
        try:
            upstream = await listener.session().post(
                settings.upstream, data=payload, headers=headers, allow_redirects=False
            )
        except asyncio.CancelledError:
            if not watchdog.fired:
                raise
            watchdog.absorb()
            message = (
                f"the upstream {listener.upstream_host} sent nothing for {settings.first_byte_timeout:g} s "
                "(--first-byte-timeout)"
            )
            record.update(status=504, outcome="first_byte_timeout", error=message)
            return error_response(504, f"ccendpoint proxy: {message}.", "upstream_timeout")
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            reason, code = _upstream_failure(exc, listener.upstream_host, settings.connect_timeout)
            message = f"cannot reach the upstream {listener.upstream_host}: {reason}"
            record.update(status=502, outcome="upstream_unreachable", error=message)
            return error_response(502, f"ccendpoint proxy: {message}.", code)

        record["status"] = upstream.status
        record["headers_ms"] = _ms(started)
        upstream_id = upstream.headers.get("x-request-id") or upstream.headers.get("request-id")
        if upstream_id:
            record["upstream_request_id"] = upstream_id
        return await _relay(request, listener, upstream, watchdog, record, started, remember)
    finally:
        watchdog.stop()
        if upstream is not None:
            if record.get("outcome") == "ok" and upstream.content.is_eof():
                upstream.release()
            else:
                upstream.close()  # drops the upstream connection: the provider sees the cancel


def _count(value: Any) -> int:
    return len(value) if isinstance(value, list) else 0


async def _relay(
    request: web.Request,
    listener: Listener,
    upstream: aiohttp.ClientResponse,
    watchdog: Watchdog,
    record: dict[str, Any],
    started: float,
    remember: Remember | None = None,
) -> web.StreamResponse:
    response = web.StreamResponse(status=upstream.status, reason=upstream.reason)
    response.headers.extend(response_headers(upstream.headers))
    response.headers["X-Ccendpoint-Request-Id"] = record["id"]

    content_type = upstream.headers.get("Content-Type", "")
    encoded = upstream.headers.get("Content-Encoding", "identity").lower() not in ("identity", "")
    is_sse = not encoded and content_type.startswith("text/event-stream")
    is_json = not encoded and content_type.startswith(_JSON)
    usage = UsageCollector()
    collectors: list[Collector] = [usage]
    ok = upstream.status == 200
    answer = AnswerCollector() if remember is not None and remember.worth_it and ok else None
    if answer is not None:
        collectors.append(answer)
    failure = ErrorCollector() if upstream.status >= 400 else None
    sse: StreamTap | None = None
    body_tap: BodyTap | None = None
    if is_sse:
        sse = StreamTap(collectors)
    elif is_json:
        body_tap = BodyTap(collectors + ([failure] if failure is not None else []))
    tagger: StreamTagger | None = None
    whole: list[bytes] | None = None  # a non-streamed answer held back to be tagged
    if remember is not None and ok and (is_sse or is_json):
        reasoning_id = new_reasoning_id()
        if is_sse:
            tagger = StreamTagger(reasoning_id)
        else:
            whole = []
            response.headers.popall("Content-Length", None)  # the tagged body has another length

    watchdog.switch(listener.settings.idle_timeout)
    sent = 0
    held = 0
    try:
        await response.prepare(request)
        content = upstream.content
        while True:
            chunk = await content.readany()
            if not chunk:
                break
            watchdog.touch()
            if not sent and not held:
                record["first_byte_ms"] = _ms(started)
            out = chunk
            if whole is not None:
                whole.append(chunk)
                held += len(chunk)
                out = b""
                if held > MAX_JSON_BODY:  # too large to tag: send it as it is
                    out, whole = b"".join(whole), None
            elif tagger is not None:
                out = tagger.feed(chunk)
            if out:
                await response.write(out)
                sent += len(out)
            if sse is not None:
                sse.feed(chunk)
            elif body_tap is not None:
                body_tap.feed(chunk)
        watchdog.stop()
        if tagger is not None:
            rest = tagger.flush()
            if rest:
                await response.write(rest)
                sent += len(rest)
            record["reasoning_tagged"] = tagger.tagged
        if whole is not None:
            data = b"".join(whole)
            tagged = tag_json_answer(data, new_reasoning_id())
            record["reasoning_tagged"] = tagged is not None
            data = tagged if tagged is not None else data
            await response.write(data)
            sent += len(data)
        if body_tap is not None:
            body_tap.finish()
    except asyncio.CancelledError:
        if not watchdog.fired:
            record["outcome"] = "client_disconnected"
            raise
        watchdog.absorb()
        message = f"the upstream {listener.upstream_host} went silent for {listener.settings.idle_timeout:g} s"
        await _end_broken(response, sse, record, "upstream_idle_timeout", message)
        return response
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError) as exc:
        if isinstance(exc, ConnectionResetError) or request.transport is None or request.transport.is_closing():
            record["outcome"] = "client_disconnected"  # writing to the client failed
            return response
        message = f"the upstream {listener.upstream_host} broke off the answer mid-stream"
        await _end_broken(response, sse, record, "upstream_broke", message)
        return response
    finally:
        record["bytes_out"] = sent
        if sse is not None:
            record["sse_events"] = sse.events
            record["sse_done"] = sse.done
        if usage.usage is not None:
            record["usage"] = usage.usage
        if failure is not None and failure.message:
            record["upstream_error"] = failure.message
        if answer is not None and remember is not None and record["outcome"] == "ok":
            remember.store(answer)

    with contextlib.suppress(ConnectionResetError):
        await response.write_eof()
    return response


class Remember:
    """Stores a finished turn's reasoning once its final answer (no tool calls) is complete."""

    def __init__(self, cache: ReasoningCache | None, scope: str, messages: Any, record: dict[str, Any]) -> None:
        self.cache = cache
        self.scope = scope
        self.messages = messages if isinstance(messages, list) else []
        self.record = record

    @property
    def worth_it(self) -> bool:
        """Whether this answer could finish a turn that has reasoning to keep (cheap check first)."""
        return self.cache is not None and any(
            isinstance(m, dict) and m.get("role") == "assistant" and m.get("tool_calls") for m in self.messages
        )

    def store(self, answer: AnswerCollector) -> None:
        text = answer.final_text
        if self.cache is None or text is None:
            return
        entries = turn_entries(self.scope, self.messages, text)
        if entries:
            self.cache.put(entries)
            self.record["reasoning_stored"] = len(entries)  # tool-call messages a later turn can get back


async def _end_broken(
    response: web.StreamResponse, sse: StreamTap | None, record: dict[str, Any], outcome: str, message: str
) -> None:
    """End the client's answer after an upstream failure; streams get a final error event."""
    record.update(outcome=outcome, error=message)
    response.force_close()
    with contextlib.suppress(ConnectionResetError):
        if sse is not None and sse.at_boundary:
            await response.write(_stream_error_event(f"ccendpoint proxy: {message}."))
        await response.write_eof()
