"""Reusing a request's own bytes of ``messages``: the result is always JSON equal to the rewritten body."""

from __future__ import annotations

import json
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ccendpoint.proxy.body import SPLICE_FROM, encode_body, parse_body
from ccendpoint.proxy.splice import messages_span, splice_messages
from vscode_client import recorded

#: Few key names, so that nested objects reuse the top-level ones (``],"model":`` deep inside).
KEYS = st.sampled_from(["model", "messages", "n", "tools", "temperature", "x y", "ünï", "", " a", "]", "role"])
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=12)
    | st.sampled_from(['],"model":', '"', "\\", '\\"', "],", "{", "}"])
)
VALUES = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12
)
MESSAGES = st.lists(st.dictionaries(KEYS, VALUES, max_size=4) | VALUES, max_size=5)
NEW_VALUES = VALUES | st.just({"type": "disabled"}) | st.just(0.6)


def canonical(value: Any) -> bytes:
    """Equality that tells 1, 1.0 and true apart (Python's == does not)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def serialise(body: dict[str, Any], style: str) -> bytes:
    if style == "orjson":
        return orjson.dumps(body)
    if style == "spaced":
        return json.dumps(body, ensure_ascii=False).encode()
    return json.dumps(body, ensure_ascii=True, separators=(",", ":")).encode()


@st.composite
def requests(draw: st.DrawFn) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """(raw body, what it parses to, a rewrite of it that keeps ``messages``)."""
    others = draw(st.dictionaries(KEYS.filter(lambda k: k != "messages"), VALUES, max_size=5))
    order = list(others)
    position = draw(st.integers(min_value=0, max_value=len(order)))
    order.insert(position, "messages")
    messages = draw(MESSAGES)
    original = {key: (messages if key == "messages" else others[key]) for key in order}
    raw = serialise(original, draw(st.sampled_from(["orjson", "orjson", "orjson", "spaced", "ascii"])))
    parsed = orjson.loads(raw)
    body = dict(parsed)
    for key in draw(st.lists(KEYS.filter(lambda k: k != "messages"), max_size=3)):
        body[key] = draw(NEW_VALUES)
    if draw(st.booleans()) and len(body) > 1:
        body.pop(draw(st.sampled_from([k for k in body if k != "messages"])))
    return raw, parsed, body


@given(requests())
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_a_spliced_body_is_json_equal_to_the_rewrite(case: tuple[bytes, dict[str, Any], dict[str, Any]]) -> None:
    raw, original, body = case
    spliced = splice_messages(raw, original, body)
    if spliced is not None:
        assert canonical(orjson.loads(spliced)) == canonical(body)
        assert spliced.startswith(b'{"messages":')
    if any(key not in body for key in original):
        assert spliced is None, "a removed member could hide among the reused bytes"


@given(requests())
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_compact_bodies_whose_rewrite_keeps_every_member_are_spliced(
    case: tuple[bytes, dict[str, Any], dict[str, Any]],
) -> None:
    raw, original, body = case
    keys = list(original)
    following = keys[keys.index("messages") + 1 :]
    assume(raw == orjson.dumps(original) and all(key in body for key in original))
    assume(not following or not following[0].startswith((" ", "\t", "\r", "\n", ",", ":", "]", "}")))
    # every other place where a start or end pattern occurs around the value costs an attempt
    head = orjson.dumps({k: original[k] for k in keys[: keys.index("messages")]})
    assume(head.count(b',"messages":') < 3)
    if following:
        tail = orjson.dumps({k: original[k] for k in following})
        assume(tail.count(b"]," + orjson.dumps(following[0]) + b":") < 3)
    spliced = splice_messages(raw, original, body)
    assert spliced is not None
    assert canonical(orjson.loads(spliced)) == canonical(body)


@pytest.mark.parametrize(
    ("raw", "expected_messages"),
    [
        # a second ``messages`` wins (last-wins), whichever side of the other members it is on
        (b'{"messages":[1],"messages":[2],"model":"m"}', [2]),
        (b'{"messages":[1],"model":"m","messages":[2]}', None),  # the later one is in the tail: not spliced
        (b'{"model":"m","messages":[1],"model":"k","n":1}', None),  # ends at a member that came twice
        (b'{"model":"m","messages":[{"model":[1],"n":2}],"n":3}', [{"model": [1], "n": 2}]),
    ],
)
def test_duplicate_members_keep_the_meaning_json_parsers_give_them(
    raw: bytes, expected_messages: list[Any] | None
) -> None:
    original = orjson.loads(raw)
    body = {**original, "temperature": 1}
    spliced = splice_messages(raw, original, body)
    if expected_messages is None:
        assert spliced is None or canonical(orjson.loads(spliced)) == canonical(body)
    else:
        assert spliced is not None
        assert orjson.loads(spliced)["messages"] == expected_messages == original["messages"]
        assert canonical(orjson.loads(spliced)) == canonical(body)


def test_a_nested_occurrence_of_the_end_pattern_is_skipped() -> None:
    raw = b'{"messages":[{"a":[1],"model":"inner"}],"model":"outer","tools":[{"b":[2],"model":"x"}]}'
    original = orjson.loads(raw)
    span = messages_span(raw, original)
    assert span is not None and raw[span[0] : span[1]] == b'[{"a":[1],"model":"inner"}]'


def test_vscode_agent_bodies_are_spliced_above_the_threshold() -> None:
    """A recorded VS Code body grown to a long history: the rewrite sends the request's messages bytes."""
    body = recorded("agent")["body"]
    text = body["messages"][0]["content"] + " naïve café"
    while len(orjson.dumps(body)) < SPLICE_FROM:
        body["messages"].append({"role": "tool", "tool_call_id": "functions.read_file:0", "content": text})
    # the history written with \u escapes, as some clients do: orjson would write "ï" as it is
    messages = json.dumps(body["messages"], separators=(",", ":")).encode()
    rest = orjson.dumps({k: v for k, v in body.items() if k != "messages"})
    raw = b'{"messages":' + messages + b"," + rest[1:]
    original, fast = parse_body(raw)
    rewritten = {**original, "temperature": 1, "top_p": 0.95, "thinking": {"type": "disabled"}}
    out = encode_body(rewritten, fast, raw=raw, original=original)
    assert canonical(orjson.loads(out)) == canonical(rewritten)
    assert out.startswith(b'{"messages":' + messages + b","), "the messages bytes are the request's own"
    assert b"na\\u00efve" in out
    smaller = encode_body(rewritten, fast, raw=raw[: SPLICE_FROM - 1], original=original)
    assert smaller == orjson.dumps(rewritten), "below the threshold the body is written in full"
