"""``ccendpoint proxy`` as a user runs it: start-up lines, signals, port trouble, bad values."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import orjson
import pytest
from typer.testing import CliRunner

from ccendpoint.cli import app
from ccendpoint.commands import proxy_cmd
from ccendpoint.proxy.sources import env_names
from fake_upstreams import Behaviour, FakeUpstream, free_port
from proxy_helpers import bundled_catalog, vscode_request

URL = re.compile(r"http://127\.0\.0\.1:(\d+)/v1/chat/completions")
SECRET = "sk-proj-Q7vX2mN9pL4kR8sT1wY6zB3cD5fG0hJ"


class Running:
    def __init__(self, process: asyncio.subprocess.Process, lines: list[str]) -> None:
        self.process = process
        self.lines = lines

    def port(self, provider: str | None = None) -> int:
        for line in self.lines:
            if provider is None or line.startswith(provider + " "):
                match = URL.search(line)
                if match:
                    return int(match.group(1))
        raise AssertionError(f"no listener line for {provider}: {self.lines}")

    async def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        self.process.send_signal(sig)
        return await self.finish()

    async def finish(self) -> tuple[int, str, str]:
        assert self.process.stdout is not None and self.process.stderr is not None
        out, err = await asyncio.wait_for(self.process.communicate(), 10)
        code = self.process.returncode
        assert code is not None
        return code, "\n".join(self.lines) + "\n" + out.decode(), err.decode()


@asynccontextmanager
async def cli_proxy(*args: str, env: dict[str, str] | None = None) -> AsyncIterator[Running]:
    """``ccendpoint proxy ARGS`` in a child process, once its start-up lines are printed."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "ccendpoint",
        "proxy",
        *args,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )
    assert process.stdout is not None
    lines: list[str] = []
    try:
        while True:
            raw = await asyncio.wait_for(process.stdout.readline(), 15)
            if not raw:
                err = await process.stderr.read() if process.stderr else b""
                raise AssertionError(f"the proxy exited early: {lines} {err.decode()}")
            line = raw.decode().rstrip("\n")
            lines.append(line)
            if "Ctrl+C stops" in line:
                break
        yield Running(process, lines)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_serves_prints_start_up_lines_and_stops_on_sigterm(tmp_path: Path) -> None:
    log = tmp_path / "kimi.ndjson"
    async with (
        FakeUpstream("kimi") as upstream,
        cli_proxy("kimi", "--port", "0", "--upstream", upstream.url, "--log", str(log)) as proxy,
    ):
        (line, footer) = proxy.lines
        assert line.startswith("kimi  http://127.0.0.1:") and f"→ {upstream.url}" in line
        assert "rules: kimi-k2.6: replay reasoning; temperature=1 top_p=0.95; [tools+reasoning-missing]" in line
        assert "kimi-k3:" in line
        assert str(log) in footer and "event loop:" in footer
        port = proxy.port()
        cmdline = Path(f"/proc/{proxy.process.pid}/cmdline")
        if cmdline.exists():  # the serving process has already deleted its settings file
            settings_file = cmdline.read_bytes().split(b"\0")[-2].decode()
            assert settings_file.endswith(".json") and not Path(settings_file).exists()
        headers = {
            "Authorization": f"Bearer {SECRET}",
            "X-Api-Key": SECRET,
            "Api-Key": SECRET,
            "Cookie": f"s={SECRET}",
            "Proxy-Authorization": f"Basic {SECRET}",
        }
        async with aiohttp.ClientSession() as session:
            body = orjson.dumps(vscode_request("kimi-k2.6", "follow_up"))
            async with session.post(f"http://127.0.0.1:{port}/v1/chat/completions", data=body, headers=headers) as r:
                assert r.status == 200
                assert (await r.read()).endswith(b"data: [DONE]\n\n")
            async with session.get(f"http://127.0.0.1:{port}/healthz") as r:
                health = await r.json()
            assert health["port"] == port and health["requests_served"] == 1
        code, out, err = await proxy.stop()
    assert code == 0, err
    assert "Proxy stopped." in out and "Traceback" not in err
    text = log.read_text()
    assert '"temperature 1 → 0.6"' in text
    for where in (text, out, err):
        assert SECRET not in where


