"""The tolerant JSONC reader and its minimal edits."""

from __future__ import annotations

import json

import pytest

from ccendpoint.vscode.document import BOM, DocumentError, indent_unit, newline_style, parse, parse_value
from ccendpoint.vscode.edits import append_member, apply_edits, remove_member, render_new_file, replace_value
from vscode_helpers import fixture_text


def test_plain_json_parses_like_json_loads() -> None:
    text = json.dumps([{"a": [1, 2.5, -3e2, True, False, None], "b": "x\\y \u00e9 \n", "c": {}}])
    assert parse(text).value == json.loads(text)


def test_comments_and_trailing_commas_are_accepted() -> None:
    doc = parse(fixture_text("commented.jsonc"))
    names = [group["name"] for group in doc.value]
    assert names == ["Ollama", "My Gateway", "OpenRouter"]
    gateway = doc.value[1]
    assert gateway["apiKey"] == "${input:chat.lm.secret.-60b744f3}"
    assert gateway["models"][0]["modelOptions"] == {"temperature": None, "top_p": None}


def test_member_spans_cover_exactly_each_group() -> None:
    text = fixture_text("commented.jsonc")
    doc = parse(text)
    for member in doc.root.members:
        span = text[member.start : member.end]
        assert span.startswith("{") and span.endswith("}")
        assert parse_value(span).value == member.value.value
    assert doc.root.members[-1].comma is not None  # the trailing comma is remembered


def test_object_members_know_their_keys_and_spans() -> None:
    text = '{"a": 1, /* c */ "b" : [true] }'
    node = parse_value(text)
    b = node.member("b")
    assert b is not None
    assert text[b.start : b.end] == '"b" : [true]'
    assert node.get("a") is not None and node.get("zzz") is None


def test_errors_do_not_echo_bare_words() -> None:
    with pytest.raises(DocumentError) as raised:
        parse('[{"apiKey": sk_live_abcdef}]')
    assert "sk_live" not in raised.value.message
    assert "unexpected text" in raised.value.message


def test_comment_markers_inside_strings_are_text() -> None:
    doc = parse('[{"url": "http://x//y", "note": "/* not a comment */"}]')
    assert doc.value == [{"url": "http://x//y", "note": "/* not a comment */"}]


@pytest.mark.parametrize(
    ("text", "line", "column", "words"),
    [
        (fixture_text("bad_syntax.json"), 5, 5, "expected ',' or '}'"),
        (fixture_text("top_object.json"), 1, 1, "top level is an object"),
        ('"just a string"', 1, 1, "top level is a string"),
        ("[1,,2]", 1, 4, "expected a value"),
        ("[\n  /* never closed\n", 2, 3, "unterminated /* comment"),
        ('["no end', 1, 2, "unterminated string"),
        ("[1] x", 1, 5, "after the end"),
        ("[", 1, 2, "end of file"),
        ('[{"a" 1}]', 1, 7, "expected ':'"),
        ("[{a: 1}]", 1, 3, "property name in double quotes"),
        ("[nul]", 1, 2, "expected a value"),
        ('["bad \\q escape"]', 1, 7, "bad escape"),
    ],
)
def test_errors_say_where(text: str, line: int, column: int, words: str) -> None:
    with pytest.raises(DocumentError) as raised:
        parse(text, source="models.json")
    error = raised.value
    assert (error.line, error.column) == (line, column)
    assert words in error.problem
    assert error.message.startswith(f"models.json:{line}:{column}: ")
    assert "nothing was written" in (error.hint or "")


def test_empty_file_is_an_empty_list() -> None:
    assert parse("").value == []
    assert parse("  \n").value == []


def test_bom_is_set_aside_and_put_back() -> None:
    doc = parse(BOM + '[{"name": "A"}]')
    assert doc.bom is True
    assert doc.value == [{"name": "A"}]
    assert doc.full_text() == BOM + '[{"name": "A"}]'


def test_newline_and_indent_detection() -> None:
    assert newline_style("[\r\n  1\r\n]") == "\r\n"
    assert newline_style("[\n  1\n]") == "\n"
    assert indent_unit('[\n\t{\n\t\t"a": 1\n\t}\n]') == "\t"
    assert indent_unit('[\n  {\n    "a": 1\n  }\n]') == "  "
    assert indent_unit(fixture_text("odd_indent.json")) == "   "
    assert indent_unit("[1]") == "\t"  # nothing to learn from: VS Code's tab


