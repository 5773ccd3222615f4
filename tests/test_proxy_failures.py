"""Every failure is an OpenAI-shaped JSON error with a log line that says so."""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from unittest import mock

import aiohttp
import orjson
import pytest
from aiohttp import http_parser, web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.test_utils import make_mocked_request
from aiohttp.web_protocol import RequestHandler

from ccendpoint.proxy import relay
from ccendpoint.proxy.errors import MAX_HEADERS, MAX_LINE, json_errors, parser_reason
from fake_upstreams import Behaviour, FakeUpstream
from proxy_helpers import read_log, running_proxy, vscode_request
from raw_http import exchange

KIMI_BODY = orjson.dumps(vscode_request("kimi-k2.6", "chat", stream=False))


def assert_json_error(status: int, headers: Any, body: bytes, expected: int) -> dict[str, Any]:
    assert status == expected, body[:300]
    content_type = {k.lower(): v for k, v in headers.items()}.get("content-type", "")
    assert content_type.startswith("application/json"), headers
    error = orjson.loads(body)["error"]
    assert isinstance(error["message"], str) and error["message"].startswith("ccendpoint proxy:")
    assert error["code"] and error["type"]
    return dict(error)


# -- what aiohttp refuses before any route ---------------------------------------------------------


async def test_what_is_not_http_is_answered_in_json_and_logged(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "kimi.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        status, headers, body = await asyncio.to_thread(exchange, proxy.port, b"HELLO THERE\r\n\r\n")
        error = assert_json_error(status, headers, body, 400)
        assert "not a valid HTTP request" in error["message"]
        (record,) = await read_log(log)
    assert record["outcome"] == "bad_request" and record["status"] == 400
    assert "Traceback" not in capfd.readouterr().err


#: The limits for what comes before the body, which the proxy sets whatever aiohttp's defaults are.
LINE_LIMIT = MAX_LINE
HEADER_COUNT_LIMIT = MAX_HEADERS


@pytest.mark.parametrize(
    ("head", "cause"),
    [
        (b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20_000, f"longer than {LINE_LIMIT}"),
        (b"POST /v1/chat/" + b"a" * 20_000 + b" HTTP/1.1\r\nHost: x", f"longer than {LINE_LIMIT}"),
        (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x"
            + b"".join(b"\r\nX-H%d: 1" % i for i in range(HEADER_COUNT_LIMIT + 5)),
            f"more than {HEADER_COUNT_LIMIT} headers",
        ),
    ],
    ids=["long-header", "long-url", "many-headers"],
)
async def test_headers_too_large_are_a_431_in_json_that_says_why(tmp_path: Path, head: bytes, cause: str) -> None:
    log = tmp_path / "kimi.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        request = head + b"\r\nContent-Length: 2\r\n\r\n{}"
        status, headers, body = await asyncio.to_thread(exchange, proxy.port, request)
        error = assert_json_error(status, headers, body, 431)
        assert error["code"] == "headers_too_large"
        (record,) = await read_log(log)
    # the cause, and both limits as the hint
    assert cause in error["message"], error["message"]
    assert f"{LINE_LIMIT} bytes" in error["message"] and f"{HEADER_COUNT_LIMIT} headers" in error["message"]
    assert record["outcome"] == "bad_request" and record["status"] == 431
    # aiohttp hands a placeholder request (path "/") for what it could not parse: no path is known
    assert not record["path"]


async def test_the_header_count_limit_holds_on_the_oldest_aiohttp_the_proxy_takes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    init = RequestHandler.__init__

    def like_aiohttp_3_11(self: RequestHandler, manager: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max_headers", 32768)  # aiohttp 3.11's default
        init(self, manager, **kwargs)

    monkeypatch.setattr(RequestHandler, "__init__", like_aiohttp_3_11)
    log = tmp_path / "kimi.ndjson"
    many = b"".join(b"X-H%d: 1\r\n" % i for i in range(HEADER_COUNT_LIMIT + 1))
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        request = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n" + many + b"Content-Length: 2\r\n\r\n{}"
        status, headers, body = await asyncio.to_thread(exchange, proxy.port, request)
    error = assert_json_error(status, headers, body, 431)
    assert f"more than {HEADER_COUNT_LIMIT} headers" in error["message"] and not upstream.received


@pytest.mark.parametrize("expect", [b"200-ok", b"\xb0q"], ids=["unknown", "not-utf8"])
async def test_an_expectation_aiohttp_does_not_know_is_a_417_that_says_so(tmp_path: Path, expect: bytes) -> None:
    log = tmp_path / "kimi.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        request = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nExpect: " + expect + b"\r\nContent-Length: 2\r\n\r\n{}"
        )
        status, headers, body = await asyncio.to_thread(exchange, proxy.port, request)
        error = assert_json_error(status, headers, body, 417)
        (record,) = await read_log(log)
    assert error["code"] == "expectation_failed" and "100-continue" in error["message"], error
    assert expect.decode("latin-1") not in error["message"]  # the client's header is not echoed
    assert record["status"] == 417 and record["path"] == "/v1/chat/completions"
    assert not upstream.received


def _send_after_continue(port: int, head: bytes, body: bytes) -> tuple[bytes, bytes]:
    """(the interim answer, the start of the final one) for a request that waits for ``100 Continue``."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head)
        interim = sock.recv(1024)
        sock.sendall(body)
        return interim, sock.recv(1024)


async def test_expect_100_continue_still_gets_its_interim_answer() -> None:
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url) as proxy:
        head = (
            b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(KIMI_BODY)
        )
        interim, final = await asyncio.to_thread(_send_after_continue, proxy.port, head, KIMI_BODY)
    assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert final.startswith(b"HTTP/1.1 200 ") and len(upstream.received) == 1


async def test_a_failure_before_any_route_is_logged_with_the_path_it_was_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "kimi.ndjson"

    async def broken(self: web.UrlDispatcher, request: web.Request) -> Any:
        raise RuntimeError("the router broke")

    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        monkeypatch.setattr(web.UrlDispatcher, "resolve", broken)  # before the middlewares run
        request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        status, headers, body = await asyncio.to_thread(exchange, proxy.port, request)
        monkeypatch.undo()
        assert_json_error(status, headers, body, 500)
        (record,) = await read_log(log)
    assert record["outcome"] == "internal_error" and "RuntimeError" in record["error"]
    assert record["path"] == "/healthz"


#: A key as a client would send it, in pieces: the answer and the log line must hold none of them.
LEAKED_KEY = b"sk-live-7f3a9c21b8e4d05a"
KEY_PIECES = (b"sk-live", b"7f3a9c21", b"b8e4", b"d05a")
HEAD = b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n"
BODY = b"Content-Length: 2\r\n\r\n{}"
#: Requests the parser refuses while quoting the bytes that hold the key.
KEY_IN_REFUSED_BYTES = {
    # a control byte in the value: the whole header line is quoted
    "control-byte": HEAD + b"Authorization: Bearer " + LEAKED_KEY[:16] + b"\x01" + LEAKED_KEY[16:] + b"\r\n" + BODY,
    # a value over the line limit: its first 100 bytes are quoted
    "too-long": HEAD + b"Authorization: Bearer " + LEAKED_KEY + b"0" * 9000 + b"\r\n" + BODY,
    "no-colon": HEAD + b"Bearer " + LEAKED_KEY + b"\r\n" + BODY,
    "content-length": HEAD + b"Content-Length: 2" + LEAKED_KEY + b"\r\n\r\n{}",
    # the request line, with its query, is quoted
    "url": b"POST /v1/chat/completions?key=" + LEAKED_KEY + b"\x01 HTTP/1.1\r\nHost: x\r\n" + BODY,
    "chunk-size": HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz" + LEAKED_KEY + b"\r\n",
}


@pytest.mark.parametrize("request_bytes", KEY_IN_REFUSED_BYTES.values(), ids=KEY_IN_REFUSED_BYTES.keys())
async def test_a_refused_request_never_repeats_the_key_it_holds(tmp_path: Path, request_bytes: bytes) -> None:
    log = tmp_path / "kimi.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        status, headers, body = await asyncio.to_thread(exchange, proxy.port, request_bytes)
        assert status in (400, 431), body
        assert_json_error(status, headers, body, status)
        (record,) = await read_log(log)
    written = log.read_bytes()
    for piece in KEY_PIECES:
        assert piece not in body, body
        assert piece not in written, written
    assert record["status"] == status and record["error"].startswith("ccendpoint proxy: ")
    assert not upstream.received


@pytest.mark.parametrize("parser", ["HttpRequestParserPy", "HttpRequestParserC"])
@pytest.mark.parametrize("request_bytes", KEY_IN_REFUSED_BYTES.values(), ids=KEY_IN_REFUSED_BYTES.keys())
async def test_what_either_of_aiohttps_parsers_says_is_told_without_the_key(parser: str, request_bytes: bytes) -> None:
    if not hasattr(http_parser, parser):
        pytest.skip("aiohttp runs without its C extensions here")
    fed = getattr(http_parser, parser)(
        mock.Mock(), asyncio.get_running_loop(), 2**16, max_line_size=8190, max_field_size=8190
    )
    with pytest.raises(HttpProcessingError) as refused:
        fed.feed_data(request_bytes)
    reason = parser_reason(refused.value, refused.value.message)
    assert reason and not any(piece.decode() in reason for piece in KEY_PIECES), reason


def _send_in_two(port: int, first: bytes, second: bytes) -> bytes:
    """Send ``first``, then ``second`` a moment later (the server has begun reading the body); the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(first)
        time.sleep(0.2)
        sock.sendall(second)
        data = b""
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while piece := sock.recv(65536):
                data += piece
    return data


#: The rest of a chunked body that goes bad: a size line that is not one, or a client that got a
#: chunk's size wrong (body bytes, with a key in them, read where a size line should be).
BAD_CHUNKS = {
    "bad-size": b"zz" + LEAKED_KEY + b"\r\n",
    "wrong-size": b'5\r\nel": \r\n"x", "key": "' + LEAKED_KEY + b'"}\r\n',
}


@pytest.mark.parametrize("rest", BAD_CHUNKS.values(), ids=BAD_CHUNKS.keys())
@pytest.mark.parametrize("parser", ["HttpRequestParserPy", "HttpRequestParserC"])
async def test_a_chunked_body_that_goes_bad_half_way_is_a_400_that_holds_no_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parser: str, rest: bytes
) -> None:
    if not hasattr(http_parser, parser):
        pytest.skip("aiohttp runs without its C extensions here")
    monkeypatch.setattr(aiohttp.web_protocol, "HttpRequestParser", getattr(http_parser, parser))
    log = tmp_path / "kimi.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        head = b"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        answer = await asyncio.to_thread(_send_in_two, proxy.port, head + b'5\r\n{"mod\r\n', rest)
        assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
        assert answer.count(b"HTTP/1.1 ") == 1  # one answer: the refusal is not answered again
        _, _, body = answer.partition(b"\r\n\r\n")
        error = orjson.loads(body)["error"]
        (record,) = await read_log(log)
    assert error["code"] == "bad_request" and "not a valid HTTP request" in error["message"]
    assert record["status"] == 400 and record["path"] == "/v1/chat/completions"
    written = log.read_bytes()
    for piece in KEY_PIECES:
        assert piece not in answer and piece not in written
    assert not upstream.received


