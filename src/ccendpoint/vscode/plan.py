"""Plan what ``add`` and ``remove`` change in ``chatLanguageModels.json`` (pure, no I/O).

A group is identified by (vendor, name). ccendpoint owns only the model entries it wrote, which it
remembers as hashes in an ownership record. Against the file and that record, each model of the
desired group is:

- ``add``: not in the group yet;
- ``unchanged``: already exactly what the catalog gives;
- ``update``: still what ccendpoint wrote last time, so it is brought up to date;
- ``kept``: written by ccendpoint but edited since; left alone unless forced;
- ``conflict``: never written by ccendpoint and different; replaced only when forced or confirmed;
- ``replace``: a kept or conflicting entry that is replaced because the user said so.

Within an entry ccendpoint manages only the fields it writes (``blocks.MANAGED_KEYS``); the record
hashes those, and any other field (``requestHeaders``, say) is the user's: it is carried over when
the entry is updated or replaced, and adding one is not an edit.

Everything else (other groups and vendors, unknown fields, ``settings``, the group's ``apiKey``,
models the user added, comments and formatting) is carried over untouched: every edit rewrites only
the text of the entry it changes, and each plan is checked against that promise before it is used.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import hashlib
import json
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ccendpoint.errors import CcendpointError
from ccendpoint.redact import is_secret_reference, redact_json_text
from ccendpoint.vscode.blocks import MANAGED_KEYS
from ccendpoint.vscode.document import (
    BOM,
    Document,
    Edit,
    Member,
    Node,
    append_member,
    apply_edits,
    parse,
    remove_member,
    render_new_file,
    replace_value,
)
from ccendpoint.vscode.facts import BUILTIN_MODEL_IDS, VENDOR

Action = Literal["add", "update", "unchanged", "kept", "conflict", "replace", "remove", "skip"]
#: How many earlier hashes of an entry are remembered, so a restored older entry is still recognised.
HISTORY = 10
#: Group fields that do not keep an emptied group alive when ``remove`` takes its last model.
DISPOSABLE_GROUP_KEYS = frozenset({"name", "vendor", "apiType", "models", "apiKey", "settings"})


@dataclass(frozen=True)
class Change:
    action: Action
    group: str
    model: str | None = None  # None: the group itself
    detail: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {"action": self.action, "group": self.group, "model": self.model, "detail": self.detail}


@dataclass(frozen=True)
class GroupRecord:
    """What ccendpoint wrote into one group: per model id, hashes of the entries, newest first."""

    vendor: str
    name: str
    provider: str
    models: Mapping[str, tuple[str, ...]]
    created: bool = False  # ccendpoint added the group itself, so `remove` may take the group out

    def wrote(self, model_id: str, entry: Any) -> bool:
        return entry_hash(entry) in self.models.get(model_id, ())

    def remembers(self, model_id: str) -> bool:
        return bool(self.models.get(model_id))

    def with_entry(self, model_id: str, entry: Any) -> GroupRecord:
        digest = entry_hash(entry)
        earlier = tuple(h for h in self.models.get(model_id, ()) if h != digest)
        return dataclasses.replace(self, models={**self.models, model_id: (digest, *earlier)[:HISTORY]})

    def without(self, model_ids: Iterable[str]) -> GroupRecord:
        gone = set(model_ids)
        return dataclasses.replace(self, models={k: v for k, v in self.models.items() if k not in gone})


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


# --- hashing and comparison ----------------------------------------------------------------------


def canonical(value: Any) -> str:
    """One text per JSON value: key order does not matter, ``true`` and ``1`` differ."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def entry_hash(entry: Any) -> str:
    """The hash the record keeps: of the fields ccendpoint manages (for an entry it wrote, all of them)."""
    return hashlib.sha256(canonical(managed(entry)).encode("utf-8")).hexdigest()


def managed(entry: Any) -> Any:
    """The part of a model entry that ccendpoint writes; other values are returned as they are."""
    if not isinstance(entry, Mapping):
        return entry
    return {key: value for key, value in entry.items() if key in MANAGED_KEYS}


def carried_over(current: Any, desired: Mapping[str, Any]) -> dict[str, Any]:
    """``desired`` plus the fields of ``current`` that ccendpoint does not manage (the user's own)."""
    own = {}
    if isinstance(current, Mapping):
        own = {key: value for key, value in current.items() if key not in MANAGED_KEYS and key not in desired}
    return {**copy.deepcopy(dict(desired)), **copy.deepcopy(own)}


