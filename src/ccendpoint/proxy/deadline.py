"""Waiting for something with a deadline, without losing a cancel that arrives as it finishes.

``asyncio.wait_for`` on Python 3.10 and 3.11 swallows a cancel that lands just as the awaited
thing completes: a request whose client went away (or whose proxy is stopping) would then go on.
:func:`within` waits with ``asyncio.wait`` instead, which never swallows the caller's cancel, and
undoes what the awaited thing did when its result will not be used (see ``undo``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class Expired(Exception):
    """The deadline passed first."""


async def within(work: Coroutine[Any, Any, T], seconds: float, undo: Callable[[T], None] | None = None) -> T:
    """``work``'s result if it comes within ``seconds``; :class:`Expired` if not.

    When the caller is cancelled, or the deadline passes, just as ``work`` completes, its result
    is handed to ``undo`` (a semaphore's ``release``, say) before the cancel or :class:`Expired`
    goes on.
    """
    task = asyncio.ensure_future(work)
    try:
        await asyncio.wait((task,), timeout=max(seconds, 0.0))
    except asyncio.CancelledError:
        _drop(task, undo)
        raise
    if task.done():
        return task.result()
    _drop(task, undo)
    raise Expired


def _drop(task: asyncio.Future[T], undo: Callable[[T], None] | None) -> None:
    if not task.done():
        task.cancel()  # what ``work`` awaits is cancelled with it (a semaphore gives the place back)
    elif not task.cancelled() and task.exception() is None and undo is not None:
        undo(task.result())
