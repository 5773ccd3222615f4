"""The proxy's request log files: their names, and reading them back (``usage`` and ``doctor`` do).

One NDJSON file per provider (``kimi-proxy.ndjson``), rotated by size into ``.1`` … ``.5``. The
readers skip what is not a JSON object (a line cut by a crash mid-write).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

_LOG_SUFFIX = "-proxy.ndjson"
#: How much of the end of a file :func:`tail_records` reads at most.
TAIL_BYTES = 4 * 1024 * 1024


def log_file_name(provider_id: str) -> str:
    """The default request log's file name for a provider: ``kimi-proxy.ndjson``."""
    return f"{provider_id}{_LOG_SUFFIX}"


#: Every provider's current request log (``kimi-proxy.ndjson``), not the rotated ones.
CURRENT_LOG_GLOB = log_file_name("*")
#: Every provider's request logs, the rotated ones (``kimi-proxy.ndjson.1`` …) included.
LOG_GLOB = CURRENT_LOG_GLOB + "*"


def log_files(location: Path) -> list[Path]:
    """The request logs in a folder (rotated ones included), or the one file given."""
    if location.is_file():
        return [location]
    if not location.is_dir():
        return []
    return sorted(p for p in location.glob(LOG_GLOB) if p.is_file())


def _record(line: bytes) -> dict[str, Any] | None:
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def read_records(paths: Iterable[Path]) -> Iterator[dict[str, Any]]:
    """Every line of the files as a record; a line that is not a JSON object gives ``{}``."""
    for path in paths:
        try:
            handle = path.open("rb")
        except OSError:
            continue
        with handle:
            for line in handle:
                yield _record(line) or {}


def tail_records(folder: Path, tail: int) -> tuple[list[dict[str, Any]], list[str]]:
    """The last ``tail`` records of each provider's current log, oldest first, and their raw lines."""
    found: list[tuple[dict[str, Any], str]] = []
    for path in sorted(folder.glob(CURRENT_LOG_GLOB)) if folder.is_dir() else []:
        try:
            with path.open("rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - TAIL_BYTES))
                raw_lines = handle.read().splitlines()[-tail:]
        except OSError:
            continue
        for raw in raw_lines:
            record = _record(raw)
            if record is not None:
                found.append((record, raw.decode("utf-8", "replace")))
    found.sort(key=lambda pair: str(pair[0].get("time", "")))
    return [record for record, _ in found], [line for _, line in found]
