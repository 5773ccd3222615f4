"""Groups that call a team's LiteLLM gateway: recognised, and the gateway probed (pure; fetching is injected).

A gateway group (as ``add --gateway`` writes it) sends catalog models to one URL that is neither a
provider's endpoint nor ccendpoint's local proxy, with the group's key in ``requestHeaders`` as
``${apiKey}``. Its checks replace the provider-endpoint and local-proxy checks, which would call
such a group wrong: the gateway answers ``GET /health/liveliness`` without a key, and
``GET /v1/models`` lists the model names it serves. That list needs the gateway key, which lives
in VS Code's secret storage; doctor reads it from ``CCENDPOINT_GATEWAY_KEY`` and sends it to that
gateway only.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ccendpoint.catalog.model import Catalog
from ccendpoint.doctor.config_checks import custom_groups, models_of
from ccendpoint.doctor.findings import Finding, error, ok, warning
from ccendpoint.urls import CHAT_PATH, hostname, is_loopback, port_of, safe_url

#: The variable doctor reads the gateway key from (the key given to VS Code for the group).
KEY_ENV = "CCENDPOINT_GATEWAY_KEY"
KEY_TOKEN = "${apiKey}"
HEALTH_PATH = "/health/liveliness"
MODELS_PATH = "/v1/models"


@dataclass(frozen=True)
class Answer:
    """What a GET brought back: the status (None when nothing answered), the body, and why it failed."""

    status: int | None
    body: bytes = b""
    detail: str = ""


Fetch = Callable[[str, Mapping[str, str]], Answer]


@dataclass(frozen=True)
class GatewayGroup:
    name: str
    base: str  # the gateway's address, without the chat path
    model_ids: tuple[str, ...]


def _carries_key_reference(model: Mapping[str, Any]) -> bool:
    headers = model.get("requestHeaders")
    return isinstance(headers, dict) and any(isinstance(v, str) and KEY_TOKEN in v for v in headers.values())


def _is_provider_or_proxy(catalog: Catalog, url: str) -> bool:
    for provider in catalog.providers:
        if is_loopback(url) and provider.proxy_port is not None and port_of(url) == provider.proxy_port:
            return True
        if any(hostname(url) == hostname(endpoint.url) for endpoint in provider.endpoints.values()):
            return True
    return False


def gateway_of(group: Mapping[str, Any], catalog: Catalog) -> GatewayGroup | None:
    """The group as a gateway group, or None when it is not one."""
    models = models_of(group)
    urls = {m.get("url") for m in models}
    if not models or len(urls) != 1:
        return None
    url = next(iter(urls))
    if not isinstance(url, str) or not url.rstrip("/").endswith(CHAT_PATH) or _is_provider_or_proxy(catalog, url):
        return None
    ids = tuple(str(m.get("id", "")) for m in models)
    known = any(provider.model(model_id) for provider in catalog.providers for model_id in ids)
    if not known or not all(_carries_key_reference(m) for m in models):
        return None
    base = safe_url(url).rstrip("/")[: -len(CHAT_PATH)]
    return GatewayGroup(str(group.get("name", "?")), base, ids)


def gateway_groups(document: Any, catalog: Catalog) -> list[GatewayGroup]:
    found = (gateway_of(group, catalog) for group in custom_groups(document))
    return [group for group in found if group is not None]


def without_gateways(document: Any, catalog: Catalog) -> Any:
    """The document without its gateway groups, for the checks of provider endpoints and local proxies."""
    if not isinstance(document, list):
        return document
    return [g for g in document if not (isinstance(g, dict) and custom_groups([g]) and gateway_of(g, catalog))]


def http_fetch(url: str, headers: Mapping[str, str], timeout: float = 5.0) -> Answer:
    request = urllib.request.Request(url, headers={"Accept": "application/json", **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return Answer(response.status, response.read(1024 * 1024))
    except urllib.error.HTTPError as exc:
        return Answer(exc.code, exc.read(65536) if exc.fp is not None else b"")
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError) as exc:
        return Answer(None, detail=str(getattr(exc, "reason", exc)))


def _served(body: bytes) -> set[str] | None:
    try:
        data = json.loads(body)
    except ValueError:
        return None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return {str(item["id"]) for item in items if isinstance(item, dict) and "id" in item}


def check_gateway(gateway: GatewayGroup, fetch: Fetch, key: str | None) -> list[Finding]:
    label = f"group '{gateway.name}' (gateway {gateway.base})"
    health = fetch(gateway.base + HEALTH_PATH, {})
    if health.status is None:
        return [
            error(
                "gateway.unreachable",
                f"{label}: nothing answers ({health.detail or 'no connection'}).",
                "VS Code cannot reach the gateway, so every model of the group fails.",
                "Check the address and that LiteLLM runs (litellm --config config.yaml), or re-run "
                "`ccendpoint add PROVIDER --gateway URL` with the right URL.",
            )
        ]
    if health.status != 200:
        return [
            error(
                "gateway.health",
                f"{label}: {HEALTH_PATH} answers HTTP {health.status}.",
                "A LiteLLM gateway answers it with 200 while it runs; this may be another server.",
                "Check the URL and the gateway's log.",
            )
        ]
    findings = [ok("gateway.health", f"{label}: the gateway is up.")]
    answer = fetch(gateway.base + MODELS_PATH, {"Authorization": f"Bearer {key}"} if key else {})
    if answer.status in (401, 403):
        if key is None:
            findings.append(
                warning(
                    "gateway.models-unchecked",
                    f"{label}: the gateway's model list needs its key, so the models were not compared.",
                    "A model name the gateway does not serve fails in VS Code with 'Invalid model name'.",
                    f"Set {KEY_ENV} to the key you gave VS Code for this group and run doctor again.",
                )
            )
        else:
            findings.append(
                error(
                    "gateway.key",
                    f"{label}: the gateway refused the key in {KEY_ENV} (HTTP {answer.status}).",
                    "If VS Code has the same key, every request of the group fails with 401.",
                    "Ask the gateway's operator for a key, then set it in VS Code: Chat: Manage Language Models → "
                    "the group → Update API Key.",
                )
            )
        return findings
    served = _served(answer.body) if answer.status == 200 else None
    if served is None:
        findings.append(
            warning(
                "gateway.models-unchecked",
                f"{label}: {MODELS_PATH} did not answer with a model list (HTTP {answer.status}).",
                "The group's model names could not be compared with what the gateway serves.",
                "Check that the gateway is LiteLLM's proxy and look at its log.",
            )
        )
        return findings
    missing = [model_id for model_id in gateway.model_ids if model_id not in served]
    if missing:
        findings.append(
            error(
                "gateway.models-missing",
                f"{label}: the gateway does not serve {', '.join(missing)}.",
                "VS Code gets 'Invalid model name' for these models.",
                "Add them to the gateway's config (`ccendpoint export litellm PROVIDER`, then restart LiteLLM), "
                "or remove them from the group.",
            )
        )
    else:
        findings.append(ok("gateway.models", f"{label}: serves all {len(gateway.model_ids)} model(s) of the group."))
    return findings


def check_gateways(
    document: Any, catalog: Catalog, fetch: Fetch = http_fetch, environ: Mapping[str, str] | None = None
) -> list[Finding]:
    """Each gateway group's gateway: up, and serving the group's models (nothing when there is no such group)."""
    env = os.environ if environ is None else environ
    key = env.get(KEY_ENV, "").strip() or None
    findings: list[Finding] = []
    for gateway in gateway_groups(document, catalog):
        findings += check_gateway(gateway, fetch, key)
    return findings
