"""VS Code's requests through a real LiteLLM gateway with ccendpoint's callback, against the strict fakes.

The client is :class:`vscode_client.Chat` (what VS Code 1.139 sends, from recorded requests); the
gateway is LiteLLM's proxy started from ``ccendpoint export litellm``'s config. Every scenario is
also sent to the same gateway without the callback, where the fakes refuse it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from typer.testing import CliRunner

from ccendpoint.cli import app
from ccendpoint.vscode.blocks import GroupOptions, render_group
from ccendpoint.vscode.gateway import render_gateway_group
from fake_upstreams import Behaviour, Received
from gateway_helpers import MASTER_KEY, Fleet, Gateway
from proxy_helpers import bundled_catalog, provider, running_proxy
from vscode_client import Chat, headers

pytestmark = pytest.mark.gateway

THINKING_MODELS = [
    ("kimi", "kimi-k2.6"),
    ("kimi", "kimi-k2.7-code"),
    ("kimi", "kimi-k3"),
    ("mimo", "mimo-v2.6-pro"),
    ("deepseek", "deepseek-v4-pro"),
    ("qwen", "qwen3.8-max"),
]
#: What VS Code's own "Add Models" wizard writes: no modelOptions, no thinking flag.
PLAIN_KEYS = ("id", "name", "url", "toolCalling", "vision", "maxInputTokens", "maxOutputTokens")


def entry(provider_id: str, model: str, *, plain: bool = False) -> dict[str, Any]:
    group = render_group(provider(provider_id), GroupOptions(model_ids=[model]))
    found: dict[str, Any] = group["models"][0]
    return {k: v for k, v in found.items() if k in PLAIN_KEYS} if plain else found


async def post(url: str, body: dict[str, Any], key: str = MASTER_KEY) -> tuple[int, bytes]:
    sent = {**headers(), "Authorization": f"Bearer {key}"}
    async with aiohttp.ClientSession() as session, session.post(url, data=orjson.dumps(body), headers=sent) as answer:
        return answer.status, await answer.read()


async def run_turn(chat: Chat, url: str, text: str, *, stream: bool = True) -> int:
    """One user turn, tool results and all; returns how many requests it took."""
    chat.ask(text)
    for count in range(1, 10):
        status, raw = await post(url, chat.request(stream=stream))
        assert status == 200, raw[:2000]
        if not chat.take(raw, stream=stream).calls:
            return count
        chat.tool_results("a.py\nb.py")
    raise AssertionError("the tool loop did not end")


def thinking_off(body: dict[str, Any]) -> bool:
    return body.get("thinking") == {"type": "disabled"} or body.get("enable_thinking") is False


def produced(received: list[Received]) -> list[str | None]:
    """The reasoning of each answer that called a tool, in order."""
    return [r.reasoning for r in received if r.tool_call]


def sent_reasoning(request: Received) -> list[Any]:
    return [m.get("reasoning_content") for m in request.body["messages"] if m.get("tool_calls")]


def refusal(raw: bytes) -> str:
    return str(json.loads(raw)["error"]["message"])


async def test_kimi_gets_its_locked_sampling_from_a_plain_entry(gateway: Gateway, bare_gateway: Gateway, fleet: Fleet):
    chat = Chat(entry("kimi", "kimi-k2.6", plain=True), mode="ask")
    chat.ask("What does this project do?")
    body = chat.request()
    assert (body["temperature"], body["top_p"]) == (0.1, 1)  # VS Code's defaults

    status, raw = await post(bare_gateway.url, body)
    assert status == 400
    assert "invalid temperature" in refusal(raw)

    status, raw = await post(gateway.url, body)
    assert status == 200, raw[:1000]
    sent = fleet["kimi"].last.body
    assert (sent["temperature"], sent["top_p"]) == (1, 0.95)


@pytest.mark.parametrize("stream", [True, False], ids=["stream", "json"])
@pytest.mark.parametrize(("provider_id", "model"), THINKING_MODELS)
async def test_a_tool_loop_keeps_thinking_on(
    provider_id: str, model: str, stream: bool, gateway: Gateway, bare_gateway: Gateway, fleet: Fleet
) -> None:
    fake = fleet[provider_id]
    fake.behaviour = Behaviour(tool_rounds=3, tool_arguments={"path": "/home/user/project", "depth": 2})
    chat = Chat(entry(provider_id, model))
    assert await run_turn(chat, gateway.url, "Which files are here?", stream=stream) == 4
    for index, request in enumerate(fake.received):
        assert not thinking_off(request.body), f"request {index}: thinking was switched off"
        assert sent_reasoning(request) == produced(fake.received)[:index], "each tool call carries its own reasoning"

    # the same history through the gateway without the callback is refused by the provider
    status, raw = await post(bare_gateway.url, chat.request(stream=False))
    assert status == 400
    assert "reasoning_content" in refusal(raw) or "unknown field" in refusal(raw)


@pytest.mark.parametrize("model", ["mimo-v2.6-pro", "mimo-v2.6-flash"])
async def test_mimo_gets_an_earlier_turns_reasoning_back_from_the_gateway_cache(
    model: str, gateway: Gateway, bare_gateway: Gateway, fleet: Fleet
) -> None:
    fake = fleet["mimo"]
    fake.behaviour = Behaviour(tool_rounds=2)
    chat = Chat(entry("mimo", model))
    await run_turn(chat, gateway.url, "Read the notes.")
    first_turn = produced(fake.received)
    assert len(first_turn) == 2
    mark = len(fake.received)
    await run_turn(chat, gateway.url, "Now summarise them.")
    later = fake.received[mark]
    assert sent_reasoning(later) == first_turn  # VS Code sent none of it back
    assert "thinking" not in later.body

    chat.ask("And the third note?")
    status, raw = await post(bare_gateway.url, chat.request())
    assert status == 400
    assert "reasoning_content is required" in refusal(raw)


async def test_reasoning_the_gateway_never_saw_falls_back_to_thinking_off(gateway: Gateway, fleet: Fleet) -> None:
    """A history from before the gateway (another chat's turn): MiMo's fallback rule, thinking off."""
    fake = fleet["mimo"]
    fake.behaviour = Behaviour(tool_rounds=1)
    chat = Chat(entry("mimo", "mimo-v2.6-pro"))
    chat.ask("An old question.")
    chat.add_round([{"id": "call_1", "type": "function", "function": {"name": "list_dir", "arguments": "{}"}}], ["x"])
    old_answer = {"choices": [{"message": {"role": "assistant", "content": "An old answer."}}]}
    chat.take(orjson.dumps(old_answer), stream=False)
    chat.ask("A new question.")
    status, raw = await post(gateway.url, chat.request())
    assert status == 200, raw[:1000]
    assert fake.last.body["thinking"] == {"type": "disabled"}


def vscode_requests() -> list[tuple[str, str, str]]:
    """(provider, model, kind) for every current catalog model: a first agent request and a tool follow-up."""
    cases = []
    for found in bundled_catalog().providers:
        for model in found.current_models():
            cases += [(found.id, model.id, "first"), (found.id, model.id, "follow_up")]
    return cases


@pytest.mark.parametrize(("provider_id", "model", "kind"), vscode_requests())
async def test_the_upstream_gets_what_the_local_proxy_sends(
    provider_id: str, model: str, kind: str, gateway: Gateway, fleet: Fleet
) -> None:
    fake = fleet[provider_id]
    chat = Chat(entry(provider_id, model))
    chat.ask("Which files are here?")
    if kind == "follow_up":
        call = {"id": "call_1", "type": "function", "function": {"name": "list_dir", "arguments": '{"path":"/w"}'}}
        chat.add_round([call], ["a.py"], reasoning="I should list the folder.", reasoning_id="ccr-0123456789abcdef01")
    body = chat.request()

    status, raw = await post(gateway.url, body)
    assert status == 200, raw[:1000]
    through_gateway = fake.last.body
    async with running_proxy(provider_id, fake.url) as proxy:
        status, raw = await post(proxy.url, body)
    assert status == 200, raw[:1000]
    assert through_gateway == fake.last.body


def test_doctor_finds_the_gateway_up_and_serving_the_group(
    gateway: Gateway, isolated_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    group = render_gateway_group(provider("kimi"), None, gateway.base)
    target = isolated_home / "chatLanguageModels.json"
    target.write_text(json.dumps([group]), "utf-8")
    monkeypatch.setenv("CCENDPOINT_GATEWAY_KEY", MASTER_KEY)
    result = CliRunner().invoke(app, ["doctor", "--json", "--file", str(target)])
    found = {f["check"]: f["level"] for f in json.loads(result.stdout)["findings"]}
    assert found["gateway.health"] == "ok"
    assert found["gateway.models"] == "ok"
    assert "catalog.proxy-required" not in found
