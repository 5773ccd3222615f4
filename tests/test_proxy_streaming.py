"""Streams through the proxy: chunks arrive as produced, the official client works, failures end cleanly."""

from __future__ import annotations

import asyncio
import itertools
import re
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ccendpoint.proxy.ending import between_events
from ccendpoint.proxy.logs import RequestLog
from ccendpoint.proxy.sse import BodyTap, StreamErrorCollector, StreamTap, UsageCollector
from fake_upstreams import Behaviour, FakeUpstream
from proxy_helpers import VSCODE_HEADERS, provider, read_log, running_proxy, vscode_request

TOOLS = vscode_request("m", "first")["tools"][:3]


def events_of(raw: bytes) -> list[bytes]:
    return [block[len(b"data: ") :] for block in raw.split(b"\n\n") if block.startswith(b"data: ")]


async def test_chunks_reach_the_client_as_they_are_produced() -> None:
    delay = 0.08
    behaviour = Behaviour(chunk_delay=delay, chunks=5)
    async with FakeUpstream("kimi", behaviour) as upstream, running_proxy("kimi", upstream.url) as proxy:
        body = orjson.dumps(vscode_request("kimi-k2.6", "chat"))
        arrivals: list[float] = []
        received = b""
        async with aiohttp.ClientSession() as session:
            started = time.perf_counter()
            async with session.post(proxy.url, data=body, headers=VSCODE_HEADERS) as response:
                assert response.status == 200
                assert response.headers["Content-Type"] == "text/event-stream"
                async for chunk in response.content.iter_any():
                    received += chunk
                    # one arrival per complete event in the chunk
                    arrivals += [time.perf_counter() - started] * chunk.count(b"\n\n")
        events = events_of(received)
        assert events[-1] == b"[DONE]" and len(events) == len(arrivals) == upstream.last.events_sent
        # first event at once, then one event per delay: spread out, not bunched at the end
        assert arrivals[0] < delay
        gaps = [b - a for a, b in itertools.pairwise(arrivals)]
        assert min(gaps) > delay * 0.5, gaps
        assert arrivals[-1] - arrivals[0] > delay * (len(arrivals) - 1) * 0.8


@pytest.mark.parametrize("provider_id", ["glm", "deepseek"])
async def test_stream_bytes_are_relayed_unchanged_but_for_the_reasoning_id(provider_id: str) -> None:
    """GLM does not replay reasoning: its stream passes byte for byte. DeepSeek's first reasoning
    delta gains a ``cot_id`` (so VS Code sends the reasoning back), and nothing else changes."""
    model = provider(provider_id).current_models()[0].id
    async with (
        FakeUpstream(provider_id, Behaviour(chunks=20)) as upstream,
        running_proxy(provider_id, upstream.url) as proxy,
    ):
        body = orjson.dumps(vscode_request(model, "first"))
        async with aiohttp.ClientSession() as session:
            async with session.post(upstream.url, data=body, headers=VSCODE_HEADERS) as response:
                direct = await response.read()
            async with session.post(proxy.url, data=body, headers=VSCODE_HEADERS) as response:
                proxied = await response.read()
    # the fake numbers its ids and answers: the same answer twice differs only in those
    serials = re.compile(rb'"(chatcmpl|call)[-_][0-9a-f_]+"|(?<=Thinking )\d+|(?<=answer )\d+')

    def events(raw: bytes) -> list[bytes]:
        return events_of(serials.sub(lambda m: b'"N"' if m.group(1) else b"N", raw))

    direct_events, proxied_events = events(direct), events(proxied)
    assert len(direct_events) == len(proxied_events)
    changed = [i for i, (a, b) in enumerate(zip(direct_events, proxied_events, strict=True)) if a != b]
    if provider_id == "glm":
        assert changed == []
    else:
        assert len(changed) == 1
        tagged = orjson.loads(proxied_events[changed[0]])
        assert tagged["choices"][0]["delta"].pop("cot_id").startswith("ccr-")
        assert tagged == orjson.loads(direct_events[changed[0]])
    assert proxied.endswith(b"data: [DONE]\n\n")


