"""Timeouts of one request kept by one watchdog: silent too long before the first byte, or between chunks.

One :class:`Watchdog` per request instead of a timer per read: it remembers when the upstream last
sent something and cancels the request task only when it has been silent for longer than allowed
(first byte, then idle between chunks). There is no total time limit.
"""

from __future__ import annotations

import asyncio


class Watchdog:
    """Cancels the current task once the upstream has been silent for ``timeout`` seconds.

    :meth:`touch` on every chunk costs one clock read; the timer is only re-armed when it fires
    early. :attr:`fired` tells a timeout apart from other cancellations (client gone, shutdown).
    """

    def __init__(self, timeout: float) -> None:
        self._loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self._task = task
        self.timeout = timeout
        self.fired = False
        self._last = self._loop.time()
        self._handle: asyncio.TimerHandle | None = self._loop.call_at(self._last + timeout, self._check)

    def touch(self) -> None:
        self._last = self._loop.time()

    def switch(self, timeout: float) -> None:
        """Start a new phase (first byte → idle) with its own limit, counted from now."""
        self.timeout = timeout
        self._last = self._loop.time()
        if self._handle is not None:
            self._handle.cancel()
            self._handle = self._loop.call_at(self._last + timeout, self._check)

    def _check(self) -> None:
        deadline = self._last + self.timeout
        if self._loop.time() >= deadline:
            self._handle = None
            self.fired = True
            self._task.cancel()
        else:
            self._handle = self._loop.call_at(deadline, self._check)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def absorb(self) -> None:
        """The cancellation was ours and is handled: let the task carry on normally."""
        absorb_cancel(self._task)


def absorb_cancel(task: asyncio.Task[object] | None = None) -> None:
    """A cancel of ``task`` (the current one by default) is handled: it carries on as if none came.

    Without this, the task would still count the cancel (Python 3.11+), and a timeout it enters
    later would be taken for that cancel.
    """
    task = task or asyncio.current_task()
    uncancel = getattr(task, "uncancel", None)  # Python 3.11+
    if uncancel is not None:
        uncancel()
