"""``list``, ``show``, ``--version`` and ``--help`` through typer's CliRunner and real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from ccendpoint import __version__
from ccendpoint.catalog import load_catalog
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


def test_list_shows_current_models_of_every_provider() -> None:
    code, out, _ = run("list")
    assert code == 0
    for provider in load_catalog().providers:
        for model in provider.current_models():
            assert model.id in out, model.id
    assert "kimi-k2-0905-preview" not in out
    assert "deprecated model(s) hidden" in out


def test_list_all_includes_deprecated_models_with_their_replacement() -> None:
    code, out, _ = run("list", "kimi", "--all")
    assert code == 0
    assert "kimi-k2-0905-preview" in out
    rows = [line for line in out.splitlines() if "kimi-k2-0905-preview" in line]
    assert "(deprecated →" in rows[0]
    assert out.count("kimi-k2.6)") == 5  # five retired K2 ids, each pointing at its replacement
    assert "mimo" not in out


def test_list_shows_limits_prices_and_proxy_mode() -> None:
    code, out, _ = run("list", "kimi")
    assert code == 0
    row = next(line for line in out.splitlines() if "kimi-k3" in line)
    for cell in ("1M", "128K", "always", "required :3457", "$3.00 / $15.00"):
        assert cell in row, cell


def test_list_json_is_machine_readable() -> None:
    code, out, _ = run("list", "--json", "--all")
    assert code == 0
    rows = json.loads(out)
    expected = sum(len(p.models) for p in load_catalog().providers)
    assert len(rows) == expected
    k26 = next(r for r in rows if r["id"] == "kimi-k2.6")
    assert k26["provider"] == "kimi"
    assert k26["context"] == 262144
    assert k26["pricing"]["input"] == pytest.approx(0.95)
    assert k26["proxy"] == "required"
    assert any("temperature" in sentence for sentence in k26["rules"])
    qwen = next(r for r in rows if r["id"] == "qwen3.8-max")
    assert qwen["pricing"] is None and qwen["max_output"] is None  # unknown numbers stay unknown


def test_list_json_hides_deprecated_without_all() -> None:
    from ccendpoint.catalog import load_catalog

    qwen = load_catalog().provider("qwen")
    assert qwen is not None and any(m.deprecated for m in qwen.models)
    _, out, _ = run("list", "qwen", "--json")
    assert [r["id"] for r in json.loads(out)] == [m.id for m in qwen.models if not m.deprecated]


@pytest.mark.parametrize(
    ("args", "suggestion"),
    [
        (("list", "minmax"), "Did you mean minimax"),
        (("show", "MiniMaxx"), "Did you mean minimax"),
        (("show", "kimmi"), "Did you mean kimi"),
        (("show", "kimi", "kimi-k3.1"), "Did you mean kimi-k3"),
        (("show", "glm", "glm-5.4"), "glm-5."),
    ],
)
def test_unknown_names_exit_2_with_suggestions(args: tuple[str, ...], suggestion: str) -> None:
    code, out, err = run(*args)
    assert code == 2
    assert out == ""
    assert "error: Unknown" in err
    assert suggestion in err
    assert "Traceback" not in err


def test_unknown_provider_lists_the_known_ones() -> None:
    _, _, err = run("show", "zzzzzz")
    assert "Known providers: deepseek, glm, kimi" in err


def test_show_prints_everything_a_user_needs() -> None:
    code, out, _ = run("show", "mimo")
    assert code == 0
    out = " ".join(out.split())  # rich wraps long lines
    for text in (
        "https://api.xiaomimimo.com/v1/chat/completions",  # endpoints by region
        "token-plan-sgp",
        "MIMO_API_KEY",  # key variable
        "tp-",  # key format
        "Port: 3459",
        "MIMO_PROXY_PORT",
        'sets thinking to {"type":"disabled"}',  # rules in words
        "HTTP 400 on the second turn of a tool loop",  # troubleshooting
        "Update API Key",
        '"vendor": "customendpoint"',
    ):
        assert text in out, text


def test_show_group_is_exactly_what_add_renders() -> None:
    code, out, _ = run("show", "kimi", "--json")
    assert code == 0
    data = json.loads(out)
    kimi = load_catalog().provider("kimi")
    assert kimi is not None
    assert data["vscode_group"] == render_group(kimi, GroupOptions())
    assert data["vscode_mode"] == "proxy"
    assert "apiKey" not in data["vscode_group"]
    assert data["proxy"]["env"]["port"] == "KIMI_PROXY_PORT"
    text_out = run("show", "kimi")[1]
    start = text_out.index("{\n\t")
    assert json.loads(text_out[start:]) == data["vscode_group"]


def test_show_one_model() -> None:
    code, out, _ = run("show", "kimi", "kimi-k2.7-code", "--json")
    assert code == 0
    data = json.loads(out)
    assert [m["id"] for m in data["models"]] == ["kimi-k2.7-code"]
    assert [m["id"] for m in data["vscode_group"]["models"]] == ["kimi-k2.7-code"]
    assert data["vscode_group"]["models"][0]["maxOutputTokens"] == 4096


def test_show_accepts_aliases_and_model_case() -> None:
    code, out, _ = run("show", "moonshot", "KIMI-K3", "--json")
    assert code == 0
    assert json.loads(out)["models"][0]["id"] == "kimi-k3"


def test_show_says_where_an_overriding_provider_comes_from(tmp_path: Path) -> None:
    overlay = tmp_path / "glm.yaml"
    overlay.write_text("id: glm\nextends: true\ngroup_name: GLM (mine)\n")
    code, out, _ = run("--catalog", str(overlay), "show", "glm")
    assert code == 0
    assert f"Defined by: user (extends bundled): {overlay}" in out
    assert '"name": "GLM (mine)"' in out


def test_broken_overlay_is_an_error_not_a_traceback(tmp_path: Path) -> None:
    doc = yaml.safe_load((Path(__file__).parents[1] / "src/ccendpoint/catalog/providers/kimi.yaml").read_text())
    doc["models"][2]["max_output"] = "lots"
    overlay = tmp_path / "kimi.yaml"
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
    code, out, _ = run("list", "--cost", "--json")
    assert code == 0
    rows = json.loads(out)
    k26 = next(r for r in rows if r["id"] == "kimi-k2.6")
    # 50 turns x (10K in + 2K out) = 0.5M in at $0.95 + 0.1M out at $4.00
    assert k26["session_cost"] == pytest.approx(0.875)
    costs = [r["session_cost"] for r in rows]
    known = [c for c in costs if c is not None]
    assert known == sorted(known)
    assert costs[: len(known)] == known  # models without prices come last
    code, table, _ = run("list", "kimi", "--cost")
    assert "Agent session" in table and "$0.875" in table
    assert "50 turns" in table


def test_catalog_text_is_never_read_as_markup(tmp_path: Path) -> None:
    overlay = tmp_path / "glm.yaml"
    overlay.write_text(
        "id: glm\nextends: true\ndescription: 'Routes [tools] to [/path] safely'\n"
        "troubleshooting:\n  - {symptom: '[bold]x', cause: '[/]', fix: 'run [it]'}\n"
        "models:\n  - {id: glm-5.1, name: 'GLM [beta]'}\n"
    )
    code, out, err = run("--catalog", str(overlay), "show", "glm")
    assert code == 0, err
    assert "Routes [tools] to [/path] safely" in out
    assert "[bold]x" in out and "run [it]" in out
    code, out, err = run("--catalog", str(overlay), "list", "glm")
    assert code == 0 and "GLM [beta]" in out
