"""The reasoning cache of finished turns: a bounded LRU persisted to SQLite by a background thread.

Reasoning replay (:mod:`ccendpoint.rules.replay`) asks it for the reasoning of earlier turns. The
in-memory cache is bounded (entries and bytes) and guarded by a lock; a background thread persists
it to SQLite in the user cache folder so it survives restarts, keeping the file within the same
bounds (entries, bytes of text, retention). The reasoning is conversation content: the folder is
created private (0700) and the database files are kept readable by the user only (0600). Nothing
here touches the network or the event loop.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sqlite3
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path

from ccendpoint import dirs
from ccendpoint.rules.replay import usable

DEFAULT_MAX_ENTRIES = 20_000
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
DEFAULT_RETENTION_SECONDS = 7 * 24 * 3600
#: Only the user may read the cache: it holds what the model thought about their code.
PRIVATE_FOLDER_MODE = 0o700
PRIVATE_FILE_MODE = 0o600
#: SQLite's companion files; they hold recent writes in clear too.
_COMPANION_SUFFIXES = ("-wal", "-shm", "-journal")
#: The cache file in the user cache folder.
REASONING_FILE = "reasoning-turns.sqlite3"
#: The cache file of older versions, keyed in a way nothing reads any more: removed on start.
OLD_REASONING_FILES = ("reasoning.sqlite3", "reasoning.sqlite3-wal", "reasoning.sqlite3-shm")


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
                if not usable(reasoning) or size > self.max_bytes:
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
        existing folder is left as it is (see :func:`open_reasoning_cache` for ccendpoint's own).
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


def open_reasoning_cache() -> ReasoningCache:
    """The cache in the user cache folder, so restarts keep it.

    The folder is ccendpoint's own; it is made private (0700) even when something else created it
    first, since the cache holds conversation content.
    """
    folder = dirs.cache_dir()
    with contextlib.suppress(OSError):  # a folder that cannot be made only turns persistence off
        folder.mkdir(mode=PRIVATE_FOLDER_MODE, parents=True, exist_ok=True)
        if os.name == "posix" and folder.stat().st_mode & 0o777 != PRIVATE_FOLDER_MODE:
            folder.chmod(PRIVATE_FOLDER_MODE)
    for name in OLD_REASONING_FILES:
        with contextlib.suppress(OSError):
            (folder / name).unlink(missing_ok=True)
    return ReasoningCache(folder / REASONING_FILE)
