"""Reasoning replay: VS Code's echo within a turn, the cache of finished turns, bounds, persistence."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import threading
from pathlib import Path
from typing import Any

import pytest

from ccendpoint import dirs
from ccendpoint.proxy.reasoning_cache import REASONING_FILE, ReasoningCache, open_reasoning_cache
from ccendpoint.rules.replay import (
    canonical_arguments,
    restore_reasoning,
    turn_entries,
)
from vscode_client import SYSTEM_TEXT, tool_call

USER = {"role": "user", "content": "Fix the failing test."}


def assistant(calls: list[dict[str, Any]], **fields: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": "", "tool_calls": calls, **fields}


def result(call: dict[str, Any]) -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call["id"], "content": "ok"}


def finished_turn(
    cache: ReasoningCache, scope: str, user: dict[str, Any], steps: list[tuple[dict[str, Any], str]], answer: str
) -> list[dict[str, Any]]:
    """Store a turn the way the proxy does when its final answer arrives; returns the turn's messages
    as VS Code sends them in a later turn (no reasoning, ids renumbered, arguments compact)."""
    request: list[dict[str, Any]] = [{"role": "system", "content": SYSTEM_TEXT}, user]
    for call, reasoning in steps:
        request += [assistant([call], reasoning_content=reasoning), result(call)]
    cache.put(turn_entries(scope, request, answer))
    later = [{"role": "system", "content": SYSTEM_TEXT}, user]
    for position, (call, _) in enumerate(steps):
        renumbered = {**call, "id": f"functions.{call['function']['name']}:{position}"}
        renumbered["function"] = {**call["function"], "arguments": canonical_arguments(call["function"]["arguments"])}
        later += [assistant([renumbered]), result(renumbered)]
    return [*later, {"role": "assistant", "content": answer}]


def test_the_current_turn_gets_its_reasoning_from_vscodes_echo() -> None:
    call = tool_call("read_file", {"path": "a.py"})
    echoed = assistant([call], cot_id="ccr-1", cot_summary="I should read a.py first.")
    body = {"model": "kimi-k2.6", "messages": [USER, echoed, result(call)]}
    replay = restore_reasoning(body, "kimi", lambda key: pytest.fail("the current turn needs no cache"))
    message = replay.body["messages"][1]
    assert message["reasoning_content"] == "I should read a.py first."
    assert not {"cot_id", "cot_summary", "reasoning"} & set(message), "providers do not know VS Code's fields"
    assert (replay.from_echo, replay.from_cache, replay.missing, replay.cleaned) == (1, 0, 0, 1)
    assert body["messages"][1] is echoed and "reasoning_content" not in echoed, "the input must not be mutated"


def test_a_thinking_model_echo_keeps_its_own_reasoning_content() -> None:
    """Models marked ``thinking`` get reasoning_content back from VS Code itself, with ``reasoning`` beside it."""
    call = tool_call("list_dir", {"path": "/w"})
    echoed = assistant([call], cot_id="ccr-1", cot_summary="s", reasoning_content="full text", reasoning="full text")
    replay = restore_reasoning({"messages": [USER, echoed, result(call)]}, "kimi")
    assert replay.body["messages"][1] == assistant([call], reasoning_content="full text")
    assert (replay.restored, replay.cleaned) == (0, 1)


def test_reasoning_the_client_sent_is_never_overwritten_and_blank_counts_as_missing() -> None:
    call = tool_call("read_file", {"path": "a.py"})
    own = {"messages": [USER, assistant([call], reasoning_content="the client's own"), result(call)]}
    assert restore_reasoning(own, "mimo").body == own
    blank = {"messages": [USER, assistant([call], reasoning_content="  ", cot_summary=" "), result(call)]}
    replay = restore_reasoning(blank, "mimo")
    assert (replay.restored, replay.missing) == (0, 1)


def test_an_earlier_turn_gets_its_reasoning_from_the_cache() -> None:
    cache = ReasoningCache()
    first = tool_call("read_file", {"path": "a.py", "line": 3}, call_id="call_a1")
    second = tool_call("run_tests", {}, call_id="call_a2")
    turn = finished_turn(cache, "kimi", USER, [(first, "read it"), (second, "now test")], "Fixed: the off-by-one.")
    body = {"messages": [*turn, {"role": "user", "content": "Thanks. Now add a test."}]}
    replay = restore_reasoning(body, "kimi", cache.get)
    restored = [m.get("reasoning_content") for m in replay.body["messages"] if m.get("tool_calls")]
    assert restored == ["read it", "now test"]
    assert (replay.from_cache, replay.missing) == (2, 0)


def test_spacing_and_key_order_of_the_arguments_do_not_matter() -> None:
    assert canonical_arguments('{"b": 1, "a": [1, 2]}') == canonical_arguments('{"a":[1,2],"b":1}')
    assert canonical_arguments(" not json ") == "not json"
    assert canonical_arguments('{"path": "a.py"}') != canonical_arguments('{"path": "b.py"}')


def test_two_chats_with_the_same_question_and_calls_keep_their_own_reasoning() -> None:
    cache = ReasoningCache()
    call = tool_call("list_dir", {"path": "/w"}, call_id="call_x")
    one = finished_turn(cache, "kimi", USER, [(call, "first chat's thought")], "The folder holds a.py.")
    two = finished_turn(cache, "kimi", USER, [(call, "second chat's thought")], "There is one file, a.py.")
    for turn, expected in ((one, "first chat's thought"), (two, "second chat's thought")):
        body = {"messages": [*turn, {"role": "user", "content": "And now?"}]}
        assert restore_reasoning(body, "kimi", cache.get).body["messages"][2]["reasoning_content"] == expected
    other_provider = {"messages": [*one, {"role": "user", "content": "And now?"}]}
    assert restore_reasoning(other_provider, "deepseek", cache.get).missing == 1


def test_the_same_call_twice_in_a_turn_gets_each_steps_reasoning() -> None:
    cache = ReasoningCache()
    same = tool_call("run_in_terminal", {"command": "npm test"})
    steps = [(same, f"attempt {i}") for i in range(3)]
    turn = finished_turn(cache, "kimi", USER, steps, "All green now.")
    replay = restore_reasoning({"messages": [*turn, {"role": "user", "content": "ok"}]}, "kimi", cache.get)
    assert [m.get("reasoning_content") for m in replay.body["messages"] if m.get("tool_calls")] == [
        "attempt 0",
        "attempt 1",
        "attempt 2",
    ]


def test_a_turn_is_stored_only_from_its_final_answer_and_only_what_has_reasoning() -> None:
    call = tool_call("read_file", {"path": "a.py"})
    request = [USER, assistant([call], reasoning_content="kept"), result(call), assistant([call]), result(call)]
    entries = turn_entries("kimi", request, "Done.")
    assert [text for _, text in entries] == ["kept"]
    assert turn_entries("kimi", request, "   ") == []


def test_unknown_earlier_calls_count_as_missing_and_change_nothing() -> None:
    call = tool_call("read_file", {"path": "a.py"})
    body = {"messages": [USER, assistant([call]), result(call), {"role": "user", "content": "next"}]}
    replay = restore_reasoning(body, "kimi", ReasoningCache().get)
    assert (replay.restored, replay.missing, replay.changed) == (0, 1, False)
    assert replay.body == body


def test_lru_eviction_by_entries_and_bytes() -> None:
    cache = ReasoningCache(max_entries=3, max_bytes=1000)
    for i in range(3):
        cache.put([(f"k{i}", f"text {i}")])
    assert cache.get("k0") == "text 0"  # k0 is now the most recently used
    cache.put([("k3", "text 3")])
    assert cache.get("k1") is None and cache.get("k0") == "text 0" and len(cache) == 3
    cache.put([("big", "x" * 995)])  # with any of the 6-byte entries it would exceed 1000 bytes
    assert cache.size_bytes <= 1000
    assert cache.get("big") == "x" * 995
    assert len(cache) == 1
    cache.put([("huge", "y" * 5000)])  # larger than the whole budget: not stored
    assert cache.get("huge") is None and cache.get("big") is not None


def test_entries_expire_after_the_retention_limit() -> None:
    now = [1000.0]
    cache = ReasoningCache(retention_seconds=60, clock=lambda: now[0])
    cache.put([("k", "thought")])
    now[0] += 59
    assert cache.get("k") == "thought"
    now[0] += 2
    assert cache.get("k") is None


def test_persists_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "reasoning.sqlite3"
    first = ReasoningCache(db)
    turn = finished_turn(
        first, "kimi", USER, [(tool_call("read_file", {"path": "a.py"}), "persisted thought")], "Done."
    )
    first.flush()
    first.close()
    second = ReasoningCache(db)
    body = {"messages": [*turn, {"role": "user", "content": "next"}]}
    assert restore_reasoning(body, "kimi", second.get).body["messages"][2]["reasoning_content"] == "persisted thought"
    second.close()


def test_persisted_entries_respect_retention_and_size(tmp_path: Path) -> None:
    db = tmp_path / "reasoning.sqlite3"
    now = [1000.0]
    first = ReasoningCache(db, clock=lambda: now[0])
    first.put([("old", "old thought")])
    now[0] += 100
    for i in range(5):
        now[0] += 1
        first.put([(f"new{i}", f"new thought {i}")])
    first.flush()
    first.close()
    second = ReasoningCache(db, max_entries=3, retention_seconds=50, clock=lambda: now[0])
    assert second.get("old") is None
    assert len(second) == 3
    assert second.get("new4") == "new thought 4"
    second.close()


def test_an_unusable_cache_file_only_disables_persistence(tmp_path: Path) -> None:
    db = tmp_path / "reasoning.sqlite3"
    db.write_bytes(b"this is not a database" * 100)
    cache = ReasoningCache(db)
    cache.put([("k", "thought")])
    assert cache.get("k") == "thought"
    cache.close()


def test_safe_under_concurrent_use() -> None:
    cache = ReasoningCache(max_entries=500)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(300):
                key = f"{n}-{i}"
                cache.put([(key, f"thought {key}")])
                got = cache.get(key)
                assert got is None or got == f"thought {key}"
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(cache) == 500
    assert cache.size_bytes == sum(len(v.encode()) for v, _ in cache._entries.values())


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_cache_files_are_private(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)  # the usual umask: files 0644, folders 0755 unless asked otherwise
    try:
        db = tmp_path / "cache" / "ccendpoint" / "reasoning.sqlite3"
        cache = ReasoningCache(db)
        cache.put([("k", "what the model thought about the user's code")])
        cache.flush()
        files = [db, db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")]
        assert all(f.exists() for f in files)
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700
        assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files} == {f.name: 0o600 for f in files}
        cache.close()
        for f in files:  # left readable by an older version
            if f.exists():
                f.chmod(0o644)
        ReasoningCache(db).close()
        assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if f.exists()} == {
            f.name: 0o600 for f in files if f.exists()
        }
    finally:
        os.umask(old_umask)


@pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")
def test_the_proxys_cache_folder_is_made_private() -> None:
    folder = dirs.cache_dir()
    folder.mkdir(parents=True, mode=0o755)  # created earlier by something else (the catalog stamps)
    folder.chmod(0o755)
    cache = open_reasoning_cache()
    try:
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / REASONING_FILE).stat().st_mode) == 0o600
    finally:
        cache.close()


def _file_rows(db: Path) -> list[tuple[str, int]]:
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return [(str(k), int(n)) for k, n in conn.execute("SELECT key, length(CAST(text AS BLOB)) FROM reasoning")]


def test_the_file_is_bounded_by_bytes(tmp_path: Path) -> None:
    db = tmp_path / "reasoning.sqlite3"
    now = [1000.0]
    cache = ReasoningCache(db, max_entries=1000, max_bytes=1000, clock=lambda: now[0])
    for i in range(10):  # 10 × 300 bytes: three times the budget, far below the entry limit
        now[0] += 1
        cache.put([(f"k{i}", chr(ord("a") + i) * 300)])
    cache.flush()
    rows = dict(_file_rows(db))
    assert sum(rows.values()) <= 1000
    assert set(rows) == {"k7", "k8", "k9"}, "the newest entries that fit are kept"
    cache.close()
    # a smaller budget on the next start trims the file at once
    small = ReasoningCache(db, max_entries=1000, max_bytes=650, clock=lambda: now[0])
    assert set(dict(_file_rows(db))) == {"k8", "k9"} and len(small) == 2
    small.close()


def test_a_file_from_before_the_byte_bound_is_upgraded(tmp_path: Path) -> None:
    db = tmp_path / "reasoning.sqlite3"
    with contextlib.closing(sqlite3.connect(db)) as conn:
        conn.execute("CREATE TABLE reasoning (key TEXT PRIMARY KEY, text TEXT NOT NULL, stored REAL NOT NULL)")
        conn.executemany(
            "INSERT INTO reasoning VALUES (?, ?, ?)", [(f"old{i}", "é" * 200, 1000.0 + i) for i in range(5)]
        )
        conn.commit()
    cache = ReasoningCache(db, max_bytes=1000, clock=lambda: 2000.0)  # 400 bytes each: two fit
    assert cache.get("old4") == "é" * 200 and cache.get("old3") is not None and cache.get("old2") is None
    assert set(dict(_file_rows(db))) == {"old3", "old4"}, "the sizes were recorded and the file trimmed"
    cache.put([("new", "x" * 300)])
    cache.flush()
    assert set(dict(_file_rows(db))) == {"old4", "new"}
    cache.close()


def test_a_writer_that_cannot_open_the_file_stops_queueing(tmp_path: Path, monkeypatch: Any) -> None:
    def refuse(self: ReasoningCache, path: Path) -> Any:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(ReasoningCache, "_load", lambda self, path: True)  # the file was readable at start
    monkeypatch.setattr(ReasoningCache, "_connect", refuse)  # but the writer cannot open it
    cache = ReasoningCache(tmp_path / "reasoning.sqlite3")
    assert cache._writer is not None
    cache._writer.join(5)
    for i in range(100):
        cache.put([(f"k{i}", "thought " * 100)])
    assert cache._writes.qsize() == 0  # nothing piles up for a writer that is gone
    assert cache.get("k99") == "thought " * 100  # still served from memory
    cache.flush()
    cache.close()
