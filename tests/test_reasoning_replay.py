"""Reasoning replay through the real proxy: agent tool loops keep thinking on against strict fakes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ccendpoint.proxy.reasoning import ReasoningCache
from ccendpoint.proxy.rules import RuleBook
from fake_upstreams import Behaviour, FakeUpstream
from proxy_helpers import SYSTEM, VSCODE_HEADERS, running_proxy, vscode_request

# (provider, model, how the upstream says thinking is off)
THINKING_MODELS = [
    ("kimi", "kimi-k2.6"),
    ("mimo", "mimo-v2.6-pro"),
    ("deepseek", "deepseek-v4-pro"),
    ("qwen", "qwen3.8-max"),
]


def thinking_off(provider: str, body: dict[str, Any]) -> bool:
    if provider == "qwen":
        return body.get("enable_thinking") is False
    return body.get("thinking") == {"type": "disabled"}


async def call(url: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    """POST like VS Code; a stream is read to the end and folded into one message."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=orjson.dumps(body), headers=VSCODE_HEADERS) as r,
    ):
        raw = await r.read()
    if r.status != 200 or not body.get("stream"):
        return r.status, orjson.loads(raw)
    message: dict[str, Any] = {"role": "assistant", "content": ""}
    calls: dict[int, dict[str, Any]] = {}
    for line in raw.split(b"\n"):
        if not line.startswith(b"data: ") or line == b"data: [DONE]":
            continue
        event = orjson.loads(line[6:])
        for choice in event.get("choices", []):
            delta = choice["delta"]
            message["content"] += delta.get("content") or ""
            for piece in delta.get("tool_calls") or []:
                slot = calls.setdefault(
                    piece["index"], {"id": "", "type": "function", "function": {"name": "", "arguments": ""}}
                )
                slot["id"] += piece.get("id") or ""
                slot["function"]["name"] += piece.get("function", {}).get("name") or ""
                slot["function"]["arguments"] += piece.get("function", {}).get("arguments") or ""
    if calls:
        message["tool_calls"] = [calls[i] for i in sorted(calls)]
    return r.status, {"choices": [{"message": message}]}


def request(model: str, messages: list[dict[str, Any]], stream: bool) -> dict[str, Any]:
    """An agent turn as VS Code sends it, with this history."""
    return vscode_request(model, "first", stream=stream, messages=messages)


def as_vscode_keeps_it(message: dict[str, Any]) -> dict[str, Any]:
    """The assistant turn as VS Code sends it back: tool calls kept, reasoning dropped."""
    return {"role": "assistant", "content": message.get("content") or "", "tool_calls": message["tool_calls"]}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize(("provider_id", "model"), THINKING_MODELS)
async def test_tool_loop_keeps_thinking_on(provider_id: str, model: str, stream: bool, tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    loop = Behaviour(tool_rounds=3)
    async with FakeUpstream(provider_id, loop) as upstream, running_proxy(provider_id, upstream.url, log=log) as proxy:
        messages: list[dict[str, Any]] = [dict(SYSTEM), {"role": "user", "content": "Summarise README.md and setup.py"}]
        for turn in range(3):
            status, answer = await call(proxy.url, request(model, messages, stream))
            assert status == 200, answer
            sent = upstream.last.body
            assert not thinking_off(provider_id, sent), f"turn {turn}: thinking was switched off"
            restored = [m.get("reasoning_content") for m in sent["messages"] if m.get("tool_calls")]
            assert restored == ["Let me think about this."] * turn
            message = answer["choices"][0]["message"]
            assert message["tool_calls"], "the fake keeps calling tools for three rounds"
            call_id = message["tool_calls"][0]["id"]
            messages += [as_vscode_keeps_it(message), {"role": "tool", "tool_call_id": call_id, "content": "text"}]
        # the same history sent straight to the provider is refused: the proxy is what fixes it
        status, refused = await call(upstream.url, request(model, messages, stream=False))
        assert status == 400, refused
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["reasoning_restored"] for r in records] == [0, 1, 2]
    assert [r["reasoning_missing"] for r in records] == [0, 0, 0]
    assert all(r.get("reasoning_stored") == 1 for r in records)


