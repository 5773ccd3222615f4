"""``ccendpoint export litellm``: a LiteLLM config from the fixture catalog, and the command around it."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from catalog_helpers import CATALOG_ARGS, fixture_provider
from ccendpoint.cli import app
from ccendpoint.errors import UsageError
from ccendpoint.integrations.litellm_export import (
    CALLBACK,
    ExportOptions,
    api_base,
    key_variables,
    litellm_config,
    render_yaml,
)

runner = CliRunner()


def export(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, [*CATALOG_ARGS, "export", "litellm", *args])
    return result.exit_code, result.stdout, result.stderr


def entries(config: dict[str, object]) -> dict[str, dict[str, object]]:
    return {entry["model_name"]: entry for entry in config["model_list"]}  # type: ignore[attr-defined,index]


def test_each_current_model_calls_its_endpoint_with_the_key_from_the_environment() -> None:
    orbit = fixture_provider("orbit")
    config = litellm_config([orbit])
    assert list(entries(config)) == ["orbit-pro", "orbit-flash", "orbit-lite"]
    assert entries(config)["orbit-flash"]["litellm_params"] == {
        "model": "openai/orbit-flash",
        "api_base": "https://api.orbit.test/v1",
        "api_key": "os.environ/ORBIT_API_KEY",
    }
    assert config["litellm_settings"] == {"callbacks": [CALLBACK]}
    assert config["general_settings"] == {"master_key": "os.environ/LITELLM_MASTER_KEY"}


def test_regions_and_deprecated_models() -> None:
    orbit, clockwork = fixture_provider("orbit"), fixture_provider("clockwork")
    config = litellm_config([orbit, clockwork], ExportOptions(regions={"orbit": "china"}, include_deprecated=True))
    found = entries(config)
    assert "orbit-1" in found and "cw-old" in found
    assert found["orbit-pro"]["litellm_params"]["api_base"] == "https://api.orbit.test.cn/v1"  # type: ignore[index]
    assert found["cw-peaky"]["litellm_params"]["api_base"] == "https://api.clockwork.test/v1"  # type: ignore[index]
    assert key_variables([orbit, clockwork]) == ["LITELLM_MASTER_KEY", "ORBIT_API_KEY", "CLOCKWORK_API_KEY"]


@pytest.mark.parametrize(
    ("regions", "message"),
    [({"orbit": "mars"}, "Unknown region 'mars' for Orbit"), ({"clockwork": "global"}, "not being exported")],
)
def test_a_bad_region_is_refused(regions: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        litellm_config([fixture_provider("orbit")], ExportOptions(regions=regions))


def test_an_endpoint_without_the_chat_path_and_a_provider_without_a_key_variable_are_refused() -> None:
    with pytest.raises(UsageError, match="does not end with /chat/completions"):
        api_base("https://api.orbit.test/v1/complete")
    keyless = dataclasses.replace(fixture_provider("orbit"), key_env=())
    with pytest.raises(UsageError, match=r"no api_key\.env"):
        litellm_config([keyless])


def test_one_model_id_in_two_providers_is_refused() -> None:
    orbit = fixture_provider("orbit")
    twin = dataclasses.replace(orbit, id="orbit-eu")
    with pytest.raises(UsageError, match="belongs to both orbit and orbit-eu"):
        litellm_config([orbit, twin])


def test_the_yaml_reads_back_as_the_config_and_names_the_variables() -> None:
    orbit = fixture_provider("orbit")
    config = litellm_config([orbit])
    text = render_yaml(config, [orbit], "9.9")
    assert yaml.safe_load(text) == config
    assert "ccendpoint 9.9" in text.splitlines()[0]
    assert "LITELLM_MASTER_KEY, ORBIT_API_KEY" in text


def test_the_command_prints_the_config() -> None:
    code, out, _ = export("orbit", "--region", "china")
    assert code == 0
    config = yaml.safe_load(out)
    assert [e["litellm_params"]["api_base"] for e in config["model_list"]] == ["https://api.orbit.test.cn/v1"] * 3
    assert "ok-" not in out  # the key's prefix: no key is ever written


def test_the_command_with_all_exports_every_provider(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    code, out, err = export("--all", "--out", str(target))
    assert code == 0, err
    assert out == ""
    names = [e["model_name"] for e in yaml.safe_load(target.read_text("utf-8"))["model_list"]]
    assert {"orbit-pro", "cw-peaky", "kimi-k2.6"} <= set(names)
    assert f"Wrote {target}" in err


def test_the_command_keeps_an_existing_file_unless_forced(tmp_path: Path) -> None:
    target = tmp_path / "config.yaml"
    target.write_text("# the team's own config\n", "utf-8")
    code, _, err = export("orbit", "--out", str(target))
    assert code == 2
    assert "exists" in err
    assert target.read_text("utf-8") == "# the team's own config\n"
    code, _, err = export("orbit", "--out", str(target), "--force")
    assert code == 0, err
    assert yaml.safe_load(target.read_text("utf-8"))["model_list"][0]["model_name"] == "orbit-pro"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "Name the providers to export, or give --all."),
        (("orbit", "--all"), "not both"),
        (("orbitz",), "Unknown provider 'orbitz'"),
        (("orbit", "clockwork", "--region", "china"), "does not say which provider"),
        (("orbit", "--region", "orbit="), "expected PROVIDER=REGION"),
    ],
)
def test_bad_arguments_get_a_clear_error(args: tuple[str, ...], message: str) -> None:
    code, out, err = export(*args)
    assert code == 2
    assert out == ""
    assert message in err


def test_exporting_does_not_import_litellm() -> None:
    """The gateway's package stays out of the command line, even where it is installed."""
    probe = (
        "import sys\n"
        "from ccendpoint.cli import app\n"
        "try:\n"
        "    app(['export', 'litellm', '--all'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "sys.stderr.write('LITELLM=' + str('litellm' in sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=False)
    assert "model_list:" in result.stdout
    assert result.stderr.rstrip().endswith("LITELLM=False"), result.stderr[-300:]
