"""Tolerant JSONC reading of VS Code's files, with the position of every value (pure, no I/O).

VS Code reads its files leniently: ``//`` and ``/* */`` comments and trailing commas are fine. This
reader accepts the same, and keeps the position of every value and object member, and how the file
is formatted, so that :mod:`ccendpoint.vscode.edits` can change one value and leave every other
character of the file, comments and formatting included, exactly as it was.

Positions are offsets into the decoded text (characters, after a leading BOM is removed).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

from ccendpoint.errors import CcendpointError
from ccendpoint.vscode.facts import MODELS_FILE_INDENT

BOM = "\ufeff"

_WHITESPACE = re.compile(r"[ \t\r\n]+")
_STRING = re.compile(r'"(?:[^"\\\x00-\x1f]|\\.)*"', re.DOTALL)
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
_LITERALS = {"true": True, "false": False, "null": None}
_WORD = re.compile(r"[A-Za-z_$][A-Za-z0-9_$]*")

Kind = Literal["object", "array", "string", "number", "literal"]


class DocumentError(CcendpointError):
    """The text is not a JSON (with comments) array; says where."""

    def __init__(self, problem: str, line: int, column: int, *, source: str = "") -> None:
        where = f"{source}:{line}:{column}" if source else f"line {line}, column {column}"
        super().__init__(
            f"{where}: {problem}",
            hint="Fix the file by hand (or restore a backup with `ccendpoint restore`); nothing was written.",
        )
        self.problem = problem
        self.line = line
        self.column = column


@dataclass
class Member:
    """An element of an array, or a ``"key": value`` pair of an object."""

    start: int  # where the key starts (objects) or where the value starts (arrays)
    value: Node
    key: str | None = None
    comma: int | None = None  # position of the comma that follows this member, if any

    @property
    def end(self) -> int:
        return self.value.end


@dataclass
class Node:
    kind: Kind
    start: int
    end: int  # exclusive
    value: Any = None
    members: list[Member] = field(default_factory=list)

    def get(self, key: str) -> Node | None:
        """The value of ``key`` in an object (the last one wins, as in JSON.parse)."""
        member = self.member(key)
        return member.value if member else None

    def member(self, key: str) -> Member | None:
        for member in reversed(self.members):
            if member.key == key:
                return member
        return None


@dataclass(frozen=True)
class Document:
    """A parsed file: its text, the root array node and how the file is formatted."""

    text: str
    root: Node
    bom: bool = False
    newline: str = "\n"
    indent: str = MODELS_FILE_INDENT

    @property
    def value(self) -> list[Any]:
        value: list[Any] = self.root.value
        return value

    def full_text(self, text: str | None = None) -> str:
        """``text`` (default: the current text) with the BOM put back if the file had one."""
        body = self.text if text is None else text
        return (BOM + body) if self.bom else body


def line_column(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of ``offset`` in ``text``."""
    line = text.count("\n", 0, offset) + 1
    column = offset - (text.rfind("\n", 0, offset) + 1) + 1
    return line, column