def same(a: Any, b: Any) -> bool:
    return canonical(a) == canonical(b)


# --- finding things -------------------------------------------------------------------------------


def find_group(doc: Document, vendor: str, name: str) -> tuple[int, Member] | None:
    found = [
        (index, member)
        for index, member in enumerate(doc.root.members)
        if isinstance(member.value.value, dict)
        and member.value.value.get("vendor") == vendor
        and member.value.value.get("name") == name
    ]
    if len(found) > 1:
        raise CcendpointError(
            f"The file has {len(found)} {vendor} groups named '{name}'; VS Code only allows one.",
            hint="Rename or delete the extra groups (Chat: Manage Language Models), then run again.",
        )
    return found[0] if found else None


def models_node(group: Node, name: str) -> Node | None:
    node = group.get("models")
    if node is not None and node.kind != "array":
        raise CcendpointError(
            f"The group '{name}' has a 'models' value that is not a list.",
            hint="Fix it in VS Code (Chat: Open Language Models (JSON)), then run again.",
        )
    return node


def model_index(models: Node, model_id: str) -> int | None:
    """Position of the first entry with this id."""
    for index, member in enumerate(models.members):
        value = member.value.value
        if isinstance(value, dict) and value.get("id") == model_id:
            return index
    return None


class _Editing:
    """A document being edited step by step; re-parsed after every step, formatting style kept."""

    def __init__(self, doc: Document, group_index: int, group_name: str) -> None:
        self.doc = doc
        self.group_index = group_index
        self.group_name = group_name

    @property
    def group(self) -> Node:
        return self.doc.root.members[self.group_index].value

    @property
    def models(self) -> Node | None:
        return models_node(self.group, self.group_name)

    def entry(self, model_id: str) -> Node | None:
        models = self.models
        index = model_index(models, model_id) if models is not None else None
        return models.members[index].value if models is not None and index is not None else None

    def apply(self, edits: list[Edit]) -> None:
        text = apply_edits(self.doc.text, edits)
        self.doc = dataclasses.replace(parse(text), bom=self.doc.bom, newline=self.doc.newline, indent=self.doc.indent)


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
    if same(managed(current), desired):
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
    return Plan(desired["vendor"], desired["name"], current or "", text, changes, record, file_exists=exists)


def _plan_new_group(doc: Document, current: str, desired: Mapping[str, Any], provider: str) -> Plan:
    changes, record = _all_added(desired, provider)
    new_text = apply_edits(doc.text, [append_member(doc, doc.root, copy.deepcopy(dict(desired)))])
    _check_appended(doc, new_text, desired)
    return Plan(desired["vendor"], desired["name"], current, doc.full_text(new_text), changes, record)


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
    editing = _Editing(doc, index, name)
    expected = copy.deepcopy(editing.group.value)
    new_record = dataclasses.replace(record, provider=provider) if record else GroupRecord(vendor, name, provider, {})
    changes: list[Change] = []
    original_models = editing.models
    for model in desired["models"]:
        entry = editing.entry(model["id"])
        action = decide(entry.value if entry else None, model, record, force=force, confirm=confirm)
        owned = record is not None and record.remembers(model["id"])
        changes.append(Change(action, name, model["id"], _detail(action, model["id"], owned)))
        if action in ("add", "update", "replace", "unchanged"):
            new_record = new_record.with_entry(model["id"], model)
        if action == "add":
            _append_model(editing, model)
            expected.setdefault("models", []).append(copy.deepcopy(dict(model)))
        elif action in ("update", "replace") and entry is not None:
            position = model_index(original_models, model["id"]) if original_models is not None else None
            target = carried_over(entry.value, model)
            _update_entry(editing, target)
            if position is not None:
                expected["models"][position] = target
    changes.extend(_not_covered(expected, desired, record, name))
    _check_merged(doc, editing.doc, index, expected)
    return Plan(vendor, name, current, editing.doc.full_text(), tuple(changes), new_record)


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


def _append_model(editing: _Editing, model: Mapping[str, Any]) -> None:
    models = editing.models
    if models is None:  # a group without a models list (made by hand): give it one
        editing.apply([append_member(editing.doc, editing.group, [copy.deepcopy(dict(model))], key="models")])
    else:
        editing.apply([append_member(editing.doc, models, copy.deepcopy(dict(model)))])


def _update_entry(editing: _Editing, desired: Mapping[str, Any]) -> None:
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


