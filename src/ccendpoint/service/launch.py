"""Run a ccendpoint command with its output appended to a log file.

The proxy service uses it where no service manager captures the output: a Windows logon task
(started with ``pythonw``, which has no console and no standard streams) and an XDG autostart
entry. ``python -m ccendpoint.service.launch --log FILE -- proxy kimi`` runs ``ccendpoint proxy kimi``.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[0] != "--log" or "--" not in args:
        sys.stderr.write("usage: python -m ccendpoint.service.launch --log FILE -- COMMAND [ARGS]...\n")
        return 2
    log, rest = args[1], args[args.index("--") + 1 :]
    os.makedirs(os.path.dirname(os.path.abspath(log)), exist_ok=True)
    stream = open(log, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the process
    if os.name == "posix":
        # at the descriptor level, so the lean serving process the proxy execs writes there too
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)
        os.dup2(stream.fileno(), 1)
        os.dup2(stream.fileno(), 2)
    else:
        sys.stdout = sys.stderr = stream
    from ccendpoint.cli import main as cli_main  # after the streams point at the log: import errors land there

    # named as the command itself, so `proxy` replaces this process with its lean serving process
    sys.argv = ["ccendpoint", *rest]
    try:
        cli_main()
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
