"""Each service manager: where its definition lives and the commands that load, start and stop it.

Every command goes through a :class:`~ccendpoint.service.runner.Runner`; files are written with the
same atomic writer as VS Code's files. Which manager applies is decided by :func:`candidates`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Literal

from ccendpoint.errors import CcendpointError
from ccendpoint.files import write_atomic
from ccendpoint.service import render
from ccendpoint.service.runner import Completed, Runner
from ccendpoint.service.spec import LAUNCHD_LABEL, SERVICE_NAME, ServiceSpec

State = Literal["running", "stopped", "failed", "not installed"]
#: How long a stopped background proxy may take to let go of its ports.
STOP_WAIT = 5.0


@dataclass(frozen=True)
class Places:
    """The folders and ids a service manager needs (the edge fills them in; tests choose them)."""

    home: Path
    xdg_config: Path  # $XDG_CONFIG_HOME or ~/.config (Linux)
    state_dir: Path  # ccendpoint's state folder
    uid: int = 0  # macOS: the GUI domain gui/<uid>
    user: str = ""  # Windows: DOMAIN\\user


@dataclass(frozen=True)
class Report:
    """What the service manager says about the service; ``state`` None when it cannot tell."""

    state: State | None
    detail: str = ""


class System:
    """One service manager. Subclasses say where the file goes and which commands to run."""

    kind: ClassVar[str] = ""
    title: ClassVar[str] = ""
    #: Said after an install, e.g. how the service starts without a user systemd.
    note: ClassVar[str] = ""
    #: True when nothing captures the proxy's output, so it runs through the logging launcher.
    logged: ClassVar[bool] = False

    def __init__(self, runner: Runner, places: Places) -> None:
        self.runner = runner
        self.places = places

    @property
    def path(self) -> Path:
        raise NotImplementedError

    def command(self, spec: ServiceSpec) -> list[str]:
        """The command line the definition runs."""
        return spec.logged_argv() if self.logged else spec.argv()

    def render(self, spec: ServiceSpec) -> str:
        raise NotImplementedError

    def program(self, text: str) -> str | None:
        raise NotImplementedError

    def encode(self, text: str) -> bytes:
        return text.encode("utf-8")

    def read(self) -> str | None:
        try:
            return self.path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise CcendpointError(
                f"Cannot read the service definition {self.path}: {exc}.",
                hint="Remove it (or fix its permissions), then run `ccendpoint service install` again.",
            ) from None

    def activate(self, spec: ServiceSpec, changed: bool) -> None:
        """Enable and start the service once its file is in place (restart it when ``changed``)."""
        raise NotImplementedError

    def deactivate(self) -> None:
        """Stop and disable the service before its file goes; quiet when it was not loaded."""
        raise NotImplementedError

    def forget(self) -> None:
        """After the file is gone: let the manager know."""

    def report(self) -> Report:
        raise NotImplementedError

    def _must(self, result: Completed, what: str) -> Completed:
        if not result.ok:
            raise CcendpointError(
                f"Could not {what}: {' '.join(result.argv)} says: {result.message()}",
                hint="Run the command yourself to see more, or use `ccendpoint proxy PROVIDER` in a terminal "
                "you keep open. `ccendpoint service logs` shows the proxy's own output.",
            )
        return result


# -- Linux: systemd user unit -----------------------------------------------------------------------------


class Systemd(System):
    kind = "systemd"
    title = "systemd user unit"
    unit = f"{SERVICE_NAME}.service"
    PROPERTIES = "LoadState,ActiveState,SubState,Result,ExecMainStatus,UnitFileState"

    @property
    def path(self) -> Path:
        return self.places.xdg_config / "systemd" / "user" / self.unit

    @staticmethod
    def available(runner: Runner) -> bool:
        """True when a user systemd answers (not in WSL1, most containers, or without a login session)."""
        return runner.run(["systemctl", "--user", "show-environment"]).ok

    def _ctl(self, *args: str) -> Completed:
        return self.runner.run(["systemctl", "--user", *args])

    def render(self, spec: ServiceSpec) -> str:
        return render.systemd_unit(spec)

    def program(self, text: str) -> str | None:
        return render.systemd_program(text)

    def activate(self, spec: ServiceSpec, changed: bool) -> None:
        self._must(self._ctl("daemon-reload"), "reload the user's systemd")
        self._must(self._ctl("enable", self.unit), f"enable {self.unit}")
        if changed or self.report().state != "running":
            self._ctl("reset-failed", self.unit)  # a unit that gave up restarting may start again
            self._must(self._ctl("restart", self.unit), f"start {self.unit}")

    def deactivate(self) -> None:
        self._ctl("disable", "--now", self.unit)

    def forget(self) -> None:
        self._ctl("daemon-reload")
        self._ctl("reset-failed", self.unit)

    def report(self) -> Report:
        result = self._ctl("show", self.unit, f"--property={self.PROPERTIES}")
        if not result.ok:
            return Report(None, result.message())
        return systemd_report(result.out)


def systemd_report(text: str) -> Report:
    """``systemctl show`` properties → the service's state, in words."""
    props = dict(line.split("=", 1) for line in text.splitlines() if "=" in line)
    active, sub = props.get("ActiveState", ""), props.get("SubState", "")
    result, status = props.get("Result", ""), props.get("ExecMainStatus", "0")
    failure = f"it exited with code {status}" if status not in ("", "0") else f"result: {result}"
    if props.get("LoadState") == "not-found":
        return Report("not installed", "systemd does not know the unit")
    if active == "active":
        return Report("running", f"active ({sub})" if sub else "active")
    if active == "activating" and sub == "auto-restart":
        return Report("failed", f"restarting after a failure ({failure})")
    if active in ("activating", "reloading"):
        return Report("running", "starting")
    if active == "failed" or (result and result != "success"):
        return Report("failed", failure)
    return Report("stopped", f"{active} ({sub})" if sub else active)


