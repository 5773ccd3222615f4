"""Minimal text edits to a parsed JSONC document: replace a value, add or remove a member (pure).

An edit rewrites only the text of what it changes, in the file's own indentation and line ends
(:class:`ccendpoint.vscode.document.Document` knows them); every other character stays as it was.
A removal proves itself: the result must parse to the container without that member.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from ccendpoint.errors import CcendpointError
from ccendpoint.vscode.document import (
    Document,
    DocumentError,
    Member,
    Node,
    line_indent,
    parse_value,
    same,
    starts_line,
)
from ccendpoint.vscode.facts import MODELS_FILE_INDENT, OPEN_MODELS_JSON


def render(value: Any, indent: str, base: str = "", newline: str = "\n") -> str:
    """``value`` as JSON in the file's style; lines after the first start with ``base``."""
    text = json.dumps(value, indent=indent, ensure_ascii=False)
    return text.replace("\n", newline + base)


def render_new_file(groups: Sequence[Any]) -> str:
    """A new file exactly as VS Code writes one."""
    return json.dumps(list(groups), indent=MODELS_FILE_INDENT, ensure_ascii=False)


@dataclass(frozen=True)
class Edit:
    """Replace ``text[start:end]`` with ``new``."""

    start: int
    end: int
    new: str


def apply_edits(text: str, edits: Sequence[Edit]) -> str:
    """Apply non-overlapping edits (any order)."""
    ordered = sorted(edits, key=lambda e: (e.start, e.end))
    for before, after in itertools.pairwise(ordered):
        if after.start < before.end:
            raise ValueError("overlapping edits")
    pieces: list[str] = []
    cursor = 0
    for edit in ordered:
        pieces.append(text[cursor : edit.start])
        pieces.append(edit.new)
        cursor = edit.end
    pieces.append(text[cursor:])
    return "".join(pieces)


def member_text(key: str | None, value: Any, doc: Document, base: str) -> str:
    rendered = render(value, doc.indent, base, doc.newline)
    return rendered if key is None else f"{json.dumps(key, ensure_ascii=False)}: {rendered}"


def replace_value(doc: Document, node: Node, value: Any) -> Edit:
    """Replace one value in place, indented like the line it is on."""
    return Edit(node.start, node.end, render(value, doc.indent, line_indent(doc.text, node.start), doc.newline))


def append_member(doc: Document, container: Node, value: Any, key: str | None = None) -> Edit:
    """Add a member after the last one of an array or object (``key`` for objects)."""
    text = doc.text
    if not container.members:
        return _append_to_empty(doc, container, value, key)
    last = container.members[-1]
    base = line_indent(text, last.start)
    separator = ("," + doc.newline + base) if starts_line(text, last.start) else ", "
    return Edit(last.end, last.end, separator + member_text(key, value, doc, base))


def _append_to_empty(doc: Document, container: Node, value: Any, key: str | None) -> Edit:
    text = doc.text
    outer = line_indent(text, container.start)
    inner = outer + doc.indent
    body = member_text(key, value, doc, inner)
    interior_start, interior_end = container.start + 1, container.end - 1
    interior = text[interior_start:interior_end]
    if not interior.strip():
        return Edit(interior_start, interior_end, doc.newline + inner + body + doc.newline + outer)
    # comments inside the empty container stay: the member goes after the last one
    anchor = interior_start + len(interior.rstrip(" \t\r\n"))
    closing = "" if "\n" in text[anchor:interior_end] else doc.newline + outer
    return Edit(anchor, anchor, doc.newline + inner + body + closing)


def remove_member(doc: Document, container: Node, index: int) -> list[Edit]:
    """Edits that delete member ``index`` and one comma, leaving the neighbours' text as it was.

    Candidates are tried from the tidiest to the plainest; the first one whose result still parses
    to the container without that member wins.
    """
    expected = _without(container, index)
    for edits in _removal_candidates(doc, container, index):
        if _check(doc, container, edits, expected):
            return edits
    raise CcendpointError(
        "could not remove an entry without disturbing the text around it",
        hint=f"Remove it by hand in VS Code: {OPEN_MODELS_JSON}.",
    )


def _without(container: Node, index: int) -> Any:
    if container.kind == "array":
        return [m.value.value for i, m in enumerate(container.members) if i != index]
    return {m.key: m.value.value for i, m in enumerate(container.members) if i != index}


def _check(doc: Document, container: Node, edits: list[Edit], expected: Any) -> bool:
    new_text = apply_edits(doc.text, edits)
    end = container.end + sum(len(e.new) - (e.end - e.start) for e in edits)
    try:
        node = parse_value(new_text[container.start : end])
    except DocumentError:
        return False
    return same(node.value, expected)


def _removal_candidates(doc: Document, container: Node, index: int) -> Iterator[list[Edit]]:
    text = doc.text
    members = container.members
    member = members[index]
    lead = _whitespace_before(text, member.start)
    if index == len(members) - 1 and index > 0:
        # the last one: drop the comma before it and the line it sits on; a trailing comma stays
        comma = members[index - 1].comma
        assert comma is not None
        yield [Edit(comma, comma + 1, ""), Edit(lead, member.end, "")]
        yield [Edit(comma, comma + 1, ""), Edit(member.start, member.end, "")]
    elif member.comma is not None:
        # one of several, or the only one with a trailing comma: drop it, its comma and the space after
        after = _whitespace_after(text, member.comma + 1)
        if index == 0 and len(members) == 1 and _only_space_around(doc, container, member):
            yield [Edit(container.start + 1, container.end - 1, "")]
        yield [Edit(member.start, after, "")]
        yield [Edit(member.start, member.end, ""), Edit(member.comma, member.comma + 1, "")]
    else:  # the only member
        if _only_space_around(doc, container, member):
            yield [Edit(container.start + 1, container.end - 1, "")]
        yield [Edit(lead, member.end, "")]
        yield [Edit(member.start, member.end, "")]


def _only_space_around(doc: Document, container: Node, member: Member) -> bool:
    """Nothing but whitespace (and the member's own comma) inside the container besides the member."""
    before = doc.text[container.start + 1 : member.start]
    after = doc.text[member.end : container.end - 1].replace(",", "", 1)
    return not (before + after).strip()


def _whitespace_before(text: str, offset: int) -> int:
    start = offset
    while start > 0 and text[start - 1] in " \t\r\n":
        start -= 1
    return start


def _whitespace_after(text: str, offset: int) -> int:
    end = offset
    while end < len(text) and text[end] in " \t\r\n":
        end += 1
    return end