# -- exceptions nobody expected ----------------------------------------------------------------------


async def test_an_exception_in_the_chat_path_is_a_json_500_with_a_log_line_and_no_traceback(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "kimi.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:

        def broken(*args: Any, **kwargs: Any) -> Any:
            raise KeyError("surprise")

        proxy.listener.rules.rewrite = broken
        async with aiohttp.ClientSession() as session, session.post(proxy.url, data=KIMI_BODY) as response:
            error = assert_json_error(response.status, response.headers, await response.read(), 500)
        (record,) = await read_log(log)
    assert error["code"] == "internal_error" and "log" in error["message"]
    assert record["outcome"] == "internal_error" and record["status"] == 500
    assert "KeyError" in record["error"] and " at relay.py:" in record["error"]
    assert not upstream.received, "nothing was forwarded"
    assert "Traceback" not in capfd.readouterr().err


async def stream_with_a_broken_tap(
    log: Path, monkeypatch: pytest.MonkeyPatch, breaks: Callable[[bytes, int], bool], behaviour: Behaviour
) -> tuple[bytes, dict[str, Any]]:
    """A streamed chat whose SSE tap raises on the chunk ``breaks(chunk, count)`` picks (after reading it).

    The answer the client got, and the request's log line."""
    feed = relay.StreamTap.feed
    calls = 0

    def failing(self: relay.StreamTap, chunk: bytes) -> None:
        nonlocal calls
        calls += 1
        feed(self, chunk)
        if breaks(chunk, calls):
            raise RuntimeError("a bug in the tap")

    monkeypatch.setattr(relay.StreamTap, "feed", failing)
    body = orjson.dumps(vscode_request("kimi-k2.6", "chat"))
    async with (
        FakeUpstream("kimi", behaviour) as upstream,
        running_proxy("kimi", upstream.url, log=log) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=body) as response,
    ):
        assert response.status == 200
        raw = await response.read()
    (record,) = await read_log(log)
    return raw, record


