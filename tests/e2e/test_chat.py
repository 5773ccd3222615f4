"""Chats in a real VS Code 1.139 against strict fake providers, through ``ccendpoint proxy`` or direct.

Each scenario drives the chat UI, then checks what the provider received: no request refused,
thinking never switched off, every assistant tool call in the history carrying the reasoning the
provider gave for it (the fakes number their answers, so a mix-up between conversations shows),
and the answer shown in the chat. A screenshot of every scenario and the bodies the providers
received are kept as artifacts.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from groups import DIRECT_KIMI, KEY
from upstreams import Upstreams
from workbench import Workbench

from fake_upstreams import Behaviour, Received

pytestmark = pytest.mark.e2e

LOOP = "Which files are in this workspace? Look with a tool, then answer."
#: Agent mode runs this tool (read-only, no confirmation); the fakes call it with spaced JSON.
TOOL = "list_dir"


@pytest.fixture
def record(
    request: pytest.FixtureRequest, artifacts: Path, upstreams: Upstreams, configured: Workbench
) -> Iterator[dict[str, int]]:
    """Marks where each fake's log stands; afterwards keeps a screenshot and the received bodies."""
    marks = {provider: len(fake.received) for provider, fake in upstreams.fakes.items()}
    yield marks
    name = request.node.name
    configured.screenshot(name)
    bodies = {
        provider: [{"headers": r.headers, "body": r.body, "status": r.status} for r in upstreams.since(provider, mark)]
        for provider, mark in marks.items()
    }
    folder = artifacts / "requests"
    folder.mkdir(exist_ok=True)
    (folder / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.json").write_text(json.dumps(bodies, indent=1))


def run_chat(bench: Workbench, model: str, group: str, mode: str, text: str, *, new_chat: bool = True) -> None:
    if new_chat:
        bench.new_chat()
    bench.pick_model(model, group)
    bench.pick_mode(mode)
    bench.send(text)


def wait_answers(bench: Workbench, upstreams: Upstreams, provider: str, mark: int, count: int) -> list[Received]:
    """Wait until the fake has answered ``count`` requests since ``mark`` and the last answer shows."""
    fake = upstreams[provider]
    bench.page.wait_for_function("() => true")  # let the page breathe before polling
    deadline_ms = 90_000
    waited = 0
    while len(fake.received) - mark < count or not all(r.completed for r in fake.received[mark:]):
        if waited > deadline_ms:
            raise AssertionError(f"{provider}: {len(fake.received) - mark} of {count} requests arrived")
        if any(r.status and r.status >= 400 for r in fake.received[mark:]):
            break
        bench.page.wait_for_timeout(250)
        waited += 250
    got = upstreams.since(provider, mark)
    refused = [(r.status, r.error) for r in got if r.status != 200]
    assert not refused, f"{provider} refused: {refused}"
    assert len(got) == count, [r.body.get("messages", [])[-1].get("role") for r in got]
    bench.wait_for_text(got[-1].answer_text.strip())
    return got


def assistant_tool_messages(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in body["messages"] if m.get("role") == "assistant" and m.get("tool_calls")]


def assert_reasoning_came_back(got: Sequence[Received], earlier: Sequence[Received] = ()) -> None:
    """Every assistant tool call in each request carries the reasoning of the answer that made it."""
    produced = {r.tool_call["id"]: r.reasoning for r in [*earlier, *got] if r.tool_call}
    by_order = [r.reasoning for r in [*earlier, *got] if r.tool_call]
    for request in got:
        body = request.body
        assert "thinking" not in body or body["thinking"] != {"type": "disabled"}, "thinking was switched off"
        sent = [m.get("reasoning_content") for m in assistant_tool_messages(body)]
        assert all(sent), f"a tool call lost its reasoning: {sent}"
        for message in assistant_tool_messages(body):
            assert not {"cot_id", "cot_summary", "reasoning"} & set(message), (
                "VS Code's echo fields reached the provider"
            )
        ids = [m["tool_calls"][0]["id"] for m in assistant_tool_messages(body)]
        expected = [produced.get(i) for i in ids] if all(i in produced for i in ids) else by_order[: len(sent)]
        assert sent == expected, "a tool call came back with another answer's reasoning"


def test_ask_mode_plain_chat(configured: Workbench, upstreams: Upstreams, record: dict[str, int]) -> None:
    # Ask mode offers read-only tools; the fake answers in text straight away
    with upstreams.behaving("kimi", Behaviour(answer_only=True)):
        run_chat(configured, "Kimi K2.6", "Kimi", "Ask", "Say hello in one short sentence.")
        got = wait_answers(configured, upstreams, "kimi", record["kimi"], 1)
    body = got[0].body
    assert body["model"] == "kimi-k2.6" and body["temperature"] == 1 and body["top_p"] == 0.95
    assert [m["role"] for m in body["messages"]][-1] == "user"
    assert got[0].headers.get("Authorization") == f"Bearer {KEY}", "the key set in VS Code reaches the provider"


@pytest.mark.parametrize(
    ("provider", "model", "group"),
    [
        ("kimi", "Kimi K2.6", "Kimi"),
        ("kimi", "Kimi K2.7 Code", "Kimi"),
        ("kimi", "Kimi K3", "Kimi"),
        ("mimo", "MiMo V2.6 Pro", "MiMo"),
        ("deepseek", "DeepSeek V4 Pro", "DeepSeek"),
    ],
)
def test_agent_tool_loop_keeps_thinking_on(
    configured: Workbench, upstreams: Upstreams, record: dict[str, int], provider: str, model: str, group: str
) -> None:
    loop = Behaviour(tool_rounds=2, tool_name=TOOL, tool_arguments={"path": str(configured.server.workspace)})
    with upstreams.behaving(provider, loop):
        run_chat(configured, model, group, "Agent", LOOP)
        got = wait_answers(configured, upstreams, provider, record[provider], 3)
    assert [len(assistant_tool_messages(r.body)) for r in got] == [0, 1, 2]
    assert_reasoning_came_back(got)
    first_call = assistant_tool_messages(got[2].body)[0]["tool_calls"][0]
    assert json.loads(first_call["function"]["arguments"]) == {"path": str(configured.server.workspace)}


def test_a_later_turn_gets_the_earlier_turns_reasoning(
    configured: Workbench, upstreams: Upstreams, record: dict[str, int]
) -> None:
    """K3 always thinks: the second message of a chat must carry the first turn's reasoning too."""
    loop = Behaviour(tool_rounds=1, tool_name=TOOL, tool_arguments={"path": str(configured.server.workspace)})
    with upstreams.behaving("kimi", loop):
        run_chat(configured, "Kimi K3", "Kimi", "Agent", LOOP)
        first = wait_answers(configured, upstreams, "kimi", record["kimi"], 2)
        mark = len(upstreams["kimi"].received)
        run_chat(configured, "Kimi K3", "Kimi", "Agent", "And once more, please.", new_chat=False)
        second = wait_answers(configured, upstreams, "kimi", mark, 2)
    history = assistant_tool_messages(second[0].body)
    assert len(history) == 1, "the first turn's tool call is in the second turn's history"
    assert history[0]["reasoning_content"] == first[0].reasoning
    assert_reasoning_came_back(second, earlier=first)


def test_a_second_chat_with_the_same_text_keeps_its_own_reasoning(
    configured: Workbench, upstreams: Upstreams, record: dict[str, int]
) -> None:
    loop = Behaviour(tool_rounds=1, tool_name=TOOL, tool_arguments={"path": str(configured.server.workspace)})
    with upstreams.behaving("kimi", loop):
        run_chat(configured, "Kimi K2.6", "Kimi", "Agent", LOOP)
        one = wait_answers(configured, upstreams, "kimi", record["kimi"], 2)
        mark = len(upstreams["kimi"].received)
        run_chat(configured, "Kimi K2.6", "Kimi", "Agent", LOOP)
        two = wait_answers(configured, upstreams, "kimi", mark, 2)
    assert one[0].reasoning != two[0].reasoning
    assert assistant_tool_messages(two[1].body)[0]["reasoning_content"] == two[0].reasoning
    assert_reasoning_came_back(two)


def test_a_direct_mode_model_runs_the_agent_loop(
    configured: Workbench, upstreams: Upstreams, record: dict[str, int]
) -> None:
    """GLM needs no proxy: VS Code talks to the provider and the loop goes through."""
    loop = Behaviour(tool_rounds=2, tool_name=TOOL, tool_arguments={"path": str(configured.server.workspace)})
    with upstreams.behaving("glm", loop):
        run_chat(configured, "GLM 5.3", "GLM", "Agent", LOOP)
        got = wait_answers(configured, upstreams, "glm", record["glm"], 3)
    assert [len(assistant_tool_messages(r.body)) for r in got] == [0, 1, 2]
    assert got[0].body["temperature"] == 1 and got[0].body["top_p"] == 0.95, "modelOptions reach the provider"


def test_vscode_returns_reasoning_that_carries_an_id(
    configured: Workbench, upstreams: Upstreams, record: dict[str, int]
) -> None:
    """The fact reasoning replay stands on: reasoning with an id comes back, whole, in the same turn."""
    loop = Behaviour(
        tool_rounds=2, tool_name=TOOL, tool_arguments={"path": str(configured.server.workspace)}, reasoning_id=True
    )
    with upstreams.behaving("glm", loop):
        run_chat(configured, "GLM 5.3", "GLM", "Agent", LOOP)
        got = wait_answers(configured, upstreams, "glm", record["glm"], 3)
    returned = assistant_tool_messages(got[2].body)
    assert [m.get("cot_summary") for m in returned] == [got[0].reasoning, got[1].reasoning]
    assert all(m.get("cot_id", "").startswith("fake-") for m in returned)
    assert all("reasoning_content" not in m for m in returned), (
        "VS Code sends reasoning_content for thinking models only"
    )


def test_kimi_without_the_proxy_answers_in_ask_mode_only(
    configured: Workbench, upstreams: Upstreams, record: dict[str, int]
) -> None:
    """Why Kimi's proxy is required: its tool follow-ups are refused once VS Code drops the reasoning."""
    with upstreams.behaving("kimi", Behaviour(answer_only=True)):
        run_chat(configured, "Kimi K2.6", DIRECT_KIMI, "Ask", "Say hello in one short sentence.")
        wait_answers(configured, upstreams, "kimi", record["kimi"], 1)
        # K3 has the Thinking Effort menu: VS Code sends reasoning_effort and max_completion_tokens itself
        mark = len(upstreams["kimi"].received)
        run_chat(configured, "Kimi K3", DIRECT_KIMI, "Ask", "Say hello in one short sentence.")
        k3 = wait_answers(configured, upstreams, "kimi", mark, 1)[0].body
    assert k3["reasoning_effort"] == "high" and "temperature" not in k3 and k3["top_p"] == 0.95
    assert k3["max_completion_tokens"] > 0
    mark = len(upstreams["kimi"].received)
    loop = Behaviour(tool_rounds=2, tool_name=TOOL, tool_arguments={"path": str(configured.server.workspace)})
    with upstreams.behaving("kimi", loop):
        run_chat(configured, "Kimi K2.6", DIRECT_KIMI, "Agent", LOOP)
        fake = upstreams["kimi"]
        configured.page.wait_for_timeout(500)
        for _ in range(240):
            if len(fake.received) - mark >= 2 and fake.received[-1].completed:
                break
            configured.page.wait_for_timeout(250)
    got = upstreams.since("kimi", mark)
    assert got[0].status == 200
    assert got[1].status == 400 and "reasoning_content is missing" in (got[1].error or "")
