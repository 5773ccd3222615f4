"""Reasoning replay on a LiteLLM gateway: finished turns in LiteLLM's cache, and the answer's side of replay.

The rewrite (:mod:`ccendpoint.rules.replay`) is the same as the local proxy's; what differs is
where its state lives and how the answer is read:

* :class:`TurnStore` keeps the reasoning of finished turns (keys from
  :func:`ccendpoint.rules.replay.turn_entries`) in a LiteLLM ``DualCache``: the worker's memory, plus
  the gateway's coordination Redis when the team configured one (``general_settings.
  coordination_redis``, a Redis ``litellm_settings.cache``, or ``REDIS_HOST``), so every worker
  and every replica sees every turn. Without Redis each worker keeps its own turns.
* :class:`AnswerWatch` follows an answer as LiteLLM hands it to the client (stream chunks or a
  whole response): it gives the first reasoning delta a ``cot_id`` (so VS Code sends that
  reasoning back within the turn, see :mod:`ccendpoint.proxy.tagging`) and keeps the answer's text
  to store a finished turn under.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from ccendpoint.proxy.reasoning_cache import DEFAULT_MAX_ENTRIES, DEFAULT_RETENTION_SECONDS
from ccendpoint.proxy.sse import AnswerCollector
from ccendpoint.proxy.tagging import ID_FIELDS, tag_part
from ccendpoint.rules.replay import usable

#: Every key this module writes starts with it, so it never meets LiteLLM's own keys.
KEY_PREFIX = "ccendpoint:reasoning:"
#: How long a finished turn stays replayable (the local proxy's retention).
TTL_SECONDS = DEFAULT_RETENTION_SECONDS
#: The largest reasoning text kept in a worker's memory, in KiB (LiteLLM's per-item bound).
MAX_ITEM_KB = 4096


def coordination_redis() -> Any:
    """The gateway's coordination Redis (a LiteLLM ``RedisCache``), or None when the team set none up."""
    try:
        from litellm.proxy import proxy_server  # optional: LiteLLM may run as a library
    except ImportError:  # LiteLLM used as a library, without its proxy
        return None
    return getattr(proxy_server, "redis_usage_cache", None)


class TurnStore:
    """The reasoning of finished turns, in a LiteLLM ``DualCache`` (memory, plus Redis when there is one)."""

    def __init__(self, redis: Any = None, *, find_redis: bool = True, max_entries: int = DEFAULT_MAX_ENTRIES) -> None:
        # LiteLLM is an optional extra: this module imports without it, as its unit tests do
        from litellm.caching.dual_cache import DualCache
        from litellm.caching.in_memory_cache import InMemoryCache

        memory = InMemoryCache(max_size_in_memory=max_entries, default_ttl=TTL_SECONDS, max_size_per_item=MAX_ITEM_KB)
        self._cache = DualCache(
            in_memory_cache=memory, default_in_memory_ttl=TTL_SECONDS, default_redis_ttl=TTL_SECONDS
        )
        self._find_redis = find_redis and redis is None
        if redis is not None:
            self._cache.attach_redis_cache(redis, default_redis_ttl=TTL_SECONDS)

    def _attach(self) -> None:
        """Pick up the gateway's Redis once it exists (the proxy sets it up at start, after imports)."""
        if self._find_redis and self._cache.redis_cache is None:
            found = coordination_redis()
            if found is not None:
                self._cache.attach_redis_cache(found, default_redis_ttl=TTL_SECONDS)
                self._find_redis = False

    @property
    def backend(self) -> str:
        """``redis`` when turns are shared between workers, ``memory`` when each worker keeps its own."""
        self._attach()
        return "redis" if self._cache.redis_cache is not None else "memory"

    async def fetch(self, keys: Sequence[str]) -> dict[str, str]:
        """The stored reasoning of those keys that have some (a Redis failure reads as a miss)."""
        if not keys:
            return {}
        self._attach()
        wanted = list(dict.fromkeys(keys))
        values = await self._cache.async_batch_get_cache([KEY_PREFIX + key for key in wanted], throttle_redis=False)
        if not isinstance(values, list):
            return {}
        return {key: value for key, value in zip(wanted, values, strict=False) if usable(value)}

    async def put(self, entries: Iterable[tuple[str, str]]) -> int:
        """Store each (key, reasoning) for :data:`TTL_SECONDS`; returns how many were stored."""
        rows = [(KEY_PREFIX + key, text) for key, text in entries if usable(text)]
        if rows:
            self._attach()
            await self._cache.async_set_cache_pipeline(rows, ttl=TTL_SECONDS)
        return len(rows)


def _reasoning_id_of(part: Any) -> bool:
    """Whether a delta or message already carries a reasoning id of its own (top level or provider fields)."""
    extra = getattr(part, "provider_specific_fields", None)
    extra = extra if isinstance(extra, Mapping) else {}
    return any(getattr(part, field, None) or extra.get(field) for field in ID_FIELDS)


def _view(part: Any) -> dict[str, Any]:
    """The fields of a LiteLLM delta or message that tagging and the answer collector read, as a dict."""
    view: dict[str, Any] = {
        "reasoning_content": getattr(part, "reasoning_content", None),
        "content": getattr(part, "content", None),
        "tool_calls": bool(getattr(part, "tool_calls", None)),
    }
    if _reasoning_id_of(part):
        view["cot_id"] = "provider"
    return view


class AnswerWatch:
    """One answer on its way to the client: tags its first reasoning, keeps its text (first choice only)."""

    def __init__(self, reasoning_id: str) -> None:
        self.reasoning_id = reasoning_id
        self.tagged = False
        self._looking = True
        self._answer = AnswerCollector()

    def _part(self, part: Any) -> None:
        view = _view(part)
        if self._looking:
            outcome = tag_part(view, self.reasoning_id)
            if outcome == "tagged":
                part.cot_id = self.reasoning_id  # LiteLLM's deltas and messages keep extra fields
                self.tagged = True
            if outcome != "wait":
                self._looking = False
        self._answer.take({"choices": [{"delta": view}]})

    def chunk(self, chunk: Any) -> None:
        """A stream chunk (``ModelResponseStream``)."""
        choices = getattr(chunk, "choices", None)
        if choices:
            delta = getattr(choices[0], "delta", None)
            if delta is not None:
                self._part(delta)

    def whole(self, response: Any) -> None:
        """A non-streamed answer (``ModelResponse``)."""
        choices = getattr(response, "choices", None)
        if choices:
            message = getattr(choices[0], "message", None)
            if message is not None:
                self._part(message)

    @property
    def final_text(self) -> str | None:
        """The answer's text when it finishes a turn (it called no tools), else None."""
        return self._answer.final_text
