"""Each proxy setting resolved before anything starts: flags, environment, ``.env``, catalog, defaults.

Precedence, highest first:

1. command-line flags (``--port``, ``--host``, ``--upstream``, ``--region``, ``--log``/``--no-log``,
   ``--max-body-mb``, ``--first-byte-timeout``, ``--idle-timeout``);
2. environment variables named after the provider's ``env_prefix`` (``KIMI_PROXY_PORT``,
   ``KIMI_UPSTREAM_URL``, ``KIMI_PROXY_LOG``, … see :func:`env_names`);
3. ``.env`` in the working directory, then ``.env`` in the user config directory; they are read
   with python-dotenv into a dictionary and never copied into ``os.environ``;
4. the catalog (port, default region's endpoint) and built-in defaults.

A bare ``PORT`` variable is deliberately ignored: with ``--all`` it would put every provider on
the same port.

Where the key may go (the trust model; docs/proxy.md says it for users). The proxy forwards the
client's ``Authorization`` header to its upstream, so the settings that choose the upstream, and
the address the proxy listens on, are held to more than the others:

* a ``.env`` in the working folder is somebody's project, not necessarily yours: it may set ports,
  logs, limits and a catalog region, but an upstream URL or a listening host from it is refused
  unless ``--trust-dotenv`` says the file is yours;
* an upstream outside the provider's catalog endpoints is used only when typed on the command line
  (``--upstream``), when it is on this machine (loopback: a local gateway, a test), or with
  ``--trust-upstream``;
* a remote upstream over plain http, which would carry the key in clear, needs ``--trust-upstream``
  wherever it comes from;
* a listening host other than loopback only comes from ``--host`` (see :func:`check_host`).

The start line says where the upstream came from whenever it is not the catalog's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from ccendpoint import dirs
from ccendpoint.catalog.build import provider_from_data
from ccendpoint.catalog.model import Catalog, Provider
from ccendpoint.errors import UsageError
from ccendpoint.proxy.logfiles import log_file_name
from ccendpoint.proxy.sources import Layer, env_layers, env_names, guard_dotenv, origin
from ccendpoint.proxy.values import (
    DEFAULT_HOST,
    check_host,
    check_port,
    check_positive,
    check_upstream,
    check_url,
    region_url,
)
from ccendpoint.urls import is_loopback_host

DEFAULT_MAX_BODY_MB = 16.0
DEFAULT_FIRST_BYTE_TIMEOUT = 300.0
DEFAULT_IDLE_TIMEOUT = 300.0
CONNECT_TIMEOUT = 10.0
#: Values of a ``…_PROXY_LOG`` variable that switch the request log off.
LOG_OFF_WORDS = frozenset({"off", "none", "false", "0", "no"})


@dataclass(frozen=True)
class ProxyOptions:
    """What the command line said; ``None`` means "not given"."""

    port: int | None = None
    host: str | None = None
    upstream: str | None = None
    region: str | None = None
    log: Path | None = None
    no_log: bool = False
    max_body_mb: float | None = None
    first_byte_timeout: float | None = None
    idle_timeout: float | None = None
    #: The user vouches for an upstream outside the catalog (or over plain http to another machine).
    trust_upstream: bool = False
    #: The user vouches for the working folder's ``.env``: it may choose the upstream and the host.
    trust_dotenv: bool = False


@dataclass(frozen=True)
class ListenerSettings:
    """Everything one listener needs, checked."""

    provider: Provider
    host: str
    port: int
    upstream: str
    log_path: Path | None
    max_body_bytes: int
    first_byte_timeout: float
    idle_timeout: float
    connect_timeout: float = CONNECT_TIMEOUT
    #: Setting name → where its value came from, e.g. ``{"port": "KIMI_PROXY_PORT (environment)"}``.
    origins: Mapping[str, str] = field(default_factory=dict)

    @property
    def exposed(self) -> bool:
        """True when the address is reachable from other machines."""
        return not is_loopback_host(self.host)


#: Version of the settings document handed to the serving process.
HANDOFF_VERSION = 1


def handoff_document(listeners: Sequence[ListenerSettings]) -> dict[str, Any]:
    """The checked settings as plain data, for the serving process (``python -m ccendpoint.proxy``)."""
    return {
        "version": HANDOFF_VERSION,
        "listeners": [
            {
                "provider": dict(s.provider.data),
                "origin": s.provider.origin,
                "host": s.host,
                "port": s.port,
                "upstream": s.upstream,
                "log_path": None if s.log_path is None else str(s.log_path),
                "max_body_bytes": s.max_body_bytes,
                "first_byte_timeout": s.first_byte_timeout,
                "idle_timeout": s.idle_timeout,
                "connect_timeout": s.connect_timeout,
                "origins": dict(s.origins),
            }
            for s in listeners
        ],
    }


def from_handoff(document: Mapping[str, Any]) -> list[ListenerSettings]:
    """The settings :func:`handoff_document` wrote, as they were (they were checked before the hand-off)."""
    if document.get("version") != HANDOFF_VERSION:
        raise UsageError(
            f"The proxy settings file is version {document.get('version')!r}, not {HANDOFF_VERSION}.",
            hint="Start the proxy with `ccendpoint proxy` rather than `python -m ccendpoint.proxy`.",
        )
    listeners = []
    for item in document["listeners"]:
        log_path = item["log_path"]
        listeners.append(
            ListenerSettings(
                provider=provider_from_data(item["provider"], item["origin"]),
                host=item["host"],
                port=int(item["port"]),
                upstream=item["upstream"],
                log_path=None if log_path is None else Path(log_path),
                max_body_bytes=int(item["max_body_bytes"]),
                first_byte_timeout=float(item["first_byte_timeout"]),
                idle_timeout=float(item["idle_timeout"]),
                connect_timeout=float(item["connect_timeout"]),
                origins=dict(item["origins"]),
            )
        )
    return listeners


# -- resolving -----------------------------------------------------------------------------------


def resolve(
    provider: Provider,
    options: ProxyOptions,
    layers: Sequence[Layer] | None = None,
) -> ListenerSettings:
    """The settings for one provider, each value from the highest layer that sets it."""
    layers = env_layers() if layers is None else layers
    names = env_names(provider)
    origins: dict[str, str] = {}

    def lookup(key: str) -> tuple[str, Layer] | None:
        for layer in layers:
            raw = layer.values.get(names[key])
            if raw is not None and raw.strip() != "":
                return raw, layer
        return None

    # port
    port: int
    if options.port is not None:
        port = check_port(options.port, "--port")
        origins["port"] = "--port"
    elif found := lookup("port"):
        port = check_port(found[0], origin(names["port"], found[1]))
        origins["port"] = origin(names["port"], found[1])
    elif provider.proxy_port is not None:
        port = provider.proxy_port
        origins["port"] = "catalog"
    else:
        raise UsageError(f"{provider.group_name} has no proxy port in the catalog.", hint="Pass --port.")

    # host
    if options.host is not None:
        host = check_host(options.host, "--host", from_flag=True)
        origins["host"] = "--host"
    elif found := lookup("host"):
        guard_dotenv(names["host"], found[1], options.trust_dotenv, "the address the proxy listens on")
        host = check_host(found[0], origin(names["host"], found[1]), from_flag=False)
        origins["host"] = origin(names["host"], found[1])
    else:
        host = DEFAULT_HOST
        origins["host"] = "default"

    # upstream: the highest layer that names an upstream URL or a region decides; a URL beats a region
    upstream: str
    if options.upstream is not None:
        upstream = check_url(options.upstream, "--upstream")
        check_upstream(provider, upstream, "--upstream", typed=True, trusted=options.trust_upstream)
        origins["upstream"] = "--upstream"
    elif options.region is not None:
        upstream = region_url(provider, options.region, "--region")
        origins["upstream"] = f"--region {options.region}"
    else:
        chosen: tuple[str, str, Layer] | None = None
        for layer in layers:
            for key in ("upstream", "region"):
                raw = layer.values.get(names[key])
                if raw is not None and raw.strip() != "":
                    chosen = (key, raw.strip(), layer)
                    break
            if chosen:
                break
        if chosen is None:
            upstream = provider.endpoint().url
            origins["upstream"] = f"catalog (region {provider.default_region})"
        elif chosen[0] == "upstream":
            where = origin(names["upstream"], chosen[2])
            guard_dotenv(names["upstream"], chosen[2], options.trust_dotenv, "the upstream")
            upstream = check_url(chosen[1], where)
            check_upstream(provider, upstream, where, typed=False, trusted=options.trust_upstream)
            origins["upstream"] = where
        else:
            upstream = region_url(provider, chosen[1], origin(names["region"], chosen[2]))
            origins["upstream"] = origin(names["region"], chosen[2])

    # log
    log_path: Path | None
    if options.no_log:
        log_path = None
        origins["log"] = "--no-log"
    elif options.log is not None:
        log_path = options.log.expanduser()
        origins["log"] = "--log"
    elif found := lookup("log"):
        raw = found[0].strip()
        log_path = None if raw.lower() in LOG_OFF_WORDS else Path(raw).expanduser()
        origins["log"] = origin(names["log"], found[1])
    else:
        log_path = dirs.log_dir() / log_file_name(provider.id)
        origins["log"] = "default"

    def number(key: str, flag: str, given: float | None, default: float, unit: str) -> float:
        if given is not None:
            origins[key] = flag
            return check_positive(given, flag, unit, default)
        if found := lookup(key):
            origins[key] = origin(names[key], found[1])
            return check_positive(found[0], origins[key], unit, default)
        origins[key] = "default"
        return default

    max_body_mb = number("max_body_mb", "--max-body-mb", options.max_body_mb, DEFAULT_MAX_BODY_MB, "MiB")
    first_byte = number(
        "first_byte_timeout", "--first-byte-timeout", options.first_byte_timeout, DEFAULT_FIRST_BYTE_TIMEOUT, "seconds"
    )
    idle = number("idle_timeout", "--idle-timeout", options.idle_timeout, DEFAULT_IDLE_TIMEOUT, "seconds")

    return ListenerSettings(
        provider=provider,
        host=host,
        port=port,
        upstream=upstream,
        log_path=log_path,
        max_body_bytes=max(1, int(max_body_mb * 1024 * 1024)),
        first_byte_timeout=first_byte,
        idle_timeout=idle,
        origins=origins,
    )


def resolve_all(
    catalog: Catalog,
    options: ProxyOptions,
    layers: Sequence[Layer] | None = None,
    *,
    providers: Sequence[Provider] | None = None,
    regions: Mapping[str, str] | None = None,
) -> list[ListenerSettings]:
    """Settings for several providers in one process: ``providers``, or every one with a proxy port (``--all``).

    ``regions`` maps a provider id to its region (``--region kimi=china``); the options that name
    one port, upstream or region cannot apply to several providers and are refused.
    """
    for flag, value in (("--port", options.port), ("--upstream", options.upstream), ("--region", options.region)):
        if value is not None:
            raise UsageError(
                f"{flag} cannot be used with --all or several providers: each provider needs its own.",
                hint="Run `ccendpoint proxy PROVIDER` for that provider, or set the provider's environment variable"
                + (" (or name it: --region kimi=china)." if flag == "--region" else "."),
            )
    layers = env_layers() if layers is None else layers
    if providers is None:
        providers = [p for p in catalog.providers if p.proxy_port is not None]
    if not providers:
        raise UsageError(
            "No provider in the catalog has a proxy port, so --all has nothing to serve.",
            hint="Run one provider on a port of your choice: ccendpoint proxy PROVIDER --port 3557, "
            "or give a provider a port in its catalog file (proxy: {port: 3557}).",
        )
    regions = regions or {}
    served = {p.id for p in providers}
    for provider_id in regions:
        if provider_id not in served:
            raise UsageError(
                f"--region {provider_id}=… names a provider that is not served here.",
                hint=f"Add {provider_id} to the providers, or drop its --region.",
            )
    listeners = [resolve(p, replace(options, region=regions.get(p.id)), layers) for p in providers]
    seen: dict[tuple[str, int], str] = {}
    for listener in listeners:
        key = (listener.host, listener.port)
        if listener.port and key in seen:
            raise UsageError(
                f"{seen[key]} and {listener.provider.id} would both listen on port {listener.port}.",
                hint=f"Give one of them another port with {env_names(listener.provider)['port']}.",
            )
        seen[key] = listener.provider.id
    return listeners


def open_log_files(listeners: Sequence[ListenerSettings]) -> None:
    """Check, before anything starts, that every request log can be written.

    Creates each log's folder and opens the file for appending, so a path that cannot be written
    (a folder, a read-only place) stops the proxy at once instead of warning at the first request.
    """
    checked: set[Path] = set()
    for settings in listeners:
        path = settings.log_path
        if path is None or path in checked:
            continue
        checked.add(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("ab"):
                pass
        except OSError as exc:
            origin = settings.origins.get("log", "default")
            variable = env_names(settings.provider)["log"]
            source = "the default location" if origin == "default" else origin
            alternatives = "pass --log PATH with a file you can write, or --no-log to run without a request log"
            raise UsageError(
                f"Cannot write the request log {path} (set by {source}): {exc.strerror or exc}.",
                hint=(
                    f"Set {variable} to a file you can write (or to off), or {alternatives}."
                    if origin.startswith(variable)
                    else alternatives[0].upper() + alternatives[1:] + "."
                ),
            ) from None
