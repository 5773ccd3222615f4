"""On a Linux machine with a user systemd: install the proxy service for real, start, probe, uninstall.

The unit goes where the user's systemd reads units (the real ``~/.config/systemd/user``); everything
else (catalog overlay, log, state) stays in the test's folder, and the proxy listens on a free port.
The test never touches a ccendpoint service that is already installed. Where no user systemd
runs (containers, WSL1) it is skipped: the XDG autostart fallback runs there instead, and
``test_fresh_install`` covers it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ccendpoint.catalog import load_catalog
from ccendpoint.service import manage
from ccendpoint.service.manage import Machine
from ccendpoint.service.runner import SystemRunner
from ccendpoint.service.spec import Served
from ccendpoint.service.systems import Places, Systemd
from fake_upstreams import free_port


def manager_environment() -> dict[str, str]:
    """The user systemd's own environment (it decides where unit files are read from)."""
    done = subprocess.run(
        ["systemctl", "--user", "show-environment"], capture_output=True, text=True, timeout=10, check=False
    )
    return dict(line.split("=", 1) for line in done.stdout.splitlines() if "=" in line)


def why_not() -> str | None:
    if not sys.platform.startswith("linux") or shutil.which("systemctl") is None:
        return "not Linux with systemd"
    if not Systemd.available(SystemRunner()):
        return "no user systemd runs here (a container or WSL1): the XDG autostart fallback is used instead"
    return None


REASON = why_not()


@pytest.mark.skipif(REASON is not None, reason=str(REASON))
def test_install_start_probe_restart_and_uninstall(tmp_path: Path) -> None:
    env = manager_environment()
    home = Path(env.get("HOME") or pwd.getpwuid(os.getuid()).pw_dir)
    config = Path(env.get("XDG_CONFIG_HOME") or home / ".config")
    if (config / "systemd" / "user" / Systemd.unit).exists():
        pytest.skip("a ccendpoint proxy service is installed on this machine; the test leaves it alone")
    port = free_port()
    overlay = tmp_path / "kimi.yaml"
    overlay.write_text(f"id: kimi\nextends: true\nproxy: {{mode: required, port: {port}}}\n")
    machine = Machine(
        runner=SystemRunner(),
        places=Places(home=home, xdg_config=config, state_dir=tmp_path / "state"),
        platform="linux",
        python=sys.executable,
        config_dir=tmp_path / "config",
        log_dir=tmp_path / "logs",
    )
    catalog = load_catalog([overlay])
    served = Served(providers=("kimi",), catalogs=(str(overlay),))
    ctl = ["systemctl", "--user"]
    try:
        change = manage.install(machine, served)
        assert change.system == "systemd user unit"
        status = manage.wait_until_answering(machine, catalog, timeout=30)
        assert status.healthy, (status, manage.log_tail(20, machine.log_file))
        enabled = subprocess.run([*ctl, "is-enabled", Systemd.unit], capture_output=True, text=True, check=False)
        assert enabled.stdout.strip() == "enabled"  # started with the user's session from now on

        # the session's start: default.target pulls the stopped service up again
        subprocess.run([*ctl, "stop", Systemd.unit], check=True, timeout=30)
        assert not manage.status(machine, catalog).healthy
        subprocess.run([*ctl, "start", "default.target"], check=True, timeout=30)
        assert manage.wait_until_answering(machine, catalog, timeout=30).healthy
        assert "kimi" in machine.log_file.read_text()
    finally:
        manage.uninstall(machine)
    assert not (config / "systemd" / "user" / Systemd.unit).exists()
    assert manage.status(machine, catalog).state == "not installed"
