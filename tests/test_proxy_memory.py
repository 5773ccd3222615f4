"""What one request may cost: a body limit, a bound on JSON values before parsing, turns for large bodies."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from ccendpoint.proxy import body as body_module
from ccendpoint.proxy import turns as turns_module
from ccendpoint.proxy.body import MAX_VALUES, check_structure, count_values
from ccendpoint.proxy.errors import RequestRejected
from ccendpoint.rules.replay import last_turn, turn_entries
from fake_upstreams import Behaviour, FakeUpstream
from proxy_helpers import read_log, running_proxy, vscode_request
from test_proxy_failures import assert_json_error

LARGE = 64 * 1024


def tiny_values(count: int) -> bytes:
    """A chat request whose messages are ``count`` empty objects: three bytes each, 72 parsed.

    It has ``2 * count + 3`` items: a comma and a brace per object, and the body's own."""
    return b'{"model":"kimi-k2.6","messages":[' + b"{}," * (count - 1) + b"{}]}"


def dense_history(tool_results: int) -> bytes:
    """A real agent request grown long: tool results of code, a comma or bracket every few bytes."""
    body = vscode_request("kimi-k2.6", "follow_up")
    code = "function pick(a, b) { return [a, b, {first: a, second: b}]; }\n" * 400
    body["messages"] += [{"role": "tool", "tool_call_id": f"call_{i}", "content": code} for i in range(tool_results)]
    return orjson.dumps(body)


def large_request(size: int) -> bytes:
    body = vscode_request("kimi-k2.6", "chat", stream=False)
    body["messages"].append({"role": "user", "content": "x" * size})
    return orjson.dumps(body)


async def test_a_body_of_tiny_values_is_refused_before_it_is_parsed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    parsed: list[bytes] = []
    monkeypatch.setattr(body_module, "_loads", parsed.append)
    hostile = tiny_values(MAX_VALUES // 2 + 1)
    log = tmp_path / "kimi.ndjson"
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url, log=log) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=hostile) as response,
    ):
        error = assert_json_error(response.status, response.headers, await response.read(), 413)
    assert error["code"] == "body_too_complex" and f"{MAX_VALUES:,}" in error["message"]
    assert not parsed and not upstream.received
    [line] = await read_log(log)
    assert (line["outcome"], line["status"]) == ("rejected", 413)


def test_the_bound_counts_values_not_the_commas_inside_strings() -> None:
    history = dense_history(100)
    assert count_values(history) > MAX_VALUES  # counted naively, this real history would be refused
    check_structure(history)  # no exception: its values are a few hundred
    with pytest.raises(RequestRejected) as refused:
        check_structure(tiny_values(MAX_VALUES // 2 + 1))
    assert refused.value.status == 413


def test_the_bound_is_exact_at_its_edge() -> None:
    most = (MAX_VALUES - 3) // 2
    assert count_values(tiny_values(most)) <= MAX_VALUES < count_values(tiny_values(most + 1))
    check_structure(tiny_values(most))
    with pytest.raises(RequestRejected):
        check_structure(tiny_values(most + 1))


def test_strings_end_where_json_says() -> None:
    over = (MAX_VALUES - 3) // 2 + 1  # empty objects: one more than the bound allows
    # a string ending in an escaped backslash: the objects after it are outside, and count
    outside = b'{"model":"m\\\\","messages":[' + b"{}," * (over - 1) + b"{}]}"
    with pytest.raises(RequestRejected):
        check_structure(outside)
    # an escaped quote inside a string: the objects after it are still inside, and do not
    inside = b'{"model":"m\\"' + b"{}," * over + b'","messages":[]}'
    assert count_values(inside) > MAX_VALUES
    check_structure(inside)


def test_a_string_that_never_closes_is_read_once() -> None:
    # over the bound, then a quote and escaped quotes that never close: a pattern that tried again
    # from every quote would take minutes here (holding the interpreter lock, so it runs in a
    # process of its own); reading it once takes milliseconds
    script = (
        "from ccendpoint.proxy.body import MAX_VALUES, check_structure\n"
        "from ccendpoint.proxy.errors import RequestRejected\n"
        "hostile = b',' * (MAX_VALUES + 1) + b'\"' + b'\\\\\"' * 100_000\n"
        "try:\n    check_structure(hostile)\nexcept RequestRejected:\n    print('refused')\n"
    )
    try:
        done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("counting the items of a string that never closes did not finish")
    assert done.stdout.strip() == "refused", done.stderr


async def test_a_long_real_history_goes_through_with_the_default_limits() -> None:
    history = dense_history(100)  # 100 tool results of 25 KB of code: what a long agent session sends
    assert len(history) > turns_module.LARGE_BODY  # so it also takes a turn, and gives it back
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url) as proxy,
        aiohttp.ClientSession() as session,
    ):
        for _ in range(turns_module.TURNS + 1):
            async with session.post(proxy.url, data=history) as response:
                assert response.status == 200, await response.text()
                await response.read()
    assert len(upstream.received) == turns_module.TURNS + 1


