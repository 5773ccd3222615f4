"""``list``, ``show``, ``--version`` and ``--help`` through typer's CliRunner and real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from catalog_helpers import CATALOG_ARGS, ORBIT_FILE, fixture_catalog, fixture_provider
from ccendpoint import __version__
from ccendpoint.cli import app
from ccendpoint.vscode.blocks import GroupOptions, render_group

runner = CliRunner()


def run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_version() -> None:
    code, out, _ = run("--version")
    assert code == 0
    assert out.strip() == f"ccendpoint {__version__}"


def fixture(*args: str) -> tuple[int, str, str]:
    """``run`` with the fixture catalog, whose prices, ports and models only the tests change."""
    return run(*CATALOG_ARGS, *args)


def test_list_shows_current_models_of_every_provider() -> None:
    code, out, _ = fixture("list")
    assert code == 0
    for provider in fixture_catalog().providers:
        for model in provider.current_models():
            assert model.id in out, model.id
    assert "orbit-1-turbo" not in out and "cw-old" not in out
    assert "deprecated model(s) hidden" in out


def test_list_all_includes_deprecated_models_with_their_replacement() -> None:
    code, out, _ = fixture("list", "orbit", "--all")
    assert code == 0
    assert "orbit-1-turbo" in out
    rows = [line for line in out.splitlines() if "orbit-1-turbo" in line]
    assert "(deprecated →" in rows[0]
    assert out.count("orbit-pro)") == 2  # two retired ids, each pointing at its replacement
    assert "clockwork" not in out


def test_list_shows_limits_prices_and_proxy_mode() -> None:
    code, out, _ = fixture("list", "orbit")
    assert code == 0
    row = next(line for line in out.splitlines() if "orbit-pro" in line)
    for cell in ("1M", "128K", "always", "required :4300", "$3.00 / $15.00"):
        assert cell in row, cell


def test_list_json_is_machine_readable() -> None:
    code, out, _ = fixture("list", "--json", "--all")
    assert code == 0
    rows = json.loads(out)
    expected = sum(len(p.models) for p in fixture_catalog().providers)
    assert len(rows) == expected
    flash = next(r for r in rows if r["id"] == "orbit-flash")
    assert flash["provider"] == "orbit"
    assert flash["context"] == 262144
    assert flash["pricing"]["input"] == pytest.approx(0.50)
    assert flash["proxy"] == "required"
    assert any("temperature" in sentence for sentence in flash["rules"])
    lite = next(r for r in rows if r["id"] == "orbit-lite")
    assert lite["pricing"] is None and lite["max_output"] is None  # unknown numbers stay unknown


def test_list_json_hides_deprecated_without_all() -> None:
    _, out, _ = fixture("list", "orbit", "--json")
    assert [r["id"] for r in json.loads(out)] == ["orbit-pro", "orbit-flash", "orbit-lite"]


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (("list", "orbitt"), "Did you mean orbit?"),
        (("show", "ORBITT"), "Did you mean orbit?"),
        (("show", "clockwrk"), "Did you mean clockwork?"),
        (("show", "orbit", "orbit-pro2"), "Did you mean orbit-pro,"),  # the closest first
        (("show", "orbital", "orbit-1-turb"), "Did you mean orbit-1-turbo,"),
    ],
)
def test_unknown_names_exit_2_with_suggestions(args: tuple[str, ...], suggestion: str) -> None:
    code, out, err = fixture(*args)
    assert code == 2
    assert out == ""
    assert "error: Unknown" in err
    assert suggestion in err
    assert "Traceback" not in err


def test_unknown_provider_lists_the_known_ones() -> None:
    _, _, err = fixture("show", "zzzzzz")
    known = ", ".join(p.id for p in fixture_catalog().providers)
    assert f"Known providers: {known}." in " ".join(err.split())
    assert "clockwork, orbit" in known


def test_show_prints_everything_a_user_needs() -> None:
    code, out, _ = fixture("show", "orbit")
    assert code == 0
    out = " ".join(out.split())  # rich wraps long lines
    for text in (
        "https://api.orbit.test.cn/v1/chat/completions",  # endpoints by region
        "china",
        "ORBITAL_API_KEY",  # key variable
        "Orbit keys start with ok-.",  # key format
        "Port: 4300",
        "ORBIT_PROXY_PORT",
        "sets temperature to 1 and top_p to 0.95",  # rules in words
        "invalid temperature: only 1 is allowed",  # troubleshooting
        "Update API Key",
        '"vendor": "customendpoint"',
    ):
        assert text in out, text


def test_show_group_is_exactly_what_add_renders() -> None:
    code, out, _ = fixture("show", "orbit", "--json")
    assert code == 0
    data = json.loads(out)
    assert data["vscode_group"] == render_group(fixture_provider("orbit"), GroupOptions())
    assert data["vscode_mode"] == "proxy"
    assert "apiKey" not in data["vscode_group"]
    assert data["proxy"]["env"]["port"] == "ORBIT_PROXY_PORT"
    text_out = fixture("show", "orbit")[1]
    start = text_out.index("{\n\t")
    assert json.loads(text_out[start:]) == data["vscode_group"]


def test_show_puts_a_models_note_under_the_model_not_under_the_group() -> None:
    code, out, _ = fixture("show", "orbit")
    assert code == 0
    heading = out.index("\nWhat add writes\n")
    assert "Answers in English only." in out[:heading]
    assert "Answers in English only." not in out[heading:]


def test_show_one_model() -> None:
    code, out, _ = fixture("show", "orbit", "orbit-flash", "--json")
    assert code == 0
    data = json.loads(out)
    assert [m["id"] for m in data["models"]] == ["orbit-flash"]
    assert [m["id"] for m in data["vscode_group"]["models"]] == ["orbit-flash"]
    assert data["vscode_group"]["models"][0]["maxOutputTokens"] == 16384


def test_show_accepts_aliases_and_model_case() -> None:
    code, out, _ = fixture("show", "orbital", "ORBIT-PRO", "--json")
    assert code == 0
    assert json.loads(out)["models"][0]["id"] == "orbit-pro"


def test_show_says_where_an_overriding_provider_comes_from(tmp_path: Path) -> None:
    overlay = tmp_path / "glm.yaml"
    overlay.write_text("id: glm\nextends: true\ngroup_name: GLM (mine)\n")
    code, out, _ = run("--catalog", str(overlay), "show", "glm")
    assert code == 0
    assert f"Defined by: user (extends bundled): {overlay}" in out
    assert '"name": "GLM (mine)"' in out


def test_broken_overlay_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    doc = yaml.safe_load(ORBIT_FILE.read_text())
    doc["models"][2]["max_output"] = "lots"
    overlay = tmp_path / "orbit.yaml"
    overlay.write_text(yaml.safe_dump(doc))
    code, _, err = run("--catalog", str(overlay), "list")
    assert code == 1
    assert f"{overlay}: models[2].max_output: must be an integer" in err
    assert "Traceback" not in err


def test_env_var_overlay_is_used(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    overlay = tmp_path / "deepseek.yaml"
    overlay.write_text("id: deepseek\nextends: true\ngroup_name: DS\n")
    monkeypatch.setenv("CCENDPOINT_CATALOG", str(overlay))
    _, out, _ = run("show", "deepseek", "--json")
    assert json.loads(out)["vscode_group"]["name"] == "DS"


@pytest.mark.parametrize(
    "command",
    [[], ["list"], ["show"], ["add"], ["remove"], ["backups"], ["restore"], ["proxy"], ["usage"], ["doctor"]],
)
def test_help_explains_with_an_example(command: list[str]) -> None:
    code, out, _ = run(*command, "--help")
    assert code == 0
    assert "ccendpoint" in out
    assert ("Example" in out) or ("Typical use" in out)


def _python(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, timeout=60, check=False)


def test_python_dash_m_works() -> None:
    result = _python("-m", "ccendpoint", "--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"ccendpoint {__version__}"


@pytest.mark.parametrize("argv", [["--help"], ["list"], ["show", "kimi"]])
def test_light_commands_do_not_import_the_proxy_stack(argv: list[str]) -> None:
    probe = (
        "import sys\n"
        "from ccendpoint.cli import app\n"
        "try:\n"
        f"    app({argv!r})\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = sorted(m for m in ('aiohttp', 'orjson', 'jsonschema') if m in sys.modules)\n"
        "sys.stderr.write('HEAVY=' + ','.join(heavy))\n"
    )
    _python("-m", "ccendpoint", "list")  # warm the validation stamps
    result = _python("-c", probe)
    assert result.stderr.rstrip().endswith("HEAVY="), result.stderr[-300:]


def test_list_cost_compares_a_typical_agent_session() -> None:
    code, out, _ = fixture("list", "--cost", "--json")
    assert code == 0
    rows = json.loads(out)
    by_id = {r["id"]: r for r in rows}
    # 50 turns x (10K in + 2K out) = 0.5M in at $0.50 + 0.1M out at $2.00
    assert by_id["orbit-flash"]["session_cost"] == pytest.approx(0.45)
    # 0.5M in at $3.00 + 0.1M out at $15.00
    assert by_id["orbit-pro"]["session_cost"] == pytest.approx(3.0)
    assert by_id["orbit-lite"]["session_cost"] is None
    costs = [r["session_cost"] for r in rows]
    known = [c for c in costs if c is not None]
    assert known == sorted(known)
    assert costs[: len(known)] == known  # models without prices come last
    code, table, _ = fixture("list", "orbit", "--cost")
    assert "Agent session" in table and "50 turns" in table
    row = next(line for line in table.splitlines() if "orbit-flash" in line)
    assert "$0.45" in row


def test_catalog_text_is_never_read_as_markup(tmp_path: Path) -> None:
    overlay = tmp_path / "orbit-markup.yaml"
    overlay.write_text(
        "id: orbit\nextends: true\ndescription: 'Routes [tools] to [/path] safely'\n"
        "troubleshooting:\n  - {symptom: '[bold]x', cause: '[/]', fix: 'run [it]'}\n"
        "models:\n  - {id: orbit-pro, name: 'Orbit [beta]'}\n"
    )
    with_overlay = [*CATALOG_ARGS, "--catalog", str(overlay)]
    code, out, err = run(*with_overlay, "show", "orbit")
    assert code == 0, err
    assert "Routes [tools] to [/path] safely" in out
    assert "[bold]x" in out and "run [it]" in out
    code, out, err = run(*with_overlay, "list", "orbit")
    assert code == 0 and "Orbit [beta]" in out
