"""The unit tests' VS Code requests still match what the real VS Code sends.

Runs after the chat scenarios (same session): their recorded requests are derived again, as
``derive.py`` does, and compared with the committed fixtures by shape (header names, body keys and
values, roles, tool names, id and argument forms). A new VS Code that sends something else fails
here, and ``python tests/e2e/derive.py`` brings the fixtures up to date.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from derive import OUT, derive, shape

pytestmark = pytest.mark.e2e


def test_the_fixtures_match_what_vscode_sent(artifacts: Path, tmp_path: Path) -> None:
    fresh = {path.name: path for path in derive(artifacts, tmp_path)}
    committed = {path.name: path for path in OUT.glob("*.json")}
    assert set(fresh) == set(committed)
    for name, path in fresh.items():
        now = shape(json.loads(path.read_text("utf-8")))
        before = shape(json.loads(committed[name].read_text("utf-8")))
        assert now == before, f"{name}: VS Code sends another shape now; run `python tests/e2e/derive.py`"
