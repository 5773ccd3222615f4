"""Every action a rule may take on the request body, each defined once.

An action has a name (its key in a rule), the JSON schema of its value, the change it makes to the
body, the words ``show`` prints, the short form of the start line, and a row for the catalog docs.
The catalog schema's ``rule`` part and the table in ``docs/catalog.md`` are generated from
:data:`ACTIONS`. Actions only touch top-level keys; catalog values are copied before they go into a
body, so changing a body never changes the catalog.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from ccendpoint.rules.words import assignments, listing, value_text


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

#: key → the value it had before its first change in this request (``MISSING`` = absent).
Touched = dict[str, Any]


def fresh(value: Any) -> Any:
    """A private copy of a catalog value."""
    if isinstance(value, dict):
        return {k: fresh(v) for k, v in value.items()}
    if isinstance(value, list):
        return [fresh(v) for v in value]
    return value


def set_fields(body: dict[str, Any], values: Mapping[str, Any], touched: Touched) -> None:
    for key, value in values.items():
        touched.setdefault(key, body.get(key, MISSING))
        body[key] = fresh(value)


def _default(body: dict[str, Any], values: Mapping[str, Any], touched: Touched) -> None:
    for key, value in values.items():
        if key not in body:
            touched.setdefault(key, MISSING)
            body[key] = fresh(value)


def _drop(body: dict[str, Any], keys: Sequence[str], touched: Touched) -> None:
    for key in keys:
        if key in body:
            touched.setdefault(key, body[key])
            del body[key]


@dataclass(frozen=True)
class ActionKind:
    name: str
    schema: Mapping[str, Any]
    apply: Callable[[dict[str, Any], Any, Touched], None]
    sentence: Callable[[Any], str]
    short: Callable[[Any], str]
    example: str
    meaning: str


_BODY = {"type": "object"}

SET = ActionKind(
    name="set",
    schema=_BODY,
    apply=set_fields,
    sentence=lambda values: "sets " + assignments(values),
    short=lambda values: " ".join(f"{k}={value_text(v)}" for k, v in values.items()),
    example="set: {thinking: {type: disabled}}",
    meaning="overwrites these top-level keys",
)

DEFAULT = ActionKind(
    name="default",
    schema=_BODY,
    apply=_default,
    sentence=lambda values: "adds " + assignments(values) + " when the request has none",
    short=lambda values: " ".join(f"{k}?={value_text(v)}" for k, v in values.items()),
    example="default: {reasoning_split: true}",
    meaning="adds these keys where the request has none",
)

DROP = ActionKind(
    name="drop",
    schema={"type": "array", "minItems": 1, "items": {"type": "string", "minLength": 1}},
    apply=_drop,
    sentence=lambda keys: "removes " + listing(keys),
    short=lambda keys: " ".join(f"-{k}" for k in keys),
    example="drop: [enable_thinking]",
    meaning="removes these keys",
)

#: Every action, by its key in a rule, in the order a rule applies them.
ACTIONS: dict[str, ActionKind] = {kind.name: kind for kind in (SET, DEFAULT, DROP)}


def schema(condition_ref: str) -> dict[str, Any]:
    """The JSON schema of one rule: ``when`` (see :mod:`.conditions`), actions, ``why``."""
    properties: dict[str, Any] = {"when": {"$ref": condition_ref}}
    properties.update({name: dict(kind.schema) for name, kind in ACTIONS.items()})
    properties["why"] = {"type": "string"}
    return {
        "type": "object",
        "additionalProperties": False,
        "anyOf": [{"required": [name]} for name in ACTIONS],
        "properties": properties,
    }
