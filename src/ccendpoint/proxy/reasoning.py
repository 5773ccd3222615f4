"""Reasoning replay: thinking models get back the reasoning_content of their earlier tool calls.

Thinking providers (Kimi, MiMo, DeepSeek, Qwen) refuse a tool follow-up whose history has an
assistant tool-call message without its ``reasoning_content``, and VS Code never sends that field
back by itself. Two facts of VS Code 1.139 make replay possible:

* **Within a turn** (the tool loop after one user message), VS Code returns the reasoning of an
  answer when the answer's reasoning carried an id: the assistant message then comes back with
  ``cot_id`` and ``cot_summary`` (and, for models marked ``thinking``, ``reasoning_content`` and
  ``reasoning``). The proxy gives each answer's reasoning an id on the way out (see
  :mod:`ccendpoint.proxy.tagging`) and, on the way in, turns VS Code's echo back into the
  provider's ``reasoning_content`` and removes the echo fields, which providers do not know.
  Nothing is stored: the reasoning travels with the conversation.
* **In later turns** VS Code sends the earlier turns' tool calls again, without any reasoning. For
  those the proxy keeps a cache, filled when a turn ends (the answer without tool calls): each of
  the turn's tool-call messages is stored under a key made of the provider, the turn's tool calls
  (name and arguments in canonical JSON, so spacing and key order do not matter; ids are left out
  because VS Code renumbers them) and the turn's final answer text, plus the message's position in
  the turn. Two conversations only share an entry when their turns called the same tools with the
  same arguments and ended in the same answer, word for word.

The in-memory cache is a bounded LRU (entries and bytes) guarded by a lock; a background thread
persists it to SQLite in the user cache folder so it survives restarts, keeping the file within
the same bounds (entries, bytes of text, retention). The reasoning is conversation content: the
folder is created private (0700) and the database files are kept readable by the user only
(0600). Nothing here touches the network or the event loop.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

DEFAULT_MAX_ENTRIES = 20_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600
#: Only the user may read the cache: it holds what the model thought about their code.
PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: SQLite's companion files; they hold recent writes in clear too.
_COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")

#: Fields VS Code adds to an assistant message whose reasoning carried an id: the id, the text
#: (``cot_summary``; ``reasoning`` as well for models marked ``thinking``). No provider knows them.
ECHO_FIELDS = ("cot_id", "cot_summary", "reasoning")


def _text(value: Any) -> str:
    """Message content as text: a string, or the text parts of a content list."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            part.get("text", "") for part in value if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def _usable(value: Any) -> bool:
    """Reasoning text that is not only white space (isspace() reads it without a copy)."""
    return isinstance(value, str) and value != "" and not value.isspace()


def has_reasoning(message: Mapping[str, Any]) -> bool:
    """The message carries usable ``reasoning_content``."""
    return _usable(message.get("reasoning_content"))


def _tool_calls(message: Any) -> list[Any] | None:
    """The message's tool calls when it is an assistant message that has some."""
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return None
    calls = message.get("tool_calls")
    return calls if isinstance(calls, list) and calls else None


def echoed_reasoning(message: Mapping[str, Any]) -> str | None:
    """The reasoning VS Code sent back in its own fields (``cot_summary``, then ``reasoning``)."""
    for field in ("cot_summary", "reasoning"):
        value = message.get(field)
        if _usable(value):
            return str(value)
    return None


