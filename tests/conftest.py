"""Shared test set-up: each test gets its own empty home; `recorder` records the service commands."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from service_helpers import SYSTEMD, Recorder, answering, probes, set_probe

#: The end-to-end suite (a real VS Code) needs the ``e2e`` extra; without it, it is not collected.
collect_ignore = [] if importlib.util.find_spec("playwright") else ["e2e"]
collect_ignore += [] if importlib.util.find_spec("litellm") else ["gateway"]


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point HOME and the XDG folders at a fresh temporary folder, and clear catalog overrides."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("HOME", str(home))
    for name, sub in (
        ("XDG_CONFIG_HOME", ".config"),
        ("XDG_STATE_HOME", ".local/state"),
        ("XDG_CACHE_HOME", ".cache"),
        ("XDG_DATA_HOME", ".local/share"),
    ):
        monkeypatch.setenv(name, str(home / sub))
    monkeypatch.delenv("CCENDPOINT_CATALOG", raising=False)
    monkeypatch.delenv("VSCODE_PORTABLE", raising=False)
    monkeypatch.delenv("APPDATA", raising=False)
    return home


@pytest.fixture
def recorder(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """The service commands' machine: system commands recorded, ports answering (``set_probe`` changes that)."""
    from dataclasses import replace

    from ccendpoint.commands import service_cmd
    from ccendpoint.service import runner as runners
    from ccendpoint.service.manage import Machine

    recorded = Recorder(dict(SYSTEMD))
    monkeypatch.setattr(runners, "default_runner", lambda: recorded)
    set_probe(answering)
    monkeypatch.setattr(
        service_cmd, "machine", lambda: replace(Machine.current(), probe=lambda p: probes["current"](p))
    )
    return recorded
