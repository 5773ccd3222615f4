"""The chat-completions path: read, check, rewrite, forward, and relay the answer as it arrives.

The order of work keeps the time to first byte low: nothing is awaited between parsing the body
and sending it upstream except the connection itself; the log record is handed to the log thread
only when the request is over. Upstream bytes are written to the client before the SSE tap looks
at them, and never changed, but for one thing: with reasoning replay, the first reasoning delta of
an answer gets an id (see :mod:`ccendpoint.proxy.tagging`) so that VS Code sends it back.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import aiohttp
from aiohttp import web

from ccendpoint.proxy.body import check_structure, encode_body, parse_body, read_body
from ccendpoint.proxy.ending import (
    PIECE,
    STOPPING_PATIENCE,
    TAIL,
    close_after_end,
    drop_client,
    end_broken,
    last_bytes,
    send,
)
from ccendpoint.proxy.errors import (
    JSON_TYPE,
    LOGGED,
    RequestRejected,
    describe_exception,
    error_response,
    internal_error_response,
    upstream_failure,
)
from ccendpoint.proxy.headers import forward_headers, response_headers
from ccendpoint.proxy.listener import Listener
from ccendpoint.proxy.reasoning_cache import ReasoningCache
from ccendpoint.proxy.record import RequestRecord, count, role_counts
from ccendpoint.proxy.sse import (
    AnswerCollector,
    BodyTap,
    Collector,
    ErrorCollector,
    StreamErrorCollector,
    StreamTap,
    UsageCollector,
)
from ccendpoint.proxy.tagging import MAX_JSON_BODY, StreamTagger, new_reasoning_id
from ccendpoint.proxy.turns import Claim
from ccendpoint.proxy.watchdog import Watchdog, absorb_cancel
from ccendpoint.rules.replay import last_turn, turn_entries

#: What a request still in flight when the proxy stops after its grace period is told.
STOPPED = "the proxy was stopped before the answer was complete"
STOPPED_AT_END = "the proxy was stopped while the end of the answer was sent; all of it was handed to the connection"
#: Refusals sent before the body was read to its end: the connection cannot carry another request.
UNREAD = frozenset({"body_too_large", "proxy_busy", "body_timeout", "unsupported_encoding", "bad_request"})


async def handle_chat(request: web.Request, listener: Listener) -> web.StreamResponse:
    record = RequestRecord(provider=listener.provider_id, port=listener.bound_port, path=request.path)
    request[LOGGED] = True  # this path writes its own log line, failed or not
    claim = listener.turns.claim()
    task = asyncio.current_task()
    if task is not None:
        listener.tasks.add(task)
    listener.in_flight += 1
    try:
        return await _chat(request, listener, record, claim)
    except asyncio.CancelledError:
        if record.outcome == "ok":
            record.outcome = "proxy_stopped" if listener.stopping else "client_disconnected"
        raise
    except Exception as exc:  # a bug: the client still gets JSON, the log says what and where
        record.fail("internal_error", describe_exception(exc), 500)
        return internal_error_response()
    finally:
        if task is not None:
            listener.tasks.discard(task)
        claim.give_back()
        listener.in_flight -= 1
        listener.served += 1
        record.total_ms = record.ms()
        listener.log.emit(record, listener.settings.log_path)  # made a dict on the log thread


async def _chat(request: web.Request, listener: Listener, record: RequestRecord, claim: Claim) -> web.StreamResponse:
    settings = listener.settings
    # raw here; the log thread redacts them before anything is written (see logs.redact_record)
    record.headers = tuple(request.headers.items())
    record.client_request_id = request.headers.get("X-Request-Id") or None

    try:
        raw = await read_body(request, settings.max_body_bytes, listener.turns.large, claim.take)
        record.bytes_in = len(raw)
        if listener.turns.costly(raw):
            await claim.take()
        payload, remember = _prepare(raw, listener, record)
        del raw  # from here on the request holds its payload and nothing else of its size
    except RequestRejected as rejected:
        record.fail("rejected", rejected.message, rejected.status)
        response = rejected.response()
        if rejected.code in UNREAD:
            response.force_close()  # the rest of the body is never read
        return response
    except asyncio.CancelledError:
        if not listener.stopping:
            raise
        absorb_cancel()
        # stopped while the body was read or waited for a turn: the client still gets an answer
        record.fail("proxy_stopped", STOPPED, 503)
        response = error_response(503, f"ccendpoint proxy: {STOPPED}.", "proxy_stopped")
        response.force_close()
        return response

    headers = forward_headers(request.headers)
    watchdog = Watchdog(settings.first_byte_timeout)
    upstream: aiohttp.ClientResponse | None = None
    try:
        try:
            upstream = await listener.session().post(
                settings.upstream, data=payload, headers=headers, allow_redirects=False
            )
        except asyncio.CancelledError:
            if listener.stopping:
                watchdog.absorb()
                record.fail("proxy_stopped", STOPPED, 503)
                return error_response(503, f"ccendpoint proxy: {STOPPED}.", "proxy_stopped")
            if not watchdog.fired:
                raise
            watchdog.absorb()
            message = (
                f"the upstream {listener.upstream_host} sent nothing for {settings.first_byte_timeout:g} s "
                "(--first-byte-timeout)"
            )
            record.fail("first_byte_timeout", message, 504)
            return error_response(504, f"ccendpoint proxy: {message}.", "upstream_timeout")
        except (aiohttp.ClientError, OSError, asyncio.TimeoutError) as exc:
            reason, code = upstream_failure(exc, listener.upstream_host, settings.connect_timeout)
            message = f"cannot reach the upstream {listener.upstream_host}: {reason}"
            record.fail("upstream_unreachable", message, 502)
            return error_response(502, f"ccendpoint proxy: {message}.", code)

        del payload  # the upstream has it and has answered: nothing large is left
        claim.give_back()
        record.status = upstream.status
        record.headers_ms = record.ms()
        record.upstream_request_id = upstream.headers.get("x-request-id") or upstream.headers.get("request-id")
        return await _relay(request, listener, upstream, watchdog, record, remember)
    finally:
        watchdog.stop()
        if upstream is not None:
            if record.outcome == "ok" and upstream.content.is_eof():
                upstream.release()
            else:
                upstream.close()  # drops the upstream connection: the provider sees the cancel


def _prepare(raw: bytes, listener: Listener, record: RequestRecord) -> tuple[bytes, Remember | None]:
    """The payload for the upstream, and what the answer's reasoning needs kept: the request's
    parsed form, the most memory it costs, lives only inside this call (which never awaits)."""
    check_structure(raw)
    data, fast = parse_body(raw)
    cache = listener.reasoning
    rewrite = listener.rules.rewrite(data, cache.get if cache is not None else None)
    payload = encode_body(rewrite.body, fast, raw=raw, original=data) if rewrite.modified else raw
    facts = rewrite.facts
    record.model, record.stream = facts.model, facts.stream
    record.tool_turn, record.missing_reasoning = facts.tool_turn, facts.missing_reasoning
    record.messages, record.roles, record.tools = (
        count(data.get("messages")),
        role_counts(data),
        count(data.get("tools")),
    )
    record.rule_set, record.changes, record.bytes_upstream = rewrite.rule_set, rewrite.changes_text(), len(payload)
    if not rewrite.known_model:
        record.notes = [f"model not in the catalog: used the provider's default rules ({rewrite.rule_set})"]
    replay = rewrite.replay
    if replay is None:
        return payload, None
    record.reasoning_restored, record.reasoning_missing = replay.restored, replay.missing
    record.reasoning_from_cache = replay.from_cache or None
    return payload, Remember(cache, listener.provider_id, last_turn(rewrite.body.get("messages")), record)


class _Answer(web.StreamResponse):
    """A response whose headers leave with its first body bytes: one write to the client, not two.

    Used when the first bytes are already here (or the answer is not a stream, whose headers alone
    are of no use to a client); a stream still waiting for its first event gets a plain
    :class:`~aiohttp.web.StreamResponse`, whose headers go out at once. It is prepared only when
    its first bytes go out, so an answer that breaks before any did is still a JSON error.
    """

    _send_headers_immediately = False


async def _relay(
    request: web.Request,
    listener: Listener,
    upstream: aiohttp.ClientResponse,
    watchdog: Watchdog,
    record: RequestRecord,
    remember: Remember | None = None,
) -> web.StreamResponse:
    content = upstream.content
    content_type = upstream.headers.get("Content-Type", "")
    encoded = upstream.headers.get("Content-Encoding", "identity").lower() not in ("identity", "")
    is_sse = not encoded and content_type.startswith("text/event-stream")
    is_json = not encoded and content_type.startswith(JSON_TYPE)
    ok = upstream.status == 200

    usage = UsageCollector()
    collectors: list[Collector] = [usage]
    answer = AnswerCollector() if remember is not None and remember.worth_it and ok else None
    if answer is not None:
        collectors.append(answer)
    failure: ErrorCollector | StreamErrorCollector | None = None
    sse: StreamTap | None = None
    body_tap: BodyTap | None = None
    if is_sse:
        failure = StreamErrorCollector()
        sse = StreamTap([*collectors, failure])
    elif is_json:
        failure = ErrorCollector() if upstream.status >= 400 else None
        body_tap = BodyTap(collectors + ([failure] if failure is not None else []))
    tagger: StreamTagger | None = None
    whole: list[bytes] | None = None  # a non-streamed answer held back to be tagged
    tag = remember is not None and ok and (is_sse or is_json)
    if tag and is_sse:
        tagger = StreamTagger(new_reasoning_id())
    elif tag:
        whole = []

    # bytes already here go out with the headers in one write
    chunk = b""
    with contextlib.suppress(aiohttp.ClientError):  # a broken answer fails again at readany, below
        chunk = content.read_nowait()
    kind = _Answer if chunk or not is_sse else web.StreamResponse
    response = kind(status=upstream.status, reason=upstream.reason)
    response.headers.extend(response_headers(upstream.headers))
    if is_sse:  # a tag or a last error event makes a stream longer than the upstream said: it goes chunked
        response.headers.popall("Content-Length", None)
    response.headers["X-Ccendpoint-Request-Id"] = record.id

    idle = listener.settings.idle_timeout
    watchdog.switch(idle)
    sent = 0
    held = 0
    ended = False
    ending = False  # the end of the answer is with the connection: nothing may follow it
    writing = False  # a write to the client is under way: a silence now is the client's
    last = before = b""  # the last two pieces handed to the client: where its stream stands

    def tail() -> bytes | None:
        """A stream's last bytes handed to the client (None for an answer that is not a stream)."""
        return before[-TAIL:] + last[-TAIL:] if sse is not None else None

    try:
        if kind is web.StreamResponse:  # a stream still waiting for its first event: headers now
            await response.prepare(request)
        if not chunk:
            chunk = await content.readany()
        if chunk:
            record.first_byte_ms = record.ms()
        while chunk:
            watchdog.touch()
            out = chunk
            if whole is not None:
                whole.append(chunk)
                held += len(chunk)
                out = b""
                if held > MAX_JSON_BODY:  # too large to tag: send it as it is
                    out, whole = b"".join(whole), None
            elif tagger is not None:
                out = tagger.feed(chunk)
            writing = True
            if content.at_eof():  # the last bytes: the end of the answer leaves with them, in one write
                out = last_bytes(response, out, tagger, whole, record)
                ending = True
                sent += len(out)
                await send(request, response, out, watchdog.touch, end=True)
                ended = True
            elif out:
                before, last = last, out
                sent += len(out)
                if len(out) > PIECE or not response.prepared:
                    await send(request, response, out, watchdog.touch)
                else:
                    await response.write(out)
            writing = False
            if sse is not None:
                sse.feed(chunk)
            elif body_tap is not None:
                body_tap.feed(chunk)
            if ended:
                break
            watchdog.touch()  # the time spent writing is not the upstream's silence
            chunk = await content.readany()
        if not ended:
            watchdog.touch()  # the upstream's silence before its end is not the client's
            out = last_bytes(response, b"", tagger, whole, record)
            ending = writing = True
            sent += len(out)
            await send(request, response, out, watchdog.touch, end=True)
            writing = False
        watchdog.stop()
        if body_tap is not None:
            body_tap.finish()
    except asyncio.CancelledError:
        watchdog.stop()  # from here on, ending the answer is bounded by end_broken's own patience
        stopping = listener.stopping
        if not stopping and not watchdog.fired:
            record.outcome = "client_disconnected"
            raise
        watchdog.absorb()
        if stopping and ending:  # the whole answer is with the connection: let it go out, then close
            record.fail("proxy_stopped", STOPPED_AT_END)
            close_after_end(request)
            return response
        if not stopping and writing:  # the client stopped reading: there is no one to tell
            record.fail("client_stalled", f"the client did not keep up: a write to it waited {idle:g} s")
            drop_client(request)
            return response
        if stopping:
            return await end_broken(
                request, response, tail(), record, "proxy_stopped", STOPPED, "proxy_stopped", patience=STOPPING_PATIENCE
            )
        silent = f"the upstream {listener.upstream_host} went silent for {idle:g} s"
        return await end_broken(
            request, response, tail(), record, "upstream_idle_timeout", silent, "upstream_timeout", patience=idle
        )
    except (aiohttp.ClientPayloadError, aiohttp.ClientConnectionError, ConnectionResetError) as exc:
        watchdog.stop()
        if isinstance(exc, ConnectionResetError) or request.transport is None or request.transport.is_closing():
            record.outcome = "client_disconnected"  # writing to the client failed
            return response
        message = f"the upstream {listener.upstream_host} broke off the answer mid-stream"
        return await end_broken(request, response, tail(), record, "upstream_broke", message, patience=idle)
    except Exception as exc:  # a bug: end the answer cleanly, and log what and where
        watchdog.stop()
        if ended:  # the client has the whole answer: only the log says what went wrong after it
            record.fail("internal_error", describe_exception(exc))
            return response
        message = describe_exception(exc)
        return await end_broken(
            request, response, tail(), record, "internal_error", message, "internal_error", patience=idle
        )
    finally:
        record.bytes_out = sent
        if sse is not None:
            record.sse_events, record.sse_done = sse.events, sse.done
        record.usage = usage.usage
        if failure is not None and failure.message:
            record.upstream_error = failure.message
        if record.outcome == "ok" and (upstream.status >= 400 or record.upstream_error is not None):
            # the provider refused the request, or its stream carried an error event
            record.outcome = "upstream_error" if upstream.status >= 400 else "upstream_stream_error"
        if answer is not None and remember is not None and record.outcome == "ok":
            remember.store(answer)
    return response


class Remember:
    """Stores a finished turn's reasoning once its final answer (no tool calls) is complete."""

    def __init__(self, cache: ReasoningCache | None, scope: str, messages: list[Any], record: RequestRecord) -> None:
        self.cache = cache
        self.scope = scope
        #: The request's last turn (see :func:`~ccendpoint.rules.replay.last_turn`), not its history.
        self.messages = messages
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
            self.record.reasoning_stored = len(entries)  # tool-call messages a later turn can get back
