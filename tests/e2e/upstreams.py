"""The strict fake providers of the end-to-end suite, served from a background thread.

VS Code (code-server) and the proxy reach them over loopback like real provider APIs. The test
thread changes their behaviour between scenarios and reads what they received.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from typing import Any

from fake_upstreams import Behaviour, FakeUpstream, Received


class Upstreams:
    """One :class:`FakeUpstream` per provider, all on one event loop in a daemon thread."""

    def __init__(self, providers: list[str]) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="fake-upstreams", daemon=True)
        self._thread.start()
        self.fakes: dict[str, FakeUpstream] = {}
        for provider in providers:
            fake = FakeUpstream(provider)
            self._run(fake.__aenter__())
            self.fakes[provider] = fake

    def _run(self, coroutine: Any) -> Any:
        future: Future[Any] = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        return future.result(timeout=30)

    def __getitem__(self, provider: str) -> FakeUpstream:
        return self.fakes[provider]

    def url(self, provider: str) -> str:
        return self.fakes[provider].url

    @contextmanager
    def behaving(self, provider: str, behaviour: Behaviour) -> Iterator[FakeUpstream]:
        """Give ``provider`` this behaviour for the scenario, and the default one afterwards."""
        fake = self.fakes[provider]
        fake.behaviour = behaviour
        try:
            yield fake
        finally:
            fake.behaviour = Behaviour()

    def since(self, provider: str, mark: int) -> list[Received]:
        """What ``provider`` received after ``mark`` (an earlier ``len(fake.received)``)."""
        return list(self.fakes[provider].received[mark:])

    def close(self) -> None:
        for fake in self.fakes.values():
            self._run(fake.__aexit__(None, None, None))
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
