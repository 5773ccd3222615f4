"""Compare the models a provider serves (its OpenAI-compatible ``GET /models``) with the catalog.

The comparison is pure (:func:`compare`); asking the provider (:func:`fetch_served`) is the edge.
The key is sent in the Authorization header only, to the URL the caller chose (the catalog's
endpoint or a ``--base-url`` the user typed); redirects are not followed, so it goes nowhere else.
"""

from __future__ import annotations

import asyncio
import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

from ccendpoint.catalog.model import Model, Provider
from ccendpoint.provider_errors import AUTH_STATUSES, message_of_text
from ccendpoint.redact import scrub
from ccendpoint.urls import hostname

#: The chat path a catalog endpoint ends with; ``/models`` sits beside it.
CHAT_PATH = "/chat/completions"
#: A served list larger than this is not a model list.
MAX_BODY = 4 * 1024 * 1024

FailureKind = Literal["no-key", "auth", "network", "http", "format", "usage"]


@dataclass(frozen=True)
class Drift:
    """What differs between the catalog and what one provider serves."""

    provider: str
    unknown: tuple[str, ...] = ()  # served, not in the catalog
    gone: tuple[str, ...] = ()  # current in the catalog, not served
    deprecated_but_served: tuple[str, ...] = ()  # marked deprecated in the catalog, still served
    served: int = 0

    @property
    def drifted(self) -> bool:
        return bool(self.unknown or self.gone or self.deprecated_but_served)

    def as_dict(self) -> dict[str, Any]:
        return {
            "unknown": list(self.unknown),
            "gone": list(self.gone),
            "deprecated_but_served": list(self.deprecated_but_served),
        }


@dataclass
class DriftFailure(Exception):
    """The provider could not be asked: why, in words a user can act on."""

    kind: FailureKind
    message: str
    hint: str = ""
    status: int | None = None

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Served:
    ids: tuple[str, ...]
    url: str
    extra: Mapping[str, Any] = field(default_factory=dict)


def models_url(base: str) -> str:
    """``GET`` URL of the model list: beside the chat path of a catalog endpoint, or under a base URL.

    ``https://api.x.test/v1/chat/completions`` and ``https://api.x.test/v1`` both give
    ``https://api.x.test/v1/models``; a URL that already ends in ``/models`` is kept.
    """
    parts = urlsplit(base.strip())
    path = parts.path.rstrip("/")
    if path.endswith(CHAT_PATH):
        path = path[: -len(CHAT_PATH)]
    if not path.endswith("/models"):
        path += "/models"
    return urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def served_ids(body: Any) -> list[str]:
    """Model ids from an OpenAI-style list (``{"data": [{"id": ...}]}``); a bare list is accepted too."""
    items = body.get("data") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise DriftFailure("format", "the answer is not a model list (no 'data' array)")
    ids = []
    for item in items:
        value = item.get("id") if isinstance(item, dict) else item
        if isinstance(value, str) and value.strip():
            ids.append(value.strip())
    return ids


def _matches(model_id: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(model_id.lower(), pattern.lower()) for pattern in patterns)


def compare(provider: Provider, served: Iterable[str]) -> Drift:
    """The three lists, each sorted. Ids match exactly, or else ignoring case (``minimax-m3``)."""
    served_list = list(dict.fromkeys(served))
    by_lower = {model_id.lower(): model_id for model_id in served_list}
    known = {m.id.lower() for m in provider.models}
    unknown = [
        model_id
        for model_id in served_list
        if model_id.lower() not in known
        and (not provider.discovery_include or _matches(model_id, provider.discovery_include))
        and not _matches(model_id, provider.discovery_exclude)
    ]
    gone = [m.id for m in provider.models if not m.deprecated and m.id.lower() not in by_lower]
    still = [m.id for m in provider.models if m.deprecated and m.id.lower() in by_lower]
    return Drift(
        provider=provider.id,
        unknown=tuple(sorted(unknown)),
        gone=tuple(sorted(gone)),
        deprecated_but_served=tuple(sorted(still)),
        served=len(served_list),
    )


async def _get(url: str, key: str, timeout: float) -> tuple[int, bytes, str]:
    import aiohttp  # start-up: loaded only when a check goes to the network

    client_timeout = aiohttp.ClientTimeout(total=timeout, connect=min(10.0, timeout))
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    async with (
        aiohttp.ClientSession(timeout=client_timeout) as session,
        session.get(url, headers=headers, allow_redirects=False) as response,
    ):
        body = await response.content.read(MAX_BODY + 1)
        return response.status, body, response.headers.get("Location", "")


def fetch_served(url: str, key: str, *, timeout: float = 30.0) -> Served:
    """Ask ``url`` for its model list with ``key``; :class:`DriftFailure` says why it could not."""
    import aiohttp  # start-up: loaded only when a check goes to the network

    host = hostname(url) or url
    try:
        status, body, location = asyncio.run(_get(url, key, timeout))
    except aiohttp.ClientConnectorError as exc:
        raise DriftFailure(
            "network", f"cannot connect to {host}: {scrub(str(exc.os_error or exc))}", "Check the network and the URL."
        ) from None
    except asyncio.TimeoutError:
        raise DriftFailure(
            "network", f"{host} did not answer within {timeout:g} s", "Try again, or raise --timeout."
        ) from None
    except aiohttp.ClientError as exc:
        raise DriftFailure("network", f"the request to {host} failed: {type(exc).__name__}") from None
    if 300 <= status < 400:
        where = hostname(location) or "another address"
        raise DriftFailure(
            "http",
            f"{host} redirected to {where}; the key is not sent on",
            "Give the final address with --base-url if you trust it.",
            status,
        )
    text = body[:MAX_BODY].decode("utf-8", "replace").replace(key, "<key>")
    if status in AUTH_STATUSES:
        raise DriftFailure(
            "auth",
            f"{host} refused the key: HTTP {status} ({AUTH_STATUSES[status]}): {scrub(message_of_text(text))}",
            "Check that the key belongs to this provider and region, and that the account is active.",
            status,
        )
    if status != 200:
        raise DriftFailure("http", f"{host} answered HTTP {status}: {scrub(message_of_text(text))}", "", status)
    if len(body) > MAX_BODY:
        raise DriftFailure("format", f"{host} sent more than {MAX_BODY // (1024 * 1024)} MiB; not a model list")
    try:
        data = json.loads(body)
    except ValueError:
        raise DriftFailure("format", f"{host} did not answer with JSON") from None
    return Served(ids=tuple(served_ids(data)), url=url)


#: Fields a discovered model has no facts for: ``add --discover`` writes conservative values.
DISCOVERED_ASSUMED = ("vision", "tool_calling", "thinking", "context", "max_output")


def discovered_models(provider: Provider, ids: Iterable[str], url: str, day: str) -> tuple[Model, ...]:
    """Catalog entries for served ids the catalog does not know, with conservative defaults.

    No vision, no tool calling, no thinking and VS Code's default limits: whatever the model can
    really do, these never make VS Code send something it may reject. Marked by name and ``assumed``.
    """
    return tuple(
        Model(
            id=model_id,
            name=f"{model_id} (discovered)",
            vision=False,
            tool_calling=False,
            thinking="none",
            facts_date=day,
            rules=provider.default_rules,
            source=f"served by {url} on {day}; not in the catalog",
            assumed=DISCOVERED_ASSUMED,
            notes=("Discovered with `add --discover`: capabilities and limits are conservative guesses.",),
        )
        for model_id in ids
    )
