"""Plan what ``add`` changes in ``chatLanguageModels.json``, as a :class:`Plan` that ``remove`` shares (pure).

A group is identified by (vendor, name). ccendpoint owns only the model entries it wrote, which it
remembers in an ownership record (:mod:`ccendpoint.vscode.ownership`). Against the file and that
record, each model of the desired group is:

- ``add``: not in the group yet;
- ``unchanged``: already exactly what the catalog gives;
- ``update``: still what ccendpoint wrote last time, so it is brought up to date;
- ``kept``: written by ccendpoint but edited since; left alone unless forced;
- ``conflict``: never written by ccendpoint and different; replaced only when forced or confirmed;
- ``replace``: a kept or conflicting entry that is replaced because the user said so.

Within an entry ccendpoint manages only the fields it writes (``blocks.MANAGED_KEYS``); any other
field (``requestHeaders``, say) is the user's and is carried over when the entry is updated or
replaced.

Everything else (other groups and vendors, unknown fields, ``settings``, the group's ``apiKey``,
models the user added, comments and formatting) is carried over untouched: every edit rewrites only
the text of the entry it changes, and each plan is checked against that promise before it is used
(:mod:`ccendpoint.vscode.groups`).
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ccendpoint.redact import redact_json_text
from ccendpoint.vscode.blocks import MANAGED_KEYS
from ccendpoint.vscode.document import BOM, Document, parse, same
from ccendpoint.vscode.edits import append_member, apply_edits, render_new_file, replace_value
from ccendpoint.vscode.groups import (
    Editing,
    check_appended,
    check_merged,
    find_group,
    model_index,
)
from ccendpoint.vscode.ownership import GroupRecord, carried_over, keys_of, managed

Action = Literal["add", "update", "unchanged", "kept", "conflict", "replace", "remove", "skip"]


@dataclass(frozen=True)
class Change:
    action: Action
    group: str
    model: str | None = None  # None: the group itself
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "group": self.group, "model": self.model, "detail": self.detail}


@dataclass(frozen=True)
class Plan:
    """The changes to one group and the file text they produce."""

    vendor: str
    group: str
    old_text: str  # the file as read, BOM included; "" when there is no file
    new_text: str
    changes: tuple[Change, ...]
    record: GroupRecord | None  # what to remember after writing; None forgets the group
    warnings: tuple[str, ...] = ()
    file_exists: bool = True
    after: Sequence[Any] = ()  # the file's groups as new_text holds them

    @property
    def changed(self) -> bool:
        if not self.file_exists:
            return bool(self.new_text)
        return self.new_text != self.old_text

    @property
    def conflicts(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action == "conflict")

    def models_with(self, *actions: Action) -> list[str]:
        return [c.model for c in self.changes if c.action in actions and c.model is not None]

    def group_after(self) -> Mapping[str, Any] | None:
        """The group as the plan leaves it; None when there is no such group afterwards."""
        for group in self.after:
            if isinstance(group, dict) and (group.get("vendor"), group.get("name")) == (self.vendor, self.group):
                return group
        return None

    @property
    def has_api_key(self) -> bool:
        """The group keeps an ``apiKey``: VS Code wrote it, so the user has set the key."""
        group = self.group_after()
        return group is not None and "apiKey" in group

    @property
    def model_ids(self) -> list[str]:
        """The ids of the group's models as the plan leaves them."""
        group = self.group_after()
        models = group.get("models") if group is not None else None
        return [str(m.get("id")) for m in models if isinstance(m, dict)] if isinstance(models, list) else []


# --- add ------------------------------------------------------------------------------------------


def decide(
    current: Any, desired: Mapping[str, Any], record: GroupRecord | None, *, force: bool, confirm: bool
) -> Action:
    """What ``add`` does with one model; ``current`` is the entry in the file, or None.

    Only the fields ccendpoint manages count: an entry that differs from ``desired`` in the user's own
    fields alone is unchanged.
    """
    model_id = desired["id"]
    if current is None:
        return "add"
    if same(managed(current, keys_of(desired)), desired):
        return "unchanged"
    if record is not None and record.wrote(model_id, current):
        return "update"
    if record is not None and record.remembers(model_id):
        return "replace" if force else "kept"
    return "replace" if (force or confirm) else "conflict"