@pytest.fixture
def one_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    """One turn for the process, a short wait for it, and 64 KB bodies counted as large."""
    monkeypatch.setattr(turns_module, "TURNS", 1)
    monkeypatch.setattr(turns_module, "WAIT", 0.3)
    monkeypatch.setattr(turns_module, "LARGE_BODY", LARGE)


@contextlib.asynccontextmanager
async def holding_the_turn(port: int) -> AsyncIterator[None]:
    """A client that announces a large body and sends none of it: it holds the only turn until it goes."""
    _reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(slow_sender_head(port, 2 * LARGE + 1))
    await writer.drain()
    await asyncio.sleep(0.1)
    try:
        yield
    finally:
        writer.close()  # the client goes away: its turn is given back
        await writer.wait_closed()
        await asyncio.sleep(0.1)


async def answer(session: aiohttp.ClientSession, url: str, body: bytes) -> tuple[int, bytes, dict[str, str]]:
    """POST ``body``: the answer's status, body and headers."""
    async with session.post(url, data=body) as response:
        return response.status, await response.read(), dict(response.headers)


def slow_sender_head(port: int, length: int) -> bytes:
    return (
        f"POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {length}\r\n\r\n"
    ).encode()


@pytest.mark.usefixtures("one_turn")
async def test_large_bodies_wait_for_a_turn_and_one_that_waits_too_long_gets_a_503(tmp_path: Path) -> None:
    big = large_request(2 * LARGE)
    small = large_request(100)
    log = tmp_path / "kimi.ndjson"
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url, log=log) as proxy,
        aiohttp.ClientSession() as session,
    ):
        async with holding_the_turn(proxy.port):
            async with session.post(proxy.url, data=big) as response:
                error = assert_json_error(response.status, response.headers, await response.read(), 503)
                assert error["code"] == "proxy_busy" and response.headers["Retry-After"] == "5"
            async with session.post(proxy.url, data=small) as response:
                assert response.status == 200  # a small body needs no turn
        async with session.post(proxy.url, data=big) as response:
            assert response.status == 200
    assert len(upstream.received) == 2
    lines = await read_log(log, 4)
    assert [(line["outcome"], line["status"]) for line in lines if line["status"] == 503] == [("rejected", 503)]


@pytest.mark.usefixtures("one_turn")
async def test_a_chunked_body_takes_a_turn_once_it_grows_large() -> None:
    big = large_request(2 * LARGE)

    async def chunks() -> Any:
        for start in range(0, len(big), 16 * 1024):
            yield big[start : start + 16 * 1024]

    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url) as proxy,
        aiohttp.ClientSession() as session,
    ):
        async with session.post(proxy.url, data=chunks()) as response:
            assert response.status == 200  # a free turn: taken and given back
        async with holding_the_turn(proxy.port), session.post(proxy.url, data=chunks()) as response:
            error = assert_json_error(response.status, response.headers, await response.read(), 503)
        assert error["code"] == "proxy_busy"
    assert len(upstream.received) == 1


@pytest.mark.usefixtures("one_turn")
async def test_a_small_body_of_many_items_takes_a_turn_too(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns_module, "COSTLY_ITEMS", 5_000)
    body = vscode_request("kimi-k2.6", "chat", stream=False)
    body["metadata"] = [{}] * 6_000  # 18 KB: small, but 12,000 items
    dense = orjson.dumps(body)
    assert len(dense) < LARGE
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url) as proxy,
        aiohttp.ClientSession() as session,
    ):
        async with holding_the_turn(proxy.port), session.post(proxy.url, data=dense) as response:
            error = assert_json_error(response.status, response.headers, await response.read(), 503)
        assert error["code"] == "proxy_busy"
        async with session.post(proxy.url, data=dense) as response:
            assert response.status == 200
    assert len(upstream.received) == 1


@pytest.mark.usefixtures("one_turn")
async def test_the_turn_is_given_back_once_the_upstream_answers_not_when_the_answer_ends() -> None:
    body = vscode_request("kimi-k2.6", "chat")
    body["messages"].append({"role": "user", "content": "x" * (2 * LARGE)})
    big = orjson.dumps(body)
    async with (
        FakeUpstream("kimi", Behaviour(chunk_delay=0.2, chunks=5)) as upstream,
        running_proxy("kimi", upstream.url) as proxy,
        aiohttp.ClientSession() as session,
        # a slow stream (over a second) with a large body, and meanwhile another large request
        session.post(proxy.url, data=big) as streaming,
    ):
        assert streaming.status == 200
        async with session.post(proxy.url, data=big) as second:
            assert second.status == 200, await second.text()
            await second.read()
        await streaming.read()
    assert len(upstream.received) == 2


