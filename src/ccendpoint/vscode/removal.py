"""Plan what ``remove`` takes out of ``chatLanguageModels.json`` (pure, no I/O).

Only what ccendpoint wrote goes: an entry whose managed fields still hash to what the ownership
record remembers. An entry the user edited since is kept, and so is a model the user added. A group
ccendpoint created goes too once nothing else is in it; a group the user made stays. ``force`` also
takes out edited entries, entries with a catalog model id that ccendpoint has no record of writing,
and the emptied group. The result is checked like every plan (:mod:`ccendpoint.vscode.groups`).
"""

from __future__ import annotations

import copy
from collections.abc import Collection, Mapping
from typing import Any

from ccendpoint.redact import is_secret_reference
from ccendpoint.vscode.blocks import MANAGED_KEYS
from ccendpoint.vscode.document import BOM, Document, Member, parse
from ccendpoint.vscode.edits import apply_edits, remove_member
from ccendpoint.vscode.facts import UPDATE_API_KEY
from ccendpoint.vscode.groups import Editing, check_merged, check_removed, find_group, model_index, models_node
from ccendpoint.vscode.ownership import GroupRecord
from ccendpoint.vscode.plan import Change, Plan

#: Group fields that do not keep an emptied group alive when ``remove`` takes its last model.
DISPOSABLE_GROUP_KEYS = frozenset({"name", "vendor", "apiType", "models", "apiKey", "settings"})


def plan_remove(
    current: str | None,
    vendor: str,
    name: str,
    record: GroupRecord | None,
    catalog_ids: Collection[str],
    *,
    model_ids: Collection[str] | None = None,
    force: bool = False,
    source: str = "",
) -> Plan:
    """Take out what ccendpoint wrote to the group.

    A group ccendpoint created goes too once nothing else is in it; a group the user made stays.

    ``model_ids`` limits the removal to those models. ``force`` also removes entries the user edited,
    entries with a catalog model id that ccendpoint has no record of writing, and the emptied group.
    """
    if current is None or not current.lstrip(BOM).strip():
        return Plan(vendor, name, current or "", current or "", (), None, file_exists=current is not None, after=[])
    doc = parse(current, source)
    found = find_group(doc, vendor, name)
    if found is None:
        note = Change("skip", name, detail="no such group in the file")
        hint = _no_group_hint(doc, vendor, name)
        return Plan(vendor, name, current, current, (note,), None, (hint,), after=doc.value)
    index, member = found
    models = models_node(member.value, name)
    entries = [m.value.value for m in models.members] if models is not None else []
    changes = _removal_changes(entries, record, catalog_ids, model_ids, force, name)
    removed = [c.model for c in changes if c.action == "remove" and c.model is not None]
    warnings = dropped_content(entries, removed, record, name)
    ours = force or (record is not None and record.created)
    if ours and _group_goes(member.value.value, entries, set(removed)):
        return _plan_remove_group(doc, current, index, member, changes, name, warnings)
    editing = Editing(doc, index, name)
    for model_id in removed:
        models_now = editing.models
        assert models_now is not None
        position = model_index(models_now, model_id)
        if position is not None:
            editing.apply(remove_member(editing.doc, models_now, position))
    expected = copy.deepcopy(member.value.value)
    if models is not None:
        expected["models"] = [e for e in entries if not (isinstance(e, dict) and e.get("id") in removed)]
    check_merged(doc, editing.doc, index, expected)
    new_record = record.without(removed) if record else None
    if new_record is not None and not new_record.models:
        new_record = None
    text = editing.doc.full_text()
    return Plan(vendor, name, current, text, tuple(changes), new_record, tuple(warnings), after=editing.doc.value)


def dropped_content(entries: list[Any], removed: Collection[str], record: GroupRecord | None, name: str) -> list[str]:
    """Say what of the user's goes with the removed entries: their own fields, their edits, their entries."""
    warnings = []
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("id") not in removed:
            continue
        model_id = entry["id"]
        ours = (record.written_keys(model_id, entry) if record else None) or MANAGED_KEYS
        own = sorted(key for key in entry if key not in ours)
        if own:
            warnings.append(
                f"{model_id} in '{name}' held fields you added ({', '.join(own)}); they are removed with it. "
                "The backup keeps them (`ccendpoint restore`)."
            )
        if record is None or not record.wrote(model_id, entry):
            whose = "your edits to" if record is not None and record.remembers(model_id) else "your own entry for"
            warnings.append(f"--force removed {whose} {model_id} in '{name}'; the backup keeps it.")
    return warnings


