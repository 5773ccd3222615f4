"""The README's way in, as a new user takes it on a fresh machine: ``pipx install .``, then ``setup``.

Everything runs in a clean home folder with nothing of this test run on the path: pipx comes from
the package index into a virtual environment of its own (a fresh Debian gets it with apt), the
README's first command installs ccendpoint, and ``ccendpoint setup kimi --yes`` must leave a
VS Code file pointing at a proxy that answers ``/healthz``. Like a container, the machine has no
user systemd here (the session bus is hidden), so the proxy runs as the XDG autostart fallback's
background process; ``service uninstall`` stops it again.

It downloads packages from the package index and builds ccendpoint, so it is not part of the
unit tests (which reach nothing but loopback): ``.ci/run`` runs it on its own, ``pytest -m install``.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import urllib.request
import venv
from pathlib import Path

import pytest

from fake_upstreams import free_port
from test_docs import ROOT, readme_setup_commands

pytestmark = pytest.mark.install
#: What a login shell on a fresh machine has, plus the package-index settings of this machine.
KEPT = ("LANG", "LC_ALL", "TMPDIR", "SSL_CERT_FILE", "REQUESTS_CA_BUNDLE")


def clean_environment(home: Path, tools: Path) -> dict[str, str]:
    env = {name: os.environ[name] for name in KEPT if name in os.environ}
    env.update({name: value for name, value in os.environ.items() if name.startswith(("PIP_", "UV_"))})
    env["HOME"] = str(home)
    path = [str(home / ".local" / "bin"), str(tools / "bin"), "/usr/local/bin", "/usr/bin", "/bin"]
    env["PATH"] = os.pathsep.join(path)
    # downloads are shared with the machine's own cache: the same files, fetched once
    env.setdefault("PIP_CACHE_DIR", str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "pip"))
    return env


def run(argv: list[str], env: dict[str, str], cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)


@pytest.mark.skipif(sys.platform == "win32", reason="the README's shell commands are for Linux and macOS")
def test_pipx_install_then_setup_reaches_a_working_proxy(tmp_path: Path) -> None:
    home, tools = tmp_path / "home", tmp_path / "tools"
    home.mkdir()
    env = clean_environment(home, tools)
    venv.EnvBuilder(with_pip=True).create(tools)
    got = run([str(tools / "bin" / "python"), "-m", "pip", "install", "--quiet", "pipx"], env, tmp_path)
    if got.returncode != 0:
        pytest.skip(f"pipx cannot be installed from the package index here: {got.stderr.strip()[-300:]}")

    source = tmp_path / "source"  # a copy of the checkout: pipx builds in place, and must not write into it
    skip = shutil.ignore_patterns(".venv", ".git", "*.egg-info", "__pycache__", ".*cache")
    shutil.copytree(ROOT, source, ignore=skip)
    install = readme_setup_commands()[0]
    done = run(["sh", "-c", install], env, source)
    assert done.returncode == 0, done.stdout + done.stderr
    program = home / ".local" / "bin" / "ccendpoint"
    assert program.exists(), done.stdout + done.stderr

    port = free_port()  # the catalog's port may be taken on a shared machine: a user catalog file moves it
    overlay = home / ".config" / "ccendpoint" / "catalog" / "kimi.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text(f"id: kimi\nextends: true\nproxy: {{mode: required, port: {port}}}\n")
    try:
        done = run(["ccendpoint", "setup", "kimi", "--yes"], env, home, timeout=120)
        output = done.stdout + done.stderr
        assert done.returncode == 0, output
        assert "answers /healthz" in output and "One step left" in output

        models = home / ".config" / "Code" / "User" / "chatLanguageModels.json"
        [group] = json.loads(models.read_text())
        assert {m["url"] for m in group["models"]} == {f"http://127.0.0.1:{port}/v1/chat/completions"}
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as response:
            assert json.loads(response.read())["provider"] == "kimi"

        again = run(["ccendpoint", "setup", "kimi", "--yes"], env, home, timeout=120)
        assert again.returncode == 0 and "Everything is in place" in again.stdout, again.stdout + again.stderr
        status = run(["ccendpoint", "service", "status"], env, home, timeout=60)
        assert status.returncode == 0, status.stdout + status.stderr
        runs = next(line for line in status.stdout.splitlines() if "Runs:" in line)
        assert str(home) in runs  # the program pipx installed, by its absolute path
    finally:
        run(["ccendpoint", "service", "uninstall"], env, home, timeout=60)
        stop_our_proxy(home)


def stop_our_proxy(home: Path) -> None:
    """If the uninstall did not stop it, stop the background proxy this test started (by its id)."""
    import signal

    pid_file = home / ".local" / "state" / "ccendpoint" / "service.pid"
    if pid_file.exists():
        with contextlib.suppress(OSError, ValueError):
            os.kill(int(pid_file.read_text()), signal.SIGTERM)
