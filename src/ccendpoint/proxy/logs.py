"""The request log: one redacted NDJSON line per request, written off the event loop.

The relay builds a plain dict per request and calls :meth:`RequestLog.emit`, which only puts it on
a queue. A background thread serialises it (orjson), appends it to the file (rotating by size) and,
when stdout is a terminal, prints one compact line. Disk trouble never slows a request down: when
the queue is full, lines are dropped and the next line written says how many.

Nothing that could be a secret is logged: the headers that carry credentials are masked whole,
and any other value that looks like a key is masked where it appears. Message content is never
part of a record.
"""

from __future__ import annotations

import contextlib
import queue
import re
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import orjson

if TYPE_CHECKING:
    from rich.console import Console

#: Header names whose values are credentials: always masked whole.
SECRET_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "x-api-key",
        "api-key",
        "apikey",
        "x-goog-api-key",
        "cookie",
        "set-cookie",
        "ocp-apim-subscription-key",
    }
)
MASK = "<redacted>"

# sk-…, tp-…, key_…: a known key prefix followed by a long token
_PREFIXED_KEY = re.compile(r"\b(?:sk|tp|pk|rk|ak|api|key)[-_][A-Za-z0-9._\-]{8,}", re.IGNORECASE)
# long runs of token characters (base64, hex, JWT pieces); masked when they mix letters and digits
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-.+]{24,}=*")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[A-Za-z]")

ROTATE_BYTES = 10 * 1024 * 1024
ROTATE_KEEP = 5
QUEUE_LIMIT = 10_000


def _mask_token(match: re.Match[str]) -> str:
    token = match.group(0)
    if _UUID.match(token) or not (_DIGIT.search(token) and _LETTER.search(token)):
        return token
    return MASK


def scrub(text: str) -> str:
    """``text`` with every key-looking part masked (request ids shaped like UUIDs are kept)."""
    text = _PREFIXED_KEY.sub(MASK, text)
    return _LONG_TOKEN.sub(_mask_token, text)


def mask_secret(value: str) -> str:
    """A credential header value: the scheme word (``Bearer``) stays, the rest is masked."""
    scheme, sep, _rest = value.strip().partition(" ")
    if sep and scheme.isalpha() and len(scheme) <= 12:
        return f"{scheme} {MASK}"
    return MASK


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as a dict fit for a log line (repeated names joined with ``, ``)."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        shown = mask_secret(value) if key in SECRET_HEADERS else scrub(value)
        out[key] = f"{out[key]}, {shown}" if key in out else shown
    return out


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# -- file ------------------------------------------------------------------------------------------


class RotatingFile:
    """Append-only file that moves to ``.1`` … ``.N`` when it would grow past ``max_bytes``."""

    def __init__(self, path: Path, max_bytes: int = ROTATE_BYTES, keep: int = ROTATE_KEEP) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.keep = keep
        self._file: IO[bytes] | None = None
        self._size = 0

    def _open(self) -> IO[bytes]:
        if self._file is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._file = open(self.path, "ab")  # noqa: SIM115 - kept open between writes
            self._size = self._file.tell()
        return self._file

    def write(self, data: bytes) -> None:
        handle = self._open()
        if self._size and self._size + len(data) > self.max_bytes:
            self._rotate()
            handle = self._open()
        handle.write(data)
        self._size += len(data)

    def flush(self) -> None:
        if self._file is not None:
            self._file.flush()

    def _rotate(self) -> None:
        self.close()
        for index in range(self.keep - 1, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{index}")
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{index + 1}"))
        if self.keep > 0:
            self.path.replace(self.path.with_name(f"{self.path.name}.1"))
        else:
            self.path.unlink(missing_ok=True)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


# -- console ---------------------------------------------------------------------------------------


def console_line(record: Mapping[str, Any]) -> str:
    """The compact terminal line (rich markup): time, status, model, chat/tools, changes, latency."""
    from rich.markup import escape

    status = record.get("status")
    colour = "green" if isinstance(status, int) and status < 400 else "yellow" if status == 429 else "red"
    clock = str(record.get("time", ""))[11:19]
    kind = "tools" if record.get("tool_turn") else "chat"
    parts = [
        f"[dim]{clock}[/dim]",
        f"[{colour}]{status}[/{colour}]",
        f"[dim]{escape(str(record.get('provider', '')))}[/dim]",
        escape(str(record.get("model") or "-")),
        kind,
    ]
    changes = record.get("changes") or []
    if changes:
        parts.append("[cyan]" + escape(", ".join(changes)) + "[/cyan]")
    total = record.get("total_ms")
    if isinstance(total, (int, float)):
        parts.append(f"{total / 1000:.1f} s" if total >= 1000 else f"{total:.0f} ms")
    outcome = record.get("outcome")
    if outcome and outcome != "ok":
        parts.append(f"[red]{escape(str(outcome))}[/red]")
    error = record.get("error")
    if error:
        parts.append(f"[dim]{escape(str(error))}[/dim]")
    return " ".join(parts)


# -- the writer ------------------------------------------------------------------------------------

_STOP = object()


class RequestLog:
    """Queue plus one background thread that writes records to their files and the terminal."""

    def __init__(
        self,
        *,
        console: Console | None = None,
        max_bytes: int = ROTATE_BYTES,
        keep: int = ROTATE_KEEP,
        queue_limit: int = QUEUE_LIMIT,
    ) -> None:
        self._console = console
        self._max_bytes = max_bytes
        self._keep = keep
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=queue_limit)
        self._files: dict[Path, RotatingFile] = {}
        self._dropped = 0
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.errors: list[str] = []  # file problems, reported once each on stderr

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ccendpoint-request-log", daemon=True)
            self._thread.start()

    def emit(self, record: dict[str, Any], path: Path | None) -> None:
        """Hand a record over; never blocks. ``path`` None means terminal only."""
        if path is None and self._console is None:
            return
        try:
            self._queue.put_nowait((record, path))
        except queue.Full:
            with self._lock:
                self._dropped += 1

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread and close the files."""
        if self._thread is None:
            return
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._queue.put(_STOP, timeout=0.1)
                break
            except queue.Full:
                if time.monotonic() > deadline:
                    break
        self._thread.join(max(0.0, deadline - time.monotonic()))
        self._thread = None

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is _STOP:
                break
            record, path = item
            with self._lock:
                dropped, self._dropped = self._dropped, 0
            if dropped:
                record = {**record, "log_lines_dropped": dropped}
            if path is not None:
                self._write(path, record)
            if self._console is not None:
                with contextlib.suppress(Exception):  # a closed terminal must not stop the file log
                    self._console.print(console_line(record), highlight=False, soft_wrap=True)
            if self._queue.empty():
                for handle in self._files.values():
                    self._flush(handle)
        for handle in self._files.values():
            self._flush(handle)
            handle.close()
        self._files.clear()

    def _write(self, path: Path, record: Mapping[str, Any]) -> None:
        handle = self._files.get(path)
        if handle is None:
            handle = self._files[path] = RotatingFile(path, self._max_bytes, self._keep)
        try:
            handle.write(orjson.dumps(record, default=str) + b"\n")
        except OSError as exc:
            self._report(f"cannot write the request log {path}: {exc.strerror or exc}")

    def _flush(self, handle: RotatingFile) -> None:
        try:
            handle.flush()
        except OSError as exc:
            self._report(f"cannot write the request log {handle.path}: {exc.strerror or exc}")

    def _report(self, message: str) -> None:
        if message not in self.errors:
            self.errors.append(message)
            with contextlib.suppress(Exception):
                sys.stderr.write(f"warning: {message}\n")
