"""``ccendpoint setup`` end to end on a temporary home, with the service commands recorded."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ccendpoint.catalog.loader import load_catalog
from ccendpoint.cli import app
from ccendpoint.commands import common
from ccendpoint.proxy.probe import Probe
from ccendpoint.vscode.document import parse
from service_helpers import Recorder, set_probe

runner = CliRunner()
UNIT = Path(".config/systemd/user/ccendpoint-proxy.service")


def user_dir(home: Path) -> Path:
    return home / ".config" / "Code" / "User"


def setup(*args: str, input: str | None = None) -> tuple[int, str]:
    result = runner.invoke(app, ["setup", *args], input=input)
    return result.exit_code, " ".join((result.stdout + result.stderr).split())


def groups(home: Path) -> list[dict[str, Any]]:
    return list(parse((user_dir(home) / "chatLanguageModels.json").read_text()).value)


def settings(home: Path) -> dict[str, Any]:
    return dict(parse_settings((user_dir(home) / "settings.json").read_text()))


def parse_settings(text: str) -> dict[str, Any]:
    from ccendpoint.vscode.settings import parse_settings as parse_object

    return dict(parse_object(text).root.value)


def backups(home: Path) -> list[Path]:
    return sorted((home / ".local/state/ccendpoint/backups").glob("*/*.json"))


def test_first_run_does_everything_and_the_second_changes_nothing(recorder: Recorder, isolated_home: Path) -> None:
    code, out = setup("kimi", "--yes")
    assert code == 0, out
    [group] = groups(isolated_home)
    kimi = load_catalog(use_overlays=False).provider("kimi")
    assert kimi is not None
    assert group["name"] == "Kimi" and [m["id"] for m in group["models"]] == [m.id for m in kimi.current_models()]
    assert all(m["url"] == "http://127.0.0.1:3457/v1/chat/completions" for m in group["models"])
    assert "proxy kimi --region kimi=global" in (isolated_home / UNIT).read_text()
    assert ("systemctl", "--user", "restart", "ccendpoint-proxy.service") in recorder.calls
    assert settings(isolated_home) == {
        "chat.utilityModel": "customendpoint/kimi-k2.6",
        "chat.utilitySmallModel": "customendpoint/kimi-k2.6",
    }
    assert "global: the catalog's default for Kimi" in out
    assert "kimi on 127.0.0.1:3457: answers /healthz" in out
    assert "One step left" in out
    assert 'Command Palette → Chat: Manage Language Models → right-click the group "Kimi" → Update API Key' in out
    assert "https://platform.kimi.ai/console" in out

    files = {p: p.read_bytes() for p in (user_dir(isolated_home) / "chatLanguageModels.json", isolated_home / UNIT)}
    saved = backups(isolated_home)
    recorder.calls.clear()
    code, out = setup("kimi", "--yes")
    assert code == 0, out
    assert "Everything is in place; nothing changed." in out
    assert {p: p.read_bytes() for p in files} == files and backups(isolated_home) == saved
    assert ("systemctl", "--user", "restart", "ccendpoint-proxy.service") not in recorder.calls
    assert "One step left" in out  # the key is still to be set


def test_a_second_provider_joins_the_same_service(recorder: Recorder, isolated_home: Path) -> None:
    assert setup("kimi", "--yes")[0] == 0
    code, out = setup("qwen", "--region", "us", "--yes")
    assert code == 0, out
    assert "proxy kimi qwen --region kimi=global --region qwen=us" in (isolated_home / UNIT).read_text()
    assert [g["name"] for g in groups(isolated_home)] == ["Kimi", "Qwen"]
    # the utility models the first setup chose stay
    assert settings(isolated_home)["chat.utilityModel"] == "customendpoint/kimi-k2.6"


def test_a_direct_provider_needs_no_service(recorder: Recorder, isolated_home: Path) -> None:
    code, out = setup("glm", "--yes")
    assert code == 0, out
    assert "Not needed: GLM's models call" in out
    assert not (isolated_home / UNIT).exists() and recorder.calls == []
    assert settings(isolated_home)["chat.utilitySmallModel"] == "customendpoint/glm-5.3-flash"


def test_no_service_says_how_to_run_the_proxy(recorder: Recorder, isolated_home: Path) -> None:
    code, out = setup("kimi", "--yes", "--no-service", "--region", "china")
    assert code == 0, out
    assert "Not installed as a login service (--no-service)" in out and "ccendpoint proxy kimi --region china" in out
    assert not (isolated_home / UNIT).exists() and recorder.calls == []


def test_a_failing_service_fails_setup(recorder: Recorder, isolated_home: Path) -> None:
    failed = "LoadState=loaded\nActiveState=failed\nResult=exit-code\nExecMainStatus=1\n"
    recorder.answers[("systemctl", "--user", "show")] = (0, failed)
    set_probe(lambda port: Probe("closed"))
    code, out = setup("kimi", "--yes")
    assert code == 1
    assert "Proxy service: failed" in out and "ccendpoint service logs" in out
    assert groups(isolated_home)  # the rest was still done


def test_on_a_terminal_it_asks(recorder: Recorder, isolated_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(common, "interactive", lambda: True)
    code, out = setup("kimi", input="2\nn\nn\n")
    assert code == 0, out
    assert "1. global (default): Global (platform.kimi.ai)" in out
    assert "2. china: China (platform.moonshot.cn). Keys from the global platform fail here" in out
    assert "ccendpoint proxy kimi --region china" in out  # the service was declined
    assert not (isolated_home / UNIT).exists()
    assert not (user_dir(isolated_home) / "settings.json").exists()  # so were the utility models


def test_the_users_own_utility_models_stay(recorder: Recorder, isolated_home: Path) -> None:
    path = user_dir(isolated_home) / "settings.json"
    path.parent.mkdir(parents=True)
    text = '{\n    // mine\n    "chat.utilityModel": "copilot/gpt-5-mini",\n    "editor.fontSize": 13\n}\n'
    path.write_text(text)
    code, out = setup("kimi", "--yes")
    assert code == 0, out
    assert "chat.utilityModel stays copilot/gpt-5-mini" in out
    new = path.read_text()
    assert new.startswith(
        '{\n    // mine\n    "chat.utilityModel": "copilot/gpt-5-mini",\n    "editor.fontSize": 13,\n'
    )
    assert parse_settings(new)["chat.utilitySmallModel"] == "customendpoint/kimi-k2.6"
    assert any(b.read_text() == text for b in backups(isolated_home))  # backed up first
    code, out = setup("kimi", "--yes", "--utility-model", "kimi-k3")
    assert code == 0, out
    assert parse_settings(path.read_text())["chat.utilityModel"] == "customendpoint/kimi-k3"


def test_an_unreadable_settings_file_is_left_alone(recorder: Recorder, isolated_home: Path) -> None:
    path = user_dir(isolated_home) / "settings.json"
    path.parent.mkdir(parents=True)
    path.write_text('{"a": 1,, }')
    code, out = setup("kimi", "--yes")
    assert code == 0, out
    assert "Not set:" in out and path.read_text() == '{"a": 1,, }'


def test_a_model_id_two_groups_share_is_not_used(recorder: Recorder, isolated_home: Path) -> None:
    path = user_dir(isolated_home) / "chatLanguageModels.json"
    path.parent.mkdir(parents=True)
    mine = '[{"name": "Mine", "vendor": "customendpoint", "models": [{"id": "kimi-k2.6", "name": "x", "url": '
    mine += '"http://example.com/v1/chat/completions", "toolCalling": true, "vision": false, "maxInputTokens": 1, '
    mine += '"maxOutputTokens": 1}]}]'
    path.write_text(mine)
    code, out = setup("kimi", "--yes")
    assert code == 0, out
    assert "2 Custom Endpoint groups have a model kimi-k2.6" in out
    assert not (user_dir(isolated_home) / "settings.json").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("kimi", "--region", "mars"), "Kimi has no region 'mars'. Known regions: global, china."),
        (("kimi", "--utility-model", "nope"), "Unknown model"),
        (("kimi", "--utility-model", "kimi-k2.6", "--no-utility-model"), "contradict"),
    ],
)
def test_mistakes_are_clear(recorder: Recorder, args: tuple[str, ...], words: str) -> None:
    code, out = setup(*args, "--yes")
    assert code == 2 and words in out and "Traceback" not in out


def test_with_the_key_set_it_is_ready(recorder: Recorder, isolated_home: Path) -> None:
    assert setup("kimi", "--yes")[0] == 0
    path = user_dir(isolated_home) / "chatLanguageModels.json"
    path.write_text(
        path.read_text().replace(
            '"vendor": "customendpoint",', '"vendor": "customendpoint",\n\t\t"apiKey": "${input:chat.lm.secret.1}",', 1
        )
    )
    code, out = setup("kimi", "--yes")
    assert code == 0 and "Ready: pick a Kimi model" in out and "One step left" not in out
