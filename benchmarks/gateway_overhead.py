"""What LiteLLM's proxy adds, with and without ccendpoint's callback, measured like proxy_overhead.py.

Four processes: a local fake upstream (the one of ``proxy_overhead.py``, answering at once), LiteLLM's
proxy without the callback, LiteLLM's proxy with it (both one worker, no database, started from
``ccendpoint export litellm kimi`` pointed at the fake), and this client. Each round sends the same
request straight to the upstream and through both gateways, in a rotating order, so drift of the
machine hits all three alike; the report gives gateway − direct and callback − no callback.

Scenarios: a 2 KB non-streamed request; the request VS Code sends for an Agent-mode turn (about
45 KB: a 16 K system prompt and 39 tools, from tests/fixtures/vscode/requests/agent.json); and a
one-chunk stream (time to first byte). The requests are Kimi K2.6's, so the callback rewrites every one.

    python benchmarks/gateway_overhead.py            # about a minute
    python benchmarks/gateway_overhead.py --quick    # a smoke run, rough numbers

Needs the litellm extra: pip install -e '.[litellm]'.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from proxy_overhead import _ANSWER, _USAGE, _event, pct, small_request

ROOT = Path(__file__).resolve().parent.parent
MASTER_KEY = "sk-bench-0123456789abcdef0123456789abcdef"
TARGETS = ("direct", "litellm", "litellm+callback")


async def _serve_upstream() -> None:
    """Answers by the body's ``stream`` field (LiteLLM does not forward the client's headers)."""
    from aiohttp import web

    async def handle(request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        if not body.get("stream"):
            return web.Response(body=_ANSWER, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        await response.write(_event(0))
        await response.write(_USAGE)
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/chat/completions", handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sys.stdout.write(f"{runner.addresses[0][1]}\n")
    sys.stdout.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _config(upstream_port: int, with_callback: bool) -> str:
    from ccendpoint import __version__
    from ccendpoint.catalog.loader import load_catalog
    from ccendpoint.integrations.litellm_export import litellm_config, render_yaml

    kimi = load_catalog(use_overlays=False).provider("kimi")
    assert kimi is not None
    config = litellm_config([kimi])
    for entry in config["model_list"]:
        entry["litellm_params"]["api_base"] = f"http://127.0.0.1:{upstream_port}/v1"
    if not with_callback:
        del config["litellm_settings"]
    return render_yaml(config, [kimi], __version__)


def _start_litellm(config_text: str, folder: Path) -> tuple[subprocess.Popen[bytes], str]:
    config = folder / "config.yaml"
    config.write_text(config_text, "utf-8")
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REDIS_", "DATABASE_", "LITELLM_"))}
    env.update(LITELLM_LOCAL_MODEL_COST_MAP="True", LITELLM_MASTER_KEY=MASTER_KEY, KIMI_API_KEY="sk-bench")
    command = [sys.executable, "-m", "litellm.proxy.proxy_cli", "--config", str(config)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--num_workers", "1"]
    log = (folder / "litellm.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=folder)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"LiteLLM exited; see {folder / 'litellm.log'}")
        try:
            with urllib.request.urlopen(f"{base}/health/liveliness", timeout=2):
                return process, f"{base}/v1/chat/completions"
        except OSError:
            time.sleep(0.2)
    process.kill()
    raise RuntimeError("LiteLLM did not start within 120 s")


def agent_request() -> bytes:
    """The body VS Code 1.139 sent for an Agent-mode turn, not streamed, as Kimi K2.6."""
    recorded = json.loads((ROOT / "tests/fixtures/vscode/requests/agent.json").read_text("utf-8"))["body"]
    recorded.update(model="kimi-k2.6", stream=False)
    recorded.pop("stream_options", None)
    return orjson.dumps(recorded)


def stream_request() -> bytes:
    body = orjson.loads(small_request())
    body.update(stream=True, stream_options={"include_usage": True})
    return orjson.dumps(body)


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.urls: dict[str, str] = {}
        self.results: dict[str, Any] = {}

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    async def _once(self, session: aiohttp.ClientSession, url: str, body: bytes, target: str) -> float:
        headers = {"Content-Type": "application/json"}
        if target != "direct":
            headers["Authorization"] = f"Bearer {MASTER_KEY}"
        started = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as response:
            async for _ in response.content.iter_any():
                break  # time to first byte: the whole answer for a JSON reply this small
            await response.read()
            if response.status != 200:
                raise RuntimeError(f"{target} answered {response.status}")
        return time.perf_counter() - started

    async def scenario(self, session: aiohttp.ClientSession, name: str, body: bytes, count: int) -> None:
        for target in TARGETS:  # warm up connections and LiteLLM's first-request work
            for _ in range(self.n(20, 5)):
                await self._once(session, self.urls[target], body, target)
        samples: dict[str, list[float]] = {target: [] for target in TARGETS}
        for index in range(count):
            shift = index % len(TARGETS)
            for target in TARGETS[shift:] + TARGETS[:shift]:
                samples[target].append(await self._once(session, self.urls[target], body, target))
        row: dict[str, Any] = {"rounds": count, "body_bytes": len(body)}
        for q in (50, 99):
            direct, bare, hooked = (pct(samples[t], q) * 1000 for t in TARGETS)
            row[f"litellm_added_p{q}"] = round(bare - direct, 3)
            row[f"callback_litellm_added_p{q}"] = round(hooked - direct, 3)
            row[f"callback_added_p{q}"] = round(hooked - bare, 3)
        self.results[name] = row

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=10)
        async with aiohttp.ClientSession(connector=connector) as session:
            await self.scenario(session, "small_2kb", small_request(), self.n(300, 20))
            await self.scenario(session, "vscode_agent_request", agent_request(), self.n(150, 10))
            await self.scenario(session, "stream_ttfb", stream_request(), self.n(300, 20))


def report(results: dict[str, Any]) -> str:
    names = {"small_2kb": "2 KB request", "vscode_agent_request": "VS Code agent request", "stream_ttfb": "stream TTFB"}
    lines = [f"{'measure':<28} {'LiteLLM':>10} {'+callback':>10} {'callback':>10}   (added ms over direct)"]
    for key, label in names.items():
        row = results[key]
        for q in (50, 99):
            lines.append(
                f"{label + f', p{q}':<28} {row[f'litellm_added_p{q}']:>10.2f} "
                f"{row[f'callback_litellm_added_p{q}']:>10.2f} {row[f'callback_added_p{q}']:>10.2f}"
            )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds: a smoke run, rough numbers")
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        asyncio.run(_serve_upstream())
        return 0
    started = time.monotonic()
    upstream = subprocess.Popen(
        [sys.executable, __file__, "--serve-upstream"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    assert upstream.stdout is not None
    upstream_port = int(upstream.stdout.readline())
    gateways: list[subprocess.Popen[bytes]] = []
    bench = Bench(args.quick)
    try:
        with tempfile.TemporaryDirectory() as folder:
            bench.urls["direct"] = f"http://127.0.0.1:{upstream_port}/v1/chat/completions"
            for target, hooked in (("litellm", False), ("litellm+callback", True)):
                place = Path(folder) / target.replace("+", "-")
                place.mkdir()
                process, url = _start_litellm(_config(upstream_port, hooked), place)
                gateways.append(process)
                bench.urls[target] = url
            asyncio.run(bench.run())
    finally:
        for process in gateways:
            process.terminate()
            process.wait(15)
        upstream.terminate()
        upstream.wait(5)
    bench.results["machine"] = {
        "python": platform.python_version(),
        "litellm": _litellm_version(),
        "cpus": os.cpu_count(),
        "quick": args.quick,
        "seconds": round(time.monotonic() - started, 1),
    }
    print(f"LiteLLM {bench.results['machine']['litellm']}, Python {platform.python_version()}, {os.cpu_count()} CPUs")
    print(report(bench.results))
    if args.json:
        args.json.write_text(json.dumps(bench.results, indent=2))
    return 0


def _litellm_version() -> str:
    from importlib.metadata import version

    return version("litellm")


if __name__ == "__main__":
    sys.exit(main())