@pytest.mark.parametrize(("provider_id", "model"), THINKING_MODELS)
async def test_reasoning_that_cannot_be_restored_falls_back_to_thinking_off(provider_id: str, model: str) -> None:
    history = [
        dict(SYSTEM),
        {"role": "user", "content": "Read it"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_from_before_a_wipe",
                    "type": "function",
                    "function": {"name": "read_file", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_from_before_a_wipe", "content": "text"},
    ]
    async with FakeUpstream(provider_id) as upstream, running_proxy(provider_id, upstream.url) as proxy:
        status, answer = await call(proxy.url, request(model, history, stream=False))
        assert status == 200, answer
        assert thinking_off(provider_id, upstream.last.body)


async def test_reasoning_sent_by_the_client_is_never_overwritten() -> None:
    cache = ReasoningCache()
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, reasoning=cache) as proxy:
        messages: list[dict[str, Any]] = [{"role": "user", "content": "Read it"}]
        _, answer = await call(proxy.url, request("kimi-k2.6", messages, stream=False))
        message = answer["choices"][0]["message"]
        kept = {**as_vscode_keeps_it(message), "reasoning_content": "The client's own copy."}
        messages += [kept, {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "x"}]
        status, _ = await call(proxy.url, request("kimi-k2.6", messages, stream=False))
        assert status == 200
        assert upstream.last.body["messages"][1]["reasoning_content"] == "The client's own copy."
        assert not thinking_off("kimi", upstream.last.body)
        assert len(cache) == 2  # the model's own reasoning stays cached (by id and by content), unused


async def test_replay_survives_a_proxy_restart(tmp_path: Path) -> None:
    db = tmp_path / "reasoning.sqlite3"
    messages: list[dict[str, Any]] = [{"role": "user", "content": "Read it"}]
    async with FakeUpstream("mimo") as upstream:
        async with running_proxy("mimo", upstream.url, reasoning=ReasoningCache(db)) as proxy:
            _, answer = await call(proxy.url, request("mimo-v2.6-pro", messages, stream=True))
        message = answer["choices"][0]["message"]
        messages += [
            as_vscode_keeps_it(message),
            {"role": "tool", "tool_call_id": message["tool_calls"][0]["id"], "content": "x"},
        ]
        async with running_proxy("mimo", upstream.url, reasoning=ReasoningCache(db)) as proxy:
            status, _ = await call(proxy.url, request("mimo-v2.6-pro", messages, stream=True))
        assert status == 200
        assert upstream.last.body["messages"][1]["reasoning_content"] == "Let me think about this."
        assert "thinking" not in upstream.last.body


async def test_models_without_replay_leave_the_history_alone() -> None:
    book = RuleBook(next(p for p in __import__("proxy_helpers").bundled_catalog().providers if p.id == "glm"))
    assert not book.replays()
    async with FakeUpstream("glm") as upstream, running_proxy("glm", upstream.url) as proxy:
        _, answer = await call(proxy.url, request("glm-5.1", [{"role": "user", "content": "x"}], stream=False))
        assert answer["choices"][0]["message"]["tool_calls"]
        assert proxy.listener.reasoning is None


async def test_upstream_error_messages_reach_the_log(tmp_path: Path) -> None:
    log = tmp_path / "proxy.ndjson"
    async with FakeUpstream("kimi") as upstream, running_proxy("kimi", upstream.url, log=log) as proxy:
        body = request("kimi-k2.6", [{"role": "user", "content": "hi"}], stream=False)
        body["thinking"] = {"type": "sometimes"}  # the fake refuses an unknown thinking type
        status, answer = await call(proxy.url, body)
        assert status == 400
    record = json.loads(log.read_text().splitlines()[-1])
    assert record["upstream_error"] == answer["error"]["message"] == "invalid thinking type"


async def test_a_broken_stream_stores_no_reasoning(tmp_path: Path) -> None:
    cache = ReasoningCache()
    log = tmp_path / "proxy.ndjson"
    behaviour = Behaviour(break_after=8)  # after the tool call and its finish, before usage and [DONE]
    async with (
        FakeUpstream("kimi", behaviour) as upstream,
        running_proxy("kimi", upstream.url, reasoning=cache, log=log) as proxy,
    ):
        _, answer = await call(proxy.url, request("kimi-k2.6", [{"role": "user", "content": "hi"}], stream=True))
        assert answer["choices"][0]["message"]["tool_calls"]  # the client did see the tool call
    assert len(cache) == 0
    assert json.loads(log.read_text().splitlines()[-1])["outcome"] == "upstream_broke"
