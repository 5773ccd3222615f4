"""``doctor --live``: three real requests per model, shaped like VS Code's, through the configured URL.

1. a plain chat (no stream);
2. a streamed chat, checking that chunks arrive spread over time rather than all at once;
3. a tool call and the follow-up turn that carries the tool result, with the assistant's
   reasoning dropped from the history as VS Code does.

Authentication and quota errors (401, 402, 403, 429) are told apart from contract errors (400):
the first mean the key or the account, the second mean the request shape (what the proxy fixes).
The key comes from the environment and is only ever put in the Authorization header, and only
sent to one of the provider's catalog endpoints or to a local port where ccendpoint's proxy for
that provider answers: a config entry pointing elsewhere is skipped, so a key never reaches a
host the user did not choose.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from ccendpoint.catalog.model import Catalog, Provider
from ccendpoint.doctor.config_checks import custom_groups, match_model, models_of
from ccendpoint.doctor.findings import Finding, error, ok, warning
from ccendpoint.provider_errors import AUTH_STATUSES, message_of_text
from ccendpoint.proxy.probe import Probe, http_probe
from ccendpoint.urls import hostname, is_loopback, port_of
from ccendpoint.vscode.facts import MANAGE_MODELS, UPDATE_API_KEY
from ccendpoint.vscode.requests import body_fields, chosen_effort

TOOL = {
    "type": "function",
    "function": {
        "name": "get_current_time",
        "description": "Returns the current time in ISO 8601.",
        "parameters": {"type": "object", "properties": {}},
    },
}


@dataclass(frozen=True)
class Target:
    provider: Provider
    model_id: str
    url: str
    group: str
    #: The model entry as the file has it, and the Thinking Effort picked for it (VS Code's body follows both).
    entry: Mapping[str, Any] = field(default_factory=dict)
    effort: str | None = None


@dataclass
class Outcome:
    name: str
    passed: bool
    detail: str
    status: int | None = None


def targets(document: Any, catalog: Catalog, only: Sequence[str] = ()) -> list[Target]:
    """Every Custom Endpoint model of the config that belongs to a catalog provider."""
    found: list[Target] = []
    for group in custom_groups(document):
        for entry in models_of(group):
            match = match_model(catalog, group, entry)
            model_id, url = entry.get("id"), entry.get("url")
            if match is None or not isinstance(model_id, str) or not isinstance(url, str):
                continue
            if only and model_id not in only and match.provider.id not in only:
                continue
            effort = chosen_effort(group, model_id)
            found.append(Target(match.provider, model_id, url, str(group.get("name")), dict(entry), effort))
    return found


def _origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of a URL, the port filled in from the scheme."""
    try:
        return urlsplit(url).scheme.lower(), hostname(url), port_of(url)
    except ValueError:
        return "", "", None


def key_destination_problem(target: Target, probe: Callable[[str, int], Probe] | None = None) -> str | None:
    """Why the key must not be sent to ``target.url`` (None when it may).

    Allowed: exactly one of the provider's catalog endpoints (scheme, host and port), or a loopback
    port where ccendpoint's proxy for this provider answers on the very address the URL names.
    """
    scheme, host, port = _origin(target.url)
    if (scheme, host, port) in {_origin(e.url) for e in target.provider.endpoints.values()}:
        return None
    if is_loopback(target.url) and scheme == "http" and port is not None:
        ask = probe or (lambda address, number: http_probe(number, host=address))
        answer = ask(f"[{host}]" if ":" in host else host, port)
        if answer.state == "ccendpoint" and answer.health.get("provider") == target.provider.id:
            return None
        if answer.state == "closed":
            return f"nothing listens on {host}:{port}; start `ccendpoint proxy {target.provider.id}` first"
        return f"port {port} is not ccendpoint's proxy for {target.provider.id}"
    return f"{target.url!r} is not one of {target.provider.group_name}'s endpoints"


def api_key(provider: Provider, environ: Mapping[str, str]) -> tuple[str | None, str | None]:
    """(key, variable name) from the first of the provider's variables that is set."""
    for name in provider.key_env:
        value = environ.get(name, "").strip()
        if value:
            return value, name
    return None, None