async def test_openai_client_streams_and_calls_a_tool_through_the_proxy() -> None:
    from openai import AsyncOpenAI

    async with FakeUpstream("kimi", Behaviour(chunks=4)) as upstream, running_proxy("kimi", upstream.url) as proxy:
        client = AsyncOpenAI(base_url=f"{proxy.base}/v1", api_key="sk-test-openai-client-key-0000000000", max_retries=0)
        try:
            stream = await client.chat.completions.create(
                model="kimi-k2.6",
                messages=[{"role": "user", "content": "Read README.md"}],
                tools=TOOLS,  # type: ignore[arg-type]
                temperature=0.1,
                top_p=1,
                stream=True,
                stream_options={"include_usage": True},
            )
            content = ""
            calls: dict[int, dict[str, str]] = {}
            usage = None
            async for chunk in stream:
                if chunk.usage:
                    usage = chunk.usage
                for choice in chunk.choices:
                    content += choice.delta.content or ""
                    for call in choice.delta.tool_calls or []:
                        slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
                        slot["id"] += call.id or ""
                        if call.function:
                            slot["name"] += call.function.name or ""
                            slot["arguments"] += call.function.arguments or ""
            assert content == "word0 word1 word2 word3 "
            assert orjson.loads(calls[0]["arguments"]) == {"path": "README.md"}
            assert usage is not None and usage.total_tokens == 18
            sent = upstream.last.body
            assert "thinking" not in sent and sent["temperature"] == 1  # thinking stays on
            assert upstream.last.headers["Authorization"] == "Bearer sk-test-openai-client-key-0000000000"

            # the tool result goes back, without reasoning_content, as VS Code does
            follow = await client.chat.completions.create(
                model="kimi-k2.6",
                messages=[
                    {"role": "user", "content": "Read README.md"},
                    {
                        "role": "assistant",
                        "content": "",
                        "tool_calls": [
                            {
                                "id": calls[0]["id"],
                                "type": "function",
                                "function": {"name": calls[0]["name"], "arguments": calls[0]["arguments"]},
                            }
                        ],
                    },
                    {"role": "tool", "tool_call_id": calls[0]["id"], "content": "# Hello"},
                ],
                tools=TOOLS,  # type: ignore[arg-type]
                temperature=0.1,
                top_p=1,
            )
            assert follow.choices[0].message.content.startswith("word0 word1 word2 word3 ")
            assert upstream.last.status == 200
            # a client that neither keeps reasoning_content nor returns tagged reasoning (cot_id) as
            # VS Code does: the proxy cannot give it back, so thinking goes off for this turn only
            follow_sent = upstream.last.body
            assert follow_sent["thinking"] == {"type": "disabled"} and follow_sent["temperature"] == 0.6
        finally:
            await client.close()


