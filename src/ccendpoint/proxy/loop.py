"""The event loop the proxy runs on (uvloop when installed), and stopping on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import importlib
import os
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

#: ``CCENDPOINT_LOOP=asyncio`` runs without uvloop even when it is installed.
LOOP_ENV = "CCENDPOINT_LOOP"

T = TypeVar("T")


def _uvloop() -> Any | None:
    if os.environ.get(LOOP_ENV, "").lower() == "asyncio" or sys.platform == "win32":
        return None
    try:
        return importlib.import_module("uvloop")
    except ImportError:
        return None


def loop_name() -> str:
    """``uvloop`` or ``asyncio``: the loop this process runs (or would run) on."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return "uvloop" if _uvloop() is not None else "asyncio"
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` on uvloop when it is installed, on the standard loop otherwise."""
    uvloop = _uvloop()
    if uvloop is None:
        return asyncio.run(main)
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(main)
    result: T = uvloop.run(main)
    return result


def install_stop_signals(stop: asyncio.Event) -> Callable[[], None]:
    loop = asyncio.get_running_loop()
    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows: no loop signal handlers
            signal.signal(sig, lambda *_: loop.call_soon_threadsafe(stop.set))

    def remove() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return remove
