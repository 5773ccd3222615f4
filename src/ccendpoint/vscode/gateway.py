"""Catalog provider → the VS Code group that calls a team's LiteLLM gateway instead of the provider (pure).

The models are the ones ``add`` writes (:func:`ccendpoint.vscode.blocks.render_model`), with the
gateway's chat URL and the gateway's model names (``ccendpoint export litellm`` names each model
by its catalog id). The gateway's key stays in VS Code's secret storage: each model carries
``requestHeaders`` whose value holds the literal ``${apiKey}``, which VS Code replaces with the
group's key (set with "Update API Key"). VS Code's Custom Endpoint lets a model set
``Authorization`` and ``api-key`` this way; a header that would hold a key written out in the file
is refused.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from ccendpoint.catalog.model import Provider
from ccendpoint.errors import UsageError
from ccendpoint.redact import is_secret_name
from ccendpoint.urls import CHAT_PATH, is_loopback_host, safe_url
from ccendpoint.vscode.blocks import GroupOptions, check_options, render_model, select_models
from ccendpoint.vscode.facts import API_KEY_PLACEHOLDER, API_TYPE, VENDOR

KEY_TOKEN = API_KEY_PLACEHOLDER
#: The header LiteLLM reads its keys from, carrying the group's secret.
DEFAULT_HEADERS: Mapping[str, str] = {"Authorization": f"Bearer {KEY_TOKEN}"}
#: VS Code sends at most this many of a model's requestHeaders.
MAX_HEADERS = 20
MAX_NAME = 256
MAX_VALUE = 8192
#: Headers VS Code drops from requestHeaders (it sets them itself, or a browser forbids them).
DROPPED_HEADERS = frozenset(
    {
        "accept-charset",
        "accept-encoding",
        "connection",
        "content-length",
        "content-type",
        "cookie",
        "date",
        "forwarded",
        "host",
        "keep-alive",
        "openai-intent",
        "origin",
        "referer",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "via",
        "x-github-api-version",
        "x-initiator",
        "x-interaction-id",
        "x-interaction-type",
        "x-onbehalf-extension-id",
        "x-request-id",
        "x-vscode-user-agent-library-version",
    }
)
DROPPED_PREFIXES = ("proxy-", "sec-", "x-forwarded-")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
_BAD_VALUE = re.compile("[\x00-\x1f\x7f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
#: Suffixes a gateway URL may be given with; the model URL is always the base plus CHAT_PATH.
_CHAT_SUFFIXES = (CHAT_PATH, "/chat/completions", "/v1")


def gateway_chat_url(gateway_url: str, *, allow_plain_http: bool = False) -> str:
    """The chat URL VS Code calls: ``https://llm.example.com`` → ``https://llm.example.com/v1/chat/completions``."""
    text = gateway_url.strip()
    try:
        parts = urlsplit(text)
        host = parts.hostname or ""
        _ = parts.port
    except ValueError:
        parts, host = urlsplit(""), ""
    if parts.scheme not in ("http", "https") or not host:
        raise UsageError(
            f"--gateway {gateway_url!r} is not an http(s) URL.",
            hint="Give the gateway's address, e.g. --gateway https://llm.example.com.",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise UsageError(
            f"--gateway {safe_url(text)} carries a user, a query or a fragment.",
            hint="Give the bare address; the key goes in VS Code (Update API Key), not in the URL.",
        )
    if parts.scheme == "http" and not is_loopback_host(host) and not allow_plain_http:
        raise UsageError(
            f"--gateway {safe_url(text)} is plain http: the gateway key would cross the network in clear.",
            hint="Use the gateway's https address.",
        )
    path = parts.path.rstrip("/")
    for suffix in _CHAT_SUFFIXES:
        if path.endswith(suffix):
            path = path[: -len(suffix)]
            break
    return urlunsplit((parts.scheme, parts.netloc, path + CHAT_PATH, "", ""))


def check_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """The requestHeaders VS Code will send as given, with the key only ever as ``${apiKey}``."""
    if len(headers) > MAX_HEADERS:
        raise UsageError(f"{len(headers)} gateway headers; VS Code sends at most {MAX_HEADERS}.")
    seen: set[str] = set()
    for name, value in headers.items():
        lower = name.lower()
        if not _TOKEN.match(name) or len(name) > MAX_NAME:
            raise UsageError(f"--gateway-header {name!r}: not a header name.", hint="Example: Authorization.")
        if lower in seen:
            raise UsageError(f"--gateway-header {name} is given twice.", hint="Give each header once.")
        seen.add(lower)
        if lower in DROPPED_HEADERS or lower.startswith(DROPPED_PREFIXES):
            raise UsageError(
                f"--gateway-header {name}: VS Code never sends it from requestHeaders.",
                hint="Use Authorization or api-key for the key, or a header of the gateway's own (x-team: …).",
            )
        if len(value) > MAX_VALUE or _BAD_VALUE.search(value):
            raise UsageError(
                f"--gateway-header {name}: the value is longer than {MAX_VALUE} characters or has control characters."
            )
        if is_secret_name(name) and KEY_TOKEN not in value:
            raise UsageError(
                f"--gateway-header {name} would write a credential into chatLanguageModels.json in plain text.",
                hint=f"Write {KEY_TOKEN} where the key goes (e.g. {name}=Bearer {KEY_TOKEN}) and set the key in "
                "VS Code: Chat: Manage Language Models → the group → Update API Key.",
            )
    return dict(headers)


def render_gateway_group(
    provider: Provider,
    options: GroupOptions | None,
    gateway_url: str,
    headers: Mapping[str, str] | None = None,
    *,
    allow_plain_http: bool = False,
) -> dict[str, Any]:
    """The group for ``chatLanguageModels.json`` whose models call the gateway; never carries a key."""
    options = options or GroupOptions()
    for flag, given in (("--mode", options.mode), ("--port", options.port), ("--region", options.region)):
        if given is not None:
            raise UsageError(
                f"{flag} does not apply with --gateway: the gateway chooses the provider's endpoint.",
                hint=f"Leave {flag} out (set the region when exporting: ccendpoint export litellm --region).",
            )
    check_options(provider, options)
    url = gateway_chat_url(gateway_url, allow_plain_http=allow_plain_http)
    sent = check_headers(with_key(headers))
    models = []
    for model in select_models(provider, options):
        entry = render_model(model, url)
        if sent:
            entry["requestHeaders"] = dict(sent)
        models.append(entry)
    return {
        "name": provider.group_name if options.group_name is None else options.group_name,
        "vendor": VENDOR,
        "apiType": API_TYPE,
        "models": models,
    }


def with_key(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The headers to send: the default key header, unless one of ``headers`` carries the key itself."""
    if headers is None:
        return dict(DEFAULT_HEADERS)
    if any(KEY_TOKEN in value for value in headers.values()):
        return dict(headers)
    taken = {name.lower() for name in headers}
    return {**{k: v for k, v in DEFAULT_HEADERS.items() if k.lower() not in taken}, **headers}


def parse_header(text: str) -> tuple[str, str]:
    """``NAME=VALUE`` (as ``--gateway-header`` takes it) → (name, value)."""
    name, sep, value = text.partition("=")
    if not sep or not name.strip():
        raise UsageError(
            f"--gateway-header {text!r}: expected NAME=VALUE.",
            hint=f"Example: --gateway-header 'Authorization=Bearer {KEY_TOKEN}'.",
        )
    return name.strip(), value.strip()
