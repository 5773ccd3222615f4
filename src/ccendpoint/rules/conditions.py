"""Every condition a rule's ``when`` may use, each defined once.

A condition has a name (its key in ``when``), the JSON schema of its value, a test over the
request's facts, the words ``show`` prints, the short form of the proxy's start line and health
check, and a row for the catalog docs. The catalog schema's ``condition`` part and the table in
``docs/catalog.md`` are generated from :data:`CONDITIONS` (``python -m ccendpoint.docsgen``; a test
fails when they drift). Adding a condition is adding an entry here.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ccendpoint.rules.request import RequestFacts
from ccendpoint.rules.words import listing


@dataclass(frozen=True)
class ConditionKind:
    name: str
    schema: Mapping[str, Any]
    holds: Callable[[Any, RequestFacts], bool]
    sentence: Callable[[Any], str]
    short: Callable[[Any], str]
    #: The docs' vocabulary table: an example of the condition as YAML, and when it is true.
    example: str
    meaning: str


def _flag(
    name: str, fact: Callable[[RequestFacts], bool], words: tuple[str, str], short: tuple[str, str], meaning: str
) -> ConditionKind:
    """A condition that is ``true`` or ``false``; ``false`` negates it."""
    return ConditionKind(
        name=name,
        schema={"type": "boolean"},
        holds=lambda value, facts: fact(facts) == value,
        sentence=lambda value: words[0] if value else words[1],
        short=lambda value: short[0] if value else short[1],
        example=f"{name}: true",
        meaning=meaning,
    )


MODEL = ConditionKind(
    name="model",
    schema={"type": "string", "minLength": 1},
    holds=lambda pattern, facts: fnmatch.fnmatchcase(facts.model, pattern),
    sentence=lambda pattern: f"for models matching {pattern}",
    short=lambda pattern: f"model~{pattern}",
    example='model: "kimi-k2.7*"',
    meaning="the request's model id matches the glob pattern (case counts, as in the providers' ids)",
)

TOOL_TURN = _flag(
    "tool_turn",
    lambda facts: facts.tool_turn,
    ("on tool turns (tools offered, tool results in history, or a tool_choice)", "on turns without tools"),
    ("tools", "chat"),
    "the request offers `tools`, has a `tool` message in its history, or has a `tool_choice` other than "
    "`none` (VS Code offers tools on every request, Ask mode included)",
)

MISSING_REASONING = _flag(
    "missing_reasoning",
    lambda facts: facts.missing_reasoning,
    (
        "when an earlier assistant tool call lacks its reasoning_content",
        "when every earlier assistant tool call kept its reasoning_content",
    ),
    ("reasoning-missing", "reasoning-kept"),
    "an assistant message with `tool_calls` in the history has no (or an empty) `reasoning_content`, "
    "after reasoning replay",
)

STREAM = _flag(
    "stream",
    lambda facts: facts.stream,
    ("on streamed requests", "on non-streamed requests"),
    ("stream", "no-stream"),
    "the request asks for a stream",
)

HAS = ConditionKind(
    name="has",
    schema={"type": "array", "minItems": 1, "uniqueItems": True, "items": {"type": "string", "minLength": 1}},
    holds=lambda keys, facts: all(key in facts.fields for key in keys),
    sentence=lambda keys: f"when the request has {listing(keys)}",
    short=lambda keys: "has:" + ",".join(keys),
    example="has: [max_completion_tokens]",
    meaning="the request, as it arrived, has every one of these top-level fields (for example what "
    "VS Code sends for a model marked `thinking`)",
)

#: Every condition, by the key a rule's ``when`` uses for it, in the order ``show`` words them.
CONDITIONS: dict[str, ConditionKind] = {kind.name: kind for kind in (MODEL, TOOL_TURN, MISSING_REASONING, STREAM, HAS)}


def holds(when: Mapping[str, Any], facts: RequestFacts) -> bool:
    """Every given condition holds (an empty ``when`` always does)."""
    return all(CONDITIONS[name].holds(value, facts) for name, value in when.items())


def sentence(when: Mapping[str, Any]) -> str:
    parts = [CONDITIONS[name].sentence(when[name]) for name in CONDITIONS if name in when]
    return ", ".join(parts) if parts else "always"


def short(when: Mapping[str, Any]) -> str:
    return "+".join(CONDITIONS[name].short(when[name]) for name in CONDITIONS if name in when)


def schema() -> dict[str, Any]:
    """The JSON schema of a rule's ``when``."""
    return {
        "type": "object",
        "additionalProperties": False,
        "minProperties": 1,
        "properties": {name: dict(kind.schema) for name, kind in CONDITIONS.items()},
    }
