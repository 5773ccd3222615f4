"""What the proxy adds: the same requests sent straight to a local fake upstream and through the proxy.

Four processes: a fake upstream, two proxies (``ccendpoint proxy kimi``, one with its request log
on as users run it, one with ``--no-log``) and this client. Requests go direct and through each
proxy interleaved, the order rotating every round (D L N, L N D, N D L …), so drift of the
machine affects all three alike; the report shows proxy − direct.

The fake upstream answers the way thinking providers do: a stream opens with a role delta, then
reasoning deltas (which the proxy's reasoning tagging splits and rewrites), then content, a finish
event, the usage and ``[DONE]``, each event a write of its own.

Scenarios:

- a 2 KB non-streamed request: added latency (p50 / p99) and proxy CPU per request;
- time to the first complete SSE ``data:`` event (what a client can show), for a 2 KB request whose
  events follow the headers at once, and for VS Code's recorded agent request (45 KB, 39 tools)
  whose first event comes 2 ms after the headers (the model thinking); the time to the first
  response byte, which is what this benchmark used to report, is shown beside it;
- 1-second streams (50 chunks at a 20 ms cadence): the gaps between chunks (bunching would show as
  gaps far below 20 ms) and the proxy's CPU per stream;
- 64 concurrent streams of 50 chunks: requests per second and the proxy's peak memory;
- a 4 MB request (a long agent history with 60 tool definitions, keys in VS Code's order): added
  latency;
- the SSE tap and the reasoning tagger alone: CPU per chunk.

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
FIRST_DELAY_HEADER = "X-Bench-First-Delay-Ms"
CHUNKS_HEADER = "X-Bench-Chunks"
STREAM_HEADER = "X-Bench-Stream"
HARD_LIMIT_S = 900
ROOT = Path(__file__).resolve().parent.parent
VSCODE_AGENT_REQUEST = ROOT / "tests" / "fixtures" / "vscode" / "requests" / "agent.json"
#: Share of a stream's chunks that are reasoning deltas (they come first, as thinking models send them).
REASONING_SHARE = 0.4


# -- the fake upstream (run in its own process with --serve-upstream) -------------------------------


def _event(delta: dict[str, Any], finish: str | None = None) -> bytes:
    chunk = {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "kimi-k2.6",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return b"data: " + orjson.dumps(chunk) + b"\n\n"


def stream_events(chunks: int) -> list[bytes]:
    """A thinking model's answer: role delta, reasoning deltas, content deltas, finish, usage, [DONE]."""
    reasoning = max(1, round(chunks * REASONING_SHARE))
    events = [_event({"role": "assistant", "content": ""})]
    for index in range(chunks):
        key = "reasoning_content" if index < reasoning else "content"
        events.append(_event({key: f"token{index} "}))
    events.append(_event({}, "stop"))
    events.append(_USAGE)
    events.append(b"data: [DONE]\n\n")
    return events


_ANSWER = orjson.dumps(
    {
        "id": "chatcmpl-bench",
        "object": "chat.completion",
        "created": 1,
        "model": "kimi-k2.6",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hello " * 40, "reasoning_content": "Thinking. " * 20},
                "finish_reason": "stop",
            }
        ],
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
        first_delay = int(request.headers.get(FIRST_DELAY_HEADER, "0")) / 1000
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        if first_delay:
            await asyncio.sleep(first_delay)
        for index, event in enumerate(stream_events(chunks)):
            if index and delay and index <= chunks:
                await asyncio.sleep(delay)
            await response.write(event)
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


def proc_cpu(pid: int) -> float:
    """CPU seconds all threads of a process have run so far (Linux; nanosecond schedstat)."""
    total = 0
    try:
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError):
                total += int((task / "schedstat").read_text().split()[0])
    except OSError:
        return float("nan")
    return total / 1e9


def proc_memory(pid: int) -> tuple[float, float]:
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


def loop_name() -> str:
    if os.environ.get("CCENDPOINT_LOOP", "").lower() == "asyncio":
        return "asyncio"
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return "asyncio"
    return "uvloop"


def run_async(main: Callable[[], Awaitable[Any]]) -> Any:
    if loop_name() == "uvloop":
        import uvloop

        return uvloop.run(main())
    return asyncio.run(main())


# -- requests ----------------------------------------------------------------------------------------


def small_request() -> bytes:
    """About 2 KB: a short chat turn without tools."""
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


