"""Running the real LiteLLM proxy, started from ``ccendpoint export litellm``'s config, in front of the strict fakes.

Two gateways run for the whole session, each one worker with no database: one with ccendpoint's
callback registered (as exported) and one without it, so a test can show that the callback is
what makes a request pass. Both forward every catalog model to the fake of its provider
(:mod:`fake_upstreams`), which runs in its own thread for the session; a test resets what a fake
received and how it behaves.
"""

from __future__ import annotations

import asyncio
import copy
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccendpoint import __version__
from ccendpoint.integrations.litellm_export import litellm_config, render_yaml
from fake_upstreams import Behaviour, FakeUpstream, free_port
from proxy_helpers import bundled_catalog

#: The gateway's master key in the tests; VS Code would send it as its group's key.
MASTER_KEY = "sk-gateway-test-0123456789abcdef0123456789abcdef"
START_TIMEOUT_S = 120


class Fleet:
    """One strict fake per provider, served from a thread of their own for the whole session."""

    def __init__(self, providers: list[str]) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="fakes", daemon=True)
        self.fakes = {provider: FakeUpstream(provider) for provider in providers}

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(30)

    def start(self) -> None:
        self.thread.start()
        for fake in self.fakes.values():
            self._run(fake.__aenter__())

    def stop(self) -> None:
        for fake in self.fakes.values():
            self._run(fake.__aexit__(None, None, None))
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)

    def reset(self, behaviour: Behaviour | None = None) -> None:
        for fake in self.fakes.values():
            fake.received.clear()
            fake.behaviour = copy.deepcopy(behaviour) if behaviour is not None else Behaviour()

    def __getitem__(self, provider: str) -> FakeUpstream:
        return self.fakes[provider]


@dataclass
class Gateway:
    base: str
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"{self.base}/v1/chat/completions"

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text("utf-8", "replace").splitlines()[-lines:])


def gateway_environment(home: Path) -> dict[str, str]:
    """A clean environment for LiteLLM: offline cost map, no database, no Redis, test keys."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_", "LITELLM_"))}
    env.update(
        HOME=str(home),
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_STATE_HOME=str(home / ".local/state"),
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        LITELLM_MASTER_KEY=MASTER_KEY,
    )
    for provider in bundled_catalog().providers:
        for name in provider.key_env:
            env[name] = f"sk-{provider.id}-test-key"
    env.pop("CCENDPOINT_CATALOG", None)
    return env


def exported_config(fleet: Fleet, *, with_callback: bool) -> tuple[dict[str, Any], str]:
    """``ccendpoint export litellm --all`` as data and as the YAML text, pointed at the fakes."""
    providers = [p for p in bundled_catalog().providers if p.id in fleet.fakes]
    config = litellm_config(providers)
    owner = {model.id: provider.id for provider in providers for model in provider.models}
    for entry in config["model_list"]:
        entry["litellm_params"]["api_base"] = fleet[owner[entry["model_name"]]].base_url
    if not with_callback:
        del config["litellm_settings"]["callbacks"]
    return config, render_yaml(config, providers, __version__)


def wait_until_up(gateway: Gateway) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if gateway.process.poll() is not None:
            raise RuntimeError(f"LiteLLM exited with {gateway.process.returncode}:\n{gateway.log_tail()}")
        try:
            with urllib.request.urlopen(f"{gateway.base}/health/liveliness", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)
    raise RuntimeError(f"LiteLLM did not answer within {START_TIMEOUT_S} s:\n{gateway.log_tail()}")


def start_gateway(config_text: str, folder: Path) -> Gateway:
    folder.mkdir(parents=True, exist_ok=True)
    config = folder / "config.yaml"
    config.write_text(config_text, "utf-8")
    port = free_port()
    log = folder / "litellm.log"
    command = [sys.executable, "-m", "litellm.proxy.proxy_cli", "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=gateway_environment(folder), cwd=folder
        )
    return Gateway(f"http://127.0.0.1:{port}", process, log)


def stop_gateway(gateway: Gateway) -> None:
    gateway.process.terminate()
    try:
        gateway.process.wait(15)
    except subprocess.TimeoutExpired:
        gateway.process.kill()
        gateway.process.wait(5)
