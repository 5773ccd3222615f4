"""Rules and rule sets as the catalog writes them: ``when`` conditions, actions, and why."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccendpoint.rules import actions as action_kinds
from ccendpoint.rules import conditions
from ccendpoint.rules.request import RequestFacts


@dataclass(frozen=True)
class Rule:
    """Every condition of ``when`` must hold; then each action applies, in :data:`action_kinds.ACTIONS` order."""

    when: Mapping[str, Any] = field(default_factory=dict)
    #: action name → value, e.g. ``{"set": {"temperature": 1}}``.
    actions: Mapping[str, Any] = field(default_factory=dict)
    why: str = ""

    @classmethod
    def from_data(cls, data: Mapping[str, Any]) -> Rule:
        """A rule from its catalog form (already checked against the schema)."""
        return cls(
            when=dict(data.get("when") or {}),
            actions={name: data[name] for name in action_kinds.ACTIONS if data.get(name)},
            why=str(data.get("why", "")).strip(),
        )

    def applies(self, facts: RequestFacts) -> bool:
        return conditions.holds(self.when, facts)

    def apply(self, body: dict[str, Any], touched: action_kinds.Touched) -> None:
        for kind, value in self._kinds():
            kind.apply(body, value, touched)

    def _kinds(self) -> list[tuple[action_kinds.ActionKind, Any]]:
        return [(kind, self.actions[name]) for name, kind in action_kinds.ACTIONS.items() if name in self.actions]

    def sentence(self) -> str:
        when = conditions.sentence(self.when)
        did = "; ".join(kind.sentence(value) for kind, value in self._kinds())
        text = f"{when[0].upper()}{when[1:]}: {did}."
        return f"{text} {self.why}" if self.why else text

    def short(self) -> str:
        did = " ".join(kind.short(value) for kind, value in self._kinds())
        cond = conditions.short(self.when)
        return f"[{cond}] {did}" if cond else did


@dataclass(frozen=True)
class RuleSet:
    name: str
    summary: str
    rules: tuple[Rule, ...]
    #: Give thinking models their earlier reasoning back before the rules run (see :mod:`.replay`).
    replay_reasoning: bool = False

    @classmethod
    def from_data(cls, name: str, data: Mapping[str, Any]) -> RuleSet:
        return cls(
            name=name,
            summary=str(data.get("summary", "")).strip(),
            rules=tuple(Rule.from_data(rule) for rule in data.get("rules", [])),
            replay_reasoning=bool(data.get("replay_reasoning", False)),
        )


NO_RULES = RuleSet(name="none", summary="No rewriting.", rules=())


def schema_defs() -> dict[str, Any]:
    """The catalog schema's ``condition``, ``rule`` and ``rule_set`` definitions."""
    return {
        "condition": conditions.schema(),
        "rule": action_kinds.schema("#/$defs/condition"),
        "rule_set": {
            "type": "object",
            "additionalProperties": False,
            "required": ["rules"],
            "properties": {
                "summary": {"type": "string"},
                "replay_reasoning": {"type": "boolean"},
                "rules": {"type": "array", "items": {"$ref": "#/$defs/rule"}},
            },
        },
    }


def vocabulary_table() -> str:
    """The docs' table of conditions and actions (Markdown)."""
    lines = ["| In a rule | Means |", "|---|---|"]
    lines += [f"| `when: {{{kind.example}}}` | {kind.meaning} |" for kind in conditions.CONDITIONS.values()]
    lines += [f"| `{kind.example}` | {kind.meaning} |" for kind in action_kinds.ACTIONS.values()]
    return "\n".join(lines)
