"""The rewrite engine: facts, the vocabulary, each step alone, pipelines, and every bundled rule set."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ccendpoint.catalog import loader
from ccendpoint.catalog.loader import load_catalog
from ccendpoint.errors import CatalogError
from ccendpoint.proxy.record import role_counts
from ccendpoint.rules import replay, request
from ccendpoint.rules.actions import MISSING
from ccendpoint.rules.conditions import holds
from ccendpoint.rules.pipeline import Pipeline, RuleBook
from ccendpoint.rules.request import RequestFacts, is_missing_reasoning, is_tool_turn, request_facts
from ccendpoint.rules.ruleset import Rule, RuleSet
from ccendpoint.rules.steps import AddBodyFields, ApplyRule, Change, ReplayReasoning, Work
from proxy_helpers import README_CALL, bundled_catalog, provider, vscode_request

# -- tool turn ---------------------------------------------------------------------------------


def test_tool_turn_first_agent_turn_with_tools_only() -> None:
    body = vscode_request("m", "first")
    assert "tool_choice" not in body and not any(m["role"] == "tool" for m in body["messages"])
    assert is_tool_turn(body)


def test_tool_turn_follow_up_with_tool_messages() -> None:
    assert is_tool_turn(vscode_request("m", "follow_up"))


def test_tool_turn_follow_up_without_tools_array() -> None:
    body = vscode_request("m", "follow_up")
    del body["tools"]
    assert is_tool_turn(body)


def test_vscode_always_offers_tools_so_every_request_is_a_tool_turn() -> None:
    assert is_tool_turn(vscode_request("m", "chat"))  # Ask mode offers the read-only tools
    without = vscode_request("m", "chat")
    del without["tools"]
    assert not is_tool_turn(without)  # a client without tools and no history of them


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        ({"tools": []}, False),
        ({"tools": None}, False),
        ({"tools": "read_file"}, False),
        ({"tool_choice": "none"}, False),
        ({"tool_choice": None}, False),
        ({"tool_choice": "auto"}, True),
        ({"tool_choice": "required"}, True),
        ({"tool_choice": {"type": "function", "function": {"name": "read_file"}}}, True),
        ({"tools": [], "tool_choice": "none"}, False),
    ],
)
def test_tool_turn_edge_values(extra: dict[str, Any], expected: bool) -> None:
    body = vscode_request("m", "chat")
    del body["tools"]
    assert is_tool_turn({**body, **extra}) is expected


def test_tool_turn_tolerates_odd_messages() -> None:
    assert not is_tool_turn({"model": "m", "messages": "hello"})
    assert not is_tool_turn({"model": "m", "messages": [None, 3, "x", {"role": None}]})
    assert is_tool_turn({"model": "m", "messages": [None, {"role": "tool"}]})


# -- missing reasoning ---------------------------------------------------------------------------


def test_history_without_reasoning_content_is_missing() -> None:
    assert is_missing_reasoning(vscode_request("m", "follow_up"))


def test_history_with_reasoning_content_is_not_missing() -> None:
    assert not is_missing_reasoning(vscode_request("m", "follow_up", reasoning="I should read the file."))


@pytest.mark.parametrize("reasoning", ["", "   ", "\n\t", None, 42, ["text"], {"text": "x"}])
def test_blank_or_non_text_reasoning_counts_as_missing(reasoning: Any) -> None:
    body = vscode_request("m", "follow_up")
    body["messages"][2]["reasoning_content"] = reasoning
    assert is_missing_reasoning(body)


def test_first_turn_and_plain_chat_have_nothing_missing() -> None:
    assert not is_missing_reasoning(vscode_request("m", "first"))
    assert not is_missing_reasoning(vscode_request("m", "chat"))


def test_assistant_without_tool_calls_needs_no_reasoning() -> None:
    body = vscode_request("m", "chat")
    body["messages"] += [{"role": "assistant", "content": "Hi"}, {"role": "user", "content": "More"}]
    assert not is_missing_reasoning(body)
    body["messages"][2]["tool_calls"] = []
    assert not is_missing_reasoning(body)
    body["messages"][2]["tool_calls"] = None
    assert not is_missing_reasoning(body)


def test_one_lost_reasoning_among_several_tool_calls_is_missing() -> None:
    body = vscode_request("m", "follow_up", reasoning="first thought")
    second = {**README_CALL, "id": "call_2"}
    body["messages"] += [
        {"role": "assistant", "content": "", "tool_calls": [second]},
        {"role": "tool", "tool_call_id": "call_2", "content": "text"},
    ]
    assert is_missing_reasoning(body)
    body["messages"][-2]["reasoning_content"] = "second thought"
    assert not is_missing_reasoning(body)


def test_only_assistant_messages_are_checked() -> None:
    body = vscode_request("m", "chat")
    body["messages"].append({"role": "user", "tool_calls": [{"id": "x"}]})
    assert not is_missing_reasoning(body)


# -- conditions ----------------------------------------------------------------------------------


def _facts(**kw: Any) -> RequestFacts:
    base = {"model": "kimi-k2.6", "tool_turn": False, "missing_reasoning": False, "stream": True}
    return RequestFacts(**{**base, **kw})


def rule(when: dict[str, Any] | None = None, why: str = "", **actions: Any) -> Rule:
    return Rule(when or {}, actions, why)


def apply_rules(
    body: dict[str, Any], rules: RuleSet, request_body: dict[str, Any] | None = None
) -> tuple[dict[str, Any], tuple[Change, ...]]:
    result = Pipeline.build("test", rules, request_body).run(body)
    return result.body, result.changes


@pytest.mark.parametrize(
    ("when", "facts", "expected"),
    [
        ({}, _facts(), True),
        ({"model": "kimi-k2.*"}, _facts(), True),
        ({"model": "kimi-k2.*"}, _facts(model="kimi-k3"), False),
        ({"model": "KIMI-*"}, _facts(), False),  # case-sensitive, like the upstream ids
        ({"model": "nvidia/*"}, _facts(model="nvidia/nemotron-3-nano-30b-a3b"), True),
        ({"tool_turn": True}, _facts(tool_turn=True), True),
        ({"tool_turn": True}, _facts(), False),
        ({"tool_turn": False}, _facts(), True),
        ({"missing_reasoning": True}, _facts(missing_reasoning=True), True),
        ({"missing_reasoning": False}, _facts(missing_reasoning=True), False),
        ({"stream": True}, _facts(), True),
        ({"stream": False}, _facts(), False),
        ({"tool_turn": True, "missing_reasoning": True}, _facts(tool_turn=True), False),
        ({"tool_turn": True, "missing_reasoning": True}, _facts(tool_turn=True, missing_reasoning=True), True),
    ],
)
def test_condition_holds(when: dict[str, Any], facts: RequestFacts, expected: bool) -> None:
    assert holds(when, facts) is expected


@pytest.mark.parametrize(
    ("keys", "fields", "expected"),
    [
        (["max_completion_tokens"], {"max_completion_tokens", "model"}, True),
        (["max_completion_tokens", "reasoning_effort"], {"max_completion_tokens"}, False),
        (["temperature"], set(), False),
    ],
)
def test_the_has_condition_looks_at_the_request_as_it_arrived(
    keys: list[str], fields: set[str], expected: bool
) -> None:
    assert holds({"has": keys}, _facts(fields=frozenset(fields))) is expected
    added_by_the_rules = Pipeline.build(
        "p", _rules(rule({}, set={k: 1 for k in keys}), rule({"has": keys}, set={"x": 1}))
    )
    out = added_by_the_rules.run({"model": "m", **{k: 1 for k in fields}}).body
    assert ("x" in out) is expected, "a field a rule set is not one the request had"


def test_stream_fact_needs_true_exactly() -> None:
    assert request_facts({"model": "m", "stream": True}).stream
    assert not request_facts({"model": "m", "stream": "true"}).stream
    assert not request_facts({"model": "m"}).stream


# -- actions -------------------------------------------------------------------------------------


def _rules(*rules: Rule) -> RuleSet:
    return RuleSet("test", "", rules)


def test_set_default_drop_and_changes() -> None:
    rules = _rules(rule({}, set={"temperature": 1}, default={"max_tokens": 100, "top_p": 0.5}, drop=["n", "absent"]))
    body = {"model": "m", "temperature": 0.1, "top_p": 1, "n": 1}
    out, changes = apply_rules(body, rules)
    assert out == {"model": "m", "temperature": 1, "top_p": 1, "max_tokens": 100}
    assert [c.text() for c in changes] == ["temperature 0.1 → 1", "max_tokens → 100", "n 1 → removed"]


def test_later_rule_wins_and_one_change_per_key() -> None:
    rules = _rules(
        rule({}, set={"temperature": 1}),
        rule({"tool_turn": True}, set={"temperature": 0.6}),
    )
    out, changes = apply_rules(vscode_request("m", "first"), rules)
    assert out["temperature"] == 0.6
    assert changes == (Change("temperature", 0.1, 0.6),)


def test_request_body_comes_first_and_rules_can_override_it() -> None:
    rules = _rules(rule({"tool_turn": True}, drop=["thinking"]))
    out, changes = apply_rules(vscode_request("m", "first"), rules, {"thinking": {"type": "enabled"}, "x": 1})
    assert "thinking" not in out and out["x"] == 1
    assert [c.key for c in changes] == ["x"]  # thinking was added then removed: no net change


def test_a_value_already_right_is_not_a_change() -> None:
    rules = _rules(rule({}, set={"temperature": 1}))
    _, changes = apply_rules({"model": "m", "temperature": 1}, rules)
    assert changes == ()


def test_type_matters_when_comparing() -> None:
    rules = _rules(rule({}, set={"flag": True, "n": 1}))
    _, changes = apply_rules({"model": "m", "flag": 1, "n": 1.0}, rules)
    assert [c.key for c in changes] == ["flag", "n"]


def test_conditions_look_at_the_request_as_it_arrived() -> None:
    rules = _rules(
        rule({}, drop=["tools"]),
        rule({"tool_turn": True}, set={"seen_tools": True}),
    )
    out, _ = apply_rules(vscode_request("m", "first"), rules)
    assert "tools" not in out and out["seen_tools"] is True


def test_input_is_never_changed_and_output_does_not_share_catalog_values() -> None:
    value = {"type": "disabled", "nested": [1, 2]}
    rules = _rules(rule({}, set={"thinking": value}), rule({}, drop=["n"]))
    body = vscode_request("m", "follow_up")
    before = copy.deepcopy(body)
    out, _ = apply_rules(body, rules)
    assert body == before
    out["thinking"]["nested"].append(3)
    assert value == {"type": "disabled", "nested": [1, 2]}


def test_change_text() -> None:
    assert Change("temperature", 0.1, 1).text() == "temperature 0.1 → 1"
    assert Change("thinking", MISSING, {"type": "disabled"}).text() == 'thinking → {"type":"disabled"}'
    assert Change("enable_thinking", True, MISSING).text() == "enable_thinking true → removed"
    assert Change("x", None, 1).text() == "x null → 1"


def test_role_counts_never_show_content() -> None:
    body = vscode_request("m", "follow_up")
    body["messages"].append({"role": "secret sk-abcdefghijklmnop", "content": "x"})
    body["messages"].append("not a message")
    assert role_counts(body) == {"system": 1, "user": 2, "assistant": 1, "tool": 1, "?": 2}


# -- every bundled rule set, on VS Code-shaped requests -------------------------------------------

DISABLED = {"type": "disabled"}

# (provider, rule set) -> model to use, and per scenario the expected change texts
# scenarios: chat, first, follow_up (reasoning lost), follow_up_kept (reasoning kept), plus extra fields
FIXTURES: dict[tuple[str, str], dict[str, Any]] = {
    # VS Code already sends Kimi's and MiMo's sampling values (modelOptions): the proxy adds what it cannot
    ("kimi", "k2-hybrid"): {
        "model": "kimi-k2.6",
        "chat": [],
        "first": [],
        "follow_up": ["temperature 1 → 0.6", 'thinking → {"type":"disabled"}'],
        "follow_up_kept": [],
    },
    ("kimi", "k2-always-thinking"): {
        "model": "kimi-k2.7-code",
        "chat": ["max_tokens → 4096"],
        "first": ["max_tokens → 4096"],
        "follow_up": ["max_tokens → 4096"],
        "follow_up_kept": ["max_tokens → 4096"],
        "with": ({"thinking": DISABLED}, ["thinking", "removed"]),
    },
    ("kimi", "k3"): {
        # a thinking entry: VS Code sends no temperature, and reasoning_effort from its menu
        "model": "kimi-k3",
        "chat": ["temperature → 1"],
        "first": ["temperature → 1"],
        "follow_up": ["temperature → 1"],
        "follow_up_kept": ["temperature → 1"],
        "with": ({"thinking": {"type": "enabled"}, "reasoning_effort": "max"}, ["thinking", "removed"]),
    },
    ("mimo", "history-aware-thinking"): {
        "model": "mimo-v2.6-pro",
        "chat": [],
        "first": [],
        "follow_up": ['thinking → {"type":"disabled"}'],
        "follow_up_kept": [],
    },
    ("mimo", "flash"): {
        "model": "mimo-v2-flash",
        "chat": [],
        "first": [],
        "follow_up": ['thinking → {"type":"disabled"}'],
        "follow_up_kept": [],
    },
    ("qwen", "hybrid-thinking"): {
        "model": "qwen3.8-max",
        "chat": [],
        "first": [],
        "follow_up": ["enable_thinking → false"],
        "follow_up_kept": [],
    },
    ("deepseek", "history-aware-thinking"): {
        "model": "deepseek-v4-pro",
        "chat": [],
        "first": [],
        "follow_up": ['thinking → {"type":"disabled"}'],
        "follow_up_kept": [],
    },
    ("glm", "plain"): {
        "model": "glm-5.1",
        "chat": ['thinking → {"type":"enabled"}'],
        "first": ['thinking → {"type":"enabled"}'],
        "follow_up": ['thinking → {"type":"enabled"}'],
        "follow_up_kept": ['thinking → {"type":"enabled"}'],
        "with": ({"clear_thinking": False}, ["clear_thinking", "removed"]),
    },
    ("minimax", "plain"): {
        "model": "MiniMax-M3",
        **{
            scenario: ['thinking → {"type":"adaptive"}', "reasoning_split → true"]
            for scenario in ("chat", "first", "follow_up", "follow_up_kept")
        },
    },
    ("nemotron", "plain"): {
        "model": "nvidia/nemotron-3-super-120b-a12b",
        **{
            scenario: ['chat_template_kwargs → {"enable_thinking":true,"force_nonempty_content":true}']
            for scenario in ("chat", "first", "follow_up", "follow_up_kept")
        },
    },
}


def test_every_bundled_rule_set_has_a_fixture() -> None:
    used = {(p.id, m.rules.name) for p in bundled_catalog().providers for m in p.models}
    defined = {(p.id, name) for p in bundled_catalog().providers for name in p.rule_sets}
    assert defined <= set(FIXTURES), f"rule sets without a fixture: {sorted(defined - set(FIXTURES))}"
    assert used <= set(FIXTURES)


def _scenario(model: str, name: str) -> dict[str, Any]:
    if name == "follow_up_kept":
        return vscode_request(model, "follow_up", reasoning="I will read README.md first.")
    return vscode_request(model, name)


@pytest.mark.parametrize("key", sorted(FIXTURES), ids=lambda k: f"{k[0]}-{k[1]}")
@pytest.mark.parametrize("scenario", ["chat", "first", "follow_up", "follow_up_kept"])
def test_bundled_rule_set_on_vscode_requests(key: tuple[str, str], scenario: str) -> None:
    fixture = FIXTURES[key]
    book = RuleBook(provider(key[0]))
    body = _scenario(fixture["model"], scenario)
    original = copy.deepcopy(body)
    result = book.rewrite(body)
    assert result.known_model and result.rule_set == key[1]
    assert result.changes_text() == fixture[scenario]
    assert body == original
    # everything VS Code sent that no rule touched is forwarded as it was
    touched = {c.key for c in result.changes}
    assert {k: v for k, v in result.body.items() if k not in touched} == {
        k: v for k, v in original.items() if k not in touched
    }


@pytest.mark.parametrize("key", sorted(k for k in FIXTURES if "with" in FIXTURES[k]), ids=lambda k: f"{k[0]}-{k[1]}")
def test_bundled_rule_set_on_fields_a_client_adds(key: tuple[str, str]) -> None:
    fixture = FIXTURES[key]
    extra, (field, after) = fixture["with"]
    result = RuleBook(provider(key[0])).rewrite(vscode_request(fixture["model"], "chat", **extra))
    change = next(c for c in result.changes if c.key == field)
    assert change.text().endswith(after)
    if "reasoning_effort" in extra:
        assert result.body["reasoning_effort"] == "max"  # passed through untouched


def test_kimi_k2_thinking_switch_on_tool_turns_only() -> None:
    book = RuleBook(provider("kimi"))
    assert "thinking" not in book.rewrite(vscode_request("kimi-k2.6", "chat")).body
    tools = book.rewrite(vscode_request("kimi-k2.6", "follow_up")).body
    assert tools["thinking"] == DISABLED and tools["temperature"] == 0.6 and tools["top_p"] == 0.95


def test_unknown_model_gets_the_default_rules() -> None:
    book = RuleBook(provider("kimi"))
    result = book.rewrite(vscode_request("kimi-k9-preview", "follow_up"))
    assert not result.known_model
    assert result.rule_set == provider("kimi").default_rules.name
    assert result.body["temperature"] == 0.6
    assert "max_tokens" not in result.body  # no request_body for an unknown model


def test_short_rules_cover_every_model() -> None:
    book = RuleBook(provider("kimi"))
    assert set(book.short()) == {m.id for m in provider("kimi").models}


# -- properties ------------------------------------------------------------------------------------

_json_leaf = st.one_of(st.none(), st.booleans(), st.integers(-5, 5), st.floats(0, 2), st.text(max_size=5))
_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "user", "assistant", "tool", 3])},
    optional={
        "content": st.text(max_size=5),
        "tool_calls": st.one_of(st.none(), st.lists(st.just({"id": "c"}), max_size=2)),
        "reasoning_content": st.one_of(st.none(), st.text(max_size=3), st.integers()),
    },
)
_body = st.fixed_dictionaries(
    {"model": st.sampled_from(["kimi-k2.6", "kimi-k3", "mimo-v2.6-pro", "qwen3.8-max", "glm-5.1", "other"])},
    optional={
        "messages": st.one_of(st.lists(_message, max_size=5), _json_leaf),
        "tools": st.one_of(st.lists(st.just({"type": "function"}), max_size=2), _json_leaf),
        "tool_choice": st.one_of(st.sampled_from(["auto", "none", "required"]), _json_leaf),
        "stream": _json_leaf,
        "temperature": _json_leaf,
        "thinking": st.one_of(st.just({"type": "enabled"}), _json_leaf),
        "enable_thinking": _json_leaf,
    },
)
_BOOKS = {p.id: RuleBook(p) for p in bundled_catalog().providers}


@settings(max_examples=300, deadline=None)
@given(body=_body, provider_id=st.sampled_from(sorted(_BOOKS)))
def test_rewrite_is_pure_and_idempotent(body: dict[str, Any], provider_id: str) -> None:
    original = copy.deepcopy(body)
    book = _BOOKS[provider_id]
    once = book.rewrite(body)
    assert body == original
    twice = book.rewrite(once.body)
    assert twice.body == once.body and twice.changes == ()
    for change in once.changes:
        assert change.before != change.after or type(change.before) is not type(change.after)
        assert once.body.get(change.key, MISSING) == change.after
        assert original.get(change.key, MISSING) == change.before


# -- one definition of "has reasoning" -------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("I should read it.", True),
        (" x ", True),
        ("", False),
        ("   ", False),
        ("\n\t", False),
        (None, False),
        (3, False),
    ],
)
def test_the_rules_and_the_replay_agree_on_what_counts_as_reasoning(value: Any, expected: bool) -> None:
    message = {"role": "assistant", "tool_calls": [{"id": "c1"}], "reasoning_content": value}
    assert request.has_reasoning(message) is expected
    assert is_missing_reasoning({"messages": [message]}) is not expected
    # replay fills in what the condition calls missing, and nothing else
    restored = replay.restore_reasoning({"messages": [{**message, "cot_summary": "echoed"}]}, "p")
    assert (restored.from_echo == 1) is not expected


# -- the catalog the rules come from ---------------------------------------------------------------


def test_an_upgrade_validates_the_catalog_again(monkeypatch: pytest.MonkeyPatch) -> None:
    """A file validated by an older ccendpoint is checked again: the new version may check more."""
    load_catalog(use_overlays=False)  # validated and remembered
    monkeypatch.setattr(loader, "semantic_problems", lambda doc: [("rule_sets", "a check added in a new release")])
    load_catalog(use_overlays=False)  # same version: the stamp holds, the new check is not run
    monkeypatch.setattr(loader, "__version__", "999.0.0")
    with pytest.raises(CatalogError, match="a check added in a new release"):
        load_catalog(use_overlays=False)


# -- each step alone -------------------------------------------------------------------------------


def test_the_replay_step_repairs_the_history_and_nothing_else() -> None:
    body = vscode_request("kimi-k2.6", "follow_up", echo="Read the README first.")
    work = Work(dict(body))
    ReplayReasoning("kimi").apply(work)
    assert work.replay is not None and work.replay.from_echo == 1
    assert work.body["messages"][-2]["reasoning_content"] == "Read the README first."
    assert work.touched == {}, "replay changes messages, not top-level fields"
    assert {k: v for k, v in work.body.items() if k != "messages"} == {k: v for k, v in body.items() if k != "messages"}


def test_the_body_fields_step_sets_what_vscode_cannot_send() -> None:
    work = Work({"model": "m", "max_tokens": 10})
    AddBodyFields({"max_tokens": 4096, "reasoning_split": True}).apply(work)
    assert work.body == {"model": "m", "max_tokens": 4096, "reasoning_split": True}
    assert work.touched == {"max_tokens": 10, "reasoning_split": MISSING}


def test_a_rule_step_acts_only_when_its_conditions_hold() -> None:
    step = ApplyRule(rule({"stream": True}, set={"stream_options": {"include_usage": True}}))
    quiet = Work({"model": "m", "stream": False})
    step.apply(quiet)
    assert quiet.touched == {}
    loud = Work({"model": "m", "stream": True})
    step.apply(loud)
    assert loud.body["stream_options"] == {"include_usage": True}


def test_the_pipeline_takes_the_facts_after_the_history_is_repaired() -> None:
    """Reasoning given back means nothing is missing any more: the fallback rule stays quiet."""
    fallback = rule({"missing_reasoning": True}, set={"thinking": {"type": "disabled"}})
    pipeline = Pipeline.build("kimi", RuleSet("t", "", (fallback,), replay_reasoning=True))
    echoed = pipeline.run(vscode_request("kimi-k2.6", "follow_up", echo="thought"))
    assert "thinking" not in echoed.body and not echoed.facts.missing_reasoning
    lost = pipeline.run(vscode_request("kimi-k2.6", "follow_up"))
    assert lost.body["thinking"] == {"type": "disabled"}


def test_every_step_says_what_it_does_in_words_and_in_short() -> None:
    pipeline = Pipeline.build(
        "kimi",
        RuleSet("t", "", (rule({"tool_turn": True, "missing_reasoning": True}, set={"temperature": 0.6}),), True),
        {"max_tokens": 4096},
    )
    assert pipeline.short() == "replay reasoning; max_tokens=4096; [tools+reasoning-missing] temperature=0.6"
    words = pipeline.sentences()
    assert len(words) == 3 and words[1].startswith("Sets max_tokens to 4096")
    assert words[2].startswith("On tool turns") and "sets temperature to 0.6" in words[2]
    assert Pipeline.build("p", RuleSet("none", "", ())).sentences() == ["Forwards the request unchanged."]


# -- the vocabulary is said once: the schema and the docs follow it ---------------------------------


def test_the_schema_and_the_docs_table_are_generated_from_the_vocabulary() -> None:
    from ccendpoint.docsgen import SCHEMA, catalog_doc_text, schema_text

    assert schema_text(SCHEMA.read_text("utf-8")) == SCHEMA.read_text("utf-8"), "run python -m ccendpoint.docsgen"
    doc = (Path(__file__).resolve().parents[1] / "docs" / "catalog.md").read_text("utf-8")
    assert catalog_doc_text(doc) == doc, "run python -m ccendpoint.docsgen"


def test_an_unknown_condition_or_action_is_refused_by_the_generated_schema() -> None:
    from ccendpoint.catalog.loader import schema_problems

    base = {"rules": [{"when": {"tool_turn": True}, "set": {"x": 1}}]}
    doc = {"id": "p", "name": "P", "endpoints": {}, "default_region": "x", "proxy": {"mode": "direct"}}
    for broken in ({"when": {"weather": "sunny"}, "set": {"x": 1}}, {"when": {"has": []}, "set": {"x": 1}}):
        problems = list(schema_problems({**doc, "models": [], "rule_sets": {"s": {"rules": [broken]}}}))
        assert problems, broken
    assert not [p for p in schema_problems({**doc, "models": [], "rule_sets": {"s": base}}) if "rule_sets" in p[0]]
