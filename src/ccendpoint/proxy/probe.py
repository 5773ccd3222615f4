"""Asking a port whether ccendpoint's proxy answers there: ``GET /healthz``, and what it said."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal


@dataclass(frozen=True)
class Probe:
    state: Literal["ccendpoint", "other", "closed"]
    health: Mapping[str, Any] = field(default_factory=dict)
    detail: str = ""


def http_probe(port: int, host: str = "127.0.0.1", timeout: float = 1.0) -> Probe:
    """GET /healthz: our proxy answers with its provider and version; anything else is another program."""
    request = urllib.request.Request(f"http://{host}:{port}/healthz", headers={"Accept": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read(65536)
    except urllib.error.HTTPError as exc:
        return Probe("other", detail=f"it answers /healthz with HTTP {exc.code}")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        if isinstance(reason, ConnectionRefusedError):
            return Probe("closed")
        if isinstance(reason, (TimeoutError, OSError)) and "timed out" in str(reason):
            return Probe("other", detail="it accepts connections but does not answer HTTP")
        return Probe("closed", detail=str(reason))
    try:
        data = json.loads(body)
    except ValueError:
        return Probe("other", detail="it answers /healthz, but not with ccendpoint's JSON")
    if isinstance(data, dict) and "provider" in data and "version" in data:
        return Probe("ccendpoint", health=data)
    return Probe("other", detail="it answers /healthz, but not with ccendpoint's JSON")
