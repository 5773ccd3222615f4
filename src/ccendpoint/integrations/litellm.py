"""The LiteLLM callback: the catalog's rewrite on every chat request a LiteLLM gateway forwards.

Register it in the gateway's ``config.yaml`` (``ccendpoint export litellm`` writes this)::

    litellm_settings:
      callbacks: [ccendpoint.integrations.litellm.callback]

For a request whose model name is a catalog model id, the pre-call hook runs the same pipeline
as the local proxy (:class:`ccendpoint.rules.pipeline.RuleBook`: reasoning replay, the model's
body fields, its rules) and writes the result back into LiteLLM's request: fields LiteLLM knows
as OpenAI parameters stay where they are, every other field of the body goes into ``extra_body``
(LiteLLM refuses or drops unknown parameters, but sends ``extra_body`` to the upstream as
top-level fields), and the repaired ``messages`` replace the client's. The upstream thus gets
the body the local proxy would send.

For models that replay reasoning, the answer hooks give the first reasoning delta of each answer
a ``cot_id`` (VS Code then sends that reasoning back within the turn) and store a finished turn's
reasoning in LiteLLM's cache (see :mod:`.litellm_replay`). What the callback did is put in the
request's ``metadata["ccendpoint"]``, which LiteLLM's logging integrations record.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from litellm.integrations.custom_logger import CustomLogger

from ccendpoint.catalog.loader import load_catalog
from ccendpoint.catalog.model import Catalog
from ccendpoint.integrations.litellm_export import LITELLM_ROUTE
from ccendpoint.integrations.litellm_replay import AnswerWatch, TurnStore
from ccendpoint.proxy.tagging import new_reasoning_id
from ccendpoint.rules.actions import MISSING
from ccendpoint.rules.pipeline import Rewrite, RuleBook
from ccendpoint.rules.replay import turn_entries

log = logging.getLogger("ccendpoint.litellm")

#: LiteLLM's names for a chat-completions call.
CHAT_CALLS = frozenset({"completion", "acompletion"})
#: Keys of a request that are never moved to ``extra_body``.
ALWAYS_KEPT = frozenset({"model", "messages", "extra_body"})


@dataclass(frozen=True)
class Target:
    """The provider and rules of one model name."""

    provider_id: str
    rules: RuleBook


class Models:
    """Model name → its provider's rules, for every model of the catalog (model names are catalog ids)."""

    def __init__(self, catalog: Catalog) -> None:
        self._by_name: dict[str, Target] = {}
        for provider in catalog.providers:
            target = Target(provider.id, RuleBook(provider))
            for model in provider.models:
                self._by_name.setdefault(model.id, target)

    def get(self, name: Any) -> Target | None:
        return self._by_name.get(name) if isinstance(name, str) else None


def _openai_params(model: str) -> frozenset[str]:
    """What LiteLLM accepts as OpenAI parameters on its OpenAI-compatible route."""
    import litellm  # an optional extra: this module imports without it, as its unit tests do

    names = litellm.get_supported_openai_params(model=model, custom_llm_provider=LITELLM_ROUTE) or []
    return frozenset(str(name) for name in names)


def client_body(data: Mapping[str, Any]) -> dict[str, Any]:
    """The request as the client sent it: LiteLLM's own keys (call id, logging object, metadata …) left out."""
    original = data.get("proxy_server_request")
    sent = original.get("body") if isinstance(original, Mapping) else None
    keys = set(sent) if isinstance(sent, Mapping) else {k for k in data if not k.startswith("litellm_")}
    keys -= {"metadata", "proxy_server_request", "secret_fields", "extra_body"}
    return {key: value for key, value in data.items() if key in keys}


def write_back(data: dict[str, Any], rewrite: Rewrite, known: frozenset[str]) -> None:
    """Put the rewritten body into LiteLLM's request ``data`` (changed in place)."""
    extra = dict(data.get("extra_body") or {})
    for change in rewrite.changes:
        if change.after is MISSING:
            data.pop(change.key, None)
            extra.pop(change.key, None)
    for key, value in rewrite.body.items():
        if key in ALWAYS_KEPT or key in known:
            data[key] = value
        else:  # a field LiteLLM does not know: only extra_body reaches the upstream unchanged
            data.pop(key, None)
            extra[key] = value
    if extra:
        data["extra_body"] = extra
    else:
        data.pop("extra_body", None)