def _detail(action: Action, model_id: str, owned: bool) -> str:
    if action == "kept":
        return f"kept your edits to {model_id}; use --force to replace them"
    if action == "conflict":
        return f"{model_id} is already in the group with other values; --force replaces it"
    if action == "replace":
        return "replaced your edits" if owned else "replaced the entry ccendpoint did not write"
    if action == "update":
        return "brought up to date with the catalog"
    return ""


def plan_add(
    current: str | None,
    desired: Mapping[str, Any],
    record: GroupRecord | None,
    provider: str,
    *,
    force: bool = False,
    confirm: bool = False,
    source: str = "",
) -> Plan:
    """Merge ``desired`` (a rendered group) into the file text ``current`` (None: there is no file).

    ``force`` replaces kept and conflicting entries; ``confirm`` replaces conflicting ones only.
    """
    vendor, name = desired["vendor"], desired["name"]
    if current is None or not current.lstrip(BOM).strip():
        return _plan_new_file(current, desired, provider)
    doc = parse(current, source)
    found = find_group(doc, vendor, name)
    if found is None:
        return _plan_new_group(doc, current, desired, provider)
    return _plan_merge(doc, current, found[0], desired, record, provider, force=force, confirm=confirm)


def _all_added(desired: Mapping[str, Any], provider: str) -> tuple[tuple[Change, ...], GroupRecord]:
    name = desired["name"]
    record = GroupRecord(desired["vendor"], name, provider, {}, created=True)
    changes = [Change("add", name)]
    for model in desired["models"]:
        changes.append(Change("add", name, model["id"]))
        record = record.with_entry(model["id"], model)
    return tuple(changes), record


def _plan_new_file(current: str | None, desired: Mapping[str, Any], provider: str) -> Plan:
    changes, record = _all_added(desired, provider)
    text = render_new_file([desired])
    if current and current.startswith(BOM):
        text = BOM + text
    exists = current is not None
    after = [copy.deepcopy(dict(desired))]
    return Plan(
        desired["vendor"], desired["name"], current or "", text, changes, record, file_exists=exists, after=after
    )


def _plan_new_group(doc: Document, current: str, desired: Mapping[str, Any], provider: str) -> Plan:
    changes, record = _all_added(desired, provider)
    new_text = apply_edits(doc.text, [append_member(doc, doc.root, copy.deepcopy(dict(desired)))])
    after = check_appended(doc, new_text, desired).value
    return Plan(desired["vendor"], desired["name"], current, doc.full_text(new_text), changes, record, after=after)


def _plan_merge(
    doc: Document,
    current: str,
    index: int,
    desired: Mapping[str, Any],
    record: GroupRecord | None,
    provider: str,
    *,
    force: bool,
    confirm: bool,
) -> Plan:
    vendor, name = desired["vendor"], desired["name"]
    editing = Editing(doc, index, name)
    expected = copy.deepcopy(editing.group.value)
    new_record = dataclasses.replace(record, provider=provider) if record else GroupRecord(vendor, name, provider, {})
    changes: list[Change] = []
    warnings: list[str] = []
    original_models = editing.models
    for model in desired["models"]:
        entry = editing.entry(model["id"])
        action = decide(entry.value if entry else None, model, record, force=force, confirm=confirm)
        owned = record is not None and record.remembers(model["id"])
        changes.append(Change(action, name, model["id"], _detail(action, model["id"], owned)))
        if action == "replace" and entry is not None:
            warnings.append(_replaced_warning(entry.value, model, name, owned))
        if action in ("add", "update", "replace", "unchanged"):
            new_record = new_record.with_entry(model["id"], model)
        if action == "add":
            _append_model(editing, model)
            expected.setdefault("models", []).append(copy.deepcopy(dict(model)))
        elif action in ("update", "replace") and entry is not None:
            position = model_index(original_models, model["id"]) if original_models is not None else None
            ours = (record.written_keys(model["id"], entry.value) if record else None) or MANAGED_KEYS
            target = carried_over(entry.value, model, ours)
            _update_entry(editing, target)
            if position is not None:
                expected["models"][position] = target
    changes.extend(_not_covered(expected, desired, record, name))
    check_merged(doc, editing.doc, index, expected)
    text = editing.doc.full_text()
    return Plan(vendor, name, current, text, tuple(changes), new_record, tuple(warnings), after=editing.doc.value)


