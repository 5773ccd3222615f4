"""Fixtures of the end-to-end suite: a real VS Code, ccendpoint's own commands, strict fake providers.

Everything runs on loopback in a private folder: code-server (installed and cached by
``install.sh``), headless Chromium, ``ccendpoint proxy --all`` and the fakes. ccendpoint writes
the VS Code file with ``add`` as a user would; the keys are set through VS Code's own UI.
Screenshots and the request bodies VS Code sent are kept under ``tests/e2e/artifacts/`` (or
``$CCENDPOINT_E2E_ARTIFACTS``).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("playwright", reason="the end-to-end suite needs Playwright: pip install -e '.[e2e]'")

from groups import DIRECT, DIRECT_KIMI, KEY, PROXIED
from playwright.sync_api import sync_playwright
from upstreams import Upstreams
from workbench import CodeServer, Workbench, free_port

from ccendpoint.catalog.loader import load_catalog

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


@dataclass(frozen=True)
class Tools:
    node: Path
    code_server: Path
    chromium: str


@pytest.fixture(scope="session")
def tools() -> Tools:
    """Install (or find in the cache) Node 24, code-server and Chromium."""
    result = subprocess.run(["bash", str(HERE / "install.sh")], capture_output=True, text=True, check=False)
    if result.returncode != 0:
        pytest.fail(f"installing the end-to-end tools failed:\n{result.stderr[-4000:]}")
    paths = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    return Tools(Path(paths["node"]), Path(paths["code_server"]), paths["chromium"])


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = Path(os.environ.get("CCENDPOINT_E2E_ARTIFACTS", HERE / "artifacts"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="session")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def upstreams() -> Iterator[Upstreams]:
    fakes = Upstreams([*PROXIED, *DIRECT])
    yield fakes
    fakes.close()


class Ccendpoint:
    """ccendpoint's own command line, with HOME and the XDG folders inside the suite's folder."""

    def __init__(self, root: Path, user_data: Path, catalog: Path) -> None:
        self.user_data = user_data
        home = root / "ccendpoint-home"
        self.env = {
            **os.environ,
            "HOME": str(home),
            "XDG_CONFIG_HOME": str(home / ".config"),
            "XDG_CACHE_HOME": str(home / ".cache"),
            "XDG_STATE_HOME": str(home / ".local" / "state"),
            "XDG_DATA_HOME": str(home / ".local" / "share"),
            "CCENDPOINT_CATALOG": str(catalog),
            "NO_COLOR": "1",
        }
        self.ports = {provider: free_port() for provider in PROXIED}

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        if args and args[0] in ("add", "remove"):
            args = (*args, "--user-data-dir", str(self.user_data), "--yes")
        result = subprocess.run(
            [sys.executable, "-m", "ccendpoint", *args], env=self.env, capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise AssertionError(f"ccendpoint {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
        return result

    def add(self, provider: str, *extra: str) -> None:
        port = ["--port", str(self.ports[provider])] if provider in self.ports else []
        self.run("add", provider, *port, *extra)


@pytest.fixture(scope="session")
def vscode(tools: Tools, root: Path, artifacts: Path) -> Iterator[Workbench]:
    server = CodeServer(tools.node, tools.code_server, root / "vscode")
    with sync_playwright() as playwright:
        bench = Workbench(playwright, tools.chromium, server, artifacts)
        try:
            yield bench
        finally:
            bench.close()
            server.stop()


@pytest.fixture(scope="session")
def ccendpoint(root: Path, vscode: Workbench, upstreams: Upstreams) -> Ccendpoint:
    overlay = root / "catalog"
    overlay.mkdir(exist_ok=True)
    # direct mode talks to the provider's own URL: point GLM's and Kimi's at their fakes
    (overlay / "glm.yaml").write_text(
        "id: glm\nextends: true\nendpoints:\n  international:\n"
        f"    url: {upstreams.url('glm')}\n    label: Local fake\n"
    )
    (overlay / "kimi.yaml").write_text(
        f"id: kimi\nextends: true\nendpoints:\n  global:\n    url: {upstreams.url('kimi')}\n    label: Local fake\n"
    )
    return Ccendpoint(root, vscode.server.user_data, overlay)


@pytest.fixture(scope="session")
def proxy(ccendpoint: Ccendpoint, upstreams: Upstreams, root: Path) -> Iterator[Ccendpoint]:
    """``ccendpoint proxy kimi mimo deepseek`` in front of the fakes, as a user would start it."""
    env = dict(ccendpoint.env)
    for provider in load_catalog().providers:  # --all serves every provider: none on a port in use
        if provider.proxy_port is not None:
            port = ccendpoint.ports.get(provider.id) or free_port()
            env[f"{provider.env_prefix}_PROXY_PORT"] = str(port)
            if provider.id in ccendpoint.ports:
                env[f"{provider.env_prefix}_UPSTREAM_URL"] = upstreams.url(provider.id)
    log = (root / "proxy.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "ccendpoint", "proxy", "--all"], env=env, stdout=log, stderr=subprocess.STDOUT
    )
    try:
        for port in ccendpoint.ports.values():
            _wait_healthy(port, process)
        yield ccendpoint
    finally:
        process.terminate()
        process.wait(timeout=15)
        log.close()


def _wait_healthy(port: int, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"ccendpoint proxy exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the proxy on port {port} did not become healthy")


@pytest.fixture(scope="session")
def configured(vscode: Workbench, proxy: Ccendpoint) -> Workbench:
    """Every group written by ``ccendpoint add`` and given a key through VS Code's UI."""
    for provider in (*PROXIED, *DIRECT):
        proxy.add(provider)
    # the same models straight to the provider, to see what VS Code sends without the proxy
    proxy.run(
        "add",
        "kimi",
        "--mode",
        "direct",
        "--force",
        "--group",
        DIRECT_KIMI,
        "--yes",
        "--user-data-dir",
        str(proxy.user_data),
    )
    vscode.reload()
    for model_name, group in (
        ("Kimi K2.6", "Kimi"),
        ("Kimi K2.6", DIRECT_KIMI),
        ("MiMo V2.6 Pro", "MiMo"),
        ("DeepSeek V4 Pro", "DeepSeek"),
        ("GLM 5.3", "GLM"),
    ):
        vscode.set_api_key(model_name, group, KEY)
    vscode.reload()
    return vscode
