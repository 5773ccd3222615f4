"""Start-up cost of the light commands, measured with ``python -X importtime``.

    python benchmarks/startup.py [--runs 7]

For each command it runs a fresh interpreter several times (after one warm-up run that fills the
catalog's validation stamps) and reports the median of: total import time of ``ccendpoint.cli``
plus everything imported while the command runs, wall time of the whole process, and the
heaviest top-level packages. It also says whether aiohttp, orjson or jsonschema were imported,
which the light commands must not do.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict

COMMANDS = (["--help"], ["list"], ["show", "kimi"], ["list", "--json"])
HEAVY = ("aiohttp", "orjson", "jsonschema")
LINE = re.compile(r"import time:\s+(\d+) \|\s+(\d+) \|(\s*)(\S+)")


def measure(argv: list[str], env: dict[str, str]) -> tuple[float, float, dict[str, int], set[str]]:
    cmd = [sys.executable, "-X", "importtime", "-m", "ccendpoint", *argv]
    start = time.perf_counter()
    result = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - start
    top: dict[str, int] = defaultdict(int)
    seen: set[str] = set()
    total_us = 0
    for line in result.stderr.splitlines():
        match = LINE.match(line)
        if not match:
            continue
        self_us, cumulative_us, indent, name = int(match[1]), int(match[2]), match[3], match[4]
        total_us += self_us
        seen.add(name.split(".")[0])
        if len(indent) == 1:  # a top-level import: its cumulative time
            top[name.split(".")[0]] += cumulative_us
    return total_us / 1000, wall * 1000, top, seen


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "XDG_CACHE_HOME": f"{home}/cache", "XDG_CONFIG_HOME": f"{home}/config"}
        print(f"python {sys.version.split()[0]}, {args.runs} runs per command, medians")
        print(f"{'command':<22} {'imports ms':>10} {'wall ms':>9}  heavy modules  top packages (cumulative ms)")
        for argv in COMMANDS:
            measure(argv, env)  # warm-up: writes the validation stamps, fills the OS file cache
            samples = [measure(argv, env) for _ in range(args.runs)]
            imports = statistics.median(s[0] for s in samples)
            wall = statistics.median(s[1] for s in samples)
            top = samples[-1][2]
            heavy = sorted(m for m in HEAVY if m in samples[-1][3]) or ["none"]
            biggest = ", ".join(
                f"{name} {us / 1000:.0f}" for name, us in sorted(top.items(), key=lambda kv: -kv[1])[:5]
            )
            print(f"{' '.join(argv):<22} {imports:>10.1f} {wall:>9.1f}  {','.join(heavy):<13}  {biggest}")


if __name__ == "__main__":
    main()
