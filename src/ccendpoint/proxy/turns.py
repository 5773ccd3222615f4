"""Turns for costly request bodies: how many requests may hold one in memory at once, process-wide.

A request whose body is at least :data:`LARGE_BODY` bytes takes a turn before its body is read (or,
for a chunked body, as soon as it passes that size); one with a smaller body of many JSON items
(:data:`COSTLY_ITEMS`) takes one once it is read. It gives the turn back as soon as the upstream
has its payload and has answered: from then on the request holds nothing of its body's size
(the parsed form lives only while the payload is made, see ``relay._prepare``). So the turns bound
the bodies, payloads and parses in memory at once. A request that finds no turn free waits up to
:data:`WAIT` seconds, its body unread, then gets a 503 to retry.
"""

from __future__ import annotations

import asyncio

from ccendpoint.proxy.body import count_values
from ccendpoint.proxy.deadline import Expired, within
from ccendpoint.proxy.errors import RequestRejected

#: From this size on a request body needs a turn (1 MiB: a long agent history; most are far smaller).
LARGE_BODY = 1024 * 1024
#: A smaller body with at least this many JSON items (see :func:`.body.count_values`) needs one too:
#: parsed, it may cost some ten times its size (VS Code's 45 KB agent requests have 900 to 1,100).
COSTLY_ITEMS = 50_000
#: Costly requests between reading their body and the upstream's answer, at once.
TURNS = 4
#: How long a costly request waits for a turn before it is refused with a 503.
WAIT = 30.0


class Turns:
    """The turns of one process, shared by its listeners."""

    def __init__(self, turns: int | None = None, wait: float | None = None, large: int | None = None) -> None:
        self.turns = TURNS if turns is None else turns
        self.wait = WAIT if wait is None else wait
        #: The body size from which a request needs a turn.
        self.large = LARGE_BODY if large is None else large
        #: Requests waiting for a turn; beyond twice the turns a request is refused at once, since a
        #: waiting request's connection still buffers the start of its body.
        self.waiting = 0
        self._free = asyncio.Semaphore(self.turns)

    def costly(self, raw: bytes) -> bool:
        """Whether a body read in full needs a turn before it is parsed."""
        return len(raw) >= self.large or (len(raw) >= COSTLY_ITEMS and count_values(raw) >= COSTLY_ITEMS)

    def claim(self) -> Claim:
        """A request's claim: taken when its body turns out costly, given back when it is done."""
        return Claim(self)

    def _busy(self, why: str) -> RequestRejected:
        return RequestRejected(
            503,
            f"{self.turns} costly requests (bodies of {self.large / (1024 * 1024):g} MiB or more, or of "
            f"many JSON items) are already in memory and {why}; retry in a few seconds.",
            "proxy_busy",
            retry_after=5,
        )


class Claim:
    """One request's hold on a turn (at most one)."""

    __slots__ = ("_turns", "held")

    def __init__(self, turns: Turns) -> None:
        self._turns = turns
        self.held = False

    async def take(self) -> None:
        """Wait for a free turn; :class:`RequestRejected` (503) when none frees up in time."""
        if self.held:
            return
        turns = self._turns
        free = turns._free
        if not free.locked():
            await free.acquire()  # free: taken without suspending
        elif turns.waiting >= 2 * turns.turns:
            raise turns._busy(f"{turns.waiting} more are waiting")
        else:
            turns.waiting += 1
            try:
                await within(free.acquire(), turns.wait, undo=lambda _: free.release())
            except Expired:
                raise turns._busy(f"none was done within {turns.wait:g} s") from None
            finally:
                turns.waiting -= 1
        self.held = True

    def give_back(self) -> None:
        if self.held:
            self.held = False
            self._turns._free.release()
