"""Every command's output fits 80 and 120 columns without losing anything.

Each command runs with ``COLUMNS`` set (rich's console width) and once very wide. At 80 and 120
columns no line is longer than the width, no value is cut short ("…" appears no more often than
in the wide output), and the values a user copies (model ids, URLs, paths, ids of backups) are
still whole on one line.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog_helpers import CATALOG_ARGS
from ccendpoint import dirs
from ccendpoint.catalog import load_catalog
from ccendpoint.cli import app
from vscode_helpers import PROVIDER_FILE

WIDTHS = (80, 120)
WIDE = 1000
runner = CliRunner()
BUNDLED = load_catalog([])


def run(args: list[str], width: int) -> str:
    result = runner.invoke(app, args, env={"COLUMNS": str(width)})
    assert result.exit_code in (0, 1, 3), (args, result.stdout, result.stderr)
    return result.stdout + result.stderr


def check_fits(args: list[str], wholes: Sequence[str] = (), before: Callable[[], object] = lambda: None) -> None:
    """``args`` at 80 and 120 columns against the wide output; ``before`` runs before each (a fresh state)."""
    before()
    wide = run(args, WIDE)
    for width in WIDTHS:
        before()
        text = run(args, width)
        lines = text.splitlines()
        too_long = [line for line in lines if len(line) > width]
        assert not too_long, (args, width, too_long)
        assert text.count("…") <= wide.count("…"), (args, width, text)
        for whole in wholes:
            if len(whole) < width - 12:  # fits on a line with its label: must be whole on one
                assert any(whole in line for line in lines), (args, width, whole, text)
            else:  # longer than the terminal: wrapped, never cut
                assert whole in re.sub(r"\s*\n\s*", "", text), (args, width, whole, text)


@pytest.mark.parametrize("args", [["list"], ["list", "--all"], ["list", "--cost"]])
def test_list_keeps_every_model_id_and_price(args: list[str]) -> None:
    from ccendpoint.catalog.formatting import price_text

    rows = [(p, m) for p in BUNDLED.providers for m in p.models if "--all" in args or not m.deprecated]
    check_fits(args, [m.id for _, m in rows] + [price_text(m) for _, m in rows if m.pricing])


@pytest.mark.parametrize("provider", [p.id for p in BUNDLED.providers])
def test_show_keeps_urls_and_ids_whole(provider: str) -> None:
    prov = BUNDLED.provider(provider)
    assert prov is not None
    urls = [e.url for e in prov.endpoints.values()]
    check_fits(["show", provider], urls + [m.id for m in prov.models] + [prov.docs_url or ""])


def test_add_remove_backups_restore_fit(isolated_home: Path) -> None:
    catalog = ["--catalog", str(PROVIDER_FILE)]
    check_fits([*catalog, "add", "acme", "--dry-run"], ["acme-large"])
    assert runner.invoke(app, [*catalog, "add", "acme"]).exit_code == 0
    check_fits([*catalog, "add", "acme", "--port", "4999", "--dry-run"], ["http://127.0.0.1:4999/v1/chat/completions"])
    assert runner.invoke(app, [*catalog, "add", "acme", "--port", "4999"]).exit_code == 0
    backups = json.loads(runner.invoke(app, ["backups", "--json"]).stdout)
    check_fits(["backups"], [backups[0]["id"], backups[0]["file"]])
    check_fits(["restore", "--dry-run"], [backups[0]["id"]])
    check_fits([*catalog, "remove", "acme", "--dry-run"])


def test_usage_and_doctor_fit(isolated_home: Path) -> None:
    now = datetime.now(timezone.utc).isoformat()
    usage = {"prompt_tokens": 1234567, "completion_tokens": 45678, "prompt_tokens_details": {"cached_tokens": 1000}}
    models = (("kimi", "kimi-k2.6"), ("nemotron", "nvidia/nemotron-3-ultra-550b-a55b"), ("qwen", "qwen3.7-plus"))
    records = [{"time": now, "provider": p, "model": m, "usage": usage} for p, m in models]
    records.append({"time": now, "provider": "kimi", "model": "kimi-k2.6", "status": 502})
    dirs.log_dir().mkdir(parents=True)
    (dirs.log_dir() / "kimi-proxy.ndjson").write_text("".join(json.dumps(r) + "\n" for r in records))
    check_fits(["usage"], [m for _, m in models] + ["1,234,567"])
    assert runner.invoke(app, ["add", "kimi", "--port", "1"]).exit_code == 0
    check_fits(["doctor"])
    check_fits(["doctor", "--verbose"])


def commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the app, groups included."""
    import typer.main

    click_group = typer.main.get_command(app) if not prefix else group
    found = [prefix]
    for name, command in getattr(click_group, "commands", {}).items():
        if getattr(command, "commands", None) is not None:
            found += commands(command, (*prefix, name))
        else:
            found.append((*prefix, name))
    return found


