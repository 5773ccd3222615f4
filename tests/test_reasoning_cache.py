"""The reasoning replay cache: keys, restoring, bounds, persistence, concurrency."""

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
from ccendpoint.proxy.reasoning import (
    ReasoningCache,
    keys_for_answer,
    restore_reasoning,
    tool_call_key,
)
from ccendpoint.proxy.server import open_reasoning_cache


def call(call_id: str, name: str = "read_file", arguments: str = '{"path":"a.py"}') -> dict[str, Any]:
    return {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}


def conversation(question: str, calls: list[dict[str, Any]], reasoning: str | None = None) -> list[dict[str, Any]]:
    """A VS Code-shaped history: system, user, assistant tool call, tool result."""
    assistant: dict[str, Any] = {"role": "assistant", "content": "", "tool_calls": calls}
    if reasoning is not None:
        assistant["reasoning_content"] = reasoning
    return [
        {"role": "system", "content": "You are a coding agent."},
        {"role": "user", "content": question},
        assistant,
        *({"role": "tool", "tool_call_id": c["id"], "content": "file text"} for c in calls),
    ]


def remember(cache: ReasoningCache, scope: str, question: str, calls: list[dict[str, Any]], text: str) -> None:
    request = conversation(question, [])[:2]  # the request that produced the tool calls
    cache.put(keys_for_answer(scope, request, calls), text)


def test_restores_missing_reasoning_on_the_follow_up_request() -> None:
    cache = ReasoningCache()
    remember(cache, "kimi", "Fix the bug", [call("functions.read_file:0")], "I should read a.py first.")
    body = {"model": "kimi-k2.6", "messages": conversation("Fix the bug", [call("functions.read_file:0")])}
    replay = restore_reasoning(body, "kimi", cache.get)
    assert replay.restored == 1 and replay.missing == 0
    assert replay.body["messages"][2]["reasoning_content"] == "I should read a.py first."
    assert "reasoning_content" not in body["messages"][2], "the input must not be mutated"


def test_a_client_that_sends_reasoning_is_never_overwritten() -> None:
    cache = ReasoningCache()
    remember(cache, "kimi", "Fix the bug", [call("c1")], "cached text")
    body = {"messages": conversation("Fix the bug", [call("c1")], reasoning="the client's own text")}
    replay = restore_reasoning(body, "kimi", cache.get)
    assert replay.restored == 0 and replay.missing == 0
    assert replay.body["messages"][2]["reasoning_content"] == "the client's own text"


def test_empty_reasoning_counts_as_missing() -> None:
    cache = ReasoningCache()
    remember(cache, "mimo", "q", [call("c1")], "thought")
    body = {"messages": conversation("q", [call("c1")], reasoning="  ")}
    assert restore_reasoning(body, "mimo", cache.get).body["messages"][2]["reasoning_content"] == "thought"


def test_unknown_tool_calls_are_counted_as_missing() -> None:
    body = {"messages": conversation("q", [call("never-seen")])}
    replay = restore_reasoning(body, "kimi", ReasoningCache().get)
    assert (replay.restored, replay.missing) == (0, 1)
    assert replay.body == body


def test_concurrent_conversations_with_the_same_call_ids_do_not_mix() -> None:
    cache = ReasoningCache()
    same_call = call("functions.read_file:0")
    remember(cache, "kimi", "Refactor the parser", [same_call], "parser reasoning")
    remember(cache, "kimi", "Write the README", [same_call], "readme reasoning")
    for question, expected in (("Refactor the parser", "parser reasoning"), ("Write the README", "readme reasoning")):
        body = {"messages": conversation(question, [same_call])}
        assert restore_reasoning(body, "kimi", cache.get).body["messages"][2]["reasoning_content"] == expected
    other_provider = {"messages": conversation("Write the README", [same_call])}
    assert restore_reasoning(other_provider, "mimo", cache.get).missing == 1


def test_keys_depend_on_arguments_and_need_an_id() -> None:
    a = tool_call_key("p", "q", call("c1", arguments='{"path":"a.py"}'))
    b = tool_call_key("p", "q", call("c1", arguments='{"path":"b.py"}'))
    assert a and b and a != b
    assert tool_call_key("p", "q", {"function": {"name": "x"}}) is None


def test_multi_step_tool_loop_restores_every_turn() -> None:
    cache = ReasoningCache()
    history: list[dict[str, Any]] = [{"role": "user", "content": "Do it"}]
    for step in range(3):
        calls = [call(f"call_{step}", arguments=f'{{"step":{step}}}')]
        cache.put(keys_for_answer("deepseek", history, calls), f"reasoning {step}")
        history += [
            {"role": "assistant", "content": None, "tool_calls": calls},
            {"role": "tool", "tool_call_id": f"call_{step}", "content": "ok"},
        ]
    replay = restore_reasoning({"messages": history}, "deepseek", cache.get)
    assert replay.restored == 3
    restored = [m["reasoning_content"] for m in replay.body["messages"] if m["role"] == "assistant"]
    assert restored == ["reasoning 0", "reasoning 1", "reasoning 2"]


