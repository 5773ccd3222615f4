"""Install, uninstall and inspect the proxy's login service: what the commands and ``doctor`` call.

The definition file is the truth about whether the service is installed; a small record in the
state folder remembers which providers it serves, so installing another provider adds to the set.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from ccendpoint import dirs
from ccendpoint.catalog.model import Catalog
from ccendpoint.errors import CcendpointError, UsageError
from ccendpoint.files import write_atomic
from ccendpoint.proxy.probe import Probe, http_probe
from ccendpoint.proxy.settings import ProxyOptions, resolve
from ccendpoint.proxy.sources import env_layers
from ccendpoint.redact import scrub
from ccendpoint.service import runner as runners
from ccendpoint.service.runner import Runner
from ccendpoint.service.spec import LOG_FILE_NAME, Served, ServiceSpec, find_program
from ccendpoint.service.systems import Places, Report, State, System, candidates, installable, installed

RECORD_FILE = "service.json"
#: How long ``install`` waits for every port to answer /healthz.
START_TIMEOUT = 20.0
DEFINITION_MODE = 0o644


@dataclass(frozen=True)
class Machine:
    """Everything the service code touches outside itself, so tests can stand in for any of it."""

    runner: Runner
    places: Places
    platform: str
    python: str
    config_dir: Path
    log_dir: Path
    exists: Callable[[str], bool] = os.path.exists
    probe: Callable[[int], Probe] | None = None

    @classmethod
    def current(cls, runner: Runner | None = None) -> Machine:
        domain, name = os.environ.get("USERDOMAIN", ""), os.environ.get("USERNAME", "")
        places = Places(
            home=Path.home(),
            xdg_config=Path(platformdirs.user_config_dir()),
            state_dir=dirs.state_dir(),
            uid=os.getuid() if hasattr(os, "getuid") else 0,
            user=f"{domain}\\{name}" if domain and name else name,
        )
        return cls(
            runner=runner or runners.default_runner(),
            places=places,
            platform=sys.platform,
            python=sys.executable,
            config_dir=dirs.config_dir(),
            log_dir=dirs.log_dir(),
        )

    @property
    def log_file(self) -> Path:
        return self.log_dir / LOG_FILE_NAME

    @property
    def record_path(self) -> Path:
        return self.places.state_dir / RECORD_FILE

    def spec(self, served: Served) -> ServiceSpec:
        return ServiceSpec(
            served=served,
            program=find_program(self.python, self.platform, self.exists),
            working_dir=str(self.config_dir),
            log_file=str(self.log_file),
            user=self.places.user,
        )

    def check(self, port: int) -> Probe:
        return (self.probe or http_probe)(port)


@dataclass(frozen=True)
class Listener:
    """One provider the service serves: its port and what ``/healthz`` answered."""

    provider: str
    port: int | None
    state: str = "not checked"  # ccendpoint (serving this provider), other, closed, wrong provider
    detail: str = ""

    @property
    def healthy(self) -> bool:
        return self.state == "ccendpoint"


@dataclass(frozen=True)
class Status:
    """The service as found: installed where, in which state, running which program, answering or not."""

    state: State
    detail: str = ""
    system: str | None = None  # the manager's title, e.g. "systemd user unit"
    kind: str | None = None
    path: str | None = None
    served: Served = field(default_factory=Served)
    program: str | None = None  # what the definition runs
    program_exists: bool = True
    current_program: str | None = None  # what this ccendpoint would write
    listeners: tuple[Listener, ...] = ()
    note: str = ""
    log_file: str | None = None

    @property
    def installed(self) -> bool:
        return self.state != "not installed"

    @property
    def stale(self) -> bool:
        """The definition runs a program that is gone (pipx moved or removed the environment)."""
        return self.program is not None and not self.program_exists

    @property
    def other_program(self) -> bool:
        """The definition runs another ccendpoint than this one."""
        return not self.stale and self.current_program is not None and self.program != self.current_program

    @property
    def healthy(self) -> bool:
        """Running as the service manager sees it, and every port answers as the right proxy."""
        return self.state == "running" and bool(self.listeners) and all(x.healthy for x in self.listeners)

    def as_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "detail": self.detail,
            "system": self.system,
            "file": self.path,
            "served": self.served.as_dict(),
            "program": self.program,
            "program_exists": self.program_exists,
            "current_program": self.current_program,
            "stale": self.stale,
            "log_file": self.log_file,
            "listeners": [
                {"provider": x.provider, "port": x.port, "state": x.state, "detail": x.detail} for x in self.listeners
            ],
        }


# -- the record --------------------------------------------------------------------------------------


def load_served(machine: Machine) -> Served:
    try:
        return Served.from_dict(json.loads(machine.record_path.read_text("utf-8")))
    except FileNotFoundError:
        return Served()
    except (OSError, ValueError):
        raise CcendpointError(
            f"ccendpoint's service record {machine.record_path} cannot be read.",
            hint="Delete it and run `ccendpoint service install PROVIDER…` again.",
        ) from None


def save_served(machine: Machine, served: Served) -> None:
    text = json.dumps(served.as_dict(), indent=2, sort_keys=True) + "\n"
    write_atomic(machine.record_path, text.encode("utf-8"), None)


# -- ports ---------------------------------------------------------------------------------------------


def served_ports(machine: Machine, served: Served, catalog: Catalog) -> list[tuple[str, int | None, str]]:
    """(provider, port, problem) for each served provider, as the service itself resolves them.

    The service sees no shell environment: only the catalog and ``.env`` in the config folder.
    """
    if served.all:
        providers = [p for p in catalog.providers if p.proxy_port is not None]
        missing: list[str] = []
    else:
        providers = [p for pid in served.providers if (p := catalog.provider(pid)) is not None]
        missing = [pid for pid in served.providers if catalog.provider(pid) is None]
    found: list[tuple[str, int | None, str]] = [
        (pid, None, "not in the catalog (was it defined by a --catalog file that is gone?)") for pid in missing
    ]
    try:
        layers = env_layers({}, machine.config_dir)
    except CcendpointError as exc:
        return found + [(p.id, p.proxy_port, exc.message) for p in providers]
    for provider in providers:
        try:
            settings = resolve(provider, ProxyOptions(region=served.regions.get(provider.id)), layers)
        except CcendpointError as exc:
            found.append((provider.id, provider.proxy_port, exc.message))
            continue
        found.append((provider.id, settings.port, ""))
    return found


def probe_listeners(machine: Machine, served: Served, catalog: Catalog) -> tuple[Listener, ...]:
    listeners = []
    for provider_id, port, problem in served_ports(machine, served, catalog):
        if problem or port is None:
            listeners.append(Listener(provider_id, port, "problem", problem))
            continue
        answer = machine.check(port)
        if answer.state == "ccendpoint" and answer.health.get("provider") != provider_id:
            serving = answer.health.get("provider", "?")
            listeners.append(Listener(provider_id, port, "wrong provider", f"a ccendpoint proxy for {serving}"))
        else:
            listeners.append(Listener(provider_id, port, answer.state, answer.detail))
    return tuple(listeners)


# -- status --------------------------------------------------------------------------------------------


def status(machine: Machine, catalog: Catalog | None, *, probe: bool = True) -> Status:
    """The service as it is now. No command runs when nothing is installed."""
    system = installed(machine.platform, machine.runner, machine.places)
    served = load_served(machine)
    if system is None:
        return Status("not installed", served=served, log_file=str(machine.log_file))
    text = system.read() or ""
    program = system.program(text)
    current = system.command(machine.spec(served))[0]
    report = system.report()
    listeners = probe_listeners(machine, served, catalog) if probe and catalog is not None else ()
    state, detail = _overall(report, listeners)
    return Status(
        state=state,
        detail=detail,
        system=system.title,
        kind=system.kind,
        path=str(system.path),
        served=served,
        program=program,
        program_exists=program is not None and machine.exists(program),
        current_program=current,
        listeners=listeners,
        note=system.note,
        log_file=str(machine.log_file),
    )


def _overall(report: Report, listeners: Sequence[Listener]) -> tuple[State, str]:
    if report.state is not None:
        return report.state, report.detail
    if listeners and all(x.healthy for x in listeners):
        return "running", "every port answers"
    return "stopped", report.detail or "no port answers"


# -- install and uninstall ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """What ``install`` or ``uninstall`` did."""

    changed: bool
    system: str
    path: str
    removed: tuple[str, ...] = ()  # other definitions taken away (an autostart entry once systemd runs)
    note: str = ""


def install(machine: Machine, served: Served) -> Change:
    """Write the definition for ``served``, enable and start it; nothing changes when it is in place."""
    if served.empty:
        raise UsageError(
            "No provider for the service to serve.",
            hint="Name providers (ccendpoint service install kimi) or use --all.",
        )
    if machine.platform == "win32" and not machine.places.user:
        raise CcendpointError(
            "Cannot tell which Windows user the logon task is for (USERNAME is not set).",
            hint="Run the command from your own Windows session, where USERNAME and USERDOMAIN are set.",
        )
    system = installable(machine.platform, machine.runner, machine.places)
    removed = tuple(_remove_others(machine, system))
    spec = machine.spec(served)
    text = system.render(spec)
    changed = system.read() != text
    for folder in (machine.log_dir, machine.config_dir, system.path.parent):
        folder.mkdir(parents=True, exist_ok=True)
    if changed:
        write_atomic(system.path, system.encode(text), DEFINITION_MODE)
    if load_served(machine) != served or not machine.record_path.exists():
        save_served(machine, served)
        changed = True
    system.activate(spec, changed)
    return Change(changed or bool(removed), system.title, str(system.path), removed, system.note)


def _remove_others(machine: Machine, keep: System) -> Iterable[str]:
    for other in candidates(machine.platform, machine.runner, machine.places):
        if other.kind != keep.kind and other.path.exists():
            _take_down(other)
            yield str(other.path)


def _take_down(system: System) -> None:
    system.deactivate()
    try:
        system.path.unlink(missing_ok=True)
    except OSError as exc:
        raise CcendpointError(
            f"Cannot remove {system.path}: {exc.strerror or exc}.",
            hint="Remove it yourself, then run the command again.",
        ) from None
    system.forget()


def uninstall(machine: Machine, providers: Sequence[str] = ()) -> Change | None:
    """Stop serving ``providers`` (the service goes once it serves none), or take it away entirely.

    None when nothing was installed.
    """
    served = load_served(machine)
    if providers:
        if served.all:
            raise UsageError(
                "The service serves every provider (it was installed with --all), so one cannot be taken out.",
                hint="Run `ccendpoint service uninstall`, then `ccendpoint service install` with the providers "
                "to keep.",
            )
        unknown = [p for p in providers if p not in served.providers]
        if unknown:
            raise UsageError(
                f"The service does not serve {', '.join(unknown)} (it serves {served.label()}).",
                hint="`ccendpoint service status` lists what it serves.",
            )
        rest = served.without(providers)
        if not rest.empty and installed(machine.platform, machine.runner, machine.places) is not None:
            return install(machine, rest)
    found = [s for s in candidates(machine.platform, machine.runner, machine.places) if s.path.exists()]
    for system in found:
        _take_down(system)
    machine.record_path.unlink(missing_ok=True)
    if not found:
        return None
    return Change(True, found[0].title, str(found[0].path))


def wait_until_answering(
    machine: Machine, catalog: Catalog, timeout: float = START_TIMEOUT, interval: float = 0.2
) -> Status:
    """Probe every port until all answer as the right proxy, the manager reports a failure, or time is up."""
    deadline = time.monotonic() + timeout
    while True:
        found = status(machine, catalog)
        if found.healthy or found.state == "failed" or time.monotonic() >= deadline:
            return found
        time.sleep(interval)


def log_tail(lines: int, path: Path) -> list[str]:
    """The last ``lines`` lines of the service log, any secret in them masked; [] without a log."""
    try:
        with path.open("rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 256 * 1024))
            tail = handle.read().decode("utf-8", "replace").splitlines()[-lines:]
    except OSError:
        return []
    return [scrub(line) for line in tail]
