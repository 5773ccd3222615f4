"""What the proxy adds: the same requests sent straight to a local fake upstream and through the proxy.

Three processes: a fake upstream, the proxy (``ccendpoint proxy kimi`` with its request log on, as
users run it) and this client. Requests go direct and through the proxy interleaved (A B A B …),
so drift of the machine affects both sides alike; the report shows proxy − direct.

Scenarios:

- a 2 KB non-streamed request: added latency (p50 / p99) and proxy CPU per request;
- a streamed answer: time to first byte added, and the gaps between chunks at a 20 ms cadence
  (bunching would show as gaps far below 20 ms);
- 64 concurrent streams of 50 chunks: requests per second and the proxy's peak memory;
- a 4 MB request (long agent history, 60 tool definitions): added latency;
- the SSE tap alone: CPU per chunk.

Every loop has a fixed count, so the run ends by itself (about a minute; ``--quick`` for a smoke run).

    python benchmarks/proxy_overhead.py            # the full run
    python benchmarks/proxy_overhead.py --quick    # a few seconds, numbers are rough
    CCENDPOINT_LOOP=asyncio python benchmarks/proxy_overhead.py   # without uvloop
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import orjson

CHUNK_DELAY_HEADER = "X-Bench-Delay-Ms"
CHUNKS_HEADER = "X-Bench-Chunks"
STREAM_HEADER = "X-Bench-Stream"
HARD_LIMIT_S = 900


# -- the fake upstream (run in its own process with --serve-upstream) -------------------------------


def _event(index: int, *, reasoning: bool = False) -> bytes:
    delta = {"reasoning_content": f"thought{index} "} if reasoning else {"content": f"token{index} "}
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "kimi-k2.6",
        "choices": [{"index": 0, "delta": delta, "finish_reason": None}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


_ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": "kimi-k2.6",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello " * 40}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 500, "completion_tokens": 40, "total_tokens": 540},
    }
)
_USAGE = b'data: {"id":"chatcmpl-bench","choices":[],"usage":{"prompt_tokens":500,"completion_tokens":50}}\n\n'


async def _serve_upstream() -> None:
    from aiohttp import web

    async def handle(request: web.Request) -> web.StreamResponse:
        await request.read()
        if request.headers.get(STREAM_HEADER) != "1":
            return web.Response(body=_ANSWER, content_type="application/json")
        chunks = int(request.headers.get(CHUNKS_HEADER, "50"))
        delay = int(request.headers.get(CHUNK_DELAY_HEADER, "0")) / 1000
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for index in range(chunks):
            if index and delay:
                await asyncio.sleep(delay)
            await response.write(_event(index))
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
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)  # until the parent goes away
    await runner.cleanup()


# -- process helpers ---------------------------------------------------------------------------------


def _proc_times(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def _proc_memory(pid: int) -> tuple[float, float]:
    """(resident MB now, peak resident MB) of a process (Linux)."""
    now = peak = float("nan")
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                now = int(line.split()[1]) / 1024
            elif line.startswith("VmHWM:"):
                peak = int(line.split()[1]) / 1024
    except OSError:
        pass
    return now, peak


def _loop_name() -> str:
    if os.environ.get("CCENDPOINT_LOOP", "").lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def _run(main: Callable[[], Awaitable[Any]]) -> Any:
    if _loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


# -- requests ----------------------------------------------------------------------------------------


def small_request() -> bytes:
    """About 2 KB: what VS Code sends for a short chat turn."""
    body = {
        "model": "kimi-k2.6",
        "messages": [
            {"role": "system", "content": "You are an expert AI programming assistant. " * 26},
            {"role": "user", "content": "Explain what this function does and suggest a better name. " * 14},
        ],
        "temperature": 0.1,
        "top_p": 1,
        "n": 1,
        "stream": False,
    }
    return orjson.dumps(body)


def stream_request() -> bytes:
    body = orjson.loads(small_request())
    body.update(stream=True, stream_options={"include_usage": True})
    return orjson.dumps(body)


def large_request(target: int = 4 * 1024 * 1024) -> bytes:
    """About 4 MB: a long agent history with 60 tool definitions."""
    tools = [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": "Does one thing in the workspace. " * 8,
                "parameters": {
                    "type": "object",
                    "properties": {f"arg{j}": {"type": "string", "description": "An argument."} for j in range(6)},
                },
            },
        }
        for i in range(60)
    ]
    messages: list[dict[str, Any]] = [{"role": "system", "content": "You are an expert AI programming assistant."}]
    text = "def handler(request):\n    return process(request.body)  # a line of code from a file\n" * 100
    index = 0
    while len(orjson.dumps(messages)) < target - 60_000:
        call_id = f"call_{index}"
        messages.append({"role": "user", "content": f"Step {index}: look at the next file."})
        messages.append(
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": call_id, "type": "function", "function": {"name": "tool_1", "arguments": '{"arg0":"x"}'}}
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
        index += 1
    body = {"model": "kimi-k2.6", "messages": messages, "tools": tools, "temperature": 0.1, "top_p": 1, "n": 1}
    return orjson.dumps(body)


@dataclass
class Sample:
    direct: list[float] = field(default_factory=list)
    proxy: list[float] = field(default_factory=list)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def summary(sample: Sample, scale: float = 1000.0) -> dict[str, float]:
    out: dict[str, float] = {}
    for q in (50, 90, 99):
        d = pct(sample.direct, q) * scale
        p = pct(sample.proxy, q) * scale
        out[f"direct_p{q}"] = round(d, 3)
        out[f"proxy_p{q}"] = round(p, 3)
        out[f"added_p{q}"] = round(p - d, 3)
    return out


# -- the runs ----------------------------------------------------------------------------------------


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.results: dict[str, Any] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="ccendpoint-bench-"))
        self.upstream: subprocess.Popen[bytes] | None = None
        self.proxy: subprocess.Popen[bytes] | None = None
        self.direct_url = ""
        self.proxy_url = ""

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def start(self) -> None:
        env = dict(os.environ)
        self.upstream = subprocess.Popen(
            [sys.executable, __file__, "--serve-upstream"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self.upstream.stdout is not None
        port = int(self.upstream.stdout.readline())
        self.direct_url = f"http://127.0.0.1:{port}/v1/chat/completions"
        log = self.tmp / "proxy.ndjson"
        self.proxy = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "ccendpoint",
                "proxy",
                "kimi",
                "--port",
                "0",
                "--upstream",
                self.direct_url,
                "--log",
                str(log),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )
        assert self.proxy.stdout is not None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            line = self.proxy.stdout.readline().decode()
            if not line:
                raise SystemExit(
                    "the proxy did not start: " + (self.proxy.stderr.read().decode() if self.proxy.stderr else "")
                )
            if "/v1/chat/completions" in line and not self.proxy_url:
                self.proxy_url = line.split()[1]
            if "Ctrl+C stops" in line:
                break
        time.sleep(0.3)
        rss, _ = _proc_memory(self.proxy.pid)
        self.results["memory_idle_mb"] = round(rss, 1)

    def stop(self) -> None:
        for proc in (self.proxy, self.upstream):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
                if proc.poll() is None:
                    proc.kill()

    @property
    def proxy_pid(self) -> int:
        assert self.proxy is not None
        return self.proxy.pid

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(self.proxy_url.replace("/v1/chat/completions", "/healthz")) as response:
                health = await response.json()
            self.results["proxy_loop"] = health.get("loop")
            await self.small(session)
            await self.stream_ttfb(session)
            await self.stream_cadence(session)
            await self.large(session)
            await self.concurrent(session)
        self.tap()

    async def _timed(self, session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]) -> float:
        started = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as response:
            await response.read()
            if response.status != 200:
                raise SystemExit(f"{url} answered {response.status}")
        return time.perf_counter() - started

    async def small(self, session: aiohttp.ClientSession) -> None:
        body = small_request()
        headers = {"Authorization": "Bearer sk-bench", "Content-Type": "application/json"}
        for _ in range(self.n(300, 30)):  # warm up both paths
            await self._timed(session, self.direct_url, body, headers)
            await self._timed(session, self.proxy_url, body, headers)
        sample = Sample()
        count = self.n(3000, 200)
        cpu_before = _proc_times(self.proxy_pid)
        for index in range(count):
            first, second = (self.direct_url, self.proxy_url) if index % 2 else (self.proxy_url, self.direct_url)
            t1 = await self._timed(session, first, body, headers)
            t2 = await self._timed(session, second, body, headers)
            (sample.direct if first == self.direct_url else sample.proxy).append(t1)
            (sample.direct if second == self.direct_url else sample.proxy).append(t2)
        cpu = _proc_times(self.proxy_pid) - cpu_before
        self.results["small_2kb"] = {
            "requests": count,
            "body_bytes": len(body),
            **summary(sample),
            "proxy_cpu_ms_per_request": round(cpu / count * 1000, 3),
        }

    async def _stream(
        self, session: aiohttp.ClientSession, url: str, body: bytes, chunks: int, delay_ms: int
    ) -> tuple[float, list[float]]:
        headers = {
            "Content-Type": "application/json",
            STREAM_HEADER: "1",
            CHUNKS_HEADER: str(chunks),
            CHUNK_DELAY_HEADER: str(delay_ms),
        }
        started = time.perf_counter()
        arrivals: list[float] = []
        first = 0.0
        async with session.post(url, data=body, headers=headers) as response:
            async for data in response.content.iter_any():
                now = time.perf_counter()
                if not first:
                    first = now - started
                arrivals += [now] * data.count(b"\n\n")
        return first, [b - a for a, b in itertools.pairwise(arrivals)]

    async def stream_ttfb(self, session: aiohttp.ClientSession) -> None:
        body = stream_request()
        sample = Sample()
        for _ in range(self.n(100, 10)):
            await self._stream(session, self.direct_url, body, 1, 0)
            await self._stream(session, self.proxy_url, body, 1, 0)
        count = self.n(1500, 100)
        for index in range(count):
            order = [(self.direct_url, sample.direct), (self.proxy_url, sample.proxy)]
            for url, bucket in order if index % 2 else order[::-1]:
                ttfb, _ = await self._stream(session, url, body, 1, 0)
                bucket.append(ttfb)
        self.results["stream_ttfb"] = {"streams": count, **summary(sample)}

    async def stream_cadence(self, session: aiohttp.ClientSession) -> None:
        body = stream_request()
        gaps = Sample()
        chunks, delay = 40, 20
        count = self.n(24, 3)
        for index in range(count):
            order = [(self.direct_url, gaps.direct), (self.proxy_url, gaps.proxy)]
            for url, bucket in order if index % 2 else order[::-1]:
                _, g = await self._stream(session, url, body, chunks, delay)
                bucket += g[1:-2]  # the content chunks only (usage and [DONE] follow at once)
        result = summary(gaps)
        result["cadence_ms"] = delay
        result["streams"] = count
        result["bunched_gaps_under_5ms"] = {
            "direct": sum(1 for g in gaps.direct if g < 0.005),
            "proxy": sum(1 for g in gaps.proxy if g < 0.005),
        }
        self.results["stream_gaps"] = result

    async def large(self, session: aiohttp.ClientSession) -> None:
        body = large_request()
        headers = {"Content-Type": "application/json"}
        for _ in range(self.n(5, 2)):
            await self._timed(session, self.direct_url, body, headers)
            await self._timed(session, self.proxy_url, body, headers)
        sample = Sample()
        count = self.n(60, 6)
        for index in range(count):
            order = [(self.direct_url, sample.direct), (self.proxy_url, sample.proxy)]
            for url, bucket in order if index % 2 else order[::-1]:
                bucket.append(await self._timed(session, url, body, headers))
        self.results["large_4mb"] = {"requests": count, "body_bytes": len(body), **summary(sample)}

    async def concurrent(self, session: aiohttp.ClientSession) -> None:
        body = stream_request()
        workers, per_worker, chunks = 64, self.n(25, 3), 50

        async def load(url: str) -> float:
            async def worker() -> None:
                for _ in range(per_worker):
                    await self._stream(session, url, body, chunks, 0)

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(workers)))
            return workers * per_worker / (time.perf_counter() - started)

        await load(self.proxy_url)  # warm up the pools
        cpu_before = _proc_times(self.proxy_pid)
        rates = {"proxy": [], "direct": []}  # type: dict[str, list[float]]
        for _ in range(2):
            rates["direct"].append(await load(self.direct_url))
            rates["proxy"].append(await load(self.proxy_url))
        cpu = _proc_times(self.proxy_pid) - cpu_before
        total_chunks = 2 * workers * per_worker * (chunks + 2)
        _, peak = _proc_memory(self.proxy_pid)
        self.results["concurrent_64_streams"] = {
            "streams_per_run": workers * per_worker,
            "chunks_per_stream": chunks,
            "direct_req_per_s": round(statistics.mean(rates["direct"]), 1),
            "proxy_req_per_s": round(statistics.mean(rates["proxy"]), 1),
            "proxy_cpu_us_per_chunk": round(cpu / total_chunks * 1e6, 2),
            "proxy_peak_rss_mb": round(peak, 1),
        }

    def tap(self) -> None:
        from ccendpoint.proxy.sse import ReasoningCollector, StreamTap, UsageCollector

        events = [_event(i) for i in range(1000)] + [_USAGE, b"data: [DONE]\n\n"]
        rounds = self.n(100, 10)
        started = time.process_time()
        for _ in range(rounds):
            tap = StreamTap([UsageCollector()])
            for event in events:
                tap.feed(event)
        spent = time.process_time() - started
        self.results["sse_tap_us_per_chunk"] = round(spent / (rounds * len(events)) * 1e6, 3)
        # with reasoning replay on: half the events are reasoning deltas, which the tap parses
        thinking = [_event(i, reasoning=i % 2 == 0) for i in range(1000)] + [_USAGE, b"data: [DONE]\n\n"]
        started = time.process_time()
        for _ in range(rounds):
            tap = StreamTap([UsageCollector(), ReasoningCollector()])
            for event in thinking:
                tap.feed(event)
        spent = time.process_time() - started
        self.results["sse_tap_replay_us_per_chunk"] = round(spent / (rounds * len(thinking)) * 1e6, 3)


def report(results: dict[str, Any]) -> str:
    small = results["small_2kb"]
    ttfb = results["stream_ttfb"]
    gaps = results["stream_gaps"]
    large = results["large_4mb"]
    conc = results["concurrent_64_streams"]
    rows = [
        ("2 KB request, added p50", f"{small['added_p50']:.3f} ms", "≤ 0.5 ms"),
        ("2 KB request, added p99", f"{small['added_p99']:.3f} ms", "≤ 2 ms"),
        ("2 KB request, proxy CPU", f"{small['proxy_cpu_ms_per_request']:.3f} ms", "≤ 1 ms"),
        ("stream time to first byte, added p50", f"{ttfb['added_p50']:.3f} ms", "≤ 0.5 ms"),
        ("stream time to first byte, added p99", f"{ttfb['added_p99']:.3f} ms", ""),
        (
            "chunk gap at 20 ms cadence, p50 direct / proxy",
            f"{gaps['direct_p50']:.2f} / {gaps['proxy_p50']:.2f} ms",
            "",
        ),
        ("chunk gap, added p99", f"{gaps['added_p99']:.3f} ms", "≤ 0.3 ms"),
        (
            "gaps under 5 ms (bunching), direct / proxy",
            "{direct} / {proxy}".format(**gaps["bunched_gaps_under_5ms"]),
            "0",
        ),
        ("SSE tap CPU per chunk", f"{results['sse_tap_us_per_chunk']:.2f} µs", "≤ 100 µs"),
        (
            "SSE tap CPU per chunk, reasoning replay on",
            f"{results['sse_tap_replay_us_per_chunk']:.2f} µs",
            "≤ 100 µs",
        ),
        ("proxy CPU per relayed chunk (64 streams)", f"{conc['proxy_cpu_us_per_chunk']:.1f} µs", ""),
        ("64 streams × 50 chunks, direct", f"{conc['direct_req_per_s']:.0f} req/s", ""),
        ("64 streams × 50 chunks, through the proxy", f"{conc['proxy_req_per_s']:.0f} req/s", "≥ 1000 req/s"),
        ("4 MB request, added p50", f"{large['added_p50']:.2f} ms", "≤ 15 ms"),
        ("4 MB request, added p99", f"{large['added_p99']:.2f} ms", ""),
        ("proxy memory idle", f"{results['memory_idle_mb']:.1f} MB", "≤ 45 MB"),
        ("proxy memory peak (64 streams)", f"{conc['proxy_peak_rss_mb']:.1f} MB", "≤ 120 MB"),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure':<{width}}  {'result':>18}  target", "-" * (width + 34)]
    lines += [f"{name:<{width}}  {value:>18}  {target}" for name, value, target in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run, rough numbers")
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        _run(_serve_upstream)
        return 0

    bench = Bench(args.quick)
    started = time.monotonic()
    try:
        bench.start()

        async def timed_run() -> None:
            await asyncio.wait_for(bench.run(), HARD_LIMIT_S)

        _run(timed_run)
    finally:
        bench.stop()
    results = bench.results
    results["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "client_loop": _loop_name(),
        "quick": args.quick,
        "seconds": round(time.monotonic() - started, 1),
    }
    loops = f"proxy event loop: {results.get('proxy_loop')}; client loop: {_loop_name()}"
    print(f"{loops}; Python {platform.python_version()}")
    print(f"{os.cpu_count()} CPUs, {platform.platform()}; run took {results['machine']['seconds']} s")
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