async def test_client_disconnect_cancels_the_upstream_request(tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    async with FakeUpstream("kimi", Behaviour(stall_after=2)) as upstream:
        async with running_proxy("kimi", upstream.url, log=log) as proxy:
            async with aiohttp.ClientSession() as session:
                response = await session.post(proxy.url, data=orjson.dumps(vscode_request("kimi-k2.6", "chat")))
                assert (await response.content.readany()).startswith(b"data: ")
                response.close()  # the user pressed stop
            await asyncio.wait_for(upstream.cancelled.wait(), 1)
            assert upstream.last.disconnected and not upstream.last.completed
            for _ in range(50):
                if proxy.listener.in_flight == 0:
                    break
                await asyncio.sleep(0.01)
            assert proxy.listener.in_flight == 0
        records = await read_log(log)
    assert records[0]["outcome"] == "client_disconnected" and records[0]["status"] == 200


async def test_client_leaving_before_the_answer_starts_cancels_the_upstream_request(tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    async with (
        FakeUpstream("kimi", Behaviour(first_byte_delay=5)) as upstream,
        running_proxy("kimi", upstream.url, log=log) as proxy,
    ):
        async with aiohttp.ClientSession() as session:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(session.post(proxy.url, data=orjson.dumps(vscode_request("kimi-k2.6"))), 0.3)
        await asyncio.wait_for(upstream.cancelled.wait(), 1)
        records = await read_log(log)
    assert records[0]["outcome"] == "client_disconnected" and records[0]["status"] is None


async def test_upstream_breaking_mid_stream_ends_the_client_stream(tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    async with FakeUpstream("kimi", Behaviour(break_after=3)) as upstream:
        async with (
            running_proxy("kimi", upstream.url, log=log) as proxy,
            aiohttp.ClientSession() as session,
            session.post(proxy.url, data=orjson.dumps(vscode_request("kimi-k2.6", "chat"))) as response,
        ):
            raw = await asyncio.wait_for(response.read(), 2)
        records = await read_log(log)
    events = events_of(raw)
    assert len(events) == 4
    error = orjson.loads(events[-1])["error"]
    assert error["code"] == "upstream_stream_broken" and "mid-stream" in error["message"]
    assert records[0]["outcome"] == "upstream_broke" and records[0]["sse_events"] == 3


async def test_upstream_going_silent_mid_stream_is_cut_after_the_idle_timeout(tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    async with FakeUpstream("kimi", Behaviour(stall_after=2)) as upstream:
        async with running_proxy("kimi", upstream.url, log=log, idle_timeout=0.3, first_byte_timeout=5) as proxy:
            started = time.perf_counter()
            async with (
                aiohttp.ClientSession() as session,
                session.post(proxy.url, data=orjson.dumps(vscode_request("kimi-k2.6", "chat"))) as response,
            ):
                raw = await asyncio.wait_for(response.read(), 2)
            assert 0.25 < time.perf_counter() - started < 1.5
            await asyncio.wait_for(upstream.cancelled.wait(), 1)
        records = await read_log(log)
    events = events_of(raw)
    assert len(events) == 3 and b"went silent for 0.3 s" in events[-1]
    assert records[0]["outcome"] == "upstream_idle_timeout"


async def test_slow_stream_under_the_idle_timeout_is_not_cut() -> None:
    behaviour = Behaviour(chunk_delay=0.1, chunks=4)
    async with (
        FakeUpstream("kimi", behaviour) as upstream,
        running_proxy("kimi", upstream.url, idle_timeout=0.25, first_byte_timeout=0.25) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=orjson.dumps(vscode_request("kimi-k2.6", "chat"))) as response,
    ):
        raw = await response.read()
    assert events_of(raw)[-1] == b"[DONE]" and upstream.last.completed


async def test_usage_and_stream_facts_are_logged(tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    async with (
        FakeUpstream("mimo") as upstream,
        running_proxy("mimo", upstream.url, log=log) as proxy,
        aiohttp.ClientSession() as session,
    ):
        body = orjson.dumps(vscode_request("mimo-v2.6-pro", "follow_up"))
        async with session.post(proxy.url, data=body, headers=VSCODE_HEADERS) as response:
            await response.read()
        body = orjson.dumps(vscode_request("mimo-v2.6-pro", "chat", stream=False))
        async with session.post(proxy.url, data=body, headers=VSCODE_HEADERS) as response:
            await response.read()
    first, second = await read_log(log, 2)
    assert first["usage"] == {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
    assert first["sse_done"] is True and first["stream"] is True and first["tool_turn"] is True
    assert second["usage"]["total_tokens"] == 18 and second["stream"] is False


async def test_many_concurrent_streams() -> None:
    async with (
        FakeUpstream("deepseek", Behaviour(chunks=10, chunk_delay=0.005)) as upstream,
        running_proxy("deepseek", upstream.url) as proxy,
    ):
        body = orjson.dumps(vscode_request("deepseek-v4-pro", "chat"))
        async with aiohttp.ClientSession() as session:

            async def one() -> bytes:
                async with session.post(proxy.url, data=body, headers=VSCODE_HEADERS) as response:
                    return await response.read()

            results = await asyncio.gather(*(one() for _ in range(32)))
    assert all(events_of(r)[-1] == b"[DONE]" for r in results)
    assert len(upstream.received) == 32


# -- the SSE reader --------------------------------------------------------------------------------


def _sse(*events: bytes) -> bytes:
    return b"".join(b"data: " + e + b"\n\n" for e in events)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 64, 10_000])
def test_stream_tap_reads_events_split_anywhere(size: int) -> None:
    data = _sse(b'{"choices":[]}', b'{"choices":[],"usage":{"total_tokens":5}}', b"[DONE]")
    data = data.replace(b"\n\n", b"\r\n\r\n", 1)
    usage = UsageCollector()
    tap = StreamTap([usage])
    for start in range(0, len(data), size):
        tap.feed(data[start : start + size])
    assert tap.events == 3 and tap.done and usage.usage == {"total_tokens": 5}


def test_stream_tap_joins_multi_line_data_and_skips_comments_and_other_fields() -> None:
    usage = UsageCollector()
    tap = StreamTap([usage])
    tap.feed(b': keep-alive\n\nevent: message\nid: 1\ndata: {"usage":\ndata: {"total_tokens": 2}}\n\n')
    assert tap.events == 1 and usage.usage == {"total_tokens": 2}


def test_stream_tap_only_parses_what_a_collector_wants() -> None:
    class Counting(UsageCollector):
        taken = 0

        def take(self, event: dict[str, Any]) -> None:
            Counting.taken += 1
            super().take(event)

    tap = StreamTap([Counting()])
    tap.feed(_sse(b"not json at all", b'{"choices":[]}', b'{"usage": "odd"}', b'["usage"]'))
    assert Counting.taken == 1 and tap.events == 4 and tap.bad_events == 1


def test_stream_tap_gives_up_on_endless_lines() -> None:
    tap = StreamTap([UsageCollector()])
    for _ in range(5):
        tap.feed(b"x" * 1_000_000)
    assert tap.broken
    tap.feed(_sse(b"[DONE]"))
    assert not tap.done


def test_a_stream_is_between_events_only_after_a_blank_line_or_before_any_byte() -> None:
    assert between_events(b"") and between_events(b"}}\n\n") and between_events(b"}\r\n\r\n")
    assert between_events(b"\n\r\n")  # LF then CRLF: a blank line too
    for tail in (b"data", b"}}\n", b"}\r\n", b"\r\n\r", b": ping"):
        assert not between_events(tail), tail


def test_stream_tap_finds_error_events_but_not_the_word_error() -> None:
    failure = StreamErrorCollector()
    tap = StreamTap([failure])
    quoted = orjson.dumps({"choices": [{"delta": {"content": 'an "error": here'}}]})
    nested = orjson.dumps({"choices": [{"delta": {"tool_calls": [{"error": "a field of a tool's own"}]}}]})
    tap.feed(_sse(quoted, nested))
    assert tap.events == 2 and failure.message is None
    tap.feed(_sse(b'{"error": {"message": "quota exceeded", "code": 429}}', b'{"error": {"message": "later"}}'))
    assert failure.message == "quota exceeded"
    bare = StreamErrorCollector()
    StreamTap([bare]).feed(_sse(b'{"error": {"code": 500}}'))
    assert bare.message is not None and "without a message" in bare.message


def test_body_tap_reads_usage_of_a_json_answer() -> None:
    usage = UsageCollector()
    tap = BodyTap([usage], limit=100)
    tap.feed(b'{"usage": {"total_tokens"')
    tap.feed(b": 3}}")
    tap.finish()
    assert usage.usage == {"total_tokens": 3}
    big = UsageCollector()
    tap = BodyTap([big], limit=10)
    tap.feed(b'{"usage": {"total_tokens": 3}}')
    tap.finish()
    assert big.usage is None


async def test_request_log_close_is_safe_without_start() -> None:
    RequestLog().close()
