"""The request rewrite: a model's catalog rules applied to a parsed chat-completions body.

Pure functions only (no I/O), so every rule set can be shown and tested with plain fixtures.

For a body and the provider's catalog entry:

1. the model is found by ``body["model"]``; an unknown model gets the provider's default rule
   set and no ``request_body``;
2. the model's ``request_body`` is applied as ``set`` (fields the upstream needs that VS Code
   cannot send);
3. each rule of the model's rule set applies, in order, when all of its conditions hold:
   ``set`` overwrites keys, ``default`` adds keys that are absent, ``drop`` removes keys.

The result is a new body (the input is never changed) and the list of top-level keys whose
value differs from the request as it arrived, each with its value before and after.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ccendpoint.catalog.describe import model_rules_short, value_text
from ccendpoint.catalog.model import Condition, Provider, Rule, RuleSet
from ccendpoint.proxy.reasoning import Replay, has_reasoning, restore_reasoning


class _Missing:
    """Marks a key that is absent from the body (distinct from a JSON ``null``)."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"


MISSING: Final = _Missing()


@dataclass(frozen=True)
class Change:
    """One top-level key the rewrite changed: its value before and after (``MISSING`` = absent)."""

    key: str
    before: Any
    after: Any

    def text(self) -> str:
        """``temperature 0.1 → 1``, ``thinking → {"type":"disabled"}``, ``enable_thinking true → removed``."""
        if self.before is MISSING:
            return f"{self.key} → {value_text(self.after)}"
        if self.after is MISSING:
            return f"{self.key} {value_text(self.before)} → removed"
        return f"{self.key} {value_text(self.before)} → {value_text(self.after)}"


@dataclass(frozen=True)
class RequestFacts:
    """What the conditions look at, computed once per request."""

    model: str
    tool_turn: bool
    missing_reasoning: bool
    stream: bool


@dataclass(frozen=True)
class Rewrite:
    body: dict[str, Any]
    changes: tuple[Change, ...]
    facts: RequestFacts
    #: False when the model id is not in the catalog (the provider's default rules were used).
    known_model: bool
    rule_set: str
    #: What reasoning replay did, when the model's rule set replays reasoning.
    replay: Replay | None = None

    @property
    def modified(self) -> bool:
        """Whether the body to send differs from the request as it arrived."""
        return bool(self.changes) or (self.replay is not None and self.replay.changed)

    def changes_text(self) -> list[str]:
        return [change.text() for change in self.changes]


# -- conditions --------------------------------------------------------------------------------


def _messages(body: Mapping[str, Any]) -> Sequence[Any]:
    messages = body.get("messages")
    return messages if isinstance(messages, list) else ()


def is_tool_turn(body: Mapping[str, Any]) -> bool:
    """Tools are involved: tools offered, a tool result in the history, or a tool_choice other than none.

    VS Code offers ``tools`` on the first agent turn and sends no ``tool_choice``; follow-ups carry
    ``role: tool`` messages (and usually the tools again).
    """
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        return True
    tool_choice = body.get("tool_choice")
    if tool_choice is not None and tool_choice != "none":
        return True
    return any(isinstance(m, dict) and m.get("role") == "tool" for m in _messages(body))


def is_missing_reasoning(body: Mapping[str, Any]) -> bool:
    """An earlier assistant tool call lacks its ``reasoning_content`` (absent, not text, or blank)."""
    for message in _messages(body):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        tool_calls = message.get("tool_calls")
        if isinstance(tool_calls, list) and tool_calls and not has_reasoning(message):
            return True
    return False


def request_facts(body: Mapping[str, Any]) -> RequestFacts:
    model = body.get("model")
    return RequestFacts(
        model=model if isinstance(model, str) else "",
        tool_turn=is_tool_turn(body),
        missing_reasoning=is_missing_reasoning(body),
        stream=body.get("stream") is True,
    )


def condition_holds(when: Condition, facts: RequestFacts) -> bool:
    if when.model is not None and not fnmatch.fnmatchcase(facts.model, when.model):
        return False
    if when.tool_turn is not None and when.tool_turn != facts.tool_turn:
        return False
    if when.missing_reasoning is not None and when.missing_reasoning != facts.missing_reasoning:
        return False
    return when.stream is None or when.stream == facts.stream


# -- actions -----------------------------------------------------------------------------------


