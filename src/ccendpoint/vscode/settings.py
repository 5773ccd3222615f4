"""VS Code's utility-model settings in the user's ``settings.json``: which to set, and the edit (pure).

VS Code 1.139 (Copilot Chat 0.67) shows "Set BYOK utility models — Unlocks full AI features" in the
chat input while no GitHub account is signed in, a model of another vendor than ``copilot`` is
configured, ``chat.byokUtilityModelDefault`` is not ``mainAgent``, and ``chat.utilityModel`` or
``chat.utilitySmallModel`` is empty. Both take ``"<vendor>/<model id>"``: VS Code splits at the
first ``/`` and looks the model up by vendor and id (``vscode.lm.selectChatModels``), so a Custom
Endpoint model is ``"customendpoint/kimi-k2.6"``; the group name is not part of it. A model id that
two Custom Endpoint groups share matches twice, and VS Code then ignores the setting.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ccendpoint.catalog.model import Model, Provider
from ccendpoint.vscode.document import (
    BOM,
    Document,
    DocumentError,
    indent_unit,
    line_column,
    newline_style,
    parse_value,
)
from ccendpoint.vscode.edits import append_member, apply_edits, replace_value
from ccendpoint.vscode.facts import BYOK_UTILITY_DEFAULT, MAIN_AGENT, SETTINGS_FILE_INDENT, UTILITY_SETTINGS, VENDOR


def model_reference(model_id: str) -> str:
    """What a utility-model setting holds for a Custom Endpoint model."""
    return f"{VENDOR}/{model_id}"


def banner_shows(settings: Mapping[str, Any]) -> bool:
    """True when VS Code 1.139 asks for BYOK utility models (with nobody signed in to GitHub)."""
    if settings.get(BYOK_UTILITY_DEFAULT) == MAIN_AGENT:
        return False
    return not all(isinstance(settings.get(name), str) and settings.get(name) for name in UTILITY_SETTINGS)


def choose_utility_model(provider: Provider, model_ids: Sequence[str] | None = None) -> Model | None:
    """A fast, cheap model of ``provider`` for utility tasks (titles, summaries), from the catalog's facts.

    Among the current models with tool calling (of ``model_ids`` when given): the lowest list price
    (input plus output per 1M tokens), then one that does not always think, then catalog order.
    Models without a price come last.
    """
    candidates = [m for m in provider.current_models() if m.tool_calling and (model_ids is None or m.id in model_ids)]
    if not candidates:
        return None

    def rank(item: tuple[int, Model]) -> tuple[bool, float, bool, int]:
        order, model = item
        price = model.pricing.input + model.pricing.output if model.pricing else 0.0
        return (model.pricing is None, price, model.thinking == "always", order)

    return min(enumerate(candidates), key=rank)[1]


def utility_changes(
    settings: Mapping[str, Any], reference: str, *, replace: bool = False
) -> tuple[dict[str, str], dict[str, Any]]:
    """Which utility settings to set to ``reference``: (to set, left alone because the user chose another).

    An empty or missing setting is set; one that already holds ``reference`` needs nothing; one that
    holds another model is kept unless ``replace``.
    """
    to_set: dict[str, str] = {}
    kept: dict[str, Any] = {}
    for name in UTILITY_SETTINGS:
        value = settings.get(name)
        if value == reference:
            continue
        if value in (None, "") or replace:
            to_set[name] = reference
        else:
            kept[name] = value
    return to_set, kept


def parse_settings(text: str | None, source: str = "") -> Document:
    """settings.json as a document whose root is an object (an empty file is an empty object)."""
    raw = text or ""
    bom = raw.startswith(BOM)
    body = raw[1:] if bom else raw
    if not body.strip():
        body = "{}"
        return Document(body, parse_value(body), bom, newline_style(raw), SETTINGS_FILE_INDENT)
    root = parse_value(body, source)
    if root.kind != "object":
        line, column = line_column(body, root.start)
        raise DocumentError("the top level is not an object ({ ... }), as VS Code expects", line, column, source=source)
    indent = indent_unit(body) if "\n" in body.strip() else SETTINGS_FILE_INDENT  # one line: nothing to go by
    return Document(body, root, bom, newline_style(body), indent)


def utility_settings_edit(text: str | None, values: Mapping[str, str], source: str = "") -> str:
    """``settings.json`` text with ``values`` set; every other byte, comments included, stays as it was.

    A missing or empty file becomes a new one in VS Code's style. Raises DocumentError for text
    that is not a JSON object, and for an edit that would change anything else (never expected).
    """
    doc = parse_settings(text, source)
    before = dict(doc.root.value)
    new_file = not (text or "").lstrip(BOM).strip()
    for name, value in values.items():
        member = doc.root.member(name)
        edit = replace_value(doc, member.value, value) if member else append_member(doc, doc.root, value, name)
        body = apply_edits(doc.text, [edit])
        doc = Document(body, parse_value(body, source), doc.bom, doc.newline, doc.indent)
    result = doc.full_text()
    if new_file:
        result += doc.newline
    after = dict(doc.root.value)
    others_kept = all(after.get(k) == v for k, v in before.items() if k not in values) and set(after) == {
        *before,
        *values,
    }
    if not others_kept or any(after.get(k) != v for k, v in values.items()):
        raise DocumentError("the edit would change more than the utility-model settings", 1, 1, source=source)
    return result
