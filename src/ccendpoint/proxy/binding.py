"""Listening on a port: a clear error with a free port to use when binding fails."""

from __future__ import annotations

import errno
import ipaddress
import socket
from collections.abc import Collection

from ccendpoint.errors import CcendpointError
from ccendpoint.proxy.settings import ListenerSettings
from ccendpoint.proxy.sources import env_names

#: How many ports above a taken one are tried before asking the system for any free port.
PORT_PROBES = 100
#: Ports from here up need no administrator rights.
FIRST_USER_PORT = 1024


def free_port(host: str, start: int, avoid: Collection[int] = ()) -> int | None:
    """A port that can be listened on right now: the first free one from ``start`` up, else any.

    Each candidate is bound with a probe socket that is closed at once. Ports in ``avoid`` (the
    other listeners of this process) and ports that need administrator rights are skipped. None
    when not even the system finds one.
    """
    try:
        literal = ipaddress.ip_address(host.strip("[]"))
        address, family = str(literal), (socket.AF_INET6 if literal.version == 6 else socket.AF_INET)
    except ValueError:  # a host name: probe the loopback address
        address, family = "127.0.0.1", socket.AF_INET
    start = max(start, FIRST_USER_PORT)
    candidates = [port for port in range(start, min(start + PORT_PROBES, 65536)) if port not in avoid]
    for port in [*candidates, 0]:
        try:
            with socket.socket(family, socket.SOCK_STREAM) as probe:
                probe.bind((address, port))
                found = int(probe.getsockname()[1])
        except OSError:
            continue
        if found not in avoid:
            return found
    return None


def _port_hint(settings: ListenerSettings, start: int, avoid: Collection[int], first: str) -> str:
    provider = settings.provider.id
    port = free_port(settings.host, start, avoid)
    if port is None:
        return f"{first}, or pick a free port yourself: ccendpoint proxy {provider} --port PORT"
    variable = env_names(settings.provider)["port"]
    return (
        f"{first}, or use port {port}, which is free now: ccendpoint proxy {provider} --port {port} "
        f"(with --all: {variable}={port} in the environment or .env)"
    )


def bind_error(exc: OSError, settings: ListenerSettings, avoid: Collection[int] = ()) -> CcendpointError:
    """A clear message for a listener that cannot bind (no traceback), with a port that is free now."""
    where = f"{settings.host}:{settings.port}"
    provider = settings.provider.id
    avoid = {*avoid, settings.port}
    if exc.errno == errno.EADDRINUSE or getattr(exc, "winerror", None) == 10048:
        return CcendpointError(
            f"Port {settings.port} is already in use ({where}), so the {provider} proxy cannot start. "
            "Another ccendpoint proxy may already be running.",
            hint=_port_hint(settings, settings.port + 1, avoid, "Stop the other program"),
            exit_code=1,
        )
    if exc.errno in (errno.EACCES, errno.EPERM) or getattr(exc, "winerror", None) == 10013:
        if settings.port < FIRST_USER_PORT:
            reason = f"ports below {FIRST_USER_PORT} need administrator rights"
            catalog = settings.provider.proxy_port
            start = catalog if catalog is not None and catalog >= FIRST_USER_PORT else FIRST_USER_PORT
        else:
            reason = "the system keeps this port for itself or another program"
            start = settings.port + 1
        return CcendpointError(
            f"Not allowed to listen on {where} ({reason}).",
            hint=_port_hint(settings, start, avoid, "Choose another port"),
            exit_code=1,
        )
    if exc.errno == errno.EADDRNOTAVAIL or isinstance(exc, socket.gaierror):
        return CcendpointError(
            f"Cannot listen on {settings.host}: it is not an address of this machine.",
            hint="Use --host 127.0.0.1 (the default).",
            exit_code=1,
        )
    return CcendpointError(
        f"Cannot listen on {where}: {exc.strerror or exc}.",
        hint=_port_hint(
            settings,
            settings.port + 1,
            avoid,
            "Check that --host is an address of this machine (the default 127.0.0.1 always is)",
        ),
        exit_code=1,
    )
