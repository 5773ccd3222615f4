"""How the relay hands an answer on: in as few writes as it can, whole when it was held, as JSON when it
broke before any of it was sent, and with one clean end when it is cut while a client reads slowly."""

from __future__ import annotations

import asyncio
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
    async def broken(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 1000
        await response.prepare(request)  # the headers, and not one byte of the body
        assert request.transport is not None
        request.transport.abort()
        return response

    log = tmp_path / "proxy.ndjson"
    async with (
        upstream_with(broken) as url,
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


def raw_request(port: int, body: bytes) -> bytes:
    head = f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
    head += "".join(f"{name}: {value}\r\n" for name, value in VSCODE_HEADERS.items())
    return head.encode() + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


def read_until_closed(port: int, request: bytes) -> bytes:
    """Everything the proxy sends on one connection until it closes it."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        data = b""
        while piece := sock.recv(65536):
            data += piece
    return data


def unchunk(raw: bytes) -> tuple[bytes, bytes]:
    """A chunked answer's body, and whatever the connection carried after its end marker."""
    body = raw.partition(b"\r\n\r\n")[2]
    out = b""
    while True:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line, 16)
        if size == 0:
            assert body.startswith(b"\r\n"), body[:20]
            return out, body[2:]
        out += body[:size]
        assert body[size : size + 2] == b"\r\n"
        body = body[size + 2 :]


def client_stops_reading(monkeypatch: pytest.MonkeyPatch, port: int) -> asyncio.Event:
    """The next time the proxy (on ``port``) waits for a client to take its bytes, it waits for good,
    as when a client stops reading: the bytes are with the connection, the write never returns.

    The event is set once that wait has begun."""
    drain = StreamWriter.drain
    stuck = asyncio.Event()

    async def never_drained(self: StreamWriter) -> None:
        transport = self.transport
        if not stuck.is_set() and transport is not None and transport.get_extra_info("sockname")[1] == port:
            stuck.set()
            await asyncio.get_running_loop().create_future()  # only a cancel ends it
        await drain(self)

    monkeypatch.setattr(StreamWriter, "drain", never_drained)
    return stuck


async def stopped_while_stuck(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, provider_id: str, turn: str, upstream: Handler
) -> tuple[bytes, bytes, dict[str, Any]]:
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
    assert record["outcome"] == "proxy_stopped"


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
    assert after == b""
    assert answer.startswith(first) and b'"error"' not in answer  # no event glued to the half one
    assert record["outcome"] == "proxy_stopped"


async def test_a_client_that_stops_reading_is_dropped_and_the_upstream_not_blamed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    upstream_gone = asyncio.Event()

    async def endless(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        try:
            while True:  # never silent: an event every 20 ms
                await response.write(sse(delta(content="z" * 20_000)))
                await asyncio.sleep(0.02)
        except ConnectionResetError:  # the proxy hung up
            upstream_gone.set()
        return response

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
    assert record["outcome"] == "client_stalled" and "read nothing" in record["error"]
    assert proxy.listener.in_flight == 0