def _replaced_warning(current: Any, desired: Mapping[str, Any], name: str, owned: bool) -> str:
    """Name the values of the user's that a replaced entry loses (its other fields are carried over)."""
    mine = managed(current, keys_of(desired)) if isinstance(current, Mapping) else {}
    keys = sorted(k for k in {*mine, *desired} if k in mine and (k not in desired or not same(mine[k], desired[k])))
    whose = "your edits to" if owned else "the entry ccendpoint did not write for"
    what = f" ({', '.join(keys)})" if keys else ""
    return f"Replaced {whose} {desired['id']} in '{name}'{what}; the backup keeps them (`ccendpoint restore`)."


def _not_covered(
    group: Mapping[str, Any], desired: Mapping[str, Any], record: GroupRecord | None, name: str
) -> list[Change]:
    """Models ccendpoint wrote earlier that this ``add`` does not cover: they stay, and are listed."""
    if record is None:
        return []
    wanted = {m["id"] for m in desired["models"]}
    present = {m.get("id") for m in group.get("models") or [] if isinstance(m, dict)}
    return [
        Change("skip", name, model_id, "left as it is; `ccendpoint remove` takes it out")
        for model_id in record.models
        if model_id not in wanted and model_id in present
    ]


def _append_model(editing: Editing, model: Mapping[str, Any]) -> None:
    models = editing.models
    if models is None:  # a group without a models list (made by hand): give it one
        editing.apply([append_member(editing.doc, editing.group, [copy.deepcopy(dict(model))], key="models")])
    else:
        editing.apply([append_member(editing.doc, models, copy.deepcopy(dict(model)))])


def _update_entry(editing: Editing, desired: Mapping[str, Any]) -> None:
    """Turn the entry into ``desired`` touching only the values that differ.

    ``desired`` already carries the user's own fields of the entry (:func:`carried_over`), so a key
    that has to go is one ccendpoint manages; then the whole entry is rewritten instead (it is ours,
    or the user said so).
    """
    model_id = desired["id"]
    entry = editing.entry(model_id)
    assert entry is not None
    if any(key not in desired for key in entry.value):
        editing.apply([replace_value(editing.doc, entry, copy.deepcopy(dict(desired)))])
        return
    edits = [
        replace_value(editing.doc, node, copy.deepcopy(value))
        for key, value in desired.items()
        if (node := entry.get(key)) is not None and not same(node.value, value)
    ]
    if edits:
        editing.apply(edits)
    for key, value in desired.items():
        entry = editing.entry(model_id)
        assert entry is not None
        if key not in entry.value:
            editing.apply([append_member(editing.doc, entry, copy.deepcopy(value), key=key)])


# --- showing a plan -------------------------------------------------------------------------------


def unified_diff(old: str, new: str, label: str) -> str:
    """The change as a unified diff, secrets masked (:mod:`ccendpoint.redact`), line ends normalised."""
    old_lines = redact_json_text(old.lstrip(BOM)).replace("\r\n", "\n").splitlines(keepends=True)
    new_lines = redact_json_text(new.lstrip(BOM)).replace("\r\n", "\n").splitlines(keepends=True)
    lines = list(difflib.unified_diff(old_lines, new_lines, f"a/{label}", f"b/{label}"))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