def canonical_arguments(arguments: Any) -> str:
    """Tool-call arguments as compact JSON with sorted keys; text that is not JSON, stripped.

    Providers stream ``{"path": "/w"}`` and VS Code sends back ``{"path":"/w"}``: both give the same.
    """
    if not isinstance(arguments, str):
        return ""
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments.strip()
    return json.dumps(parsed, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _call_text(call: Any) -> str:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return "?"
    return f"{function.get('name') or ''}({canonical_arguments(function.get('arguments'))})"


def turn_signature(scope: str, segment: Sequence[Any]) -> str:
    """What identifies one finished turn: its tool calls in order and its final answer's text.

    ``segment`` is the turn's messages after its user message. The final answer is the last
    assistant message without tool calls ("" when the turn has none).
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(scope.encode("utf-8", "surrogatepass") + b"\x00")
    final = ""
    for message in segment:
        calls = _tool_calls(message)
        if calls is not None:
            line = "\x1f".join(_call_text(call) for call in calls)
            digest.update(line.encode("utf-8", "surrogatepass") + b"\x00")
        elif isinstance(message, dict) and message.get("role") == "assistant":
            final = _text(message.get("content")).strip()
    digest.update(b"\x02" + final.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def entry_key(signature: str, position: int) -> str:
    """The cache key of the ``position``-th tool-call message of the turn ``signature`` names."""
    return f"{signature}:{position}"


def _segments(messages: Sequence[Any]) -> list[tuple[int, int]]:
    """(start, end) of each turn: the messages after a user message, up to the next one."""
    bounds = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
    if not bounds:
        return []
    return [(start + 1, end) for start, end in zip(bounds, [*bounds[1:], len(messages)], strict=True)]


@dataclass(frozen=True)
class Replay:
    """What replay did to one request."""

    body: dict[str, Any]
    from_echo: int  # assistant tool-call messages whose reasoning came from VS Code's echo fields
    from_cache: int  # ... from the cache of finished turns
    missing: int  # assistant tool-call messages still without reasoning
    cleaned: int  # assistant messages that lost VS Code's echo fields

    @property
    def restored(self) -> int:
        return self.from_echo + self.from_cache

    @property
    def changed(self) -> bool:
        return self.restored > 0 or self.cleaned > 0


def restore_reasoning(body: Mapping[str, Any], scope: str, lookup: Callable[[str], str | None] | None = None) -> Replay:
    """Copy of ``body`` with reasoning put back and VS Code's echo fields removed (pure but for ``lookup``).

    A message that already carries usable ``reasoning_content`` keeps it. ``lookup`` (cache key →
    reasoning) is asked only for turns that ended before the last user message.
    """
    messages = body.get("messages")
    if not isinstance(messages, list):
        return Replay(dict(body), 0, 0, 0, 0)
    new_messages: list[Any] | None = None
    from_echo = from_cache = missing = cleaned = 0
    last_turn_start = max((start for start, _ in _segments(messages)), default=len(messages))
    for start, end in _segments_with_lead(messages):
        signature: str | None = None
        position = 0
        for index in range(start, end):
            message = messages[index]
            calls = _tool_calls(message)
            echo_fields = (
                isinstance(message, dict)
                and message.get("role") == "assistant"
                and any(field in message for field in ECHO_FIELDS)
            )
            if calls is None and not echo_fields:
                continue
            assert isinstance(message, dict)
            fixed = {k: v for k, v in message.items() if k not in ECHO_FIELDS} if echo_fields else message
            if calls is not None:
                position += 1
                if not has_reasoning(message):
                    found = echoed_reasoning(message)
                    if found is not None:
                        from_echo += 1
                    elif lookup is not None and start < last_turn_start:
                        if signature is None:
                            signature = turn_signature(scope, messages[start:end])
                        found = lookup(entry_key(signature, position))
                        from_cache += found is not None
                    if found is None:
                        missing += 1
                    else:
                        fixed = {**fixed, "reasoning_content": found}
            if fixed is not message:
                if echo_fields:
                    cleaned += 1
                if new_messages is None:
                    new_messages = list(messages)
                new_messages[index] = fixed
    new_body = dict(body)
    if new_messages is not None:
        new_body["messages"] = new_messages
    return Replay(new_body, from_echo, from_cache, missing, cleaned)


def _segments_with_lead(messages: Sequence[Any]) -> list[tuple[int, int]]:
    """The turns, plus the messages before the first user message (a history may start there)."""
    turns = _segments(messages)
    first = turns[0][0] - 1 if turns else len(messages)
    return [(0, first), *turns] if first > 0 else turns


def turn_entries(scope: str, messages: Sequence[Any], answer_text: str) -> list[tuple[str, str]]:
    """(key, reasoning) for each tool-call message of the turn that ``answer_text`` finishes.

    ``messages`` is the request as sent upstream (reasoning already restored); the turn is what
    follows its last user message. Messages without usable reasoning are left out.
    """
    turns = _segments(messages)
    if not turns or not answer_text.strip():
        return []
    start, end = turns[-1]
    segment = [*messages[start:end], {"role": "assistant", "content": answer_text}]
    signature: str | None = None
    entries: list[tuple[str, str]] = []
    position = 0
    for message in segment:
        if _tool_calls(message) is None:
            continue
        position += 1
        if has_reasoning(message):
            signature = signature or turn_signature(scope, segment)
            entries.append((entry_key(signature, position), str(message["reasoning_content"])))
    return entries


def _size(text: str) -> int:
    """Bytes of ``text`` as the byte budget counts them (UTF-8)."""
    return len(text.encode("utf-8", "surrogatepass"))


class ReasoningCache:
    """Bounded LRU of key → reasoning text, persisted to SQLite by a background thread."""

    def __init__(
        self,
        path: Path | None = None,
        *,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        max_bytes: int = DEFAULT_MAX_BYTES,
        retention_seconds: float = DEFAULT_RETENTION_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.retention_seconds = retention_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[str, float]] = OrderedDict()  # key → (text, stored at)
        self._bytes = 0
        self._path = path
        self._writes: queue.Queue[tuple[str, str, float, int] | None] = queue.Queue()  # key, text, at, size
        self._writer: threading.Thread | None = None
        #: False once the writer cannot use the file: entries then stay in memory only, unqueued.
        self._persisting = False
        if path is not None and self._load(path):
            self._writer = threading.Thread(target=self._write_loop, name="reasoning-cache", daemon=True)
            self._persisting = True
            self._writer.start()

    # -- the cache ------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._entries)

    @property
    def size_bytes(self) -> int:
        return self._bytes

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            if self._clock() - entry[1] > self.retention_seconds:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return entry[0]

    def put(self, entries: Iterable[tuple[str, str]]) -> None:
        """Store each (key, reasoning); blank texts and texts larger than the whole budget are skipped."""
        now = self._clock()
        with self._lock:
            for key, reasoning in entries:
                size = _size(reasoning)
                if not _usable(reasoning) or size > self.max_bytes:
                    continue
                if key in self._entries:
                    self._drop(key)
                self._entries[key] = (reasoning, now)
                self._bytes += size
                if self._persisting:
                    self._writes.put((key, reasoning, now, size))
            while self._entries and (len(self._entries) > self.max_entries or self._bytes > self.max_bytes):
                self._drop(next(iter(self._entries)))

    def _drop(self, key: str) -> None:
        text, _ = self._entries.pop(key)
        self._bytes -= _size(text)

    # -- persistence ----------------------------------------------------------------------

    @staticmethod
    def _make_private(path: Path) -> None:
        """Create a missing folder 0700 and the database file 0600; make existing files 0600.

        The file is created before SQLite opens it, with its mode given to ``open``, so it is never
        readable by others, not even for a moment. SQLite creates its ``-wal`` and ``-shm`` files
        with the database file's mode; files left by an older version are tightened here. An
        existing folder is left as it is (see ``server.open_reasoning_cache`` for ccendpoint's own).
        """
        path.parent.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, PRIVATE_FILE_MODE))
        for file in (path, *(path.with_name(path.name + suffix) for suffix in _COMPANION_SUFFIXES)):
            with contextlib.suppress(OSError):  # absent, or not ours to change
                if file.stat().st_mode & 0o777 != PRIVATE_FILE_MODE:
                    file.chmod(PRIVATE_FILE_MODE)

    def _connect(self, path: Path) -> sqlite3.Connection:
        self._make_private(path)
        db = sqlite3.connect(path, timeout=5, check_same_thread=False)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute(
                "CREATE TABLE IF NOT EXISTS reasoning "
                "(key TEXT PRIMARY KEY, text TEXT NOT NULL, stored REAL NOT NULL, size INTEGER NOT NULL DEFAULT 0)"
            )
            columns = {row[1] for row in db.execute("PRAGMA table_info(reasoning)")}
            if "size" not in columns:  # a file from before the byte bound: record the sizes once
                db.execute("ALTER TABLE reasoning ADD COLUMN size INTEGER NOT NULL DEFAULT 0")
                db.execute("UPDATE reasoning SET size = length(CAST(text AS BLOB))")
                db.commit()
        except BaseException:
            db.close()
            raise
        return db

    def _load(self, path: Path) -> bool:
        """Read the newest entries back; False when the file is unusable (then nothing persists)."""
        try:
            db = self._connect(path)
            try:
                self._prune(db)  # bounds lowered since, or a file left over: trim it now
                db.commit()
                rows = db.execute(
                    "SELECT key, text, stored FROM reasoning ORDER BY stored DESC, rowid DESC LIMIT ?",
                    (self.max_entries,),
                ).fetchall()
            finally:
                db.close()
        except (sqlite3.Error, OSError):
            self._path = None
            return False
        kept: list[tuple[str, str, float]] = []
        total = 0
        for key, text, stored in rows:  # newest first, so the byte budget keeps the newest
            size = _size(str(text))
            if total + size > self.max_bytes:
                break
            kept.append((str(key), str(text), float(stored)))
            total += size
        for key, text, stored in reversed(kept):
            self._entries[key] = (text, stored)
        self._bytes = total
        return True

    def _write_loop(self) -> None:
        assert self._path is not None
        try:
            db = self._connect(self._path)
        except (sqlite3.Error, OSError):
            with self._lock:
                self._persisting = False  # nothing would ever read the queue: stop filling it
            self._drain()
            return
        closing = False
        while not closing:
            batch = [self._writes.get()]
            while True:
                try:
                    batch.append(self._writes.get_nowait())
                except queue.Empty:
                    break
            rows = [item for item in batch if item is not None]
            closing = len(rows) != len(batch)
            try:
                if rows:
                    db.executemany(
                        "INSERT OR REPLACE INTO reasoning (key, text, stored, size) VALUES (?, ?, ?, ?)", rows
                    )
                    self._prune(db)
                    db.commit()
            except sqlite3.Error:
                pass
            for _ in batch:
                self._writes.task_done()
        db.close()

    def _drain(self) -> None:
        while True:
            try:
                self._writes.get_nowait()
            except queue.Empty:
                return
            self._writes.task_done()

    def _prune(self, db: sqlite3.Connection) -> None:
        """Keep the file within the cache's bounds: retention, then the newest entries that fit."""
        cutoff = self._clock() - self.retention_seconds
        db.execute("DELETE FROM reasoning WHERE stored < ?", (cutoff,))
        # newest first: an entry goes once it is past the entry limit or the running total of bytes
        db.execute(
            "DELETE FROM reasoning WHERE rowid IN (SELECT rowid FROM ("
            "SELECT rowid, ROW_NUMBER() OVER newest AS n, SUM(size) OVER newest AS total FROM reasoning "
            "WINDOW newest AS (ORDER BY stored DESC, rowid DESC)"
            ") WHERE n > ? OR total > ?)",
            (self.max_entries, self.max_bytes),
        )

    def flush(self) -> None:
        """Wait until every stored entry is on disk."""
        if self._writer is not None and self._writer.is_alive():
            self._writes.join()

    def close(self) -> None:
        if self._writer is not None and self._writer.is_alive():
            self._writes.put(None)
            self._writer.join(timeout=5)
        self._writer = None