def test_lru_eviction_by_entries_and_bytes() -> None:
    cache = ReasoningCache(max_entries=3, max_bytes=1000)
    for i in range(3):
        cache.put([f"k{i}"], f"text {i}")
    assert cache.get("k0") == "text 0"  # k0 is now the most recently used
    cache.put(["k3"], "text 3")
    assert cache.get("k1") is None and cache.get("k0") == "text 0" and len(cache) == 3
    cache.put(["big"], "x" * 995)  # with any of the 6-byte entries it would exceed 1000 bytes
    assert cache.size_bytes <= 1000
    assert cache.get("big") == "x" * 995
    assert len(cache) == 1
    cache.put(["huge"], "y" * 5000)  # larger than the whole budget: not stored
    assert cache.get("huge") is None and cache.get("big") is not None


def test_entries_expire_after_the_retention_limit() -> None:
    now = [1000.0]
    cache = ReasoningCache(retention_seconds=60, clock=lambda: now[0])
    cache.put(["k"], "thought")
    now[0] += 59
    assert cache.get("k") == "thought"
    now[0] += 2
    assert cache.get("k") is None


def test_persists_across_restarts(tmp_path: Path) -> None:
    db = tmp_path / "reasoning.sqlite3"
    first = ReasoningCache(db)
    remember(first, "kimi", "Fix the bug", [call("c1")], "persisted thought")
    first.flush()
    first.close()
    second = ReasoningCache(db)
    body = {"messages": conversation("Fix the bug", [call("c1")])}
    assert restore_reasoning(body, "kimi", second.get).restored == 1
    second.close()


def test_persisted_entries_respect_retention_and_size(tmp_path: Path) -> None:
    db = tmp_path / "reasoning.sqlite3"
    now = [1000.0]
    first = ReasoningCache(db, clock=lambda: now[0])
    first.put(["old"], "old thought")
    now[0] += 100
    for i in range(5):
        now[0] += 1
        first.put([f"new{i}"], f"new thought {i}")
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
    cache.put(["k"], "thought")
    assert cache.get("k") == "thought"
    cache.close()


def test_safe_under_concurrent_use() -> None:
    cache = ReasoningCache(max_entries=500)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        try:
            for i in range(300):
                key = f"{n}-{i}"
                cache.put([key], f"thought {key}")
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
        cache.put(["k"], "what the model thought about the user's code")
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
        assert stat.S_IMODE((folder / "reasoning.sqlite3").stat().st_mode) == 0o600
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
        cache.put([f"k{i}"], chr(ord("a") + i) * 300)
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
    cache.put(["new"], "x" * 300)
    cache.flush()
    assert set(dict(_file_rows(db))) == {"old4", "new"}
    cache.close()


def test_restores_when_the_client_renumbered_the_tool_call_ids() -> None:
    cache = ReasoningCache()
    remember(cache, "kimi", "Fix the bug", [call("functions.read_file:0")], "I should read a.py first.")
    renumbered = {"messages": conversation("Fix the bug", [call("call_0_read_file")])}
    replay = restore_reasoning(renumbered, "kimi", cache.get)
    assert replay.restored == 1
    assert replay.body["messages"][2]["reasoning_content"] == "I should read a.py first."
    other_args = {"messages": conversation("Fix the bug", [call("call_9", arguments='{"path":"b.py"}')])}
    assert restore_reasoning(other_args, "kimi", cache.get).missing == 1


def test_the_same_call_twice_under_renumbered_ids_gets_each_turns_reasoning() -> None:
    cache = ReasoningCache()
    same = {"name": "run_in_terminal", "arguments": '{"command":"npm test"}'}
    history: list[dict[str, Any]] = [{"role": "user", "content": "Fix the tests"}]
    for step in range(3):
        calls = [{"id": f"functions.run_in_terminal:{step}", "type": "function", "function": same}]
        cache.put(keys_for_answer("kimi", history, calls), f"reasoning {step}")
        history += [
            {"role": "assistant", "content": "", "tool_calls": calls},
            {"role": "tool", "tool_call_id": f"functions.run_in_terminal:{step}", "content": "1 failed"},
        ]
    renumbered = [
        {**m, "tool_calls": [{**m["tool_calls"][0], "id": f"call_{i}"}]} if m.get("tool_calls") else m
        for i, m in enumerate(history)
    ]
    replay = restore_reasoning({"messages": renumbered}, "kimi", cache.get)
    restored = [m.get("reasoning_content") for m in replay.body["messages"] if m["role"] == "assistant"]
    assert restored == ["reasoning 0", "reasoning 1", "reasoning 2"]


def test_a_writer_that_cannot_open_the_file_stops_queueing(tmp_path: Path, monkeypatch: Any) -> None:
    def refuse(self: ReasoningCache, path: Path) -> Any:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(ReasoningCache, "_load", lambda self, path: True)  # the file was readable at start
    monkeypatch.setattr(ReasoningCache, "_connect", refuse)  # but the writer cannot open it
    cache = ReasoningCache(tmp_path / "reasoning.sqlite3")
    assert cache._writer is not None
    cache._writer.join(5)
    for i in range(100):
        cache.put([f"k{i}"], "thought " * 100)
    assert cache._writes.qsize() == 0  # nothing piles up for a writer that is gone
    assert cache.get("k99") == "thought " * 100  # still served from memory
    cache.flush()
    cache.close()