async def test_sigint_lets_a_stream_in_flight_finish(tmp_path: Path) -> None:
    behaviour = Behaviour(chunk_delay=0.1, chunks=6)
    async with (
        FakeUpstream("kimi", behaviour) as upstream,
        cli_proxy("kimi", "--port", "0", "--upstream", upstream.url, "--no-log") as proxy,
        aiohttp.ClientSession() as session,
    ):
        port = proxy.port()
        body = orjson.dumps(vscode_request("kimi-k2.6", "chat"))
        async with session.post(f"http://127.0.0.1:{port}/v1/chat/completions", data=body) as response:
            first = await response.content.readany()
            assert first.startswith(b"data: ")
            proxy.process.send_signal(signal.SIGINT)
            await asyncio.sleep(0.2)
            with pytest.raises(aiohttp.ClientConnectionError):  # no new connections once stopping
                async with session.get(f"http://127.0.0.1:{port}/healthz") as late:
                    await late.read()
            rest = await asyncio.wait_for(response.read(), 5)
        assert (first + rest).endswith(b"data: [DONE]\n\n")
        code, _, err = await proxy.finish()
    assert code == 0, err
    assert upstream.last.completed
    assert "Traceback" not in err


async def test_all_serves_every_provider_in_one_process() -> None:
    env = {env_names(p)["port"]: "0" for p in bundled_catalog().providers}
    async with cli_proxy("--all", "--no-log", env=env) as proxy:
        providers = [p.id for p in bundled_catalog().providers if p.proxy_port]
        assert len(proxy.lines) == len(providers) + 1
        async with aiohttp.ClientSession() as session:
            for provider_id in providers:
                async with session.get(f"http://127.0.0.1:{proxy.port(provider_id)}/healthz") as response:
                    assert (await response.json())["provider"] == provider_id
        code, _, err = await proxy.stop(signal.SIGINT)
    assert code == 0, err


async def test_a_list_of_providers_is_served_in_one_process_with_a_region_each() -> None:
    env = {"KIMI_PROXY_PORT": "0", "QWEN_PROXY_PORT": "0"}
    async with cli_proxy("kimi", "qwen", "--region", "kimi=china", "--no-log", env=env) as proxy:
        assert len(proxy.lines) == 3  # two listeners and the closing line
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{proxy.port('kimi')}/healthz") as response:
                assert (await response.json())["upstream"] == "https://api.moonshot.cn/v1/chat/completions"
            async with session.get(f"http://127.0.0.1:{proxy.port('qwen')}/healthz") as response:
                assert (await response.json())["provider"] == "qwen"
        code, _, err = await proxy.stop()
    assert code == 0, err


async def test_port_in_use_is_a_clear_error() -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "ccendpoint",
            "proxy",
            "kimi",
            "--port",
            str(port),
            "--no-log",
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        out, err = await asyncio.wait_for(result.communicate(), 15)
        text = err.decode()
        assert result.returncode == 1
        assert f"Port {port} is already in use" in text
        match = re.search(r"--port (\d+)", text)
        assert match, text
        suggested = int(match.group(1))
        assert suggested != port and 0 < suggested <= 65535
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", suggested))  # the suggested port really is free
    assert "Traceback" not in text + out.decode()


async def test_network_address_prints_a_warning() -> None:
    async with cli_proxy("kimi", "--host", "0.0.0.0", "--port", "0", "--no-log") as proxy:
        code, _, err = await proxy.stop()
    assert code == 0
    assert "warning:" in err and "reachable from the network" in err