def _no_group_hint(doc: Document, vendor: str, name: str) -> str:
    """Say which groups there are, for a group renamed in VS Code since ccendpoint wrote it."""
    names = [
        f'"{group["name"]}"'
        for member in doc.root.members
        if isinstance(group := member.value.value, dict)
        and group.get("vendor") == vendor
        and isinstance(group.get("name"), str)
    ]
    there = f"{vendor} groups in the file: {', '.join(names)}" if names else f"the file has no {vendor} group"
    return (
        f'No {vendor} group named "{name}" ({there}). If you renamed it in VS Code, pass --group NAME; add --force '
        "to take the catalog's models out of it, as ccendpoint knows the group only by its old name."
    )


def _removal_changes(
    entries: list[Any],
    record: GroupRecord | None,
    catalog_ids: Collection[str],
    model_ids: Collection[str] | None,
    force: bool,
    name: str,
) -> list[Change]:
    changes: list[Change] = []
    seen: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str) or entry["id"] in seen:
            continue
        model_id = entry["id"]
        seen.add(model_id)
        if model_ids is not None and model_id not in model_ids:
            continue
        changes.append(_removal(entry, record, catalog_ids, model_ids, force, name))
    for model_id in model_ids or ():
        if model_id not in seen:
            changes.append(Change("skip", name, model_id, "not in the group"))
    return changes


def _removal(
    entry: Mapping[str, Any],
    record: GroupRecord | None,
    catalog_ids: Collection[str],
    model_ids: Collection[str] | None,
    force: bool,
    name: str,
) -> Change:
    model_id = entry["id"]
    owned = record is not None and record.wrote(model_id, entry)
    edited = record is not None and record.remembers(model_id) and not owned
    named = model_id in catalog_ids or (model_ids is not None and model_id in model_ids)
    if owned or (force and (edited or named)):
        return Change("remove", name, model_id)
    if edited:
        return Change("kept", name, model_id, f"kept your edits to {model_id}; use --force to remove it")
    if named:
        return Change("skip", name, model_id, "not written by ccendpoint; --force removes it")
    return Change("skip", name, model_id, "your own model; left in place")


def _group_goes(group: Mapping[str, Any], entries: list[Any], removed: set[str]) -> bool:
    """The group is removed when all its models go and it holds nothing else worth keeping."""
    if not removed:
        return False
    left = [e for e in entries if not (isinstance(e, dict) and e.get("id") in removed)]
    return not left and set(group) <= DISPOSABLE_GROUP_KEYS


def settings_text(settings: Any) -> str:
    """A group's ``settings`` (VS Code's per-model choices, e.g. Thinking Effort) in a few words."""
    if not isinstance(settings, dict):
        return ""
    parts = []
    for model_id, values in settings.items():
        if isinstance(values, dict) and values:
            chosen = ", ".join(
                f"{key} {value}" for key, value in values.items() if isinstance(value, (str, int, float))
            )
            parts.append(f"{model_id}: {chosen or 'set'}")
        elif values:
            parts.append(str(model_id))
    return "; ".join(parts)


def _plan_remove_group(
    doc: Document, current: str, index: int, member: Member, changes: list[Change], name: str, dropped: list[str]
) -> Plan:
    group = member.value.value
    warnings = list(dropped)
    api_key = group.get("apiKey")
    if isinstance(api_key, str) and is_secret_reference(api_key):
        warnings.append(
            f"The group '{name}' had an API key in VS Code's secret storage; removing the group forgets that "
            f"reference. After adding it again, set the key again ({UPDATE_API_KEY})."
        )
    elif api_key is not None:
        warnings.append(f"The group '{name}' had an apiKey value; it is removed with the group.")
    choices = settings_text(group.get("settings"))
    if choices:
        warnings.append(
            f"The group '{name}' held choices VS Code saved for its models ({choices}); they are removed "
            "with the group. The backup keeps them (`ccendpoint restore`), or pick them again in the chat."
        )
    new_text = apply_edits(doc.text, remove_member(doc, doc.root, index))
    remaining = check_removed(doc, new_text, index)
    vendor = group.get("vendor", "")
    all_changes = (*changes, Change("remove", name, detail="nothing else is left in it"))
    return Plan(vendor, name, current, doc.full_text(new_text), all_changes, None, tuple(warnings), after=remaining)
