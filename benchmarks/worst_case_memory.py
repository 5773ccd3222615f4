"""The most memory a proxy process can be made to use, and how long ``/healthz`` waits meanwhile.

Each scenario runs against a fresh ``ccendpoint proxy kimi`` process (its default limits, request
log off) in front of the fake upstream of ``proxy_overhead.py``, whose streamed answers begin
after a delay so the requests stay in flight together. The proxy's peak resident memory (VmHWM)
is read after each scenario; a probe asks ``/healthz`` every 20 ms throughout and keeps the
slowest answer.

Scenarios:

- ``idle``: the process started, nothing sent;
- ``tiny values``: three bodies of 15.9 MiB made of ``{},``, sent at once (they would cost some
  twenty times their size parsed; they are refused before parsing);
- ``largest permitted``: eight bodies sent at once, each as costly as the limits allow: 16 MiB
  (the default body limit), just under the bound on JSON items, every item a member with a key of
  its own, and a long string that one emoji makes four bytes a character once parsed; four hold
  turns, four wait for them;
- ``many costly small``: thirty-two bodies of empty objects just under the item bound (0.4 MiB,
  under the large-body size of 1 MiB, but with enough items to need a turn), at once.

    python benchmarks/worst_case_memory.py
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent))
import proxy_overhead as bench

from ccendpoint.proxy.body import MAX_VALUES, count_values
from ccendpoint.proxy.settings import DEFAULT_MAX_BODY_MB
from ccendpoint.proxy.turns import LARGE_BODY, TURNS

MIB = 1024 * 1024
#: How long the fake upstream waits before its first event: the requests overlap for this long.
HOLD_MS = 3000


def tiny_values(count: int) -> bytes:
    """A body of ``count`` empty objects: three bytes each, some 72 once parsed."""
    return b'{"model":"kimi-k2.6","stream":true,"messages":[' + b"{}," * count + b'{"role":"user","content":"x"}]}'


def costly(size: int, items: int) -> bytes:
    """A body of about ``size`` bytes with up to ``items`` JSON items, each as costly as one can be:
    a member with a key and a value of its own, then a string made four bytes a character."""
    head = b'{"model":"kimi-k2.6","stream":true,"extra":{'
    tail = b'"}]}'
    members: list[bytes] = []
    used = len(head) + 64
    for i in range(items - 16):
        member = b'"k%07d":"v%d",' % (i, i)
        if used + len(member) > size:
            break
        members.append(member)
        used += len(member)
    head += b"".join(members) + b'"end":0},"messages":[{"role":"user","content":"\\ud83d\\ude00'
    return head + b"a" * max(0, size - len(head) - len(tail)) + tail


class Probe:
    """Asks ``/healthz`` every 20 ms; the slowest answer."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.slowest = 0.0
        self.stopped = asyncio.Event()

    async def run(self, session: aiohttp.ClientSession) -> None:
        while not self.stopped.is_set():
            started = time.perf_counter()
            async with session.get(self.url) as response:
                await response.read()
            self.slowest = max(self.slowest, time.perf_counter() - started)
            await asyncio.sleep(0.02)


def start_proxy(upstream: str) -> tuple[subprocess.Popen[bytes], str]:
    command = [sys.executable, "-m", "ccendpoint", "proxy", "kimi", "--port", "0", "--upstream", upstream, "--no-log"]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None
    url = ""
    while True:
        line = proc.stdout.readline().decode()
        if not line:
            raise SystemExit("the proxy did not start: " + (proc.stderr.read().decode() if proc.stderr else ""))
        if "/v1/chat/completions" in line and not url:
            url = line.split()[1]
        if "Ctrl+C stops" in line:
            return proc, url


async def send(session: aiohttp.ClientSession, url: str, body: bytes) -> int:
    headers = {
        "Content-Type": "application/json",
        bench.STREAM_HEADER: "1",
        bench.CHUNKS_HEADER: "5",
        bench.FIRST_DELAY_HEADER: str(HOLD_MS),
    }
    async with session.post(url, data=body, headers=headers) as response:
        await response.read()
        return response.status


async def scenario(upstream: str, bodies: list[bytes]) -> dict[str, Any]:
    proc, url = start_proxy(upstream)
    try:
        await asyncio.sleep(0.5)
        idle = bench.proc_memory(proc.pid)[1]
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=300)) as session:
            probe = Probe(url.replace("/v1/chat/completions", "/healthz"))
            probing = asyncio.create_task(probe.run(session))
            started = time.perf_counter()
            statuses = await asyncio.gather(*(send(session, url, body) for body in bodies))
            seconds = time.perf_counter() - started
            probe.stopped.set()
            await probing
        return {
            "requests": len(bodies),
            "body_mib": round(max((len(b) for b in bodies), default=0) / MIB, 2),
            "items": max((count_values(b) for b in bodies), default=0),
            "statuses": sorted(set(statuses)),
            "idle_rss_mb": round(idle, 1),
            "peak_rss_mb": round(bench.proc_memory(proc.pid)[1], 1),
            "healthz_slowest_ms": round(probe.slowest * 1000, 1),
            "seconds": round(seconds, 2),
        }
    finally:
        proc.terminate()
        proc.wait(10)


async def run(upstream: str) -> dict[str, dict[str, Any]]:
    limit = int(DEFAULT_MAX_BODY_MB * MIB)
    largest = costly(limit - 1024, MAX_VALUES - 64)
    small = tiny_values((MAX_VALUES - 64) // 2)  # a comma and a brace each: just under the bound
    return {
        "idle": await scenario(upstream, []),
        "tiny values": await scenario(upstream, [tiny_values((limit - 100 * 1024) // 3)] * 3),
        "largest permitted": await scenario(upstream, [largest] * (2 * TURNS)),
        "many costly small": await scenario(upstream, [small] * 32),
    }


def report(results: dict[str, dict[str, Any]]) -> str:
    lines = [f"{'scenario':<19} {'bodies':>12} {'status':>8} {'peak MB':>8} {'healthz ms':>10} {'s':>6}"]
    for name, row in results.items():
        bodies = f"{row['requests']} × {row['body_mib']:g} MiB" if row["requests"] else "-"
        status = ",".join(str(s) for s in row["statuses"]) or "-"
        lines.append(
            f"{name:<19} {bodies:>12} {status:>8} {row['peak_rss_mb']:>8} "
            f"{row['healthz_slowest_ms']:>10} {row['seconds']:>6}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", type=Path, help="also write the raw results to this file")
    args = parser.parse_args()
    upstream_proc = subprocess.Popen(
        [sys.executable, bench.__file__, "--serve-upstream"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
    )
    try:
        assert upstream_proc.stdout is not None
        upstream = f"http://127.0.0.1:{int(upstream_proc.stdout.readline())}/v1/chat/completions"
        results = bench.run_async(lambda: run(upstream))
    finally:
        upstream_proc.terminate()
        upstream_proc.wait(10)
    print(
        f"limits: body {DEFAULT_MAX_BODY_MB:g} MiB, {MAX_VALUES:,} JSON items, "
        f"{TURNS} turns from {LARGE_BODY // MIB} MiB"
    )
    print(report(results))
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