def vscode_body(target: Target, messages: list[dict[str, Any]], *, stream: bool, tools: bool) -> dict[str, Any]:
    """The body VS Code would send for this model entry (see :mod:`ccendpoint.vscode.requests`)."""
    body: dict[str, Any] = {"model": target.model_id, "messages": messages, "n": 1}
    body.update(body_fields(target.entry, target.effort))
    body["stream"] = stream
    if stream:
        body["stream_options"] = {"include_usage": True}
    if tools:
        body["tools"] = [TOOL]
    return body


def _failure(name: str, status: int, text: str) -> Outcome:
    kind = AUTH_STATUSES.get(status, "contract" if status == 400 else "upstream")
    return Outcome(name, False, f"HTTP {status} ({kind}): {message_of_text(text)}", status)


async def _post(session: Any, target: Target, body: dict[str, Any], headers: Mapping[str, str]) -> tuple[int, str]:
    async with session.post(target.url, json=body, headers=headers) as response:
        return response.status, await response.text()


async def plain_chat(session: Any, target: Target, headers: Mapping[str, str]) -> Outcome:
    messages = [{"role": "user", "content": "Reply with the single word: pong"}]
    status, text = await _post(session, target, vscode_body(target, messages, stream=False, tools=False), headers)
    if status != 200:
        return _failure("chat", status, text)
    try:
        content = json.loads(text)["choices"][0]["message"].get("content")
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return Outcome("chat", False, "HTTP 200 but the answer is not a chat completion", status)
    return Outcome("chat", True, f"answered ({len(content or '')} characters)", status)


async def streamed_chat(session: Any, target: Target, headers: Mapping[str, str]) -> Outcome:
    messages = [{"role": "user", "content": "Count from 1 to 20, one number per line."}]
    body = vscode_body(target, messages, stream=True, tools=False)
    started = time.perf_counter()
    arrivals: list[float] = []
    async with session.post(target.url, json=body, headers=headers) as response:
        if response.status != 200:
            return _failure("stream", response.status, await response.text())
        async for chunk in response.content.iter_any():
            if chunk:
                arrivals.append(time.perf_counter() - started)
    return judge_stream(arrivals)


def judge_stream(arrivals: Sequence[float]) -> Outcome:
    """A real stream spreads its chunks out; a buffered one delivers them all in one burst at the end."""
    if not arrivals:
        return Outcome("stream", False, "the stream was empty")
    first, last = arrivals[0], arrivals[-1]
    spread = last - first
    if len(arrivals) >= 3 and spread < 0.05 and first > 1.0:
        return Outcome(
            "stream",
            False,
            f"{len(arrivals)} chunks all arrived within {spread * 1000:.0f} ms after {first:.1f} s: "
            "the answer is buffered, not streamed",
        )
    return Outcome(
        "stream", True, f"{len(arrivals)} chunks over {spread * 1000:.0f} ms, first after {first * 1000:.0f} ms"
    )


async def tool_round_trip(session: Any, target: Target, headers: Mapping[str, str]) -> Outcome:
    messages: list[dict[str, Any]] = [
        {"role": "user", "content": "What time is it? Use the get_current_time tool, then answer in one sentence."}
    ]
    status, text = await _post(session, target, vscode_body(target, messages, stream=False, tools=True), headers)
    if status != 200:
        return _failure("tools", status, text)
    try:
        message = json.loads(text)["choices"][0]["message"]
    except (ValueError, KeyError, IndexError, TypeError):
        return Outcome("tools", False, "HTTP 200 but the answer is not a chat completion", status)
    calls = message.get("tool_calls") or []
    if not calls:
        return Outcome("tools", False, "the model answered without calling the tool", status)
    # the follow-up as VS Code sends it: the tool call without its reasoning, then the tool result
    messages.append({"role": "assistant", "content": message.get("content") or "", "tool_calls": calls})
    messages += [{"role": "tool", "tool_call_id": c.get("id"), "content": "2026-11-25T10:00:00Z"} for c in calls]
    status, text = await _post(session, target, vscode_body(target, messages, stream=False, tools=True), headers)
    if status != 200:
        outcome = _failure("tools", status, text)
        outcome.detail = "the tool call worked, but the follow-up turn failed: " + outcome.detail
        return outcome
    return Outcome("tools", True, f"called {calls[0].get('function', {}).get('name')} and answered the follow-up", 200)


