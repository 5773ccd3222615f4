"""The steps of a model's rewrite: reasoning replay, the body fields a model needs, each rule.

Every step is a small transformation of a :class:`Work` record (the body as it will be sent and
what changed), with the words ``show`` prints and the short form of the start line. Steps never
change the caller's body: the record holds a shallow copy, and steps replace values rather than
editing them (catalog values are copied in, see :func:`.actions.fresh`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from ccendpoint.rules.actions import MISSING, Touched, set_fields
from ccendpoint.rules.replay import Replay, restore_reasoning
from ccendpoint.rules.request import RequestFacts, request_facts
from ccendpoint.rules.ruleset import Rule
from ccendpoint.rules.words import assignments, value_text

#: Cache key → reasoning text of an earlier turn (see :mod:`.replay`); None when there is no cache.
Lookup = Callable[[str], str | None]


@dataclass
class Work:
    """A request being rewritten."""

    body: dict[str, Any]
    lookup: Lookup | None = None
    #: key → value before its first change (``MISSING`` = absent), in order of first change.
    touched: Touched = field(default_factory=dict)
    replay: Replay | None = None
    _facts: RequestFacts | None = None

    @property
    def facts(self) -> RequestFacts:
        """What the conditions look at: the request as it arrived, once its history is repaired."""
        if self._facts is None:
            self._facts = request_facts(self.body)
        return self._facts


class Step(Protocol):
    @property
    def repairs_history(self) -> bool:
        """A step that repairs the history runs before the facts are taken (the conditions see its result)."""

    def apply(self, work: Work) -> None: ...

    def sentence(self) -> str: ...

    def short(self) -> str: ...


@dataclass(frozen=True)
class ReplayReasoning:
    """Give back the reasoning of earlier tool calls (VS Code's echo within a turn, the cache for earlier turns)."""

    scope: str  # the provider: entries of one provider never serve another
    repairs_history: bool = True

    def apply(self, work: Work) -> None:
        work.replay = restore_reasoning(work.body, self.scope, work.lookup)
        work.body = work.replay.body

    def sentence(self) -> str:
        return (
            "Gives back the reasoning_content of earlier tool calls, which VS Code does not send back by "
            "itself: within a turn from VS Code's own echo (the proxy tags each answer's reasoning so that "
            "VS Code returns it), for earlier turns from the cache of finished turns. Thinking stays on in "
            "tool loops."
        )

    def short(self) -> str:
        return "replay reasoning"


@dataclass(frozen=True)
class AddBodyFields:
    """Set the fields the model needs that VS Code cannot send (the catalog's ``request_body``)."""

    fields: Mapping[str, Any]
    repairs_history: bool = False

    def apply(self, work: Work) -> None:
        set_fields(work.body, self.fields, work.touched)

    def sentence(self) -> str:
        return f"Sets {assignments(self.fields)} (fields the model needs that VS Code cannot send)."

    def short(self) -> str:
        return " ".join(f"{k}={value_text(v)}" for k, v in self.fields.items())


@dataclass(frozen=True)
class ApplyRule:
    """One catalog rule: its actions when all of its conditions hold."""

    rule: Rule
    repairs_history: bool = False

    def apply(self, work: Work) -> None:
        if self.rule.applies(work.facts):
            self.rule.apply(work.body, work.touched)

    def sentence(self) -> str:
        return self.rule.sentence()

    def short(self) -> str:
        return self.rule.short()


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


def _same(a: Any, b: Any) -> bool:
    # 1 == 1.0 == True in Python; on the wire these differ, so compare types as well
    return type(a) is type(b) and a == b


def changes_of(work: Work) -> tuple[Change, ...]:
    """The keys whose value differs from the request as it arrived (a key set then removed is none)."""
    changes = []
    for key, before in work.touched.items():
        after = work.body.get(key, MISSING)
        if not _same(before, after):
            changes.append(Change(key, before, after))
    return tuple(changes)