def vscode_request() -> tuple[bytes, dict[str, str]]:
    """VS Code's first Agent-mode request as recorded (45 KB, 39 tools), model set to kimi-k2.6."""
    recorded = json.loads(VSCODE_AGENT_REQUEST.read_text("utf-8"))
    body = recorded["body"]
    body["model"] = "kimi-k2.6"
    skip = {"host", "connection", "content-length"}
    headers = {k: v for k, v in recorded["headers"].items() if k.lower() not in skip}
    return orjson.dumps(body), headers


def large_request(target: int = 4 * 1024 * 1024) -> bytes:
    """About 4 MB: a long agent history with 60 tool definitions, in the key order VS Code sends."""
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
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "tool_1", "arguments": f'{{"arg0":"file{index}.py"}}'},
                    }
                ],
            }
        )
        messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
        index += 1
    body = {"messages": messages, "model": "kimi-k2.6", "temperature": 0.1, "top_p": 1, "tools": tools, "n": 1}
    return orjson.dumps(body)


# -- statistics ----------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def compare(samples: dict[str, list[float]], scale: float = 1000.0) -> dict[str, float]:
    """Percentiles of each side and each proxy's added time (proxy − direct) per percentile."""
    out: dict[str, float] = {}
    for q in (50, 90, 99):
        direct = pct(samples["direct"], q) * scale
        out[f"direct_p{q}"] = round(direct, 3)
        for name in PROXIES:
            value = pct(samples[name], q) * scale
            out[f"{name}_p{q}"] = round(value, 3)
            out[f"{name}_added_p{q}"] = round(value - direct, 3)
    return out


# -- the runs ----------------------------------------------------------------------------------------

#: The two proxies: the request log on (as users run it) and off.
PROXIES = ("log", "nolog")


@dataclass
class Target:
    name: str
    url: str = ""
    proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid


@dataclass
class StreamTimes:
    first_byte: float = 0.0  # first bytes of the body
    first_event: float = 0.0  # first complete ``data:`` event
    first_reasoning: float = 0.0  # first complete event with a reasoning delta
    arrivals: list[float] = field(default_factory=list)  # each event's arrival (perf_counter)