async def test_an_exception_in_the_middle_of_a_stream_ends_it_with_an_error_event(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, record = await stream_with_a_broken_tap(
        tmp_path / "kimi.ndjson",
        monkeypatch,
        lambda _chunk, count: count == 2,
        Behaviour(chunk_delay=0.02),  # one event per chunk
    )
    assert record["outcome"] == "internal_error" and "RuntimeError" in record["error"]
    last = [b for b in raw.split(b"\n\n") if b.startswith(b"data: ")][-1]
    assert orjson.loads(last[6:])["error"]["code"] == "internal_error"
    assert b"a bug in the tap" not in raw  # the details are in the log, not in the answer


async def test_an_exception_after_the_answer_ended_is_logged_with_its_own_cause(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw, record = await stream_with_a_broken_tap(
        tmp_path / "kimi.ndjson",
        monkeypatch,
        lambda chunk, _count: b"[DONE]" in chunk,  # read after the last bytes went to the client
        Behaviour(),
    )
    assert raw.endswith(b"data: [DONE]\n\n") and b'"error"' not in raw  # the client got it all
    assert record["outcome"] == "internal_error" and "RuntimeError" in record["error"]
    assert "write" not in record["error"]


async def test_an_internal_error_names_the_packages_own_line_not_a_checkout_named_ccendpoint(tmp_path: Path) -> None:
    # a CI checkout (/home/runner/work/ccendpoint/ccendpoint/tests/…) or a venv has a directory named
    # ccendpoint too: the exception is raised there, below the package's middleware
    outside = tmp_path / "ccendpoint" / "tests" / "outside.py"
    outside.parent.mkdir(parents=True)
    outside.write_text("async def handler(request):\n    raise KeyError('surprise')\n")
    spec = importlib.util.spec_from_file_location("outside_handler", outside)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    reports: list[tuple[int, str, str]] = []
    middleware = json_errors(lambda request, status, outcome, message: reports.append((status, outcome, message)))
    response = await middleware(make_mocked_request("POST", "/v1/chat/completions"), module.handler)
    assert response.status == 500
    ((status, outcome, message),) = reports
    assert status == 500 and outcome == "internal_error" and "KeyError" in message
    assert "outside.py" not in message
    assert re.search(r" at errors\.py:\d+$", message), message


async def test_an_exception_in_another_route_is_a_json_500(tmp_path: Path) -> None:
    log = tmp_path / "kimi.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:

        def broken() -> dict[str, Any]:
            raise ValueError("health broke")

        proxy.listener.health = broken
        async with aiohttp.ClientSession() as session, session.get(f"{proxy.base}/healthz") as response:
            assert_json_error(response.status, response.headers, await response.read(), 500)
        (record,) = await read_log(log)
    assert record["outcome"] == "internal_error" and record["path"] == "/healthz"
    assert "ValueError" in record["error"]


async def test_an_unknown_path_is_logged_as_refused(tmp_path: Path) -> None:
    log = tmp_path / "kimi.ndjson"
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url, log=log) as proxy,
        aiohttp.ClientSession() as session,
        session.get(f"{proxy.base}/v2/nothing") as response,
    ):
        assert_json_error(response.status, response.headers, await response.read(), 404)
    (record,) = await read_log(log)
    assert record["outcome"] == "rejected" and record["status"] == 404 and "/v2/nothing" in record["error"]


