"""The request log: one redacted NDJSON line per request, written off the event loop.

The relay hands its record of a request (or a plain dict) to :meth:`RequestLog.emit`, which only
puts it on a queue. A background thread turns it into a dict, serialises it (orjson), appends it to
the file (rotating by size) and, when stdout is a terminal, prints one compact line. Disk trouble
never slows a request down: when the queue is full, lines are dropped and the next line written
says how many.

Nothing that could be a secret is logged. The relay puts the request's headers and the ids as
they came into the record; the log thread passes every record through :func:`redact_record`
before it is written or printed, so the masking costs the request path nothing. The masker is the
shared one (:mod:`ccendpoint.redact`): a header whose name has a credential word in it
(``Authorization``, ``X-Auth-Token``, ``X-Moonshot-Key`` …) is masked whole, any other value that
looks like a key is masked where it appears. Message content is never part of a record.

The file naming and the readers are in :mod:`.logfiles`, so the proxy, ``usage`` and ``doctor``
agree on which files are request logs and how they read.
"""

from __future__ import annotations

import contextlib
import queue
import re
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Protocol

import orjson

from ccendpoint.redact import redact_headers, scrub

if TYPE_CHECKING:
    from rich.console import Console

ROTATE_BYTES = 10 * 1024 * 1024
ROTATE_KEEP = 5
QUEUE_LIMIT = 10_000

#: Text fields of a record that may carry a key as it came (ids, a path, the provider's error message).
_SCRUBBED_FIELDS = ("client_request_id", "upstream_request_id", "upstream_error", "error", "model", "path")
#: Longest provider error message kept in the log (cut after masking, so a cut key is never left).
ERROR_TEXT_LIMIT = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _valid_text(value: Any) -> Any:
    """Strings made encodable: a lone surrogate (from a client or a header byte) becomes U+FFFD."""
    if isinstance(value, str):
        return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
    if isinstance(value, Mapping):
        return {_valid_text(k): _valid_text(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_valid_text(v) for v in value]
    return value


def redact_record(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record as it may leave the process: ``headers`` (raw name/value pairs) redacted, ids scrubbed."""
    out = dict(record)
    headers = out.get("headers")
    if headers is not None:
        out["headers"] = redact_headers(headers.items() if isinstance(headers, Mapping) else headers)
    for name in _SCRUBBED_FIELDS:
        value = out.get(name)
        if isinstance(value, str):
            out[name] = scrub(value)
    if isinstance(out.get("upstream_error"), str):
        out["upstream_error"] = out["upstream_error"][:ERROR_TEXT_LIMIT]
    valid: dict[str, Any] = _valid_text(out)
    return valid


def _plain(value: Any) -> str:
    """A record value for the terminal: control characters (escape sequences) never reach it."""
    from rich.markup import escape  # here: only a terminal shows the lines, and only then is rich loaded

    return escape(_CONTROL.sub("?", str(value)))


class Record(Protocol):
    """A request's record that becomes a dict on the log thread (see :class:`.record.RequestRecord`)."""

    def as_dict(self) -> dict[str, Any]: ...


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
    status = record.get("status")
    colour = "green" if isinstance(status, int) and status < 400 else "yellow" if status == 429 else "red"
    clock = _plain(str(record.get("time", ""))[11:19])
    kind = "tools" if record.get("tool_turn") else "chat"
    parts = [
        f"[dim]{clock}[/dim]",
        f"[{colour}]{_plain(status)}[/{colour}]",
        f"[dim]{_plain(record.get('provider', ''))}[/dim]",
        _plain(record.get("model") or "-"),
        kind,
    ]
    changes = record.get("changes") or []
    if changes:
        parts.append("[cyan]" + _plain(", ".join(str(c) for c in changes)) + "[/cyan]")
    total = record.get("total_ms")
    if isinstance(total, (int, float)):
        parts.append(f"{total / 1000:.1f} s" if total >= 1000 else f"{total:.0f} ms")
    outcome = record.get("outcome")
    if outcome and outcome != "ok":
        parts.append(f"[red]{_plain(outcome)}[/red]")
    error = record.get("error")
    if error:
        parts.append(f"[dim]{_plain(error)}[/dim]")
    dropped = record.get("log_lines_dropped")
    if dropped:
        parts.append(f"[yellow]({_plain(dropped)} earlier log lines dropped: the disk was too slow)[/yellow]")
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

    def emit(self, record: Mapping[str, Any] | Record, path: Path | None) -> None:
        """Hand a record over; never blocks. ``path`` None means terminal only.

        The record may hold raw headers and ids: the log thread redacts it (:func:`redact_record`)
        before it is written anywhere. The caller must not change it afterwards.
        """
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
            try:
                self._handle(record, path)
            except Exception as exc:  # one odd record must never stop the log for the proxy's lifetime
                self._report(f"a request could not be logged ({type(exc).__name__})")
            if self._queue.empty():
                for handle in self._files.values():
                    self._flush(handle)
        for handle in self._files.values():
            self._flush(handle)
            handle.close()
        self._files.clear()

    def _handle(self, item: Mapping[str, Any] | Record, path: Path | None) -> None:
        record = redact_record(item if isinstance(item, Mapping) else item.as_dict())
        with self._lock:
            dropped, self._dropped = self._dropped, 0
        if dropped:
            record["log_lines_dropped"] = dropped
        if path is not None:
            self._write(path, record)
        if self._console is not None:
            with contextlib.suppress(Exception):  # a closed terminal must not stop the file log
                self._console.print(console_line(record), highlight=False, soft_wrap=True)

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
