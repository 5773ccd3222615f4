"""Checks over the parsed ``chatLanguageModels.json`` (pure: plain data in, findings out)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ccendpoint.catalog.lookup import close_matches
from ccendpoint.catalog.model import Catalog, Model, Provider
from ccendpoint.doctor.findings import Finding, error, ok, warning
from ccendpoint.redact import hint, is_secret_name, is_secret_reference
from ccendpoint.urls import hostname, is_loopback, port_of
from ccendpoint.vscode.blocks import render_model
from ccendpoint.vscode.facts import MANAGE_MODELS, OPEN_MODELS_JSON, UPDATE_API_KEY, VENDOR
from ccendpoint.vscode.validate import validate

SET_KEY = f"Command Palette → {MANAGE_MODELS} → right-click the group → {UPDATE_API_KEY}"


def groups_of(document: Any) -> list[dict[str, Any]]:
    return [g for g in document if isinstance(g, dict)] if isinstance(document, list) else []


def custom_groups(document: Any) -> list[dict[str, Any]]:
    return [g for g in groups_of(document) if g.get("vendor") == VENDOR]


def models_of(group: Mapping[str, Any]) -> list[dict[str, Any]]:
    models = group.get("models")
    return [m for m in models if isinstance(m, dict)] if isinstance(models, list) else []


def _label(group: Mapping[str, Any]) -> str:
    return f"group '{group.get('name', '?')}' ({group.get('vendor', '?')})"


# -- structure --------------------------------------------------------------------------------


def check_structure(document: Any) -> list[Finding]:
    """The schema and the rules it cannot express (duplicates, built-in ids), plus what VS Code ignores."""
    if not isinstance(document, list):
        return [
            error(
                "file.shape",
                f"The top level is a {type(document).__name__}, not a list of groups.",
                "VS Code only reads a JSON array of provider groups; anything else is silently ignored.",
                "Wrap the groups in [ … ], or move the file away and run `ccendpoint add PROVIDER` to start fresh.",
            )
        ]
    findings = [
        error(
            "file.schema",
            str(problem),
            "VS Code skips or misreads entries that break its schema (models missing, 502 errors).",
            f"Fix it in VS Code (Command Palette → {OPEN_MODELS_JSON}), or re-run "
            "`ccendpoint add PROVIDER --force` for a group ccendpoint wrote.",
        )
        for problem in validate(document)
    ]
    for group in groups_of(document):
        if group.get("vendor") == "customoai":
            findings.append(
                warning(
                    "groups.customoai",
                    f"{_label(group)} uses the deprecated OpenAI Compatible provider.",
                    "customoai is deprecated in favour of Custom Endpoint and only offered in Insiders.",
                    "Run `ccendpoint add PROVIDER` to write a customendpoint group, then delete the old one.",
                )
            )
        if group.get("vendor") == VENDOR:
            findings += _ignored_request_body(group)
        if group.get("vendor") == VENDOR and "url" in group:
            findings.append(
                warning(
                    "groups.group-url",
                    f"{_label(group)} has a group-level url.",
                    "With a group url VS Code tries to discover models from <url>/models and ignores the models list.",
                    "Remove the group-level url; each model carries its own url.",
                )
            )
    return findings or [ok("groups", f"{len(custom_groups(document))} Custom Endpoint group(s), structure fine.")]


def _ignored_request_body(group: Mapping[str, Any]) -> Iterator[Finding]:
    """VS Code has no ``requestBody``: whatever a model entry puts there never reaches the provider."""
    with_body = [str(m.get("id", "?")) for m in models_of(group) if "requestBody" in m]
    if with_body:
        yield warning(
            "groups.request-body",
            f"{_label(group)}: requestBody on {', '.join(with_body)} is ignored by VS Code.",
            "VS Code 1.139 reads no requestBody; those fields never reach the provider.",
            "Run `ccendpoint add PROVIDER` for a catalog provider (it removes requestBody; the proxy adds "
            "what the model needs); elsewhere use modelOptions for temperature and top_p, or delete it.",
        )


# -- keys ------------------------------------------------------------------------------------


def _auth_header(model: Mapping[str, Any]) -> tuple[str, str] | None:
    headers = model.get("requestHeaders")
    if not isinstance(headers, dict):
        return None
    for name, value in headers.items():
        if is_secret_name(str(name)) and isinstance(value, str):
            return str(name), value
    return None


def check_keys(document: Any) -> list[Finding]:
    findings: list[Finding] = []
    for group in custom_groups(document):
        label = _label(group)
        key = group.get("apiKey")
        if isinstance(key, str) and key and not is_secret_reference(key):
            findings.append(
                error(
                    "keys.plaintext",
                    f"{label}: apiKey holds a literal value ({hint(key)}).",
                    "VS Code reads apiKey as a secret-storage reference; a pasted key is not used, and it sits "
                    "in plain text on disk.",
                    f"Delete the apiKey line, then set the key with {SET_KEY}.",
                )
            )
        for model in models_of(group):
            header = _auth_header(model)
            if header and "${apiKey}" not in header[1]:
                findings.append(
                    warning(
                        "keys.header-plaintext",
                        f"{label}: model '{model.get('id')}' has the key written in requestHeaders.{header[0]} "
                        f"({hint(header[1])}).",
                        "The key is stored in plain text in the file.",
                        f'Use "{header[0]}": "Bearer ${{apiKey}}" and set the key with {SET_KEY}.',
                    )
                )
        direct = [m for m in models_of(group) if isinstance(m.get("url"), str) and not is_loopback(m["url"])]
        has_key = isinstance(key, str) and bool(key)
        if direct and not has_key and not any(_auth_header(m) for m in direct):
            findings.append(
                warning(
                    "keys.missing",
                    f"{label}: no API key is set, and {len(direct)} model(s) call the provider directly.",
                    "VS Code sends an empty Bearer token; the provider answers 401.",
                    f"Set the key with {SET_KEY}.",
                )
            )
    return findings or [ok("keys", "No key problems found in the file.")]


# -- catalog ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    provider: Provider
    model: Model | None  # None: the group belongs to the provider but the catalog lacks this id
    mode: str  # "proxy" or "direct"


def _provider_for_url(catalog: Catalog, url: str) -> tuple[Provider, str] | None:
    for provider in catalog.providers:
        if is_loopback(url):
            if provider.proxy_port is not None and port_of(url) == provider.proxy_port:
                return provider, "proxy"
            continue
        for endpoint in provider.endpoints.values():
            if url.rstrip("/") == endpoint.url or hostname(url) == hostname(endpoint.url):
                return provider, "direct"
    return None


def match_model(catalog: Catalog, group: Mapping[str, Any], model: Mapping[str, Any]) -> Match | None:
    """Which catalog provider and model a config entry is, judged by its URL, group name and id."""
    url = model.get("url") if isinstance(model.get("url"), str) else ""
    by_url = _provider_for_url(catalog, str(url))
    model_id = str(model.get("id", ""))
    candidates = [by_url[0]] if by_url else []
    candidates += [p for p in catalog.providers if p.group_name == group.get("name") and p not in candidates]
    candidates += [p for p in catalog.providers if p.model(model_id) and p not in candidates]
    for provider in candidates:
        found = provider.model(model_id)
        if found or (by_url and provider is by_url[0]) or provider.group_name == group.get("name"):
            mode = by_url[1] if by_url and by_url[0] is provider else ("proxy" if is_loopback(str(url)) else "direct")
            return Match(provider, found, mode)
    return None


def check_catalog(document: Any, catalog: Catalog) -> list[Finding]:
    findings: list[Finding] = []
    for group in custom_groups(document):
        label = _label(group)
        for entry in models_of(group):
            match = match_model(catalog, group, entry)
            if match is None:
                continue
            findings += _compare(label, entry, match)
    return findings or [ok("catalog", "Every model the catalog knows matches it.")]


#: Model-entry fields that decide what VS Code sends, compared with what ``add`` writes.
VSCODE_FIELDS = ("modelOptions", "thinking", "supportsReasoningEffort", "reasoningEffortFormat")


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _fields_text(entry: Mapping[str, Any], keys: list[str]) -> str:
    return ", ".join(f"{key} {_json(entry[key])}" if key in entry else f"no {key}" for key in keys)


def _compare(label: str, entry: Mapping[str, Any], match: Match) -> Iterator[Finding]:
    provider, model, mode = match.provider, match.model, match.mode
    model_id = str(entry.get("id", ""))
    if model is None:
        guesses = close_matches(model_id, [m.id for m in provider.models])
        hint = f" Did you mean {', '.join(guesses)}?" if guesses else ""
        yield warning(
            "catalog.unknown-model",
            f"{label}: '{model_id}' is not a {provider.group_name} model in the catalog.{hint}",
            "The provider rejects unknown ids, and the proxy applies only its default rules to them.",
            f"Check the id with `ccendpoint list {provider.id} --all`, or describe the model in a catalog overlay.",
        )
        return
    if model.deprecated:
        yield warning(
            "catalog.deprecated",
            f"{label}: '{model.id}' is deprecated"
            + (f" (end of life {model.end_of_life})." if model.end_of_life else "."),
            "The provider has retired or will retire it; requests fail or are silently rerouted.",
            f"Run `ccendpoint add {provider.id} --models {model.replacement}` and remove the old entry.",
        )
    rendered = render_model(model, str(entry.get("url", "")))
    missing = [key for key in VSCODE_FIELDS if key in rendered and rendered[key] != entry.get(key)]
    if missing:
        yield warning(
            "catalog.vscode-fields",
            f"{label}: '{model.id}' has {_fields_text(entry, missing)}; ccendpoint writes "
            + ", ".join(f"{key} {_json(rendered[key])}" for key in missing)
            + ".",
            "These decide what VS Code sends: without them the provider may refuse the sampling values, "
            "or the Thinking Effort menu is missing.",
            f"Run `ccendpoint add {provider.id}` (add --force keeps nothing of an entry you edited).",
        )
    facts = {"maxOutputTokens": model.max_output, "maxInputTokens": model.context, "contextWindow": model.context}
    for key, fact in facts.items():
        actual, expected = entry.get(key), rendered.get(key) if fact is not None else None
        if expected is not None and actual is not None and actual != expected:
            yield warning(
                "catalog.limits",
                f"{label}: '{model.id}' has {key} {actual}; the catalog says {expected}.",
                "Wrong limits make VS Code cut the context too early or ask for more output than allowed.",
                f"Run `ccendpoint add {provider.id} --models {model.id} --force` to take the catalog's value, "
                "or keep yours if you set it on purpose.",
            )
    url = str(entry.get("url", ""))
    known = {e.url for e in provider.endpoints.values()}
    if mode == "direct" and url and url.rstrip("/") not in known:
        yield warning(
            "catalog.url",
            f"{label}: '{model.id}' calls {url}, which is not one of {provider.group_name}'s endpoints.",
            "A wrong host or path gives 404 or 401 errors.",
            f"Known endpoints: {', '.join(sorted(known))}. Re-run `ccendpoint add {provider.id} --region REGION`.",
        )
    use_proxy = f"Run `ccendpoint add {provider.id} --mode proxy`, then `ccendpoint proxy {provider.id}`."
    if mode == "direct" and provider.proxy_mode in ("required", "recommended"):
        required = provider.proxy_mode == "required"
        yield Finding(
            "error" if required else "warning",
            f"catalog.proxy-{provider.proxy_mode}",
            f"{label}: '{model.id}' calls {provider.group_name} directly"
            + (", but it needs the proxy." if required else "; the proxy is recommended."),
            provider.proxy_why,
            use_proxy,
        )
    elif mode == "direct" and model.request_body:
        fields = ", ".join(model.request_body)
        yield warning(
            "catalog.body-fields",
            f"{label}: '{model.id}' needs {fields} in every request, which VS Code cannot send.",
            "Released VS Code ignores requestBody; only the proxy adds these fields.",
            use_proxy,
        )