# --- remove ---------------------------------------------------------------------------------------


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
        return Plan(vendor, name, current or "", current or "", (), None, file_exists=current is not None)
    doc = parse(current, source)
    found = find_group(doc, vendor, name)
    if found is None:
        note = Change("skip", name, detail="no such group in the file")
        return Plan(vendor, name, current, current, (note,), None, (_no_group_hint(doc, vendor, name),))
    index, member = found
    models = models_node(member.value, name)
    entries = [m.value.value for m in models.members] if models is not None else []
    changes = _removal_changes(entries, record, catalog_ids, model_ids, force, name)
    removed = [c.model for c in changes if c.action == "remove" and c.model is not None]
    ours = force or (record is not None and record.created)
    if ours and _group_goes(member.value.value, entries, set(removed)):
        return _plan_remove_group(doc, current, index, member, changes, name)
    editing = _Editing(doc, index, name)
    for model_id in removed:
        models_now = editing.models
        assert models_now is not None
        position = model_index(models_now, model_id)
        if position is not None:
            editing.apply(remove_member(editing.doc, models_now, position))
    expected = copy.deepcopy(member.value.value)
    if models is not None:
        expected["models"] = [e for e in entries if not (isinstance(e, dict) and e.get("id") in removed)]
    _check_merged(doc, editing.doc, index, expected)
    new_record = record.without(removed) if record else None
    if new_record is not None and not new_record.models:
        new_record = None
    return Plan(vendor, name, current, editing.doc.full_text(), tuple(changes), new_record)


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
    doc: Document, current: str, index: int, member: Member, changes: list[Change], name: str
) -> Plan:
    group = member.value.value
    warnings: list[str] = []
    api_key = group.get("apiKey")
    if isinstance(api_key, str) and is_secret_reference(api_key):
        warnings.append(
            f"The group '{name}' had an API key in VS Code's secret storage; removing the group forgets that "
            "reference. After adding it again, set the key again (Update API Key)."
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
    remaining = [m.value.value for i, m in enumerate(doc.root.members) if i != index]
    if not same(parse(new_text).value, remaining):
        raise _internal("the removal would change other groups")
    vendor = group.get("vendor", "")
    all_changes = (*changes, Change("remove", name, detail="nothing else is left in it"))
    return Plan(vendor, name, current, doc.full_text(new_text), all_changes, None, tuple(warnings))


# --- self-checks ----------------------------------------------------------------------------------


def _internal(problem: str) -> CcendpointError:
    return CcendpointError(
        f"internal error while planning: {problem}; nothing was written.",
        hint="Please report this with the file (remove keys first). Edit the file by hand meanwhile.",
    )


def _check_appended(old: Document, new_text: str, desired: Mapping[str, Any]) -> None:
    """The new group is last, equals ``desired``, and every earlier group kept its exact text."""
    new = parse(new_text)
    members = new.root.members
    if len(members) != len(old.root.members) + 1 or not same(members[-1].value.value, desired):
        raise _internal("the new group is not what was rendered")
    for before, after in zip(old.root.members, members, strict=False):
        if old.text[before.start : before.end] != new.text[after.start : after.end]:
            raise _internal("another group's text changed")
    if old.text[: old.root.start] != new.text[: new.root.start]:
        raise _internal("text before the array changed")


def _check_merged(old: Document, new: Document, index: int, expected: Any) -> None:
    """The group holds what was planned, and every character outside it is unchanged."""
    before = old.root.members[index].value
    after = new.root.members[index].value
    if not same(after.value, expected):
        raise _internal("the edited group does not hold what was planned")
    tail = len(old.text) - before.end
    head_kept = new.text[: before.start] == old.text[: before.start]
    if not head_kept or new.text[len(new.text) - tail :] != old.text[before.end :]:
        raise _internal("text outside the group changed")


# --- validation -----------------------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


@functools.cache
def _validator() -> Any:
    from importlib.resources import files

    import jsonschema

    schema = json.loads(files("ccendpoint.vscode").joinpath("schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def validate(groups: Any) -> list[Problem]:
    """Every problem in the document: the schema first, then what a schema cannot say."""
    problems = {_schema_problem(groups, error) for error in _validator().iter_errors(groups)}
    if isinstance(groups, list):
        problems.update(_duplicate_groups(groups))
        for index, group in enumerate(groups):
            if isinstance(group, dict) and group.get("vendor") == VENDOR:
                problems.update(_model_id_problems(groups, index, group))
    return sorted(problems)


def _label(groups: Any, path: Iterable[Any]) -> str:
    """A readable place: group "Kimi" › model "kimi-k2.6" › url."""
    parts: list[str] = []
    node: Any = groups
    steps = list(path)
    for position, step in enumerate(steps):
        node = _child(node, step)
        if position == 0 and isinstance(step, int):
            name = node.get("name") if isinstance(node, dict) else None
            parts.append(f'group "{name}"' if isinstance(name, str) else f"group #{step + 1}")
        elif isinstance(step, int) and steps[position - 1] == "models":
            model_id = node.get("id") if isinstance(node, dict) else None
            parts[-1:] = [f'model "{model_id}"' if isinstance(model_id, str) else f"model #{step + 1}"]
        else:
            parts.append(str(step))
    return " › ".join(parts) if parts else "the file"


def _child(node: Any, step: Any) -> Any:
    try:
        return node[step]
    except (KeyError, IndexError, TypeError):
        return None


def _schema_problem(groups: Any, error: Any) -> Problem:
    where = _label(groups, error.absolute_path)
    return Problem(where, _schema_message(error))


_TYPE_WORDS = {"boolean": "true or false", "number": "a number", "string": "a string", "object": "an object"}


def _schema_message(error: Any) -> str:
    kind = error.validator
    value = error.validator_value
    if kind == "required":
        missing = [key for key in value if isinstance(error.instance, dict) and key not in error.instance]
        return "missing " + ", ".join(missing)
    if kind == "anyOf":
        return "needs maxInputTokens or contextWindow"
    if kind == "type":
        kinds = value if isinstance(value, list) else [value]
        return "must be " + " or ".join(_TYPE_WORDS.get(k, "null" if k == "null" else f"a {k}") for k in kinds)
    if kind == "enum":
        return "must be one of " + ", ".join(json.dumps(v) for v in value)
    if kind == "pattern":
        return "must start with http:// or https://"
    if kind == "minLength":
        return "must not be empty"
    if kind == "exclusiveMinimum":
        return "must be greater than 0"
    if kind == "additionalProperties":
        extra = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        return "unknown key(s): " + ", ".join(extra) + " (allowed: " + ", ".join(error.schema["properties"]) + ")"
    return "is not valid here"


def _duplicate_groups(groups: list[Any]) -> set[Problem]:
    seen: dict[tuple[str, str], int] = {}
    problems: set[Problem] = set()
    for group in groups:
        if not isinstance(group, dict):
            continue
        vendor, name = group.get("vendor"), group.get("name")
        if isinstance(vendor, str) and isinstance(name, str):
            seen[(vendor, name)] = seen.get((vendor, name), 0) + 1
    for (vendor, name), count in seen.items():
        if count > 1:
            problems.add(Problem(f'group "{name}"', f"{count} {vendor} groups share this name; VS Code allows one"))
    return problems


def _model_id_problems(groups: list[Any], index: int, group: Mapping[str, Any]) -> set[Problem]:
    models = group.get("models")
    if not isinstance(models, list):
        return set()
    problems: set[Problem] = set()
    counts: dict[str, int] = {}
    for model in models:
        if isinstance(model, dict) and isinstance(model.get("id"), str):
            counts[model["id"]] = counts.get(model["id"], 0) + 1
    where = _label(groups, [index])
    for model_id, count in counts.items():
        if count > 1:
            problems.add(Problem(f'{where} › model "{model_id}"', f"listed {count} times; VS Code skips the repeats"))
        if model_id.lower() in BUILTIN_MODEL_IDS:
            problems.add(
                Problem(
                    f'{where} › model "{model_id}"',
                    "same id as a model Copilot serves itself; VS Code hides it, so use a different id",
                )
            )
    return problems


# --- showing a plan -------------------------------------------------------------------------------


def unified_diff(old: str, new: str, label: str) -> str:
    """The change as a unified diff, secrets masked (:mod:`ccendpoint.redact`), line ends normalised."""
    old_lines = redact_json_text(old.lstrip(BOM)).replace("\r\n", "\n").splitlines(keepends=True)
    new_lines = redact_json_text(new.lstrip(BOM)).replace("\r\n", "\n").splitlines(keepends=True)
    lines = list(difflib.unified_diff(old_lines, new_lines, f"a/{label}", f"b/{label}"))
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines)