def _wanted_keys(rules: RuleBook, body: Mapping[str, Any]) -> tuple[Rewrite, list[str]]:
    """The rewrite without any cache, and the cache keys it asked for (earlier turns' reasoning)."""
    wanted: list[str] = []

    def record(key: str) -> None:
        wanted.append(key)

    return rules.rewrite(body, record), wanted


class CcendpointCallback(CustomLogger):  # type: ignore[misc]  # LiteLLM's base class is not typed for us
    """Applies the catalog's rules on a LiteLLM gateway; one instance per gateway worker."""

    def __init__(self, catalog: Catalog | Callable[[], Catalog] | None = None, store: TurnStore | None = None) -> None:
        super().__init__()
        self._catalog = catalog
        self._models: Models | None = None
        self._store = store
        self._params: dict[str, frozenset[str]] = {}

    @property
    def models(self) -> Models:
        if self._models is None:
            catalog = self._catalog
            if catalog is None:
                catalog = load_catalog()
            elif callable(catalog):
                catalog = catalog()
            self._models = Models(catalog)
        return self._models

    @property
    def store(self) -> TurnStore:
        if self._store is None:
            self._store = TurnStore()
        return self._store

    def _known(self, model: str) -> frozenset[str]:
        known = self._params.get(model)
        if known is None:
            known = self._params[model] = _openai_params(model)
        return known

    async def rewrite(self, target: Target, body: Mapping[str, Any]) -> Rewrite:
        """The local proxy's rewrite, with earlier turns' reasoning read from LiteLLM's cache first."""
        rewrite, wanted = _wanted_keys(target.rules, body)
        if wanted:
            found = await self.store.fetch(wanted)
            if found:
                rewrite = target.rules.rewrite(body, found.get)
        return rewrite

    async def async_pre_call_hook(
        self, user_api_key_dict: Any, cache: Any, data: dict[str, Any], call_type: str
    ) -> dict[str, Any]:
        target = self.models.get(data.get("model"))
        if target is None or call_type not in CHAT_CALLS or not isinstance(data.get("messages"), list):
            return data
        rewrite = await self.rewrite(target, client_body(data))
        write_back(data, rewrite, self._known(str(data["model"])))
        note: dict[str, Any] = {"provider": target.provider_id, "rule_set": rewrite.rule_set}
        note["changes"] = rewrite.changes_text()
        if rewrite.replay is not None:
            note["reasoning_restored"] = rewrite.replay.restored
            note["reasoning_from_cache"] = rewrite.replay.from_cache
            note["reasoning_missing"] = rewrite.replay.missing
        metadata = data.get("metadata")
        if isinstance(metadata, dict):
            metadata["ccendpoint"] = note
        log.debug("ccendpoint %s: %s", data.get("model"), note)
        return data

    def _replays(self, data: Mapping[str, Any]) -> Target | None:
        target = self.models.get(data.get("model"))
        if target is None or not target.rules.pipeline(data.get("model")).replays:
            return None
        return target

    async def _remember(self, target: Target, data: Mapping[str, Any], watch: AnswerWatch) -> None:
        """Store the turn this answer finished (it called no tools and the turn had tool calls)."""
        text = watch.final_text
        messages = data.get("messages")
        if text is None or not isinstance(messages, list):
            return
        entries = turn_entries(target.provider_id, messages, text)
        if entries:
            stored = await self.store.put(entries)
            metadata = data.get("metadata")
            if isinstance(metadata, dict) and isinstance(metadata.get("ccendpoint"), dict):
                metadata["ccendpoint"]["reasoning_stored"] = stored

    async def async_post_call_streaming_iterator_hook(
        self, user_api_key_dict: Any, response: Any, request_data: dict[str, Any]
    ) -> AsyncIterator[Any]:
        target = self._replays(request_data)
        if target is None:
            async for chunk in response:
                yield chunk
            return
        watch = AnswerWatch(new_reasoning_id())
        async for chunk in response:
            watch.chunk(chunk)
            yield chunk
        await self._remember(target, request_data, watch)

    async def async_post_call_success_hook(self, data: dict[str, Any], user_api_key_dict: Any, response: Any) -> Any:
        target = self._replays(data)
        if target is None or data.get("stream") is True:
            return response
        watch = AnswerWatch(new_reasoning_id())
        watch.whole(response)
        await self._remember(target, data, watch)
        return response


#: The instance LiteLLM loads from ``litellm_settings.callbacks``.
callback = CcendpointCallback()
