"""How rule values are written for people: JSON as a user would type it, lists in a sentence."""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from typing import Any

_LITERALS = {None: "null", True: "true", False: "false"}


def value_text(value: Any) -> str:
    """A JSON value as a user would type it: ``1``, ``true``, ``{"type":"disabled"}``."""
    # the proxy words every change of every request: numbers and literals without the encoder
    kind = type(value)
    if kind is int:
        return int.__repr__(value)
    if kind is float and math.isfinite(value):
        return float.__repr__(value)
    if value is None or kind is bool:
        return _LITERALS[value]
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def listing(items: Iterable[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def assignments(values: Mapping[str, Any]) -> str:
    """``temperature to 1 and top_p to 0.95``."""
    return listing(f"{key} to {value_text(value)}" for key, value in values.items())