# -- bodies that used to slip through the parser --------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        # a lone surrogate sends the body to the standard json module, which used to raise RecursionError
        (b'{"model":"kimi-k2.6","s":"\\ud800","deep":' + b"[" * 5000 + b"]" * 5000 + b"}", "nested too deeply"),
        # NaN is not JSON; the standard json module took it and the proxy forwarded it
        (b'{"model":"kimi-k2.6","temperature":NaN,"messages":[]}', "not valid JSON"),
        (b'{"model":"kimi-k2.6","messages":' + b"[" * 2000 + b"]" * 2000 + b"}", "not valid JSON"),
    ],
)
async def test_odd_json_is_a_400(raw: bytes, words: str) -> None:
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=raw) as response,
    ):
        error = assert_json_error(response.status, response.headers, await response.read(), 400)
    assert words in error["message"] and not upstream.received


async def test_an_upstream_answering_plain_text_is_relayed_as_it_is() -> None:
    """The proxy's own errors are JSON; an upstream's answer passes unchanged (with the request id)."""

    async def plain(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(status=503, text="upstream says no")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", plain)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}/v1/chat/completions"
        async with (
            running_proxy("kimi", url) as proxy,
            aiohttp.ClientSession() as session,
            session.post(proxy.url, data=KIMI_BODY) as response,
        ):
            assert response.status == 503 and await response.text() == "upstream says no"
            assert response.headers["X-Ccendpoint-Request-Id"]
    finally:
        await runner.cleanup()


async def test_a_key_in_an_unknown_path_never_reaches_the_log(tmp_path: Path) -> None:
    log = tmp_path / "kimi.ndjson"
    key = "sk-proj-" + "abcdefghijklmnopqrstuvwxyz012345"
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url, log=log) as proxy,
        aiohttp.ClientSession() as session,
        session.get(f"{proxy.base}/v1/{key}/models") as response,
    ):
        assert response.status == 404
        await response.read()
    (record,) = await read_log(log)
    assert record["path"].startswith("/v1/") and key not in log.read_text()
