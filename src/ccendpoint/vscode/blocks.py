"""Catalog provider → the VS Code ``customendpoint`` group that ``add`` writes (pure).

Only what VS Code 1.139 reads is written. ``modelOptions`` (temperature and top_p; ``null`` leaves
the field out) is how locked sampling reaches the provider; ``thinking`` marks a reasoning model
(VS Code then drops temperature and sends ``max_completion_tokens``); ``supportsReasoningEffort``
with ``reasoningEffortFormat: chat-completions`` gives the Thinking Effort menu and a top-level
``reasoning_effort``. VS Code has no ``requestBody``: the body fields a model needs beyond these
come from the proxy, and a ``requestBody`` written by older versions is removed on the next ``add``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ccendpoint.catalog.lookup import find_model
from ccendpoint.catalog.model import Model, Provider
from ccendpoint.errors import UsageError
from ccendpoint.urls import proxy_url as local_proxy_url
from ccendpoint.vscode.facts import API_TYPE, EFFORT_FORMAT, FALLBACK_MAX_INPUT, FALLBACK_MAX_OUTPUT, VENDOR

Mode = Literal["proxy", "direct"]

#: Every field of a model entry that ccendpoint writes. When ``add`` replaces an entry, these are
#: replaced; any other field in it is the user's and carried over (``requestHeaders`` too, except in a
#: group written for a team gateway: :mod:`ccendpoint.vscode.ownership`).
MANAGED_KEYS = frozenset(
    {
        "id",
        "name",
        "url",
        "toolCalling",
        "vision",
        "streaming",
        "maxInputTokens",
        "maxOutputTokens",
        "contextWindow",
        "thinking",
        "supportsReasoningEffort",
        "reasoningEffortFormat",
        "modelOptions",
        # written by older versions, never now: listed so that `add` takes it out again
        "requestBody",
    }
)
PORT_RANGE = range(1, 65536)


@dataclass(frozen=True)
class GroupOptions:
    mode: Mode | None = None  # None: the catalog's recommendation
    region: str | None = None
    port: int | None = None
    group_name: str | None = None
    model_ids: Sequence[str] | None = None  # None: the provider's current models
    include_deprecated: bool = False
    force: bool = False  # allow direct mode for a provider that requires the proxy


def default_mode(provider: Provider) -> Mode:
    if provider.proxy_mode in ("required", "recommended") and provider.proxy_port is not None:
        return "proxy"
    return "direct"


def check_options(provider: Provider, options: GroupOptions) -> None:
    """Refuse a port, region or group name that cannot work, whatever the mode."""
    if options.port is not None and options.port not in PORT_RANGE:
        default = f" for the catalog's ({provider.proxy_port})" if provider.proxy_port is not None else ""
        raise UsageError(
            f"--port {options.port} is not a TCP port.",
            hint=f"Give a port from 1 to 65535, or leave --port out{default}.",
        )
    if options.region is not None and options.region not in provider.endpoints:
        regions = ", ".join(provider.endpoints)
        raise UsageError(
            f"Unknown region '{options.region}' for {provider.group_name}.",
            hint=f"Known regions: {regions}.",
        )
    if options.group_name is not None and not options.group_name.strip():
        raise UsageError(
            "--group is empty.",
            hint=f"Give the group a name, e.g. --group '{provider.group_name} EU', or leave --group out.",
        )


def proxy_port(provider: Provider, options: GroupOptions) -> int | None:
    """The port the proxy listens on: ``--port`` when given, else the catalog's."""
    return options.port if options.port is not None else provider.proxy_port


