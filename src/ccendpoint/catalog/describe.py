"""Proxy rules in words: long sentences for ``show`` and docs, short forms for logs and health."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ccendpoint.catalog.model import Condition, Model, Rule, RuleSet


def value_text(value: Any) -> str:
    """A JSON value as a user would type it: ``1``, ``true``, ``{"type":"disabled"}``."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def condition_text(when: Condition) -> str:
    parts: list[str] = []
    if when.model is not None:
        parts.append(f"for models matching {when.model}")
    if when.tool_turn is True:
        parts.append("on tool turns (tools offered, tool results in history, or a tool_choice)")
    elif when.tool_turn is False:
        parts.append("on plain chat turns (no tools involved)")
    if when.missing_reasoning is True:
        parts.append("when an earlier assistant tool call lacks its reasoning_content")
    elif when.missing_reasoning is False:
        parts.append("when every earlier assistant tool call kept its reasoning_content")
    if when.stream is True:
        parts.append("on streamed requests")
    elif when.stream is False:
        parts.append("on non-streamed requests")
    return ", ".join(parts) if parts else "always"


def _assignments(values: Mapping[str, Any]) -> str:
    items = [f"{key} to {value_text(value)}" for key, value in values.items()]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def action_text(rule: Rule) -> str:
    actions: list[str] = []
    if rule.set:
        actions.append("sets " + _assignments(rule.set))
    if rule.default:
        actions.append("adds " + _assignments(rule.default) + " when the request has none")
    if rule.drop:
        actions.append("removes " + ", ".join(rule.drop))
    return "; ".join(actions)


def rule_sentence(rule: Rule) -> str:
    when = condition_text(rule.when)
    text = f"{when[0].upper()}{when[1:]}: {action_text(rule)}."
    return f"{text} {rule.why}" if rule.why else text


def rule_set_sentences(rules: RuleSet, request_body: Mapping[str, Any] | None = None) -> list[str]:
    """Every step the proxy takes for a model, in order, in plain words."""
    lines: list[str] = []
    if rules.replay_reasoning:
        lines.append(
            "First: puts back the reasoning_content of earlier tool calls that VS Code dropped "
            "(remembered from the model's own answers), so thinking can stay on in tool loops."
        )
    if request_body:
        word = "Then" if lines else "First"
        lines.append(f"{word}: sets {_assignments(request_body)} (fields the model needs that VS Code cannot send).")
    lines += [rule_sentence(rule) for rule in rules.rules]
    return lines or ["Forwards the request unchanged."]


def _short_condition(when: Condition) -> str:
    parts: list[str] = []
    if when.model is not None:
        parts.append(f"model~{when.model}")
    if when.tool_turn is not None:
        parts.append("tools" if when.tool_turn else "chat")
    if when.missing_reasoning is not None:
        parts.append("reasoning-missing" if when.missing_reasoning else "reasoning-kept")
    if when.stream is not None:
        parts.append("stream" if when.stream else "no-stream")
    return "+".join(parts)


def rule_short(rule: Rule) -> str:
    bits = [f"{k}={value_text(v)}" for k, v in rule.set.items()]
    bits += [f"{k}?={value_text(v)}" for k, v in rule.default.items()]
    bits += [f"-{k}" for k in rule.drop]
    cond = _short_condition(rule.when)
    return f"[{cond}] " + " ".join(bits) if cond else " ".join(bits)


def model_rules_short(model: Model) -> str:
    """One line, e.g. ``temperature=1 top_p=0.95; [tools] thinking={"type":"disabled"}``."""
    parts = ["replay reasoning"] if model.rules.replay_reasoning else []
    if model.request_body:
        parts.append(" ".join(f"{k}={value_text(v)}" for k, v in model.request_body.items()))
    parts += [rule_short(rule) for rule in model.rules.rules]
    return "; ".join(parts) if parts else "pass-through"
