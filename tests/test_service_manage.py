"""Installing, inspecting and removing the login service, with every system command recorded."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from catalog_helpers import fixture_catalog
from ccendpoint.errors import CcendpointError, UsageError
from ccendpoint.proxy.probe import Probe
from ccendpoint.service import manage
from ccendpoint.service.manage import Machine
from ccendpoint.service.spec import Served
from ccendpoint.service.systems import Places, launchd_report, systemd_report
from service_helpers import Recorder, provider_on

SYSTEMD_UP = {("systemctl", "--user", "show-environment"): (0, "HOME=/home/me\n")}
SYSTEMD_DOWN = {("systemctl", "--user", "show-environment"): (1, "Failed to connect to bus: No medium found")}
ACTIVE = "LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\nExecMainStatus=0\n"


def healthy(port: int) -> Probe:
    return Probe("ccendpoint", {"provider": provider_on(port), "version": "0"})


def machine(
    tmp_path: Path, recorder: Recorder, platform: str = "linux", probe: Callable[[int], Probe] = healthy
) -> Machine:
    home = tmp_path / "home"
    places = Places(home=home, xdg_config=home / ".config", state_dir=tmp_path / "state", uid=501, user="PC\\me")
    return Machine(
        runner=recorder,
        places=places,
        platform=platform,
        python="/venv/bin/python",
        config_dir=tmp_path / "config",
        log_dir=tmp_path / "logs",
        exists=lambda path: path.startswith("/venv/"),
        probe=probe,
    )


KIMI = Served(providers=("kimi",))


def test_systemd_install_enables_and_starts_once(tmp_path: Path) -> None:
    recorder = Recorder({**SYSTEMD_UP, ("systemctl", "--user", "show"): (0, ACTIVE)})
    box = machine(tmp_path, recorder)
    first = manage.install(box, KIMI)
    unit = tmp_path / "home/.config/systemd/user/ccendpoint-proxy.service"
    assert first.changed and first.path == str(unit) and first.system == "systemd user unit"
    assert "ExecStart=/venv/bin/ccendpoint proxy kimi" in unit.read_text()
    ctl = [call[2:] for call in recorder.commands("systemctl")]
    assert ("daemon-reload",) in ctl and ("enable", "ccendpoint-proxy.service") in ctl
    assert ("restart", "ccendpoint-proxy.service") in ctl
    assert (tmp_path / "logs").is_dir() and (tmp_path / "config").is_dir()

    recorder.calls.clear()
    again = manage.install(box, KIMI)
    assert not again.changed
    assert ("restart", "ccendpoint-proxy.service") not in [call[2:] for call in recorder.calls]


def test_a_changed_definition_restarts_the_service(tmp_path: Path) -> None:
    recorder = Recorder({**SYSTEMD_UP, ("systemctl", "--user", "show"): (0, ACTIVE)})
    box = machine(tmp_path, recorder)
    manage.install(box, KIMI)
    recorder.calls.clear()
    change = manage.install(box, KIMI.merged(["qwen"], regions={"qwen": "us"}))
    assert change.changed
    assert ("systemctl", "--user", "restart", "ccendpoint-proxy.service") in recorder.calls
    assert manage.load_served(box) == Served(providers=("kimi", "qwen"), regions={"qwen": "us"})


def test_without_a_user_systemd_an_autostart_entry_and_a_background_process(tmp_path: Path) -> None:
    recorder = Recorder(SYSTEMD_DOWN)
    box = machine(tmp_path, recorder)
    change = manage.install(box, KIMI)
    entry = tmp_path / "home/.config/autostart/ccendpoint-proxy.desktop"
    assert change.path == str(entry) and "no user systemd" in change.note
    assert "Exec=/venv/bin/python -m ccendpoint.service.launch --log" in entry.read_text()
    [(argv, cwd)] = recorder.spawned
    assert argv[:3] == ("/venv/bin/python", "-m", "ccendpoint.service.launch") and argv[-2:] == ("proxy", "kimi")
    assert cwd == tmp_path / "config"
    assert recorder.commands("systemctl") == [("systemctl", "--user", "show-environment")]

    manage.install(box, KIMI)
    assert len(recorder.spawned) == 1  # still running: not started twice
    found = manage.status(box, fixture_catalog())
    assert found.state == "running" and found.kind == "autostart" and found.healthy

    gone = manage.uninstall(box)
    assert gone is not None and not entry.exists()
    assert recorder.stopped == [40001] and not (tmp_path / "state/service.pid").exists()
    assert manage.status(box, fixture_catalog()).state == "not installed"


def test_a_dead_background_process_is_started_again(tmp_path: Path) -> None:
    recorder = Recorder(SYSTEMD_DOWN)
    box = machine(tmp_path, recorder)
    manage.install(box, KIMI)
    recorder.running.clear()  # the machine restarted
    assert manage.status(box, fixture_catalog(), probe=False).state == "stopped"
    manage.install(box, KIMI)
    assert len(recorder.spawned) == 2


def test_once_systemd_runs_the_autostart_entry_gives_way(tmp_path: Path) -> None:
    recorder = Recorder(SYSTEMD_DOWN)
    box = machine(tmp_path, recorder)
    manage.install(box, KIMI)
    recorder.answers = {**SYSTEMD_UP, ("systemctl", "--user", "show"): (0, ACTIVE)}
    change = manage.install(box, KIMI)
    assert change.removed == (str(tmp_path / "home/.config/autostart/ccendpoint-proxy.desktop"),)
    assert recorder.stopped == [40001]
    assert manage.status(box, fixture_catalog()).kind == "systemd"


def test_launchd_install_bootstraps_enables_and_kickstarts(tmp_path: Path) -> None:
    target = "gui/501/ccendpoint.proxy"
    recorder = Recorder({("launchctl", "print"): (113, "Could not find service")})
    box = machine(tmp_path, recorder, platform="darwin")
    manage.install(box, KIMI)
    plist = tmp_path / "home/Library/LaunchAgents/ccendpoint.proxy.plist"
    assert plist.exists()
    calls = recorder.commands("launchctl")
    assert ("launchctl", "bootstrap", "gui/501", str(plist)) in calls
    assert ("launchctl", "enable", target) in calls and ("launchctl", "kickstart", target) in calls


def test_launchd_failure_to_load_is_a_clear_error(tmp_path: Path) -> None:
    recorder = Recorder(
        {("launchctl", "print"): (113, "not found"), ("launchctl", "bootstrap"): (5, "Bootstrap failed: 5")}
    )
    with pytest.raises(CcendpointError, match=r"Could not load ccendpoint\.proxy\.plist.*Bootstrap failed: 5"):
        manage.install(machine(tmp_path, recorder, platform="darwin"), KIMI)


def test_windows_registers_the_task_from_utf16_xml_and_runs_it(tmp_path: Path) -> None:
    recorder = Recorder({("schtasks", "/Query"): (1, "ERROR: The system cannot find the file specified.")})
    box = machine(tmp_path, recorder, platform="win32")
    manage.install(box, KIMI)
    xml = tmp_path / "state/service/ccendpoint-proxy.xml"
    assert xml.read_bytes()[:2] in (b"\xff\xfe", b"\xfe\xff")
    assert "<UserId>PC\\me</UserId>" in xml.read_bytes().decode("utf-16")
    calls = recorder.commands("schtasks")
    assert ("schtasks", "/Create", "/TN", "ccendpoint-proxy", "/XML", str(xml), "/F") in calls
    assert calls[-1] == ("schtasks", "/Run", "/TN", "ccendpoint-proxy")


def test_status_runs_no_command_when_nothing_is_installed(tmp_path: Path) -> None:
    recorder = Recorder()
    found = manage.status(machine(tmp_path, recorder), fixture_catalog())
    assert found.state == "not installed" and not found.installed
    assert recorder.calls == []


def test_status_tells_a_stale_program_and_another_ccendpoint(tmp_path: Path) -> None:
    recorder = Recorder({**SYSTEMD_UP, ("systemctl", "--user", "show"): (0, ACTIVE)})
    box = machine(tmp_path, recorder)
    manage.install(box, KIMI)
    unit = Path(box.places.xdg_config / "systemd/user/ccendpoint-proxy.service")
    unit.write_text(unit.read_text().replace("/venv/bin/ccendpoint", "/old/pipx/venvs/ccendpoint/bin/ccendpoint"))
    stale = manage.status(box, fixture_catalog())
    assert stale.stale and stale.program == "/old/pipx/venvs/ccendpoint/bin/ccendpoint"
    assert stale.current_program == "/venv/bin/ccendpoint"
    unit.write_text(unit.read_text().replace("/old/pipx/venvs/ccendpoint/bin/ccendpoint", "/venv/other/ccendpoint"))
    other = manage.status(box, fixture_catalog())
    assert not other.stale and other.other_program


def test_status_probes_every_port_and_names_a_wrong_provider(tmp_path: Path) -> None:
    recorder = Recorder({**SYSTEMD_UP, ("systemctl", "--user", "show"): (0, ACTIVE)})
    # the fixture providers' ports: orbit 4300, clockwork 4200
    answers = {4300: Probe("ccendpoint", {"provider": "clockwork", "version": "0"}), 4200: Probe("closed")}
    box = machine(tmp_path, recorder, probe=lambda port: answers[port])
    manage.install(box, Served(providers=("orbit", "clockwork")))
    found = manage.status(box, fixture_catalog())
    by_provider = {x.provider: x for x in found.listeners}
    assert by_provider["orbit"].state == "wrong provider" and "clockwork" in by_provider["orbit"].detail
    assert by_provider["clockwork"].state == "closed" and not found.healthy


def test_ports_come_from_the_config_folder_env_file_not_the_shell(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    box = machine(tmp_path, Recorder())
    box.config_dir.mkdir(parents=True)
    orbit = Served(providers=("orbit",))
    (box.config_dir / ".env").write_text("ORBIT_PROXY_PORT=4567\n")
    monkeypatch.setenv("ORBIT_PROXY_PORT", "9999")
    monkeypatch.chdir(tmp_path)
    assert manage.served_ports(box, orbit, fixture_catalog()) == [("orbit", 4567, "")]
    (box.config_dir / ".env").write_text("ORBIT_PROXY_PORT=nope\n")
    [(provider, port, problem)] = manage.served_ports(box, orbit, fixture_catalog())
    assert (provider, port) == ("orbit", 4300) and "must be a port number" in problem  # the catalog's port


def test_uninstall_one_provider_keeps_serving_the_others(tmp_path: Path) -> None:
    recorder = Recorder({**SYSTEMD_UP, ("systemctl", "--user", "show"): (0, ACTIVE)})
    box = machine(tmp_path, recorder)
    manage.install(box, Served(providers=("kimi", "qwen")))
    manage.uninstall(box, ["kimi"])
    unit = box.places.xdg_config / "systemd/user/ccendpoint-proxy.service"
    assert "proxy qwen\n" in unit.read_text()
    with pytest.raises(UsageError, match="does not serve mimo"):
        manage.uninstall(box, ["mimo"])
    manage.uninstall(box, ["qwen"])
    assert not unit.exists() and not box.record_path.exists()
    assert ("systemctl", "--user", "disable", "--now", "ccendpoint-proxy.service") in recorder.calls
    assert manage.uninstall(box) is None


def test_one_provider_cannot_be_taken_out_of_all(tmp_path: Path) -> None:
    recorder = Recorder({**SYSTEMD_UP, ("systemctl", "--user", "show"): (0, ACTIVE)})
    box = machine(tmp_path, recorder)
    manage.install(box, Served(all=True))
    with pytest.raises(UsageError, match="serves every provider"):
        manage.uninstall(box, ["kimi"])


def test_nothing_to_serve_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="No provider"):
        manage.install(machine(tmp_path, Recorder()), Served())


def test_waiting_stops_at_a_failure(tmp_path: Path) -> None:
    failed = "LoadState=loaded\nActiveState=activating\nSubState=auto-restart\nResult=exit-code\nExecMainStatus=1\n"
    recorder = Recorder({**SYSTEMD_UP, ("systemctl", "--user", "show"): (0, failed)})
    box = machine(tmp_path, recorder, probe=lambda port: Probe("closed"))
    manage.install(box, KIMI)
    found = manage.wait_until_answering(box, fixture_catalog(), timeout=30)
    assert found.state == "failed" and "exited with code 1" in found.detail


@pytest.mark.parametrize(
    ("text", "state", "words"),
    [
        (ACTIVE, "running", "active (running)"),
        ("ActiveState=failed\nResult=exit-code\nExecMainStatus=2\n", "failed", "code 2"),
        ("ActiveState=inactive\nSubState=dead\nResult=success\n", "stopped", "inactive (dead)"),
        ("LoadState=not-found\nActiveState=inactive\n", "not installed", "does not know"),
        ("ActiveState=activating\nSubState=start\n", "running", "starting"),
    ],
)
def test_systemd_states_in_words(text: str, state: str, words: str) -> None:
    report = systemd_report(text)
    assert report.state == state and words in report.detail


def test_launchd_states_in_words() -> None:
    running = "gui/501/ccendpoint.proxy = {\n\tstate = running\n\tpid = 812\n\tlast exit code = 0\n}"
    assert launchd_report(running).state == "running" and "812" in launchd_report(running).detail
    crashed = "gui/501/ccendpoint.proxy = {\n\tstate = not running\n\tlast exit code = 1\n}"
    assert launchd_report(crashed).state == "failed"
    never = "gui/501/ccendpoint.proxy = {\n\tstate = waiting\n\tlast exit code = (never exited)\n}"
    assert launchd_report(never).state == "stopped"
