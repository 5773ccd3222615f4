"""Catalog providers → a LiteLLM proxy ``config.yaml`` with ccendpoint's callback registered (pure).

Each catalog model becomes one ``model_list`` entry: the model name is the catalog id (VS Code
keys some of its behaviour on the id, and the callback finds the model's rules by it), the
upstream is LiteLLM's OpenAI-compatible route (``openai/<id>``) with ``api_base`` the endpoint's
base URL (LiteLLM appends ``/chat/completions``), and the key is a reference to the catalog's
environment variable (``os.environ/KIMI_API_KEY``), never a key. The callback
(``ccendpoint.integrations.litellm.callback``) goes under ``litellm_settings.callbacks``, and the
gateway's own key under ``general_settings.master_key`` (LiteLLM refuses to start without one).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from ccendpoint.catalog.model import Model, Provider
from ccendpoint.errors import UsageError

#: Where LiteLLM finds the callback: ``module.attribute`` of an installed package.
CALLBACK = "ccendpoint.integrations.litellm.callback"
#: The variable that holds the gateway's master key (LiteLLM's own name for it).
MASTER_KEY_ENV = "LITELLM_MASTER_KEY"
#: The path every catalog endpoint ends with; LiteLLM's OpenAI route adds it back.
CHAT_SUFFIX = "/chat/completions"
#: LiteLLM's route for any OpenAI-compatible chat-completions API.
LITELLM_ROUTE = "openai"


@dataclass(frozen=True)
class ExportOptions:
    #: provider id → region (the catalog's default region when absent)
    regions: Mapping[str, str]
    include_deprecated: bool = False


def api_base(endpoint_url: str) -> str:
    """``https://api.moonshot.ai/v1/chat/completions`` → ``https://api.moonshot.ai/v1``."""
    if not endpoint_url.endswith(CHAT_SUFFIX):
        raise UsageError(
            f"The endpoint {endpoint_url} does not end with {CHAT_SUFFIX}, so it has no base URL for LiteLLM.",
            hint="Fix the endpoint's url in the catalog overlay that defines it (ccendpoint catalog status).",
        )
    return endpoint_url[: -len(CHAT_SUFFIX)]


def key_variable(provider: Provider) -> str:
    """The environment variable the gateway reads the provider's key from: the catalog's first."""
    if not provider.key_env:
        raise UsageError(
            f"{provider.group_name} has no api_key.env in the catalog, so the config cannot name its key.",
            hint=f"Add `api_key: {{env: [{provider.id.upper().replace('-', '_')}_API_KEY]}}` to the provider in a "
            "catalog overlay, or leave it out of the export.",
        )
    return provider.key_env[0]


def region_of(provider: Provider, options: ExportOptions) -> str:
    region = options.regions.get(provider.id, provider.default_region)
    if region not in provider.endpoints:
        raise UsageError(
            f"Unknown region '{region}' for {provider.group_name}.",
            hint=f"Known regions: {', '.join(provider.endpoints)} (`ccendpoint show {provider.id}`).",
        )
    return region


def model_entry(provider: Provider, model: Model, region: str) -> dict[str, Any]:
    """One ``model_list`` entry."""
    return {
        "model_name": model.id,
        "litellm_params": {
            "model": f"{LITELLM_ROUTE}/{model.id}",
            "api_base": api_base(provider.endpoint(region).url),
            "api_key": f"os.environ/{key_variable(provider)}",
        },
    }


def models_of(provider: Provider, options: ExportOptions) -> list[Model]:
    return list(provider.models if options.include_deprecated else provider.current_models())


def litellm_config(providers: Sequence[Provider], options: ExportOptions | None = None) -> dict[str, Any]:
    """The whole ``config.yaml`` as plain data."""
    options = options or ExportOptions(regions={})
    unknown = sorted(set(options.regions) - {p.id for p in providers})
    if unknown:
        raise UsageError(
            f"--region names {', '.join(unknown)}, which is not being exported.",
            hint="Give a region only for the providers you export, e.g. --region kimi=china.",
        )
    entries: list[dict[str, Any]] = []
    seen: dict[str, str] = {}
    for provider in providers:
        region = region_of(provider, options)
        for model in models_of(provider, options):
            if model.id in seen:
                raise UsageError(
                    f"The model id {model.id} belongs to both {seen[model.id]} and {provider.id}; "
                    "LiteLLM would route both to one of them.",
                    hint="Export the two providers into separate configs.",
                )
            seen[model.id] = provider.id
            entries.append(model_entry(provider, model, region))
    return {
        "model_list": entries,
        "litellm_settings": {"callbacks": [CALLBACK]},
        "general_settings": {"master_key": f"os.environ/{MASTER_KEY_ENV}"},
    }


def key_variables(providers: Sequence[Provider]) -> list[str]:
    """The variables the gateway needs set, in order: the master key, then each provider's key."""
    names = [MASTER_KEY_ENV]
    for provider in providers:
        name = key_variable(provider)
        if name not in names:
            names.append(name)
    return names


def render_yaml(config: Mapping[str, Any], providers: Sequence[Provider], version: str) -> str:
    """The config as YAML, with a header that says where it came from and what it needs."""
    variables = key_variables(providers)
    header = [
        f"# LiteLLM proxy config written by `ccendpoint export litellm` (ccendpoint {version}).",
        "# Every model's requests pass through ccendpoint's callback, which applies the catalog's rules",
        "# (locked sampling, body fields VS Code cannot send, reasoning replay). Keys come from the",
        "# environment, never from this file: " + ", ".join(variables) + ".",
        "# Start it: pip install 'ccendpoint[litellm]' && litellm --config config.yaml",
        "# Reasoning replay across several workers needs LiteLLM's Redis (see ccendpoint's docs/team.md).",
    ]
    body = yaml.safe_dump(dict(config), sort_keys=False, default_flow_style=False, allow_unicode=True)
    return "\n".join(header) + "\n" + body