class _Parser:
    def __init__(self, text: str, source: str) -> None:
        self.text = text
        self.pos = 0
        self.source = source

    def fail(self, problem: str, at: int | None = None) -> DocumentError:
        line, column = line_column(self.text, self.pos if at is None else at)
        return DocumentError(problem, line, column, source=self.source)

    def skip(self) -> None:
        """Skip whitespace and comments."""
        text = self.text
        while self.pos < len(text):
            match = _WHITESPACE.match(text, self.pos)
            if match:
                self.pos = match.end()
                continue
            if text.startswith("//", self.pos):
                end = text.find("\n", self.pos)
                self.pos = len(text) if end < 0 else end
                continue
            if text.startswith("/*", self.pos):
                end = text.find("*/", self.pos + 2)
                if end < 0:
                    raise self.fail("unterminated /* comment")
                self.pos = end + 2
                continue
            return

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def value(self, depth: int = 0) -> Node:
        if depth > 200:
            raise self.fail("nested too deeply")
        self.skip()
        char = self.peek()
        if char == "{":
            return self.container("object", "}", depth)
        if char == "[":
            return self.container("array", "]", depth)
        if char == '"':
            return self.string()
        if char == "-" or char.isdigit():
            return self.number()
        word = _WORD.match(self.text, self.pos)
        if word and word.group() in _LITERALS:
            start, self.pos = self.pos, word.end()
            return Node("literal", start, self.pos, _LITERALS[word.group()])
        if not char:
            raise self.fail("unexpected end of file, expected a value")
        # a bare word is not echoed: it could be a key pasted without quotes
        shown = "text" if word or char.isalnum() else repr(char)
        raise self.fail(f"unexpected {shown}, expected a value")

    def string(self) -> Node:
        match = _STRING.match(self.text, self.pos)
        if not match:
            raise self.fail("unterminated string or control character inside a string")
        try:
            value = json.loads(match.group())
        except json.JSONDecodeError as exc:
            raise self.fail(f"bad escape in string ({exc.msg})", self.pos + exc.pos) from None
        start, self.pos = self.pos, match.end()
        return Node("string", start, self.pos, value)

    def number(self) -> Node:
        match = _NUMBER.match(self.text, self.pos)
        if not match:
            raise self.fail("malformed number")
        start, self.pos = self.pos, match.end()
        return Node("number", start, self.pos, json.loads(match.group()))

    def container(self, kind: Kind, closer: str, depth: int) -> Node:
        node = Node(kind, self.pos, self.pos)
        self.pos += 1
        while True:
            self.skip()
            if self.peek() == closer:
                self.pos += 1
                break
            if node.members and node.members[-1].comma is None:
                if not self.peek():
                    raise self.fail(f"unexpected end of file, expected ',' or '{closer}'")
                raise self.fail(f"expected ',' or '{closer}'")
            node.members.append(self.member(kind, depth))
            self.skip()
            if self.peek() == ",":
                node.members[-1].comma = self.pos
                self.pos += 1
        node.end = self.pos
        if kind == "object":
            node.value = {m.key: m.value.value for m in node.members}
        else:
            node.value = [m.value.value for m in node.members]
        return node

    def member(self, kind: Kind, depth: int) -> Member:
        start = self.pos
        if kind == "array":
            return Member(start, self.value(depth + 1))
        if self.peek() != '"':
            raise self.fail("expected a property name in double quotes" if self.peek() else "unexpected end of file")
        key = self.string().value
        self.skip()
        if self.peek() != ":":
            raise self.fail("expected ':' after the property name")
        self.pos += 1
        return Member(start, self.value(depth + 1), key=key)


def parse_value(text: str, source: str = "") -> Node:
    """Parse any JSONC value; the whole text must be that one value (comments around it allowed)."""
    parser = _Parser(text, source)
    node = parser.value()
    parser.skip()
    if parser.pos != len(text):
        raise parser.fail("unexpected text after the end of the JSON value")
    return node


def parse(raw: str, source: str = "") -> Document:
    """Parse the file's text. An empty file counts as an empty array, as VS Code treats it."""
    bom = raw.startswith(BOM)
    text = raw[1:] if bom else raw
    if not text.strip():
        root = Node("array", 0, 0, [])
        return Document(text, root, bom, newline_style(text), MODELS_FILE_INDENT)
    root = parse_value(text, source)
    if root.kind != "array":
        line, column = line_column(text, root.start)
        raise DocumentError(
            f"the top level is {'an object' if root.kind == 'object' else 'a ' + root.kind}, but VS Code expects "
            "an array of provider groups ([ {...}, ... ])",
            line,
            column,
            source=source,
        )
    return Document(text, root, bom, newline_style(text), indent_unit(text))


def newline_style(text: str) -> str:
    """``\\r\\n`` when most line ends in the text are CRLF, otherwise ``\\n``."""
    crlf = text.count("\r\n")
    return "\r\n" if crlf and crlf * 2 >= text.count("\n") else "\n"


def indent_unit(text: str) -> str:
    """The indentation step the file uses: a tab, or the most common increase in leading spaces."""
    steps: dict[str, int] = {}
    previous = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        lead = line[: len(line) - len(line.lstrip(" \t"))]
        if len(lead) > len(previous) and lead.startswith(previous):
            step = lead[len(previous) :]
            if step.strip(" ") == "" or step.strip("\t") == "":
                steps[step] = steps.get(step, 0) + 1
        previous = lead
    if not steps:
        return MODELS_FILE_INDENT
    return max(steps, key=lambda s: (steps[s], -len(s)))


def line_indent(text: str, offset: int) -> str:
    """The leading whitespace of the line that contains ``offset``."""
    start = text.rfind("\n", 0, offset) + 1
    end = start
    while end < len(text) and text[end] in " \t":
        end += 1
    return text[start:end]


_BLOCK_COMMENT = re.compile(r"/\*.*?\*/", re.DOTALL)


def starts_line(text: str, offset: int) -> bool:
    """True when only whitespace and ``/* */`` comments precede ``offset`` on its line."""
    start = text.rfind("\n", 0, offset) + 1
    return _BLOCK_COMMENT.sub("", text[start:offset]).strip(" \t") == ""


def canonical(value: Any) -> str:
    """One text per JSON value: key order does not matter, ``true`` and ``1`` differ."""
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def same(a: Any, b: Any) -> bool:
    """The two JSON values are equal (as JSON, not as Python: ``True`` is not ``1``)."""
    return canonical(a) == canonical(b)
