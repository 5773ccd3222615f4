"""Tagging an answer's reasoning with an id on its way to VS Code, and nothing else."""

from __future__ import annotations

import itertools

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ccendpoint.proxy.tagging import MAX_PENDING, StreamTagger, tag_json_answer


def event(delta: dict[str, object], newline: bytes = b"\n") -> bytes:
    chunk = {"id": "c1", "object": "chat.completion.chunk", "choices": [{"index": 0, "delta": delta}]}
    return b"data: " + orjson.dumps(chunk) + newline + newline


ANSWER = [
    event({"role": "assistant", "content": ""}),
    event({"reasoning_content": "First I look "}),
    event({"reasoning_content": "at the files."}),
    event({"content": "Here they are."}),
    b"data: [DONE]\n\n",
]


def run(tagger: StreamTagger, chunks: list[bytes]) -> bytes:
    return b"".join(tagger.feed(chunk) for chunk in chunks) + tagger.flush()


def deltas(raw: bytes) -> list[dict[str, object]]:
    blocks = [b for b in raw.replace(b"\r\n", b"\n").split(b"\n\n") if b.startswith(b"data: {")]
    return [orjson.loads(b[6:])["choices"][0]["delta"] for b in blocks]


def test_only_the_first_reasoning_delta_gets_the_id() -> None:
    tagger = StreamTagger("ccr-1")
    out = run(tagger, ANSWER)
    assert tagger.tagged
    assert [d.get("cot_id") for d in deltas(out)] == [None, "ccr-1", None, None]
    assert out.split(b"\n\n")[2:] == b"".join(ANSWER).split(b"\n\n")[2:], "later events pass byte for byte"


@given(st.lists(st.integers(min_value=1, max_value=40), min_size=1, max_size=30))
def test_any_split_into_chunks_gives_the_same_bytes(cuts: list[int]) -> None:
    raw = b"".join(ANSWER)
    points = sorted({p for p in itertools.accumulate(cuts) if p < len(raw)})
    chunks = [raw[a:b] for a, b in itertools.pairwise([0, *points, len(raw)])]
    assert run(StreamTagger("ccr-1"), chunks) == run(StreamTagger("ccr-1"), [raw])


def test_crlf_line_endings_are_kept() -> None:
    raw = (
        b"".join(event(d, b"\r\n") for d in ({"reasoning_content": "think"}, {"content": "done"}))
        + b"data: [DONE]\r\n\r\n"
    )
    out = run(StreamTagger("ccr-2"), [raw])
    assert out.count(b"\r\n\r\n") == 3 and b"\n\n" not in out.replace(b"\r\n\r\n", b"")
    assert deltas(out)[0]["cot_id"] == "ccr-2"


def test_a_delta_with_an_id_of_its_own_is_left_alone() -> None:
    raw = event({"reasoning_content": "think", "reasoning_opaque": "abc"}) + event({"content": "x"})
    tagger = StreamTagger("ccr-3")
    assert run(tagger, [raw]) == raw and not tagger.tagged


def test_an_answer_without_reasoning_passes_unchanged_and_stops_being_split() -> None:
    raw = event({"content": "no thinking here"}) + event({"reasoning_content": "late"}) + b"data: [DONE]\n\n"
    tagger = StreamTagger("ccr-4")
    first = tagger.feed(raw[:20])
    assert first == b""  # held until the event is complete
    rest = tagger.feed(raw[20:])
    assert first + rest + tagger.flush() == raw and not tagger.tagged and not tagger.active


def test_the_reasoning_spelling_some_providers_use_is_tagged_too() -> None:
    out = run(StreamTagger("ccr-5"), [event({"reasoning": "think"})])
    assert deltas(out)[0] == {"reasoning": "think", "cot_id": "ccr-5"}


def test_a_stream_that_is_not_sse_is_passed_through() -> None:
    raw = b"x" * (MAX_PENDING + 10)
    tagger = StreamTagger("ccr-6")
    assert tagger.feed(raw) == raw and not tagger.active


@pytest.mark.parametrize(
    ("message", "tagged"),
    [
        ({"role": "assistant", "content": "x", "reasoning_content": "think"}, True),
        ({"role": "assistant", "content": "x"}, False),
        ({"role": "assistant", "content": "x", "reasoning_content": "think", "cot_id": "own"}, False),
    ],
)
def test_a_whole_answer_is_tagged_in_its_message(message: dict[str, object], tagged: bool) -> None:
    body = orjson.dumps({"id": "c", "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]})
    out = tag_json_answer(body, "ccr-7")
    if tagged:
        assert out is not None and orjson.loads(out)["choices"][0]["message"]["cot_id"] == "ccr-7"
    else:
        assert out is None
    assert tag_json_answer(b'not json but mentions "reasoning', "ccr-7") is None
