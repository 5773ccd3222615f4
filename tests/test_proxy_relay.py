"""How the relay hands an answer on: in as few writes as it can, whole when it was held, as JSON when it
broke before any of it was sent, and with one clean end when it is cut while a client reads slowly."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web
from aiohttp.http_writer import StreamWriter

from proxy_helpers import VSCODE_HEADERS, provider, read_log, running_proxy, vscode_request

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

ANSWER = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello.", "reasoning_content": "Thinking."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5},
}


@asynccontextmanager
async def upstream_with(handler: Handler) -> AsyncIterator[str]:
    """An upstream on a free loopback port that answers every chat request with ``handler``."""
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", handler)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield f"http://127.0.0.1:{runner.addresses[0][1]}/v1/chat/completions"
    finally:
        await runner.cleanup()


def breaks_off(sent: bytes = b"", *, length: int | None = None, content_type: str = "application/json") -> Handler:
    """An upstream that answers 200 (``length``: with that Content-Length, else chunked), sends
    ``sent``, and breaks the connection off a moment later."""

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": content_type})
        response.content_length = length
        await response.prepare(request)
        if sent:
            await response.write(sent)
            await asyncio.sleep(0.1)
        assert request.transport is not None
        request.transport.abort()
        return response

    return answer


def follow_up() -> bytes:
    """A Kimi tool follow-up: its answer is held whole to tag its reasoning."""
    return orjson.dumps(vscode_request("kimi-k2.6", "follow_up", stream=False))


async def test_a_held_answer_goes_out_whole_with_its_new_length() -> None:
    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.json_response(ANSWER)

    async with (
        upstream_with(answer) as url,
        running_proxy("kimi", url) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=follow_up()) as response,
    ):
        body = await response.read()
        assert response.status == 200
        assert "chunked" not in response.headers.get("Transfer-Encoding", "")
        assert int(response.headers["Content-Length"]) == len(body)
    message = orjson.loads(body)["choices"][0]["message"]
    assert message["cot_id"].startswith("ccr-") and message["content"] == "Hello."


GLM_CHAT = orjson.dumps(vscode_request(provider("glm").current_models()[0].id, "chat", stream=False))


@pytest.mark.parametrize(
    ("provider_id", "body"),
    [("kimi", follow_up()), ("glm", GLM_CHAT)],  # held whole to be tagged; passed on as it comes
    ids=["held", "passed-on"],
)
async def test_an_answer_broken_off_before_anything_was_sent_is_a_json_502(
    tmp_path: Path, provider_id: str, body: bytes
) -> None:
    log = tmp_path / "proxy.ndjson"
    async with (
        upstream_with(breaks_off(length=1000)) as url,  # the headers, and not one byte of the body
        running_proxy(provider_id, url, log=log) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=body) as response,
    ):
        assert response.status == 502
        assert response.content_type == "application/json"
        error = (await response.json())["error"]
    assert "broke off" in error["message"] and error["code"] == "upstream_stream_broken"
    (record,) = await read_log(log)
    assert record["outcome"] == "upstream_broke" and record["status"] == 502


async def test_an_answer_too_large_to_tag_passes_unchanged() -> None:
    big = {**ANSWER, "padding": "x" * (9 * 1024 * 1024)}
    data = orjson.dumps(big)

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = len(data)
        await response.prepare(request)
        for start in range(0, len(data), 256 * 1024):
            await response.write(data[start : start + 256 * 1024])
        await response.write_eof()
        return response

    async with (
        upstream_with(answer) as url,
        running_proxy("kimi", url) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=follow_up()) as response,
    ):
        assert response.status == 200
        assert await response.read() == data


# -- streams: a length that no longer holds, and clients that stop reading --------------------------


def sse(*events: dict[str, Any] | str) -> bytes:
    """Events as an OpenAI-style stream sends them (a str is sent as it is: ``[DONE]``)."""
    return b"".join(b"data: " + (e.encode() if isinstance(e, str) else orjson.dumps(e)) + b"\n\n" for e in events)


def delta(**fields: Any) -> dict[str, Any]:
    return {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": fields}]}


DEEPSEEK_ANSWER = sse(delta(reasoning_content="Thinking it over."), delta(content="Hello."), "[DONE]")


async def test_a_tagged_stream_that_came_with_a_length_arrives_whole() -> None:
    """A buffering gateway may send a whole stream with ``Content-Length``; the tag makes it longer."""

    async def buffered(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(body=DEEPSEEK_ANSWER, content_type="text/event-stream")

    model = provider("deepseek").current_models()[0].id
    async with (
        upstream_with(buffered) as url,
        running_proxy("deepseek", url) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=orjson.dumps(vscode_request(model, "first")), headers=VSCODE_HEADERS) as response,
    ):
        raw = await response.read()
    assert raw.endswith(b"data: [DONE]\n\n"), raw[-80:]
    first = orjson.loads(raw.split(b"\n\n")[0][6:])
    assert first["choices"][0]["delta"]["cot_id"].startswith("ccr-")


def never_silent(gone: asyncio.Event | None = None) -> Handler:
    """An upstream that streams an event every 20 ms until the proxy hangs up (then ``gone`` is set)."""

    async def endless(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionResetError):
            while True:
                await response.write(sse(delta(content="z" * 20_000)))
                await asyncio.sleep(0.02)
        if gone is not None:
            gone.set()
        return response

    return endless


def raw_request(port: int, body: bytes, extra: bytes = b"") -> bytes:
    """VS Code's request for ``body`` as bytes (``extra``: more header lines)."""
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in VSCODE_HEADERS.items())
    return head.encode() + extra + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def read_until_closed(port: int, request: bytes) -> bytes:
    """Everything the proxy sends on one connection until it closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while piece := sock.recv(65536):
            data += piece
    return data


def unchunk(raw: bytes) -> tuple[bytes, bytes | None]:
    """A chunked answer's body, and whatever the connection carried after its end marker (None when
    the connection closed before the end: the client can tell the answer is incomplete)."""
    body = raw.partition(b"\r\n\r\n")[2]
    out = b""
    while True:
        size_line, found, body = body.partition(b"\r\n")
        if not found:
            return out, None
        size = int(size_line, 16)
        if size == 0:
            assert body.startswith(b"\r\n"), body[:20]
            return out, body[2:]
        if len(body) < size + 2:
            return out + body[:size], None
        out += body[:size]
        assert body[size : size + 2] == b"\r\n"
        body = body[size + 2 :]


def _proxys(writer: StreamWriter, port: int) -> bool:
    """Whether ``writer`` writes to a client of the proxy on ``port``."""
    transport = writer.transport
    return transport is not None and transport.get_extra_info("sockname")[1] == port


def client_stops_reading(
    monkeypatch: pytest.MonkeyPatch, port: int, for_seconds: float | None = None, *, every_time: bool = False
) -> asyncio.Event:
    """The next time (``every_time``: each time) the proxy on ``port`` waits for a client to take its
    bytes, it waits ``for_seconds`` (for good when None), as when a client stops reading: the bytes
    are with the connection, the write does not return.

    The event is set once that wait has begun."""
    drain = StreamWriter.drain
    stuck = asyncio.Event()

    async def slow_drain(self: StreamWriter) -> None:
        if (every_time or not stuck.is_set()) and _proxys(self, port):
            stuck.set()
            if for_seconds is None:
                await asyncio.get_running_loop().create_future()  # only a cancel ends it
            await asyncio.sleep(for_seconds)
        await drain(self)

    monkeypatch.setattr(StreamWriter, "drain", slow_drain)
    return stuck


def client_reads_at(monkeypatch: pytest.MonkeyPatch, port: int, bytes_per_second: float) -> None:
    """Clients of the proxy on ``port`` take its bytes at ``bytes_per_second``: each wait for them
    lasts as long as the bytes written since the last one take at that pace."""
    drain = StreamWriter.drain
    taken: dict[int, int] = {}

    async def paced_drain(self: StreamWriter) -> None:
        if _proxys(self, port):
            written = self.output_size - taken.get(id(self), 0)
            taken[id(self)] = self.output_size
            await asyncio.sleep(written / bytes_per_second)
        await drain(self)

    monkeypatch.setattr(StreamWriter, "drain", paced_drain)


async def stopped_while_stuck(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, provider_id: str, turn: str, upstream: Handler
) -> tuple[bytes, bytes | None, dict[str, Any]]:
    """A stream from ``upstream`` to a client that stops reading, and the proxy stopped while a write
    to it waits: (the body the client got, what the connection carried after its end, the log line)."""
    log = tmp_path / "proxy.ndjson"
    model = provider(provider_id).current_models()[0].id
    async with upstream_with(upstream) as url, running_proxy(provider_id, url, log=log, grace=0.1) as proxy:
        stuck = client_stops_reading(monkeypatch, proxy.port)
        body = orjson.dumps(vscode_request(model, turn))
        reading = asyncio.ensure_future(asyncio.to_thread(read_until_closed, proxy.port, raw_request(proxy.port, body)))
        await asyncio.wait_for(stuck.wait(), 5)
        await proxy.server.stop()
        raw = await asyncio.wait_for(reading, 5)
        (record,) = await read_log(log)
    answer, after = unchunk(raw)
    return answer, after, record


async def test_a_stop_while_the_end_of_a_stream_is_sent_ends_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def whole(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write_eof(DEEPSEEK_ANSWER)
        return response

    answer, after, record = await stopped_while_stuck(monkeypatch, tmp_path, "deepseek", "first", whole)
    assert after == b"", after  # nothing follows the end: no second end marker, no event after it
    assert answer.endswith(b"data: [DONE]\n\n")
    assert record["outcome"] == "proxy_stopped" and "all of it was handed" in record["error"]
    assert record["bytes_out"] == len(answer)


async def test_an_error_event_never_lands_inside_half_an_event(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The client's socket fills up on the first bytes of an event; the proxy is stopped then."""
    first = sse(delta(content="x" * 60_000))  # under the 64 KiB aiohttp writes before it waits

    async def halting(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(first)
        await asyncio.sleep(0.1)
        await response.write(b'data: {"id":"chatcmpl-1","choices":[{"index":0,"delta":{"content":"' + b"y" * 10_000)
        await asyncio.sleep(30)  # the rest of the event never comes
        return response

    answer, after, record = await stopped_while_stuck(monkeypatch, tmp_path, "glm", "chat", halting)
    assert after is None  # no end marker: the client sees the answer broke off
    assert answer.startswith(first) and b'"error"' not in answer  # no event glued to the half one
    assert record["outcome"] == "proxy_stopped"


async def test_a_client_that_stops_reading_is_dropped_and_the_upstream_not_blamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream_gone = asyncio.Event()
    endless = never_silent(upstream_gone)

    log = tmp_path / "proxy.ndjson"
    model = provider("glm").current_models()[0].id
    async with (
        upstream_with(endless) as url,
        running_proxy("glm", url, log=log, idle_timeout=0.3, first_byte_timeout=5) as proxy,
    ):
        client_stops_reading(monkeypatch, proxy.port)
        body = orjson.dumps(vscode_request(model, "chat"))
        reading = asyncio.ensure_future(asyncio.to_thread(read_until_closed, proxy.port, raw_request(proxy.port, body)))
        (record,) = await read_log(log)
        await asyncio.wait_for(upstream_gone.wait(), 2)
        raw = await asyncio.wait_for(reading, 5)
    assert not raw.endswith(b"0\r\n\r\n")  # dropped, not ended: there was no one to tell
    assert record["outcome"] == "client_stalled" and "did not keep up" in record["error"]
    assert proxy.listener.in_flight == 0


async def test_the_upstreams_silence_before_its_end_is_not_counted_against_the_client(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream ends its answer after a pause, then the client takes a while over the held
    answer: neither wait reaches the idle timeout on its own, so the answer is whole and ``ok``."""

    async def late_end(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})  # chunked
        await response.prepare(request)
        await response.write(orjson.dumps(ANSWER))
        await asyncio.sleep(0.35)  # the end of the body comes late
        await response.write_eof()
        return response

    log = tmp_path / "kimi.ndjson"
    async with upstream_with(late_end) as url, running_proxy("kimi", url, log=log, idle_timeout=0.5) as proxy:
        client_stops_reading(monkeypatch, proxy.port, for_seconds=0.3)
        request = raw_request(proxy.port, follow_up(), b"Connection: close\r\n")
        raw = await asyncio.to_thread(read_until_closed, proxy.port, request)  # the client stays to the end
        (record,) = await read_log(log)
    assert raw.startswith(b"HTTP/1.1 200 ")
    assert orjson.loads(raw.partition(b"\r\n\r\n")[2])["choices"][0]["message"]["cot_id"].startswith("ccr-")
    assert record["outcome"] == "ok", record


def held_open(port: int) -> int:
    """How many connections the server on ``port`` still holds open, as the system sees them."""
    table = Path("/proc/net/tcp")
    if not table.exists():
        pytest.skip("the system's connection table is read from /proc/net/tcp (Linux)")
    rows = [line.split() for line in table.read_text().splitlines()[1:]]
    return sum(1 for row in rows if int(row[1].split(":")[1], 16) == port and row[3] == "01")  # ESTABLISHED


async def test_a_client_that_reads_nothing_after_a_break_is_dropped_after_its_patience(tmp_path: Path) -> None:
    """The upstream breaks off while the proxy still has bytes for a client that reads nothing: the
    last error event cannot be sent, and the connection is closed after ``--idle-timeout``."""
    proxies: list[Any] = []

    def to_clients() -> list[asyncio.Transport]:
        runners = proxies[0].server._runners
        return [h.transport for r in runners for h in r.server.connections if h.transport is not None]

    broke = asyncio.Event()

    async def then_breaks(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        event = sse(delta(content="z" * 900))
        while not any(t.get_write_buffer_size() > 64 * 1024 for t in to_clients()):
            await response.write(event)  # until the client's connection is full
            await asyncio.sleep(0.001)
        await asyncio.sleep(0.5)  # silent for half the idle timeout, then gone
        assert request.transport is not None
        request.transport.abort()
        broke.set()
        return response

    log = tmp_path / "proxy.ndjson"
    model = provider("glm").current_models()[0].id
    async with upstream_with(then_breaks) as url, running_proxy("glm", url, log=log, idle_timeout=1.0) as proxy:
        proxies.append(proxy)
        with socket.socket() as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            client.connect(("127.0.0.1", proxy.port))
            client.sendall(raw_request(proxy.port, orjson.dumps(vscode_request(model, "chat"))))
            await asyncio.wait_for(broke.wait(), 20)
            for _ in range(60):  # the patience (1 s) after the break, and a little more
                if not held_open(proxy.port):
                    break
                await asyncio.sleep(0.05)
            assert not held_open(proxy.port), "the proxy still holds a connection to a client that reads nothing"
            (record,) = await read_log(log)
    assert record["outcome"] == "upstream_broke"


async def test_a_stream_that_came_with_a_length_and_broke_ends_with_a_whole_error_event(tmp_path: Path) -> None:
    first = sse(delta(content="Hello."))

    gateway = breaks_off(first, length=len(first) + 50, content_type="text/event-stream")  # one more event due

    log = tmp_path / "proxy.ndjson"
    model = provider("glm").current_models()[0].id
    async with upstream_with(gateway) as url, running_proxy("glm", url, log=log) as proxy:
        body = orjson.dumps(vscode_request(model, "chat"))
        raw = await asyncio.to_thread(read_until_closed, proxy.port, raw_request(proxy.port, body))
        (record,) = await read_log(log)
    assert b"content-length" not in raw.partition(b"\r\n\r\n")[0].lower()
    answer, after = unchunk(raw)
    assert answer.startswith(first) and after == b""
    assert orjson.loads(answer[len(first) + 6 :])["error"]["code"] == "upstream_stream_broken"
    assert record["outcome"] == "upstream_broke"


async def test_an_answer_cut_after_some_of_it_was_sent_does_not_look_complete(tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    async with (
        upstream_with(breaks_off(orjson.dumps(ANSWER)[:100])) as url,  # chunked, then cut
        running_proxy("glm", url, log=log) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=GLM_CHAT) as response,
    ):
        assert response.status == 200  # sent before the upstream broke off
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()
    (record,) = await read_log(log)
    assert record["outcome"] == "upstream_broke" and record["bytes_out"] == 100


async def test_a_client_that_reads_a_large_held_answer_slowly_gets_all_of_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    big = orjson.dumps({**ANSWER, "padding": "x" * 2_000_000})

    async def answer(request: web.Request) -> web.StreamResponse:
        await request.read()
        return web.Response(body=big, content_type="application/json")

    log = tmp_path / "kimi.ndjson"
    async with upstream_with(answer) as url, running_proxy("kimi", url, log=log, idle_timeout=0.5) as proxy:
        client_reads_at(monkeypatch, proxy.port, 1_000_000)  # two seconds for the whole answer
        request = raw_request(proxy.port, follow_up(), b"Connection: close\r\n")
        raw = await asyncio.to_thread(read_until_closed, proxy.port, request)
        (record,) = await read_log(log)
    body = raw.partition(b"\r\n\r\n")[2]
    assert orjson.loads(body)["padding"] == "x" * 2_000_000
    assert record["outcome"] == "ok" and record["bytes_out"] == len(body)


async def test_stopping_does_not_wait_for_a_client_that_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "proxy.ndjson"
    model = provider("glm").current_models()[0].id
    async with upstream_with(never_silent()) as url, running_proxy("glm", url, log=log, grace=0.1) as proxy:
        stuck = client_stops_reading(monkeypatch, proxy.port, every_time=True)
        body = orjson.dumps(vscode_request(model, "chat"))
        reading = asyncio.ensure_future(asyncio.to_thread(read_until_closed, proxy.port, raw_request(proxy.port, body)))
        await asyncio.wait_for(stuck.wait(), 5)
        loop = asyncio.get_running_loop()
        started = loop.time()
        await proxy.server.stop()
        took = loop.time() - started
        await asyncio.wait_for(reading, 5)
        (record,) = await read_log(log)
    assert took < 0.1 + 1.0, took  # the grace period, then at most a second (docs/proxy.md, "Stopping")
    assert record["outcome"] == "proxy_stopped"