async def check_target(target: Target, key: str, timeout: float) -> list[Outcome]:
    import aiohttp  # start-up: loaded only when a check goes to the network

    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    client_timeout = aiohttp.ClientTimeout(total=timeout, connect=min(10.0, timeout))
    outcomes: list[Outcome] = []
    async with aiohttp.ClientSession(timeout=client_timeout) as session:
        for step in (plain_chat, streamed_chat, tool_round_trip):
            try:
                outcomes.append(await step(session, target, headers))
            except aiohttp.ClientConnectorError:
                where = "the local proxy" if is_loopback(target.url) else hostname(target.url)
                outcomes.append(Outcome(step.__name__, False, f"cannot connect to {where}"))
                break
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                outcomes.append(Outcome(step.__name__, False, f"request failed: {type(exc).__name__}"))
    return outcomes


def _fix(target: Target, outcomes: Sequence[Outcome]) -> str:
    statuses = {o.status for o in outcomes if not o.passed}
    if statuses & set(AUTH_STATUSES):
        return (
            f"Check the key and the account of {target.provider.group_name} (region, balance, plan); set the same key "
            f"in VS Code with {MANAGE_MODELS} → {UPDATE_API_KEY}."
        )
    if 400 in statuses and not is_loopback(target.url):
        pid = target.provider.id
        return f"Use the proxy: `ccendpoint add {pid} --mode proxy` and `ccendpoint proxy {pid}`."
    if any("cannot connect to the local proxy" in o.detail for o in outcomes):
        return f"Start the proxy: `ccendpoint proxy {target.provider.id}`."
    return f"See `ccendpoint show {target.provider.id}` (Troubleshooting)."


def run_live(
    document: Any,
    catalog: Catalog,
    *,
    only: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
    timeout: float = 120.0,
    destination_problem: Callable[[Target], str | None] = key_destination_problem,
) -> list[Finding]:
    env = os.environ if environ is None else environ
    findings: list[Finding] = []
    chosen = targets(document, catalog, only)
    if not chosen:
        return [warning("live.none", "No configured model to check live.", "", "Run `ccendpoint add PROVIDER` first.")]
    for target in chosen:
        label = f"{target.group}/{target.model_id}"
        key, variable = api_key(target.provider, env)
        if key is None:
            names = " or ".join(target.provider.key_env) or "the provider's key variable"
            findings.append(
                warning(
                    "live.no-key",
                    f"{label}: skipped, no key in the environment.",
                    "The live check sends real requests and needs the provider's key.",
                    f"Set {names} (export it in the shell that runs doctor).",
                )
            )
            continue
        problem = destination_problem(target)
        if problem is not None:
            findings.append(
                warning(
                    "live.untrusted-url",
                    f"{label}: skipped, the key is not sent there: {problem}.",
                    "The live check only sends your key to the provider's own endpoints or to ccendpoint's proxy.",
                    f"Point the model at the proxy or a catalog endpoint (`ccendpoint add {target.provider.id}`), "
                    "or start the proxy, then run the live check again.",
                )
            )
            continue
        outcomes = asyncio.run(check_target(target, key, timeout))
        summary = "; ".join(f"{o.name}: {'pass' if o.passed else 'FAIL'} — {o.detail}" for o in outcomes)
        summary = summary.replace(key, "<key>")
        if all(o.passed for o in outcomes):
            findings.append(ok("live.pass", f"{label} (key from {variable}): {summary}"))
        else:
            kinds = {AUTH_STATUSES.get(o.status or 0, "contract" if o.status == 400 else "other") for o in outcomes}
            findings.append(
                error(
                    "live.fail",
                    f"{label} (key from {variable}): {summary}",
                    "Authentication or quota errors point at the key or the account; contract errors (400) point at "
                    f"the request shape. Seen: {', '.join(sorted(kinds))}.",
                    _fix(target, outcomes),
                )
            )
    return findings
