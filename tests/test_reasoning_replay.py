"""Reasoning replay through the real proxy: VS Code's tool loops keep thinking on against strict fakes.

The client is :class:`vscode_client.Chat`, which sends what VS Code 1.139 sends and keeps the
history the way it does (reasoning comes back only when it carried an id, only within its turn).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ccendpoint.proxy.reasoning_cache import ReasoningCache
from ccendpoint.rules.pipeline import RuleBook
from ccendpoint.vscode.blocks import GroupOptions, render_group
from fake_upstreams import Behaviour, FakeUpstream, Received
from proxy_helpers import provider, read_log, running_proxy
from vscode_client import Chat, headers

# (provider, model) of every thinking model family the proxy replays reasoning for
THINKING_MODELS = [
    ("kimi", "kimi-k2.6"),
    ("kimi", "kimi-k2.7-code"),
    ("kimi", "kimi-k3"),
    ("mimo", "mimo-v2.6-pro"),
    ("deepseek", "deepseek-v4-pro"),
    ("qwen", "qwen3.8-max"),
]


def entry(provider_id: str, model: str) -> dict[str, Any]:
    """The model entry ``ccendpoint add`` writes, as VS Code reads it."""
    group = render_group(provider(provider_id), GroupOptions(model_ids=[model]))
    found: dict[str, Any] = group["models"][0]
    return found


def thinking_off(body: dict[str, Any]) -> bool:
    return body.get("thinking") == {"type": "disabled"} or body.get("enable_thinking") is False


async def post(url: str, body: dict[str, Any]) -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=orjson.dumps(body), headers=headers()) as answer,
    ):
        return answer.status, await answer.read()


async def run_turn(chat: Chat, url: str, text: str, *, stream: bool = True) -> int:
    """One user turn through the proxy, tool results and all; returns how many requests it took."""
    chat.ask(text)
    for count in range(1, 10):
        status, raw = await post(url, chat.request(stream=stream))
        assert status == 200, raw
        if not chat.take(raw, stream=stream).calls:
            return count
        chat.tool_results("a.py\nb.py")
    raise AssertionError("the tool loop did not end")


def produced(received: list[Received]) -> list[str | None]:
    """The reasoning of each answer that called a tool, in order."""
    return [r.reasoning for r in received if r.tool_call]


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("provider_id", "model"), THINKING_MODELS)
async def test_a_tool_loop_keeps_thinking_on(provider_id: str, model: str, stream: bool, tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    loop = Behaviour(tool_rounds=3, tool_arguments={"path": "/home/user/project", "depth": 2})
    model_entry = entry(provider_id, model)
    async with FakeUpstream(provider_id, loop) as upstream, running_proxy(provider_id, upstream.url, log=log) as proxy:
        chat = Chat(model_entry)
        assert await run_turn(chat, proxy.url, "Which files are here?", stream=stream) == 4
        for index, request in enumerate(upstream.received):
            assert not thinking_off(request.body), f"request {index}: thinking was switched off"
            sent = [m.get("reasoning_content") for m in request.body["messages"] if m.get("tool_calls")]
            assert sent == produced(upstream.received)[:index], "each tool call carries its own reasoning"
        # the same history straight to the provider is refused: the proxy is what fixes it
        refused = await post(upstream.url, chat.request(stream=False))
        assert refused[0] == 400
    records = await read_log(log, 4)
    # a model marked ``thinking`` gets reasoning_content from VS Code itself; the others from its echo
    restored = [0, 0, 0, 0] if model_entry.get("thinking") else [0, 1, 2, 3]
    assert [r["reasoning_restored"] for r in records] == restored
    assert [r["reasoning_missing"] for r in records] == [0, 0, 0, 0]
    assert [r.get("reasoning_tagged") for r in records] == [True] * 4


@pytest.mark.parametrize(("provider_id", "model"), [("kimi", "kimi-k3"), ("deepseek", "deepseek-v4-pro")])
async def test_a_later_turn_gets_the_earlier_turns_reasoning(provider_id: str, model: str, tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    loop = Behaviour(tool_rounds=2)
    async with FakeUpstream(provider_id, loop) as upstream, running_proxy(provider_id, upstream.url, log=log) as proxy:
        chat = Chat(entry(provider_id, model))
        await run_turn(chat, proxy.url, "Find the failing test.")
        first_turn = produced(upstream.received)
        mark = len(upstream.received)
        await run_turn(chat, proxy.url, "Now fix it.")
        second = upstream.received[mark]
        sent = [m.get("reasoning_content") for m in second.body["messages"] if m.get("tool_calls")]
        assert sent == first_turn
        assert not thinking_off(second.body)
    records = await read_log(log, 6)
    assert records[2]["reasoning_stored"] == 2  # the first turn's final answer stored both steps
    assert records[3]["reasoning_from_cache"] == 2


async def test_two_chats_with_the_same_question_keep_their_own_reasoning() -> None:
    async with FakeUpstream("kimi", Behaviour(tool_rounds=1)) as upstream, running_proxy("kimi", upstream.url) as p:
        one, two = Chat(entry("kimi", "kimi-k2.6")), Chat(entry("kimi", "kimi-k2.6"))
        await run_turn(one, p.url, "Which files are here?")
        await run_turn(two, p.url, "Which files are here?")
        await run_turn(one, p.url, "And the largest one?")
        await run_turn(two, p.url, "And the largest one?")
        first_answers = [r.reasoning for r in upstream.received[:4] if r.tool_call]
        assert len(set(first_answers)) == 2
        for request, expected in zip(upstream.received[4::2], first_answers, strict=True):
            assert [m.get("reasoning_content") for m in request.body["messages"] if m.get("tool_calls")] == [expected]


@pytest.mark.parametrize(
    ("provider_id", "model"), [("kimi", "kimi-k2.6"), ("mimo", "mimo-v2.6-pro"), ("qwen", "qwen3.8-max")]
)
async def test_reasoning_that_cannot_come_back_falls_back_to_thinking_off(provider_id: str, model: str) -> None:
    """An earlier turn the cache never saw (the proxy started since): thinking goes off, the request passes."""
    async with FakeUpstream(provider_id, Behaviour(tool_rounds=1)) as upstream:
        chat = Chat(entry(provider_id, model))
        async with running_proxy(provider_id, upstream.url, reasoning=ReasoningCache()) as proxy:
            await run_turn(chat, proxy.url, "Which files are here?")
        async with running_proxy(provider_id, upstream.url, reasoning=ReasoningCache()) as proxy:
            chat.ask("And now?")
            status, _ = await post(proxy.url, chat.request())
        assert status == 200
        assert thinking_off(upstream.last.body)


async def test_replay_of_earlier_turns_survives_a_proxy_restart(tmp_path: Path) -> None:
    db = tmp_path / "reasoning.sqlite3"
    async with FakeUpstream("mimo", Behaviour(tool_rounds=1)) as upstream:
        chat = Chat(entry("mimo", "mimo-v2.6-pro"))
        async with running_proxy("mimo", upstream.url, reasoning=ReasoningCache(db)) as proxy:
            await run_turn(chat, proxy.url, "Read the notes.")
        reasoning = produced(upstream.received)
        async with running_proxy("mimo", upstream.url, reasoning=ReasoningCache(db)) as proxy:
            chat.ask("Summarise them.")
            status, _ = await post(proxy.url, chat.request())
        assert status == 200
        assert [m.get("reasoning_content") for m in upstream.last.body["messages"] if m.get("tool_calls")] == reasoning
        assert not thinking_off(upstream.last.body)


async def test_reasoning_vscode_sends_itself_is_never_overwritten() -> None:
    """A model entry marked ``thinking`` gets reasoning_content back from VS Code: the proxy keeps it."""
    model = {**entry("kimi", "kimi-k3"), "thinking": True}
    async with FakeUpstream("kimi", Behaviour(tool_rounds=1)) as upstream, running_proxy("kimi", upstream.url) as p:
        chat = Chat(model)
        await run_turn(chat, p.url, "Read it.")
        follow_up = chat.request()
        follow_up["messages"][-2]["reasoning_content"] = "The client's own copy."
        status, _ = await post(p.url, follow_up)
        assert status == 200
        assert upstream.last.body["messages"][-2]["reasoning_content"] == "The client's own copy."
        assert "cot_id" not in upstream.last.body["messages"][-2]


async def test_models_without_replay_leave_the_history_alone() -> None:
    assert not RuleBook(provider("glm")).replays()
    async with FakeUpstream("glm", Behaviour(tool_rounds=1, reasoning_id=True)) as upstream:
        async with running_proxy("glm", upstream.url) as proxy:
            chat = Chat(entry("glm", "glm-5.1"))
            await run_turn(chat, proxy.url, "Read it.")
            assert proxy.listener.reasoning is None
        # the provider's own reasoning id reached VS Code untouched, and its echo the provider
        assert upstream.last.body["messages"][-2]["cot_id"].startswith("fake-")


async def test_upstream_error_messages_reach_the_log(tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        chat = Chat(entry("kimi", "kimi-k2.6"))
        chat.ask("hi")
        body = {**chat.request(stream=False), "thinking": {"type": "sometimes"}}  # refused by the fake
        status, raw = await post(proxy.url, body)
        assert status == 400
    record = (await read_log(log))[-1]
    assert record["upstream_error"] == json.loads(raw)["error"]["message"] == "invalid thinking type"


async def test_a_broken_stream_stores_no_turn(tmp_path: Path) -> None:
    cache = ReasoningCache()
    log = tmp_path / "proxy.ndjson"
    async with (
        FakeUpstream("kimi", Behaviour(tool_rounds=1)) as upstream,
        running_proxy("kimi", upstream.url, reasoning=cache, log=log) as proxy,
    ):
        chat = Chat(entry("kimi", "kimi-k2.6"))
        chat.ask("hi")
        chat.take((await post(proxy.url, chat.request()))[1])
        chat.tool_results("x")
        upstream.behaviour = Behaviour(break_after=4)  # the final answer breaks off mid-text
        await post(proxy.url, chat.request())
    assert len(cache) == 0
    assert (await read_log(log, 2))[-1]["outcome"] == "upstream_broke"