def _fresh(value: Any) -> Any:
    """A private copy of a catalog value, so a caller changing the body cannot change the catalog."""
    if isinstance(value, dict):
        return {k: _fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_fresh(v) for v in value]
    return value


def _set(body: dict[str, Any], values: Mapping[str, Any], touched: dict[str, Any]) -> None:
    for key, value in values.items():
        touched.setdefault(key, body.get(key, MISSING))
        body[key] = _fresh(value)


def _apply_rule(rule: Rule, body: dict[str, Any], touched: dict[str, Any]) -> None:
    _set(body, rule.set, touched)
    for key, value in rule.default.items():
        if key not in body:
            touched.setdefault(key, MISSING)
            body[key] = _fresh(value)
    for key in rule.drop:
        if key in body:
            touched.setdefault(key, body[key])
            del body[key]


def apply_rules(
    body: Mapping[str, Any],
    rules: RuleSet,
    request_body: Mapping[str, Any] | None = None,
    facts: RequestFacts | None = None,
) -> tuple[dict[str, Any], tuple[Change, ...]]:
    """``request_body`` as ``set``, then every rule whose condition holds; returns (new body, changes).

    Conditions are evaluated on the request as it arrived, so one rule cannot switch another on.
    """
    facts = facts or request_facts(body)
    out = dict(body)
    touched: dict[str, Any] = {}  # key -> value before the first change, in order of first touch
    if request_body:
        _set(out, request_body, touched)
    for rule in rules.rules:
        if condition_holds(rule.when, facts):
            _apply_rule(rule, out, touched)
    changes = []
    for key, before in touched.items():
        after = out.get(key, MISSING)
        if not _same(before, after):
            changes.append(Change(key, before, after))
    return out, tuple(changes)


def _same(a: Any, b: Any) -> bool:
    # 1 == 1.0 == True in Python; on the wire these differ, so compare types as well
    return type(a) is type(b) and a == b


# -- per provider ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ModelRules:
    rules: RuleSet
    request_body: Mapping[str, Any]


class RuleBook:
    """A provider's rules, looked up by model id. Built once per listener."""

    def __init__(self, provider: Provider) -> None:
        self.provider_id = provider.id
        self.default = _ModelRules(provider.default_rules, {})
        self._by_model: dict[str, _ModelRules] = {
            model.id: _ModelRules(model.rules, dict(model.request_body)) for model in provider.models
        }
        self._short: dict[str, str] = {model.id: model_rules_short(model) for model in provider.models}

    def knows(self, model_id: str) -> bool:
        return model_id in self._by_model

    def replays(self) -> bool:
        """Whether any of the provider's rule sets puts reasoning back (so a cache is worth keeping)."""
        return self.default.rules.replay_reasoning or any(e.rules.replay_reasoning for e in self._by_model.values())

    def rewrite(self, body: Mapping[str, Any], lookup: Callable[[str], str | None] | None = None) -> Rewrite:
        """Apply the rules for ``body["model"]``; the caller has checked that it is a string.

        When the model's rule set replays reasoning, reasoning is put back first (from VS Code's
        echo fields, and for earlier turns from ``lookup``: cache key → reasoning text), so the
        conditions see the repaired history.
        """
        model = body.get("model")
        entry = self._by_model.get(model) if isinstance(model, str) else None
        chosen = entry or self.default
        replay = None
        if chosen.rules.replay_reasoning:
            replay = restore_reasoning(body, self.provider_id, lookup)
            body = replay.body
        facts = request_facts(body)
        new_body, changes = apply_rules(body, chosen.rules, chosen.request_body, facts)
        return Rewrite(new_body, changes, facts, entry is not None, chosen.rules.name, replay)

    def short(self) -> dict[str, str]:
        """Model id → the rules in short words, for health checks and start-up lines."""
        return dict(self._short)


# -- describing a request without its content --------------------------------------------------


_ROLE_WORD = re.compile(r"^[a-z_]{1,20}$")


def role_counts(body: Mapping[str, Any]) -> dict[str, int]:
    """How many messages each role has (never their content); odd role values count as ``?``."""
    counts: dict[str, int] = {}
    for message in _messages(body):
        role = message.get("role") if isinstance(message, dict) else None
        word = role if isinstance(role, str) and _ROLE_WORD.match(role) else "?"
        counts[word] = counts.get(word, 0) + 1
    return counts
