"""The root command's registry: every command is listed from it, and loaded only when it is used."""

from __future__ import annotations

import subprocess
import sys

import pytest
from typer.testing import CliRunner

from ccendpoint.cli import COMMANDS, app, load

runner = CliRunner()


@pytest.mark.parametrize("name", list(COMMANDS))
def test_the_registry_says_what_the_command_says(name: str) -> None:
    # the one-line help of `ccendpoint --help` comes from the registry: it must not drift from the command's own
    assert load(name).get_short_help_str(limit=1000) == COMMANDS[name].help


def test_help_lists_every_command_with_its_line() -> None:
    result = runner.invoke(app, ["--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    listed = result.stdout.split("Commands:", 1)[1].splitlines()
    names = [line.split()[0] for line in listed if line.strip()]
    assert names == list(COMMANDS)
    for name, entry in COMMANDS.items():
        assert any(line.split(None, 1)[1].startswith(entry.help[:40]) for line in listed if line.split()[:1] == [name])


def _modules_after(argv: list[str]) -> set[str]:
    probe = (
        "import sys\n"
        "from ccendpoint.cli import app\n"
        "try:\n"
        f"    app({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('MODULES=' + ','.join(m for m in sys.modules if m.startswith('ccendpoint.commands.')))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    return set(result.stderr.rsplit("MODULES=", 1)[1].strip().split(",")) - {""}


@pytest.mark.parametrize(
    ("argv", "loaded"),
    [
        (["--help"], set()),
        (["list", "--json"], {"catalog_cmds", "common", "layout", "options", "page_view"}),
        (["backups", "--json"], {"backup_cmds", "changes", "common", "layout", "options"}),
    ],
)
def test_a_command_loads_its_own_module_only(argv: list[str], loaded: set[str]) -> None:
    assert {m.rsplit(".", 1)[1] for m in _modules_after(argv)} == loaded