@pytest.mark.parametrize("path", commands(app), ids=lambda p: " ".join(p) or "ccendpoint")
def test_help_fits_and_examples_are_at_most_78_characters(path: tuple[str, ...]) -> None:
    example: Callable[[str], bool] = lambda line: line.lstrip().startswith(("ccendpoint ", "Example:"))  # noqa: E731
    for width in WIDTHS:
        text = run([*path, "--help"], width)
        assert all(len(line) <= width for line in text.splitlines()), text
        long_examples = [line for line in text.splitlines() if example(line) and len(line) > 78]
        assert not long_examples, long_examples
    assert re.search(r"^Usage: ", run([*path, "--help"], 80), flags=re.MULTILINE)


def test_setup_and_service_fit(recorder: object, isolated_home: Path) -> None:
    import shutil

    from ccendpoint.service.manage import Machine

    def fresh() -> None:
        for folder in (".config", ".local"):
            shutil.rmtree(isolated_home / folder, ignore_errors=True)

    # the utility model setup picks is the cheapest: a fixture price, so a catalog update cannot move it
    orbit = ["https://console.orbit.test/keys", "customendpoint/orbit-flash"]
    check_fits([*CATALOG_ARGS, "setup", "orbit", "--yes"], orbit, fresh)
    kimi = BUNDLED.provider("kimi")
    assert kimi is not None and kimi.key_url
    check_fits(["setup", "kimi", "--yes"], [kimi.key_url], fresh)
    check_fits(["setup", "kimi", "--yes"])  # everything in place
    check_fits(["setup", "qwen", "--yes", "--no-service"])
    unit = isolated_home / ".config/systemd/user/ccendpoint-proxy.service"
    check_fits(["service", "status"], [str(unit)])
    check_fits(["service", "install", "mimo"])
    log = Machine.current().log_file
    log.write_text("kimi  http://127.0.0.1:3457/v1/chat/completions → https://api.moonshot.ai/v1/chat/completions\n")
    check_fits(["service", "logs"])
    check_fits(["service", "uninstall", "mimo"], before=lambda: run(["service", "install", "mimo"], WIDE))
    check_fits(["service", "uninstall"], before=lambda: run(["service", "install", "kimi"], WIDE))
    check_fits(["service", "status"])


def test_the_proxy_start_lines_wrap_on_an_80_column_terminal() -> None:
    import io

    from rich.console import Console

    from ccendpoint.proxy.process import Output

    output = Output()
    screen = io.StringIO()
    output.console = Console(file=screen, width=80, force_terminal=True, color_system=None)
    url = "https://dashscope-intl.aliyuncs.com/compatible-mode/v1/chat/completions"
    line = f"qwen  http://127.0.0.1:3458/v1/chat/completions → {url}  rules: qwen3.7-plus: replay reasoning"
    output.line(line, bold=4)
    lines = screen.getvalue().splitlines()
    assert len(lines) > 1 and all(len(text) <= 80 for text in lines)
    assert any(url in text for text in lines)