def test_the_last_turn_is_all_that_storing_reasoning_reads() -> None:
    earlier = vscode_request("kimi-k2.6", "follow_up", reasoning="Thought before.")["messages"]
    earlier.append({"role": "assistant", "content": "The first answer."})
    for turn in ("chat", "first", "follow_up"):
        messages = vscode_request("kimi-k2.6", turn, reasoning="Thought about it.")["messages"]
        messages = [*earlier, *messages[1:]]  # a conversation that had a turn before this one
        kept = last_turn(messages)
        assert turn_entries("kimi", kept, "Done.") == turn_entries("kimi", messages, "Done.")
        # what it keeps: the turn's assistant messages, not the tool results or the user's text
        assert [m["role"] for m in kept[1:]] == ["assistant"] * (len(kept) - 1)
        assert all(m in messages for m in kept[1:]) and orjson.dumps(kept).count(b"README") <= 1
    history = [*earlier, *vscode_request("kimi-k2.6", "follow_up", reasoning="Now.")["messages"][1:]]
    [(_, kept_reasoning)] = turn_entries("kimi", last_turn(history), "Done.")
    assert kept_reasoning == "Now."  # the last turn's, not the earlier one's
    assert last_turn([{"role": "system", "content": "s"}]) == [] and last_turn(None) == []


@pytest.mark.usefixtures("one_turn")
async def test_a_large_body_sent_too_slowly_is_refused_and_its_turn_freed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(body_module, "LARGE_READ_TIMEOUT", 0.3)
    big = large_request(2 * LARGE)
    log = tmp_path / "kimi.ndjson"
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url, log=log) as proxy,
        aiohttp.ClientSession() as session,
    ):
        reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
        writer.write(slow_sender_head(proxy.port, len(big)) + big[: len(big) // 2])
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(), 5)  # the proxy answers and closes
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 408")
        assert orjson.loads(body)["error"]["code"] == "body_timeout"
        writer.close()
        async with session.post(proxy.url, data=big) as response:
            assert response.status == 200
    assert len(upstream.received) == 1
    lines = await read_log(log, 2)
    assert [(line["outcome"], line["status"]) for line in lines] == [("rejected", 408), ("ok", 200)]


async def test_a_compressed_body_is_refused_before_it_is_read() -> None:
    body = gzip.compress(orjson.dumps(vscode_request("kimi-k2.6", "chat", stream=False)))
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url) as proxy,
        aiohttp.ClientSession() as session,
        session.post(proxy.url, data=body, headers={"Content-Encoding": "gzip"}) as response,
    ):
        error = assert_json_error(response.status, response.headers, await response.read(), 415)
    assert error["code"] == "unsupported_encoding" and "gzip" in error["message"]
    assert not upstream.received


@pytest.mark.usefixtures("one_turn")
async def test_a_turn_is_given_back_when_its_request_fails() -> None:
    big = large_request(2 * LARGE)
    complex_body = tiny_values(MAX_VALUES // 2 + 1)
    async with (
        FakeUpstream("kimi") as upstream,
        aiohttp.ClientSession() as session,
    ):
        async with running_proxy("kimi", "http://127.0.0.1:9/v1/chat/completions") as proxy:
            async with session.post(proxy.url, data=big) as response:
                assert response.status == 502  # nothing listens there
            async with session.post(proxy.url, data=big) as response:
                assert response.status == 502, "the turn of the failed request was given back"
        async with running_proxy("kimi", upstream.url) as proxy:
            async with session.post(proxy.url, data=complex_body) as response:
                assert response.status == 413
            async with session.post(proxy.url, data=big) as response:
                assert response.status == 200
    assert len(upstream.received) == 1


@pytest.mark.usefixtures("one_turn")
async def test_only_so_many_may_wait_for_a_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns_module, "WAIT", 10.0)
    big = large_request(2 * LARGE)
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url) as proxy,
        aiohttp.ClientSession() as session,
    ):
        async with holding_the_turn(proxy.port):
            waiting = [asyncio.ensure_future(answer(session, proxy.url, big)) for _ in range(2)]  # 2 × turns
            await asyncio.sleep(0.2)
            async with session.post(proxy.url, data=big) as response:
                error = assert_json_error(response.status, response.headers, await response.read(), 503)
            assert "waiting" in error["message"]
        assert [status for status, _, _ in await asyncio.gather(*waiting)] == [200, 200]
    assert len(upstream.received) == 2


@pytest.mark.usefixtures("one_turn")
async def test_stopping_answers_a_request_still_waiting_for_a_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(turns_module, "WAIT", 10.0)
    big = large_request(2 * LARGE)
    async with (
        FakeUpstream("kimi") as upstream,
        running_proxy("kimi", upstream.url, grace=0.2) as proxy,
        aiohttp.ClientSession() as session,
        holding_the_turn(proxy.port),
    ):
        cancels: dict[str, int] = {}  # outcome → the cancels its task still counts as it ends
        emit = proxy.listener.log.emit

        def counting(record: Any, *args: Any) -> None:
            task = asyncio.current_task()
            cancels[record.outcome] = task.cancelling() if task is not None else -1
            emit(record, *args)

        monkeypatch.setattr(proxy.listener.log, "emit", counting)
        waiting = asyncio.ensure_future(answer(session, proxy.url, big))
        await asyncio.sleep(0.2)
        await proxy.server.stop()
        status, body, headers = await asyncio.wait_for(waiting, 5)
    error = assert_json_error(status, headers, body, 503)
    assert error["code"] == "proxy_stopped" and not upstream.received
    # the stop's cancel was handled: the task goes on answering as one never cancelled
    assert cancels["proxy_stopped"] == 0
