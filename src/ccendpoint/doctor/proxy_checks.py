"""Is the local proxy each group points at running, and is it the right one? (pure; probing is injected)"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ccendpoint.catalog.export import proxy_env_names
from ccendpoint.catalog.model import Catalog, Provider
from ccendpoint.doctor.config_checks import custom_groups, match_model, models_of
from ccendpoint.doctor.findings import Finding, error, ok, warning
from ccendpoint.proxy.probe import Probe
from ccendpoint.service.manage import Status
from ccendpoint.urls import is_loopback, port_of


def check_proxies(
    document: Any, catalog: Catalog, probe: Callable[[int], Probe], service: Status | None = None
) -> list[Finding]:
    """Each local port the file's models use: is the right proxy there, and if not, what starts it.

    ``service`` is the proxy's login service as found, so a model whose proxy is neither running nor
    installed as a service gets ``ccendpoint service install`` as its fix.
    """
    users: dict[int, tuple[Provider | None, list[str]]] = {}  # port → (expected provider, "group/model" labels)
    for group in custom_groups(document):
        for entry in models_of(group):
            url = entry.get("url")
            if not isinstance(url, str) or not is_loopback(url):
                continue
            port = port_of(url)
            if port is None:
                continue
            match = match_model(catalog, group, entry)
            expected, labels = users.setdefault(port, (match.provider if match else None, []))
            labels.append(f"{group.get('name')}/{entry.get('id')}")
    findings: list[Finding] = []
    for port, (expected, labels) in sorted(users.items()):
        findings.append(_judge(port, expected, labels, probe(port), service))
    return findings or [ok("proxy", "No group points at a local proxy.")]


def _judge(
    port: int, provider: Provider | None, labels: list[str], result: Probe, service: Status | None = None
) -> Finding:
    used_by = f"{len(labels)} model(s): {', '.join(labels[:3])}" + ("…" if len(labels) > 3 else "")
    expected = provider.id if provider else None
    start = "the server these models expect"
    if provider is not None:
        start = f"ccendpoint proxy {provider.id}" + (f" --port {port}" if port != provider.proxy_port else "")
    if result.state == "closed":
        if provider is not None and service is not None and service.installed and service.served.serves(provider.id):
            return error(
                "proxy.service-down",
                f"Nothing listens on 127.0.0.1:{port}, used by {used_by}, though the login service serves "
                f"{provider.id} (it is {service.state}).",
                "VS Code gets 'connection refused' for these models.",
                "`ccendpoint service status` and `ccendpoint service logs` say why; `ccendpoint service install` "
                "starts it again.",
            )
        return error(
            "proxy.not-running",
            f"Nothing listens on 127.0.0.1:{port}, used by {used_by}.",
            "VS Code gets 'connection refused' for these models.",
            _start_fix(provider, port, start),
        )
    if result.state == "other":
        return error(
            "proxy.other-program",
            f"Port {port} is held by another program ({result.detail or 'not a ccendpoint proxy'}), used by {used_by}.",
            "Requests go to that program instead of the ccendpoint proxy.",
            f"Stop that program, or move the proxy: `ccendpoint proxy {expected or 'PROVIDER'} --port N` and "
            f"`ccendpoint add {expected or 'PROVIDER'} --port N` with a free port N.",
        )
    serving = str(result.health.get("provider", "?"))
    if expected and serving != expected:
        return error(
            "proxy.wrong-provider",
            f"The ccendpoint proxy on port {port} serves {serving}, but {used_by} expect {expected}.",
            "Requests would be rewritten with the wrong rules and sent to the wrong provider.",
            f"Stop it and run `ccendpoint proxy {expected}`, or point the models at the right port.",
        )
    upstream = result.health.get("upstream") or result.health.get("upstream_url") or "?"
    return ok("proxy.running", f"ccendpoint proxy for {serving} is running on port {port} (upstream {upstream}).")


def _start_fix(provider: Provider | None, port: int, start: str) -> str:
    if provider is None:
        return f"Start the server that should listen on port {port}, or fix the models' url."
    service = f"ccendpoint service install {provider.id}"
    if port == provider.proxy_port:
        return f"Run `{service}` so the proxy starts at every login (or `{start}` in a terminal you keep open)."
    variable = proxy_env_names(provider)["port"]
    return (
        f"Run `{start}` and keep it running while you use VS Code, or set {variable}={port} in the config "
        f"folder's .env and run `{service}`."
    )


def check_service(service: Status | None) -> list[Finding]:
    """The proxy's login service: still pointing at an installed ccendpoint, and not failed."""
    if service is None or not service.installed:
        return [ok("service", "The proxy login service is not installed.")]
    findings: list[Finding] = []
    if service.stale:
        findings.append(
            error(
                "service.stale",
                f"The proxy service runs {service.program}, which no longer exists.",
                "pipx reinstalls and Python upgrades move ccendpoint's environment; the service then cannot "
                "start, and the proxied models get 'connection refused' after the next restart.",
                "Run `ccendpoint service install` to point it at this ccendpoint.",
            )
        )
    elif service.other_program:
        findings.append(
            warning(
                "service.other-program",
                f"The proxy service runs {service.program}, not this ccendpoint ({service.current_program}).",
                "Two installations can differ in version and catalog.",
                "Run `ccendpoint service install` from the installation the service should use.",
            )
        )
    if service.state == "failed":
        findings.append(
            error(
                "service.failed",
                f"The proxy service failed ({service.detail}).",
                "The proxied models get 'connection refused' while it is down.",
                "`ccendpoint service logs` shows why; `ccendpoint service install` starts it again.",
            )
        )
    served = service.served.label()
    return findings or [ok("service", f"The proxy service ({service.system}) serves {served}: {service.state}.")]
