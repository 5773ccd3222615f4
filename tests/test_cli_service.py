"""``ccendpoint service`` end to end on a temporary home, with the system commands recorded."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from catalog_helpers import CATALOG_ARGS, FOLDER
from ccendpoint import __version__, dirs
from ccendpoint.cli import app
from ccendpoint.proxy.probe import Probe
from fake_upstreams import free_port
from service_helpers import Recorder, set_probe

runner = CliRunner()
UNIT = Path(".config/systemd/user/ccendpoint-proxy.service")


def service(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["service", *args])
    return result.exit_code, result.stdout, result.stderr


def fixture_service(*args: str) -> tuple[int, str, str]:
    """``service`` with the fixture catalog: orbit's proxy port is 4300, clockwork's 4200."""
    result = runner.invoke(app, [*CATALOG_ARGS, "service", *args])
    return result.exit_code, result.stdout, result.stderr


def test_install_status_uninstall(recorder: Recorder, isolated_home: Path) -> None:
    code, out, err = fixture_service("install", "orbit")
    assert code == 0, out + err
    unit = isolated_home / UNIT
    assert "proxy orbit" in unit.read_text()
    assert "Installed the proxy as a login service (systemd user unit)" in " ".join(out.split())
    assert "orbit on 127.0.0.1:4300: answers /healthz" in out

    code, out, _ = fixture_service("status")
    assert code == 0 and "Proxy service: running" in out and "Serves: orbit" in out

    code, out, _ = fixture_service("install", "orbital", "clockwork", "--region", "clockwork=global")
    assert code == 0
    text = unit.read_text()
    assert "proxy orbit clockwork --region clockwork=global" in text

    code, out, _ = fixture_service("uninstall", "clockwork")
    assert code == 0 and "no longer serves clockwork" in out
    assert "proxy orbit\n" in unit.read_text()
    code, out, _ = fixture_service("uninstall")
    assert code == 0 and "Removed the proxy service" in out and not unit.exists()
    code, out, _ = fixture_service("status")
    assert code == 3 and "not installed" in out and "ccendpoint service install" in out
    assert fixture_service("uninstall")[1].startswith("The proxy service is not installed")


def test_install_json_says_what_changed(recorder: Recorder) -> None:
    code, out, _ = fixture_service("install", "orbit", "--json")
    data = json.loads(out)
    assert code == 0 and data["changed"] is True and data["state"] == "running"
    assert data["listeners"] == [{"provider": "orbit", "port": 4300, "state": "ccendpoint", "detail": ""}]
    again = json.loads(fixture_service("install", "--json")[1])
    assert again["changed"] is False and again["served"]["providers"] == ["orbit"]
    assert again["served"]["catalogs"] == [str(FOLDER.resolve())]  # the service finds orbit where the user did


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ((), "Which providers should the service serve?"),
        (("kimi", "--all"), "not both"),
        (("kimi", "--region", "mars"), "no region 'mars'"),
        (("kimi", "qwen", "--region", "us"), "needs one provider"),
        (("kimmi",), "Did you mean kimi"),
    ],
)
def test_install_refuses_with_a_hint(recorder: Recorder, args: tuple[str, ...], words: str) -> None:
    code, _, err = service("install", *args)
    assert code == 2 and words in " ".join(err.split())
    assert recorder.calls == []


def test_a_failing_service_says_why_and_shows_its_log(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    failed = "LoadState=loaded\nActiveState=failed\nResult=exit-code\nExecMainStatus=1\n"
    recorder.answers[("systemctl", "--user", "show")] = (0, failed)
    set_probe(lambda port: Probe("closed"))
    log = dirs.log_dir() / "service.log"
    log.parent.mkdir(parents=True)
    log.write_text("error: Port 3457 is already in use (127.0.0.1:3457), key sk-proj-Q7vX2mN9pL4kR8sT1wY6zB3cD5fG\n")
    code, out, _ = service("install", "kimi")
    assert code == 1
    assert "Proxy service: failed (it exited with code 1)" in out
    assert "Port 3457 is already in use" in out and "sk-proj-Q7vX2mN9pL4kR8sT1wY6zB3cD5fG" not in out
    assert service("status")[0] == 1
    code, out, _ = service("logs", "-n", "5")
    assert code == 0 and "already in use" in out and "sk-proj-Q7" not in out


def test_a_port_held_by_a_hand_started_proxy_is_explained(recorder: Recorder) -> None:
    recorder.answers[("systemctl", "--user", "show")] = (0, "ActiveState=activating\nSubState=auto-restart\n")
    code, out, _ = service("install", "kimi")
    assert code == 1
    assert "answers, but not from the service" in " ".join(out.split())


def test_status_spots_a_program_that_moved(recorder: Recorder, isolated_home: Path) -> None:
    assert service("install", "kimi")[0] == 0
    unit = isolated_home / UNIT
    unit.write_text(unit.read_text().replace(f"ExecStart={Path(sys.executable).parent}", "ExecStart=/gone/venv/bin"))
    code, out, _ = service("status")
    assert code == 1
    flat = " ".join(out.split())
    assert "(no longer there)" in flat and "which is gone" in flat and "ccendpoint service install" in flat
    code, items = doctor_findings()
    assert "service.stale" in {f["check"] for f in items if f["level"] == "error"}
    assert service("install")[0] == 0  # writing it again points it at this ccendpoint
    assert service("status")[0] == 0


def doctor_findings() -> tuple[int, list[dict[str, str]]]:
    result = runner.invoke(app, ["doctor", "--json"])
    return result.exit_code, json.loads(result.stdout)["findings"]


def test_doctor_points_an_unserved_proxy_at_the_service(recorder: Recorder, monkeypatch: pytest.MonkeyPatch) -> None:
    port = free_port()  # nothing listens there: doctor's own probe finds it closed
    overlay = dirs.config_dir() / "catalog" / "kimi.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text(f"id: kimi\nextends: true\nproxy: {{mode: required, port: {port}}}\n")
    set_probe(lambda port: Probe("closed"))
    assert runner.invoke(app, ["add", "kimi"]).exit_code == 0
    _, items = doctor_findings()
    finding = next(f for f in items if f["check"] == "proxy.not-running")
    assert "ccendpoint service install kimi" in finding["fix"]
    failed = "LoadState=loaded\nActiveState=failed\nResult=exit-code\nExecMainStatus=1\n"
    recorder.answers[("systemctl", "--user", "show")] = (0, failed)
    assert service("install", "kimi")[0] == 1  # installed, but it failed: nothing answers
    _, items = doctor_findings()
    assert "proxy.service-down" in {f["check"] for f in items}


def test_logs_without_a_log(recorder: Recorder) -> None:
    code, _, err = service("logs")
    assert code == 1 and "No service log yet" in err and "ccendpoint service install" in err


def test_without_a_user_systemd_the_fallback_runs_in_the_background(recorder: Recorder, isolated_home: Path) -> None:
    recorder.answers[("systemctl", "--user", "show-environment")] = (1, "Failed to connect to bus")
    code, out, _ = service("install", "kimi")
    assert code == 0
    assert (isolated_home / ".config/autostart/ccendpoint-proxy.desktop").exists()
    assert "no user systemd" in " ".join(out.split())
    [(argv, _)] = recorder.spawned
    assert argv[-2:] == ("proxy", "kimi")


def test_the_launcher_appends_the_output_to_its_log(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "service.log"
    done = subprocess.run(
        [sys.executable, "-m", "ccendpoint.service.launch", "--log", str(log), "--", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0 and done.stdout == ""
    assert log.read_text() == f"ccendpoint {__version__}\n"
    bad = subprocess.run(
        [sys.executable, "-m", "ccendpoint.service.launch", "proxy"], capture_output=True, text=True, timeout=60
    )
    assert bad.returncode == 2 and "usage:" in bad.stderr
