"""One group of ``chatLanguageModels.json``: finding it, editing it step by step, proving nothing else moved.

Planning (:mod:`ccendpoint.vscode.plan`) decides what changes; this module makes the change in the
text and checks it: after an edit the group holds exactly what was planned, and every character
outside it is what it was. A check that fails is ccendpoint's own mistake, so it stops everything
before a byte is written.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from ccendpoint.errors import CcendpointError
from ccendpoint.vscode.document import Document, Member, Node, parse, same
from ccendpoint.vscode.edits import Edit, apply_edits
from ccendpoint.vscode.facts import MANAGE_MODELS, OPEN_MODELS_JSON

# --- finding --------------------------------------------------------------------------------------


def find_group(doc: Document, vendor: str, name: str) -> tuple[int, Member] | None:
    """The group's position among the file's groups, and its member; None when there is none."""
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
            hint=f"Rename or delete the extra groups ({MANAGE_MODELS}), then run again.",
        )
    return found[0] if found else None


def models_node(group: Node, name: str) -> Node | None:
    node = group.get("models")
    if node is not None and node.kind != "array":
        raise CcendpointError(
            f"The group '{name}' has a 'models' value that is not a list.",
            hint=f"Fix it in VS Code ({OPEN_MODELS_JSON}), then run again.",
        )
    return node


def model_index(models: Node, model_id: str) -> int | None:
    """Position of the first entry with this id."""
    for index, member in enumerate(models.members):
        value = member.value.value
        if isinstance(value, dict) and value.get("id") == model_id:
            return index
    return None


# --- editing --------------------------------------------------------------------------------------


class Editing:
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


# --- checks ---------------------------------------------------------------------------------------


def internal(problem: str) -> CcendpointError:
    return CcendpointError(
        f"internal error while planning: {problem}; nothing was written.",
        hint="Please report this with the file (remove keys first). Edit the file by hand meanwhile.",
    )


def check_appended(old: Document, new_text: str, desired: Mapping[str, Any]) -> Document:
    """The new group is last, equals ``desired``, and every earlier group kept its exact text."""
    new = parse(new_text)
    members = new.root.members
    if len(members) != len(old.root.members) + 1 or not same(members[-1].value.value, desired):
        raise internal("the new group is not what was rendered")
    for before, after in zip(old.root.members, members, strict=False):
        if old.text[before.start : before.end] != new.text[after.start : after.end]:
            raise internal("another group's text changed")
    if old.text[: old.root.start] != new.text[: new.root.start]:
        raise internal("text before the array changed")
    return new


def check_merged(old: Document, new: Document, index: int, expected: Any) -> None:
    """The group holds what was planned, and every character outside it is unchanged."""
    before = old.root.members[index].value
    after = new.root.members[index].value
    if not same(after.value, expected):
        raise internal("the edited group does not hold what was planned")
    tail = len(old.text) - before.end
    head_kept = new.text[: before.start] == old.text[: before.start]
    if not head_kept or new.text[len(new.text) - tail :] != old.text[before.end :]:
        raise internal("text outside the group changed")


def check_removed(old: Document, new_text: str, index: int) -> list[Any]:
    """The group at ``index`` is gone and every other group is as it was; the groups that are left."""
    remaining = [member.value.value for i, member in enumerate(old.root.members) if i != index]
    if not same(parse(new_text).value, remaining):
        raise internal("the removal would change other groups")
    return remaining
