"""How the relay hands an answer on: in as few writes as it can, whole when it was held, and as JSON when it broke."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from proxy_helpers import read_log, running_proxy, vscode_request

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


async def test_an_answer_broken_off_before_anything_was_sent_is_a_json_502(tmp_path: Path) -> None:
    async def broken(request: web.Request) -> web.StreamResponse:
        await request.read()
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.content_length = 1000
        await response.prepare(request)
        await response.write(orjson.dumps(ANSWER)[:40])
        assert request.transport is not None
        request.transport.abort()
        return response

    log = tmp_path / "kimi.ndjson"
    async with (
        upstream_with(broken) as url,
        running_proxy("kimi", url, log=log) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=follow_up()) as response,
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
