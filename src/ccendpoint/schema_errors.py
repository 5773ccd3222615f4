"""jsonschema's validation errors in plain English, for the catalog's YAML and VS Code's JSON alike.

One translator, two readers. A catalog author edits YAML: a mapping is a "mapping", the value at
fault may be shown, and a missing key is named in the place (``models[0].name: is required``). A
VS Code user's file can hold an API key, so no value of it is ever shown, and a missing key is said
at the object that lacks it (``missing url``). The place comes back as a path of keys and list
positions; :func:`dotted` writes it the catalog's way, VS Code's validation names groups and models.

Nothing here imports jsonschema: the errors are read through their documented attributes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

Reader = Literal["catalog", "vscode"]

TYPE_WORDS = {
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "boolean": "true or false",
    "object": "an object",
    "array": "a list",
    "null": "null",
}
#: What YAML calls things, where it differs from JSON.
YAML_WORDS = {"object": "a mapping"}


@dataclass(frozen=True)
class SchemaProblem:
    path: tuple[str | int, ...]  # keys and list positions, from the top of the document
    message: str


def problems(validator: Any, document: Any, reader: Reader) -> list[SchemaProblem]:
    """Every place where ``document`` breaks the schema of ``validator`` (a jsonschema validator), in order."""
    errors = sorted(validator.iter_errors(document), key=lambda e: [str(p) for p in e.absolute_path])
    return [explain(error, reader) for error in errors]


def explain(error: Any, reader: Reader) -> SchemaProblem:
    """Where a jsonschema ``ValidationError`` is, and what is wrong, in words for ``reader``."""
    path = tuple(error.absolute_path)
    if error.validator == "required":
        instance = error.instance
        missing = [key for key in error.validator_value if isinstance(instance, dict) and key not in instance]
        if reader == "catalog":
            return SchemaProblem((*path, missing[0] if missing else "?"), "is required")
        return SchemaProblem(path, "missing " + ", ".join(missing))
    return SchemaProblem(path, _message(error, path, reader))


def _message(error: Any, path: tuple[str | int, ...], reader: Reader) -> str:
    kind, value, instance = error.validator, error.validator_value, error.instance
    catalog = reader == "catalog"
    if kind == "additionalProperties":
        allowed = list(error.schema.get("properties", {}))
        extra = sorted(set(instance) - set(allowed))
        if catalog:
            return f"unknown key '{extra[0] if extra else '?'}' (known keys: {', '.join(sorted(allowed))})"
        return f"unknown key(s): {', '.join(extra)} (allowed: {', '.join(allowed)})"
    if kind == "type":
        words = {**TYPE_WORDS, **YAML_WORDS} if catalog else TYPE_WORDS
        kinds = [value] if isinstance(value, str) else list(value)
        return "must be " + " or ".join(words.get(k, k) for k in kinds)
    if kind == "enum":
        return "must be one of: " + ", ".join(v if isinstance(v, str) else json.dumps(v) for v in value)
    if kind == "pattern":
        return _pattern(value, repr(instance) if catalog else None)
    if kind in ("minimum", "maximum"):
        return f"must be {'at least' if kind == 'minimum' else 'at most'} {value}"
    if kind == "exclusiveMinimum":
        return f"must be greater than {value}"
    if kind in ("minItems", "minProperties", "minLength"):
        return "must not be empty"
    if kind == "anyOf":
        return _any_of(value, path, catalog) or (error.message if catalog else "is not valid here")
    # jsonschema's own words show the value: fine for the catalog, never for VS Code's file
    return str(error.message) if catalog else "is not valid here"


def _pattern(pattern: str, shown: str | None) -> str:
    """A pattern in words; ``shown``: the value at fault, when it may be shown."""
    if "https?" in pattern:
        return f"must be an http(s) URL, not {shown}" if shown else "must start with http:// or https://"
    if "\\d{4}" in pattern and shown:
        return f"must be a date written YYYY-MM-DD, not {shown}"
    return f"{shown} does not match the pattern {pattern}" if shown else f"must match the pattern {pattern}"


def _any_of(branches: Any, path: tuple[str | int, ...], catalog: bool) -> str | None:
    """ "needs a or b" for an anyOf whose every branch requires one key; None for any other anyOf."""
    keys = [b["required"][0] for b in branches if isinstance(b, dict) and len(b.get("required", ())) == 1]
    if len(keys) != len(branches):
        return None
    if catalog and len(path) >= 2 and path[-2] == "rules":
        return f"a rule needs at least one action: {_or(keys)}"
    return f"needs {_or(keys)}"


def _or(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " or " + words[-1]


def dotted(path: Iterable[str | int]) -> str:
    """A place the catalog's way: ``models[0].name``; the top of the document is "(top level)"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"