# -- macOS: launchd agent ---------------------------------------------------------------------------------


class Launchd(System):
    kind = "launchd"
    title = "launchd agent"

    @property
    def path(self) -> Path:
        return self.places.home / "Library" / "LaunchAgents" / f"{LAUNCHD_LABEL}.plist"

    @property
    def domain(self) -> str:
        return f"gui/{self.places.uid}"

    @property
    def target(self) -> str:
        return f"{self.domain}/{LAUNCHD_LABEL}"

    def render(self, spec: ServiceSpec) -> str:
        return render.launchd_plist(spec)

    def program(self, text: str) -> str | None:
        return render.launchd_program(text)

    def activate(self, spec: ServiceSpec, changed: bool) -> None:
        loaded = self.runner.run(["launchctl", "print", self.target]).ok
        if loaded and changed:
            self.runner.run(["launchctl", "bootout", self.target])
        if changed or not loaded:
            self._must(
                self.runner.run(["launchctl", "bootstrap", self.domain, str(self.path)]), f"load {self.path.name}"
            )
        self.runner.run(["launchctl", "enable", self.target])
        if self.report().state != "running":
            self._must(self.runner.run(["launchctl", "kickstart", self.target]), f"start {LAUNCHD_LABEL}")

    def deactivate(self) -> None:
        self.runner.run(["launchctl", "bootout", self.target])

    def report(self) -> Report:
        result = self.runner.run(["launchctl", "print", self.target])
        if not result.ok:
            return Report("stopped", "not loaded into launchd")
        return launchd_report(result.out)