def resolve_mode(provider: Provider, options: GroupOptions) -> Mode:
    check_options(provider, options)
    port = proxy_port(provider, options)
    mode = options.mode
    if mode is None:
        if provider.proxy_mode == "required" and port is None:
            raise UsageError(
                f"{provider.group_name} needs the proxy, but the catalog gives it no proxy port.",
                hint="Pass --port PORT for the proxy, or --mode direct --force to write direct URLs anyway.",
            )
        mode = "proxy" if provider.proxy_mode in ("required", "recommended") and port is not None else "direct"
    if mode == "proxy" and port is None:
        raise UsageError(
            f"{provider.group_name} has no proxy port in the catalog.",
            hint="Pass --port PORT, or use --mode direct.",
        )
    if mode == "direct" and provider.proxy_mode == "required" and not options.force:
        raise UsageError(
            f"{provider.group_name} needs the proxy: {provider.proxy_why}",
            hint="Use --mode proxy (the default), or add --force to write direct URLs anyway.",
        )
    return mode


def direct_mode_warning(provider: Provider) -> str | None:
    """What breaks when a proxy-required provider is configured without the proxy."""
    if provider.proxy_mode != "required":
        return None
    return f"Direct mode for {provider.group_name}: requests will fail upstream. {provider.proxy_why}"


def model_url(provider: Provider, mode: Mode, options: GroupOptions) -> str:
    check_options(provider, options)
    if mode == "proxy":
        return local_proxy_url(proxy_port(provider, options))
    return provider.endpoint(options.region).url


def select_models(provider: Provider, options: GroupOptions) -> list[Model]:
    if options.model_ids:
        chosen: list[Model] = []
        for model_id in options.model_ids:
            model = find_model(provider, model_id)
            if model not in chosen:
                chosen.append(model)
        return chosen
    if options.include_deprecated:
        return list(provider.models)
    return list(provider.current_models())


def render_model(model: Model, url: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "id": model.id,
        "name": model.name,
        "url": url,
        "toolCalling": model.tool_calling,
        "vision": model.vision,
        "streaming": model.streaming,
        **token_limits(model),
    }
    thinking = model.vscode_thinking
    if model.reasoning_effort and thinking is None:
        thinking = True  # VS Code shows the Thinking Effort menu for thinking models only
    if thinking is not None:
        entry["thinking"] = thinking
    if model.reasoning_effort:
        entry["supportsReasoningEffort"] = list(model.reasoning_effort)
        entry["reasoningEffortFormat"] = EFFORT_FORMAT
    if model.model_options:
        entry["modelOptions"] = dict(model.model_options)
    return entry


def token_limits(model: Model) -> dict[str, int]:
    """Prompt and output budgets that fit together in the model's context window.

    ``maxInputTokens`` is VS Code's prompt budget, so it leaves room for the answer;
    ``contextWindow`` states the whole window for VS Code builds that derive the budget themselves.
    """
    max_output = model.max_output or FALLBACK_MAX_OUTPUT
    if model.context is None:
        return {"maxInputTokens": FALLBACK_MAX_INPUT, "maxOutputTokens": max_output}
    max_input = model.context - max_output if model.context > 2 * max_output else model.context // 2
    return {"maxInputTokens": max_input, "maxOutputTokens": max_output, "contextWindow": model.context}


def render_group(provider: Provider, options: GroupOptions | None = None) -> dict[str, Any]:
    """The group for ``chatLanguageModels.json``; never carries an ``apiKey``."""
    options = options or GroupOptions()
    mode = resolve_mode(provider, options)
    url = model_url(provider, mode, options)
    return {
        "name": provider.group_name if options.group_name is None else options.group_name,
        "vendor": VENDOR,
        "apiType": API_TYPE,
        "models": [render_model(model, url) for model in select_models(provider, options)],
    }


def fallback_limits(model: Model) -> list[str]:
    """Which limits of ``model`` are VS Code's wizard defaults rather than catalog facts."""
    missing = []
    if model.context is None:
        missing.append(f"maxInputTokens={FALLBACK_MAX_INPUT}")
    if model.max_output is None:
        missing.append(f"maxOutputTokens={FALLBACK_MAX_OUTPUT}")
    return missing