def test_new_file_is_written_like_vscode() -> None:
    text = render_new_file([{"name": "A", "vendor": "customendpoint", "models": []}])
    assert text == '[\n\t{\n\t\t"name": "A",\n\t\t"vendor": "customendpoint",\n\t\t"models": []\n\t}\n]'


def test_replace_value_keeps_the_line_indent() -> None:
    text = '[\n  {\n    "id": "a",\n    "o": {"t": 1} // why\n  }\n]'
    doc = parse(text)
    node = doc.root.members[0].value.get("o")
    assert node is not None
    new = apply_edits(text, [replace_value(doc, node, {"t": 2, "u": None})])
    assert new == '[\n  {\n    "id": "a",\n    "o": {\n      "t": 2,\n      "u": null\n    } // why\n  }\n]'


@pytest.mark.parametrize(
    "text",
    [
        "[]",
        "[ // nothing yet\n]",
        '[\n\t{"a": 1}\n]',
        '[\n\t{"a": 1},\n]',
        '[{"a": 1}, {"b": 2}]',
        '[\r\n  {"a": 1} // one\r\n]',
        '[\n  /* x */ {"a": 1}\n]',
        '[\n   {"a": 1},\n   // about the next\n   {"b": 2}\n]',
    ],
)
def test_append_then_remove_gives_back_the_exact_text(text: str) -> None:
    doc = parse(text)
    appended = apply_edits(text, [append_member(doc, doc.root, {"name": "G", "models": [1, 2]})])
    after = parse(appended)
    assert after.value == [*doc.value, {"name": "G", "models": [1, 2]}]
    assert appended.startswith(text[: doc.root.members[-1].end] if doc.root.members else "[")
    removed = apply_edits(appended, remove_member(after, after.root, len(after.root.members) - 1))
    assert removed == text


def test_appended_member_uses_the_file_style() -> None:
    text = '[\r\n  {"a": 1}\r\n]'
    doc = parse(text)
    new = apply_edits(text, [append_member(doc, doc.root, {"b": [2]})])
    assert new == '[\r\n  {"a": 1},\r\n  {\r\n    "b": [\r\n      2\r\n    ]\r\n  }\r\n]'


def test_append_to_an_object_adds_a_key() -> None:
    text = '{\n\t"a": 1\n}'
    doc_node = parse_value(text)
    doc = parse("[]")
    from dataclasses import replace

    doc = replace(doc, text=text, root=doc_node)
    new = apply_edits(text, [append_member(doc, doc_node, [1], key="models")])
    assert new == '{\n\t"a": 1,\n\t"models": [\n\t\t1\n\t]\n}'


@pytest.mark.parametrize(
    ("text", "index", "expected"),
    [
        ("[1, 2, 3]", 0, "[2, 3]"),
        ("[1, 2, 3]", 1, "[1, 3]"),
        ("[1, 2, 3]", 2, "[1, 2]"),
        ("[1, 2, 3,]", 2, "[1, 2,]"),
        ("[\n  1,\n  // keep me\n  2,\n  3\n]", 1, "[\n  1,\n  // keep me\n  3\n]"),
        ("[\n  1, // about one\n  2\n]", 1, "[\n  1 // about one\n]"),
        ("[\n  1, // about one\n  2]", 1, "[\n  1 // about one\n  ]"),
        ("[ /* only */ 1 ]", 0, "[ /* only */ ]"),
        ("[1,]", 0, "[]"),
        ("[\n\t1\n]", 0, "[]"),
    ],
)
def test_remove_member_keeps_neighbours_and_comments(text: str, index: int, expected: str) -> None:
    doc = parse(text)
    new = apply_edits(text, remove_member(doc, doc.root, index))
    assert new == expected
    assert parse(new).value == [v for i, v in enumerate(doc.value) if i != index]


def test_overlapping_edits_are_refused() -> None:
    from ccendpoint.vscode.edits import Edit

    with pytest.raises(ValueError, match="overlapping"):
        apply_edits("abcdef", [Edit(0, 3, "x"), Edit(2, 4, "y")])