class Bench:
    def __init__(self, quick: bool) -> None:
        self.quick = quick
        self.results: dict[str, Any] = {}
        self.tmp = Path(tempfile.mkdtemp(prefix="ccendpoint-bench-"))
        self.upstream: subprocess.Popen[bytes] | None = None
        self.direct = Target("direct")
        self.proxies = {name: Target(name) for name in PROXIES}

    def n(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    @property
    def targets(self) -> list[Target]:
        return [self.direct, *self.proxies.values()]

    def rounds(self, count: int) -> list[list[Target]]:
        """``count`` rounds over the three targets, the order rotating each round."""
        targets = self.targets
        return [targets[i % 3 :] + targets[: i % 3] for i in range(count)]

    def start(self) -> None:
        env = dict(os.environ)
        self.upstream = subprocess.Popen(
            [sys.executable, __file__, "--serve-upstream"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert self.upstream.stdout is not None
        port = int(self.upstream.stdout.readline())
        self.direct.url = f"http://127.0.0.1:{port}/v1/chat/completions"
        for name, target in self.proxies.items():
            log = ["--log", str(self.tmp / "proxy.ndjson")] if name == "log" else ["--no-log"]
            command = [sys.executable, "-m", "ccendpoint", "proxy", "kimi", "--port", "0"]
            command += ["--upstream", self.direct.url, *log]
            target.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
            assert target.proc.stdout is not None
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                line = target.proc.stdout.readline().decode()
                if not line:
                    stderr = target.proc.stderr.read().decode() if target.proc.stderr else ""
                    raise SystemExit("the proxy did not start: " + stderr)
                if "/v1/chat/completions" in line and not target.url:
                    target.url = line.split()[1]
                if "Ctrl+C stops" in line:
                    break
        time.sleep(0.5)
        self.results["memory_idle_mb"] = {name: round(proc_memory(t.pid)[0], 1) for name, t in self.proxies.items()}

    def stop(self) -> None:
        for proc in (*(t.proc for t in self.proxies.values()), self.upstream):
            if proc is not None and proc.poll() is None:
                proc.terminate()
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(10)
                if proc.poll() is None:
                    proc.kill()

    def cpu(self) -> dict[str, float]:
        return {name: proc_cpu(t.pid) for name, t in self.proxies.items()}

    async def run(self) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            health_url = self.proxies["log"].url.replace("/v1/chat/completions", "/healthz")
            async with session.get(health_url) as response:
                health = await response.json()
            self.results["proxy_loop"] = health.get("loop")
            await self.small(session)
            await self.first_event(session)
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
        for order in self.rounds(self.n(300, 30)):  # warm up every path
            for target in order:
                await self._timed(session, target.url, body, headers)
        samples: dict[str, list[float]] = {t.name: [] for t in self.targets}
        count = self.n(3000, 200)
        cpu_before = self.cpu()
        for order in self.rounds(count):
            for target in order:
                samples[target.name].append(await self._timed(session, target.url, body, headers))
        cpu_after = self.cpu()
        self.results["small_2kb"] = {
            "requests": count,
            "body_bytes": len(body),
            **compare(samples),
            **{f"{n}_cpu_ms_per_request": round((cpu_after[n] - cpu_before[n]) / count * 1000, 3) for n in PROXIES},
        }

    async def _stream(
        self,
        session: aiohttp.ClientSession,
        url: str,
        body: bytes,
        chunks: int,
        delay_ms: int,
        *,
        first_delay_ms: int = 0,
        headers: dict[str, str] | None = None,
    ) -> StreamTimes:
        headers = {
            **(headers or {}),
            "Content-Type": "application/json",
            STREAM_HEADER: "1",
            CHUNKS_HEADER: str(chunks),
            CHUNK_DELAY_HEADER: str(delay_ms),
            FIRST_DELAY_HEADER: str(first_delay_ms),
        }
        times = StreamTimes()
        buffer = b""
        started = time.perf_counter()
        async with session.post(url, data=body, headers=headers) as response:
            if response.status != 200:
                raise SystemExit(f"{url} answered {response.status}")
            async for data in response.content.iter_any():
                now = time.perf_counter()
                if not times.first_byte:
                    times.first_byte = now - started
                buffer += data
                while (end := buffer.find(b"\n\n")) != -1:
                    event, buffer = buffer[:end], buffer[end + 2 :]
                    if not event.startswith(b"data:"):
                        continue
                    times.arrivals.append(now)
                    if not times.first_event:
                        times.first_event = now - started
                    if not times.first_reasoning and b'"reasoning_content"' in event:
                        times.first_reasoning = now - started
        return times

    async def first_event(self, session: aiohttp.ClientSession) -> None:
        vscode_body, vscode_headers = vscode_request()
        variants = {
            # the old scenario: a 2 KB request, the events right behind the headers
            "stream_first_event_2kb": (stream_request(), {}, 0, self.n(1500, 100)),
            # VS Code's first agent request; the model thinks for 2 ms before its first event
            "stream_first_event_vscode": (vscode_body, vscode_headers, 2, self.n(800, 60)),
        }
        for name, (body, headers, first_delay, count) in variants.items():
            for order in self.rounds(self.n(100, 10)):
                for target in order:
                    await self._stream(session, target.url, body, 1, 0, first_delay_ms=first_delay, headers=headers)
            event: dict[str, list[float]] = {t.name: [] for t in self.targets}
            reasoning: dict[str, list[float]] = {t.name: [] for t in self.targets}
            first_byte: dict[str, list[float]] = {t.name: [] for t in self.targets}
            for order in self.rounds(count):
                for target in order:
                    times = await self._stream(
                        session, target.url, body, 1, 0, first_delay_ms=first_delay, headers=headers
                    )
                    event[target.name].append(times.first_event)
                    reasoning[target.name].append(times.first_reasoning)
                    first_byte[target.name].append(times.first_byte)
            self.results[name] = {
                "streams": count,
                "body_bytes": len(body),
                "first_delay_ms": first_delay,
                "first_event": compare(event),
                "first_reasoning_delta": compare(reasoning),
                "first_byte": compare(first_byte),
            }

    async def stream_cadence(self, session: aiohttp.ClientSession) -> None:
        """1-second streams (50 chunks, 20 ms apart), a few at once but started apart."""
        body = stream_request()
        chunks, delay, parallel = 50, 20, 6
        gaps: dict[str, list[float]] = {t.name: [] for t in self.targets}
        rounds = self.n(4, 1)

        async def one(url: str, offset: float) -> list[float]:
            await asyncio.sleep(offset)
            times = await self._stream(session, url, body, chunks, delay)
            # the reasoning and content chunks only (the finish, usage and [DONE] follow at once)
            return [b - a for a, b in itertools.pairwise(times.arrivals[1 : chunks + 1])]

        cpu_before = self.cpu()
        for order in self.rounds(rounds):
            for target in order:
                offsets = [i * delay / 1000 / parallel for i in range(parallel)]
                for found in await asyncio.gather(*(one(target.url, o) for o in offsets)):
                    gaps[target.name] += found
        cpu_after = self.cpu()
        result = compare(gaps)
        result.update(
            cadence_ms=delay,
            chunks=chunks,
            streams=rounds * parallel,
            bunched_gaps_under_5ms={name: sum(1 for g in found if g < 0.005) for name, found in gaps.items()},
        )
        for name in PROXIES:
            spent = cpu_after[name] - cpu_before[name]
            result[f"{name}_cpu_ms_per_stream"] = round(spent / (rounds * parallel) * 1000, 2)
        self.results["stream_1s"] = result

    async def large(self, session: aiohttp.ClientSession) -> None:
        body = large_request()
        headers = {"Content-Type": "application/json"}
        for order in self.rounds(self.n(6, 3)):
            for target in order:
                await self._timed(session, target.url, body, headers)
        samples: dict[str, list[float]] = {t.name: [] for t in self.targets}
        count = self.n(60, 6)
        for order in self.rounds(count):
            for target in order:
                samples[target.name].append(await self._timed(session, target.url, body, headers))
        self.results["large_4mb"] = {"requests": count, "body_bytes": len(body), **compare(samples)}

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

        for target in self.proxies.values():
            await load(target.url)  # warm up the pools
        rates: dict[str, list[float]] = {t.name: [] for t in self.targets}
        cpu_before = self.cpu()
        for order in self.rounds(self.n(3, 1)):
            for target in order:
                rates[target.name].append(await load(target.url))
        cpu_after = self.cpu()
        streams = len(rates["direct"]) * workers * per_worker
        result: dict[str, Any] = {
            "streams_per_run": workers * per_worker,
            "chunks_per_stream": chunks,
            "runs": len(rates["direct"]),
        }
        for name, found in rates.items():
            result[f"{name}_req_per_s"] = round(statistics.median(found), 1)
            result[f"{name}_req_per_s_runs"] = [round(r) for r in found]
        for name in PROXIES:
            result[f"{name}_cpu_us_per_stream"] = round((cpu_after[name] - cpu_before[name]) / streams * 1e6, 1)
            result[f"{name}_peak_rss_mb"] = round(proc_memory(self.proxies[name].pid)[1], 1)
        self.results["concurrent_64_streams"] = result

    def tap(self) -> None:
        from ccendpoint.proxy.sse import AnswerCollector, StreamTap, UsageCollector
        from ccendpoint.proxy.tagging import StreamTagger

        events = stream_events(1000)
        rounds = self.n(100, 10)
        started = time.process_time()
        for _ in range(rounds):
            tap = StreamTap([UsageCollector()])
            for event in events:
                tap.feed(event)
        spent = time.process_time() - started
        self.results["sse_tap_us_per_chunk"] = round(spent / (rounds * len(events)) * 1e6, 3)
        # with reasoning replay on: the answer's text is collected too
        started = time.process_time()
        for _ in range(rounds):
            tap = StreamTap([UsageCollector(), AnswerCollector()])
            for event in events:
                tap.feed(event)
        spent = time.process_time() - started
        self.results["sse_tap_replay_us_per_chunk"] = round(spent / (rounds * len(events)) * 1e6, 3)
        # the tagger on a 50-chunk answer (role delta, then reasoning): it splits until the first reasoning
        answer = stream_events(50)
        rounds = self.n(2000, 200)
        started = time.process_time()
        for _ in range(rounds):
            tagger = StreamTagger("ccr-bench")
            for event in answer:
                tagger.feed(event)
        spent = time.process_time() - started
        self.results["tagger_us_per_stream"] = round(spent / rounds * 1e6, 2)


def report(results: dict[str, Any]) -> str:
    small = results["small_2kb"]
    first = results["stream_first_event_2kb"]
    vscode = results["stream_first_event_vscode"]
    cadence = results["stream_1s"]
    large = results["large_4mb"]
    conc = results["concurrent_64_streams"]

    def both(data: dict[str, Any], key: str, unit: str = "ms", digits: int = 3) -> str:
        return " / ".join(f"{data[key.format(name)]:.{digits}f}" for name in PROXIES) + f" {unit}"

    rows = [
        ("2 KB request, added p50", both(small, "{}_added_p50"), "≤ 0.3 ms"),
        ("2 KB request, added p99", both(small, "{}_added_p99"), "≤ 1 ms"),
        ("2 KB request, proxy CPU", both(small, "{}_cpu_ms_per_request"), ""),
        ("first data event, 2 KB, added p50", both(first["first_event"], "{}_added_p50"), "≤ 0.3 ms"),
        ("first data event, 2 KB, added p99", both(first["first_event"], "{}_added_p99"), ""),
        ("first reasoning delta, 2 KB, added p50", both(first["first_reasoning_delta"], "{}_added_p50"), ""),
        ("first body byte, 2 KB, added p50 (old measure)", both(first["first_byte"], "{}_added_p50"), ""),
        ("first data event, VS Code 45 KB, added p50", both(vscode["first_event"], "{}_added_p50"), "≤ 0.3 ms"),
        ("first data event, VS Code 45 KB, added p99", both(vscode["first_event"], "{}_added_p99"), ""),
        ("first reasoning delta, VS Code, added p50", both(vscode["first_reasoning_delta"], "{}_added_p50"), ""),
        (
            "chunk gap at 20 ms, p50 direct / log / nolog",
            f"{cadence['direct_p50']:.2f} / {cadence['log_p50']:.2f} / {cadence['nolog_p50']:.2f} ms",
            "",
        ),
        ("chunk gap, added p99", both(cadence, "{}_added_p99"), ""),
        (
            "gaps under 5 ms (bunching), direct / log / nolog",
            "{direct} / {log} / {nolog}".format(**cadence["bunched_gaps_under_5ms"]),
            "0",
        ),
        ("proxy CPU per 1-second 50-chunk stream", both(cadence, "{}_cpu_ms_per_stream", digits=2), ""),
        (
            "SSE tap CPU per chunk (usage / + answer)",
            "{sse_tap_us_per_chunk:.2f} / {sse_tap_replay_us_per_chunk:.2f} µs".format(**results),
            "",
        ),
        ("reasoning tagger CPU per 50-chunk stream", f"{results['tagger_us_per_stream']:.1f} µs", ""),
        ("64 streams × 50 chunks, direct", f"{conc['direct_req_per_s']:.0f} req/s", ""),
        ("64 streams × 50 chunks, through the proxy", both(conc, "{}_req_per_s", "req/s", 0), "≥ 2500 req/s"),
        ("proxy CPU per 50-chunk stream (64 at once)", both(conc, "{}_cpu_us_per_stream", "µs", 0), ""),
        ("4 MB request, added p50", both(large, "{}_added_p50", digits=2), "≤ 10 ms"),
        ("4 MB request, added p99", both(large, "{}_added_p99", digits=2), ""),
        ("proxy memory idle", " / ".join(f"{results['memory_idle_mb'][n]:.1f}" for n in PROXIES) + " MB", "≤ 40 MB"),
        ("proxy memory peak (64 streams)", both(conc, "{}_peak_rss_mb", "MB", 1), ""),
    ]
    width = max(len(r[0]) for r in rows)
    lines = [f"{'measure (request log on / off)':<{width}}  {'result':>24}  target", "-" * (width + 40)]
    lines += [f"{name:<{width}}  {value:>24}  {target}" for name, value, target in rows]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few iterations: a smoke run, rough numbers")
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    parser.add_argument("--serve-upstream", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_upstream:
        run_async(_serve_upstream)
        return 0

    bench = Bench(args.quick)
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    try:
        bench.start()

        async def timed_run() -> None:
            await asyncio.wait_for(bench.run(), HARD_LIMIT_S)

        run_async(timed_run)
    finally:
        bench.stop()
    results = bench.results
    results["machine"] = {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "client_loop": loop_name(),
        "quick": args.quick,
        "seconds": round(time.monotonic() - started, 1),
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    loops = f"proxy event loop: {results.get('proxy_loop')}; client loop: {loop_name()}"
    print(f"{loops}; Python {platform.python_version()}")
    machine = results["machine"]
    before, after = machine["load_average_before_after"]
    print(f"{os.cpu_count()} CPUs, {platform.platform()}; run took {machine['seconds']} s")
    print(f"load average {before} before the run, {after} after it")
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
