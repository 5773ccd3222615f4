"""Slow steps show a status line on a terminal and nothing when the output is piped."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from typer.testing import CliRunner

from ccendpoint.cli import app
from ccendpoint.commands import common

runner = CliRunner()
CASES = [
    (["doctor"], "Checking VS Code's files"),
    (["usage"], "Reading the proxy's request logs"),
    (["add", "glm", "--dry-run"], "Planning the change to chatLanguageModels.json"),
]


@pytest.mark.parametrize(("args", "words"), CASES)
def test_on_a_terminal_a_status_line(args: list[str], words: str, monkeypatch: pytest.MonkeyPatch) -> None:
    screen = io.StringIO()
    monkeypatch.setattr(common, "err_console", lambda: Console(file=screen, force_terminal=True, width=80))
    result = runner.invoke(app, args)
    assert result.exit_code in (0, 1), result.output
    assert words in screen.getvalue()


@pytest.mark.parametrize(("args", "words"), CASES)
def test_piped_nothing_but_the_output(args: list[str], words: str) -> None:
    result = runner.invoke(app, args)
    assert words not in result.stdout + result.stderr
    assert "\x1b[" not in result.stdout + result.stderr