# -- mistakes caught before anything starts (in-process) ----------------------------------------------


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["kimi", "--port", "70000"], {}, "--port must be a port number from 1 to 65535"),
        (["kimi", "--port", "abc"], {}, "Invalid value for '--port'"),
        (["kimi"], {"KIMI_PROXY_PORT": "abc"}, "KIMI_PROXY_PORT (from the environment) must be a port number"),
        (["kimi", "--upstream", "ftp://example.com/x"], {}, "--upstream must be an http(s) URL"),
        (
            ["kimi"],
            {"KIMI_UPSTREAM_URL": "nonsense"},
            "KIMI_UPSTREAM_URL (from the environment) must be an http(s) URL",
        ),
        (["kimi", "--max-body-mb", "0"], {}, "--max-body-mb must be a positive number"),
        (["kimi", "--idle-timeout", "-1"], {}, "--idle-timeout must be a positive number"),
        (["kimi", "--region", "mars"], {}, "no region 'mars'"),
        (["kimi"], {"KIMI_PROXY_HOST": "0.0.0.0"}, "reachable from the network"),
        ([], {}, "Which provider?"),
        (["kimi", "--all"], {}, "not both"),
        (["--all", "--port", "4000"], {}, "--port cannot be used with --all"),
        (["kimi", "--log", "x.ndjson", "--no-log"], {}, "contradict"),
        (["kimmi"], {}, "Did you mean kimi"),
        (["kimi", "qwen", "--region", "china"], {}, "--region cannot be used with --all or several providers"),
        (["kimi", "qwen", "--port", "4000"], {}, "--port cannot be used with --all or several providers"),
        (["kimi", "--region", "qwen=intl"], {}, "names a provider that is not served here"),
        (["kimi", "qwen", "--region", "=china"], {}, "expected PROVIDER=REGION"),
        (["kimi", "--region", "global", "--region", "china"], {}, "--region given 2 times"),
    ],
)
def test_bad_values_fail_at_start(
    args: list[str], env: dict[str, str], words: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, ["proxy", *args])
    assert result.exit_code == 2, result.output
    assert words in " ".join(result.output.split())
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    ("args", "hint"),
    [
        (["kimi", "--all"], "Run `ccendpoint proxy kimi` for that provider, or `ccendpoint proxy --all`"),
        ([], "`ccendpoint list` shows the providers"),
        (["kimi", "--log", "x.ndjson", "--no-log"], "Keep --log PATH to write the request log there"),
        (["--all", "--region", "china"], "Run `ccendpoint proxy PROVIDER` for that provider"),
    ],
)
def test_every_refusal_of_the_command_has_a_fix_hint(
    args: list[str], hint: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["proxy", *args])
    assert result.exit_code == 2, result.output
    assert hint in " ".join(result.output.split())


@pytest.mark.parametrize("kind", ["folder", "under_a_file"])
def test_a_log_path_that_cannot_be_written_fails_at_start(
    kind: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(proxy_cmd, "launch", lambda listeners: 0)  # never serve: fail fast if not refused
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("x")
    path = tmp_path / "a-folder" if kind == "folder" else tmp_path / "a-file" / "kimi.ndjson"
    result = CliRunner().invoke(app, ["proxy", "kimi", "--port", "0", "--log", str(path)])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert f"Cannot write the request log {path} (set by --log)" in text
    assert "--log PATH" in text and "--no-log" in text
    assert "Traceback" not in result.output


def test_a_log_variable_that_cannot_be_written_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(proxy_cmd, "launch", lambda listeners: 0)
    monkeypatch.setenv("KIMI_PROXY_LOG", str(tmp_path))
    result = CliRunner().invoke(app, ["proxy", "kimi", "--port", "0"])
    assert result.exit_code == 2, result.output
    text = " ".join(result.output.split())
    assert "(set by KIMI_PROXY_LOG (from the environment))" in text and "Set KIMI_PROXY_LOG" in text


def test_dotenv_in_the_working_directory_is_read(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("KIMI_PROXY_PORT=99999\n")
    result = CliRunner().invoke(app, ["proxy", "kimi"])
    assert result.exit_code == 2
    assert f"KIMI_PROXY_PORT (from .env in the working folder ({tmp_path / '.env'})) must be a port number" in " ".join(
        result.output.split()
    )


def test_help_mentions_proxy_and_stays_light() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert "ccendpoint proxy kimi" in result.output
    probe = "import sys, ccendpoint.cli; print('aiohttp' in sys.modules)"
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "False"


def test_free_port_is_free() -> None:
    assert 0 < free_port() < 65536


def test_the_command_only_replaces_its_own_process() -> None:
    from ccendpoint.commands.proxy_cmd import _running_as_the_command

    assert not _running_as_the_command()  # under pytest: serve in this process, never exec