def launchd_report(text: str) -> Report:
    """``launchctl print`` output → the service's state, in words."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.strip().partition(" = ")
        if sep and key not in fields:
            fields[key] = value.strip()
    state, last = fields.get("state", ""), fields.get("last exit code", "")
    if state == "running":
        return Report("running", f"pid {fields['pid']}" if "pid" in fields else "running")
    if last and last not in ("0", "(never exited)"):
        return Report("failed", f"last exit code {last}")
    return Report("stopped", state or "loaded, not running")


# -- Windows: Task Scheduler ------------------------------------------------------------------------------


class TaskScheduler(System):
    kind = "task"
    title = "Task Scheduler logon task"
    logged = True

    @property
    def path(self) -> Path:
        """Our copy of the task definition (Task Scheduler keeps its own)."""
        return self.places.state_dir / "service" / f"{SERVICE_NAME}.xml"

    def render(self, spec: ServiceSpec) -> str:
        return render.task_xml(spec)

    def program(self, text: str) -> str | None:
        return render.task_program(text)

    def encode(self, text: str) -> bytes:
        return text.encode("utf-16")  # what its encoding declaration says; schtasks wants UTF-16

    def read(self) -> str | None:
        try:
            return self.path.read_bytes().decode("utf-16")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError):
            return ""

    def _registered(self) -> bool:
        return self.runner.run(["schtasks", "/Query", "/TN", SERVICE_NAME]).ok

    def activate(self, spec: ServiceSpec, changed: bool) -> None:
        if changed or not self._registered():
            self.runner.run(["schtasks", "/End", "/TN", SERVICE_NAME])
            self._must(
                self.runner.run(["schtasks", "/Create", "/TN", SERVICE_NAME, "/XML", str(self.path), "/F"]),
                "register the logon task",
            )
        self._must(self.runner.run(["schtasks", "/Run", "/TN", SERVICE_NAME]), "start the logon task")

    def deactivate(self) -> None:
        self.runner.run(["schtasks", "/End", "/TN", SERVICE_NAME])
        self.runner.run(["schtasks", "/Delete", "/TN", SERVICE_NAME, "/F"])

    def report(self) -> Report:
        if not self._registered():
            return Report("stopped", "not registered with Task Scheduler")
        return Report(None)  # its status words depend on the Windows language: /healthz decides


# -- Linux without a user systemd: XDG autostart ------------------------------------------------------------


class Autostart(System):
    kind = "autostart"
    title = "XDG autostart entry"
    logged = True
    note = (
        "This machine has no user systemd (WSL1, a container, or no login session), so the proxy was "
        "started in the background now, and desktop sessions start it at each login. Where no desktop "
        "session runs (SSH, WSL1, containers), run `ccendpoint service install` after a restart."
    )

    @property
    def path(self) -> Path:
        return self.places.xdg_config / "autostart" / f"{SERVICE_NAME}.desktop"

    @property
    def pid_file(self) -> Path:
        return self.places.state_dir / "service.pid"

    def render(self, spec: ServiceSpec) -> str:
        return render.autostart_entry(spec)

    def program(self, text: str) -> str | None:
        return render.autostart_program(text)

    def pid(self) -> int | None:
        try:
            pid = int(self.pid_file.read_text("utf-8").strip())
        except (OSError, ValueError):
            return None
        return pid if self.runner.alive(pid) else None

    def _stop(self, pid: int) -> None:
        self.runner.stop(pid)
        deadline = time.monotonic() + STOP_WAIT
        while self.runner.alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)

    def activate(self, spec: ServiceSpec, changed: bool) -> None:
        pid = self.pid()
        if pid is not None and changed:
            self._stop(pid)
            pid = None
        if pid is None:
            Path(spec.working_dir).mkdir(parents=True, exist_ok=True)
            pid = self.runner.spawn(spec.logged_argv(), Path(spec.working_dir))
            write_atomic(self.pid_file, f"{pid}\n".encode(), 0o600)

    def deactivate(self) -> None:
        pid = self.pid()
        if pid is not None:
            self._stop(pid)
        self.pid_file.unlink(missing_ok=True)

    def report(self) -> Report:
        pid = self.pid()
        if pid is not None:
            return Report("running", f"background process {pid}")
        return Report("stopped", "starts at the next desktop login, or with `ccendpoint service install`")


def candidates(platform: str, runner: Runner, places: Places) -> list[System]:
    """The service managers of this system, the one to install with first."""
    if platform == "darwin":
        return [Launchd(runner, places)]
    if platform == "win32":
        return [TaskScheduler(runner, places)]
    return [Systemd(runner, places), Autostart(runner, places)]


def installable(platform: str, runner: Runner, places: Places) -> System:
    """The manager a new install uses: on Linux systemd when a user systemd runs, else XDG autostart."""
    options = candidates(platform, runner, places)
    if isinstance(options[0], Systemd) and not Systemd.available(runner):
        return options[1]
    return options[0]


def installed(platform: str, runner: Runner, places: Places) -> System | None:
    """The manager whose definition file is there (no command is run to find it)."""
    return next((s for s in candidates(platform, runner, places) if s.path.exists()), None)
