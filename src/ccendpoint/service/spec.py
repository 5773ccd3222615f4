"""What the proxy service runs: which providers, which program, which folders (pure)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

#: The name of the service everywhere a short name is needed: systemd unit, task, autostart entry.
SERVICE_NAME = "ccendpoint-proxy"
#: launchd wants a label; a reverse-DNS style name keeps it apart from Apple's own agents.
LAUNCHD_LABEL = "ccendpoint.proxy"
#: The service's own output (start-up lines, errors), next to the proxy's request logs.
LOG_FILE_NAME = "service.log"
#: The module that runs a command with its output appended to a log (see :mod:`.launch`).
LAUNCH_MODULE = "ccendpoint.service.launch"


@dataclass(frozen=True)
class Served:
    """Which providers the service runs, as remembered between ``service install`` calls."""

    providers: tuple[str, ...] = ()
    all: bool = False
    #: provider id → region, when the user chose one (``setup --region``); else the catalog's default
    regions: Mapping[str, str] = field(default_factory=dict)
    #: ``--catalog`` overlays the providers need, as absolute paths
    catalogs: tuple[str, ...] = ()

    @property
    def empty(self) -> bool:
        return not self.all and not self.providers

    def serves(self, provider_id: str) -> bool:
        return self.all or provider_id in self.providers

    def label(self) -> str:
        """``kimi, qwen`` or ``every provider``: for messages."""
        return "every provider" if self.all else ", ".join(self.providers) or "nothing"

    def merged(
        self,
        providers: Iterable[str] = (),
        *,
        every: bool = False,
        regions: Mapping[str, str] | None = None,
        catalogs: Iterable[str] = (),
    ) -> Served:
        """This set plus more providers (``--all`` covers them all), their regions and overlays."""
        return Served(
            providers=tuple(dict.fromkeys([*self.providers, *providers])),
            all=self.all or every,
            regions={**self.regions, **(regions or {})},
            catalogs=tuple(dict.fromkeys([*self.catalogs, *catalogs])),
        )

    def without(self, providers: Iterable[str]) -> Served:
        gone = set(providers)
        return Served(
            providers=tuple(p for p in self.providers if p not in gone),
            all=self.all,
            regions={k: v for k, v in self.regions.items() if k not in gone},
            catalogs=self.catalogs,
        )

    def command_args(self) -> list[str]:
        """The ``ccendpoint`` arguments that run the proxy for these providers."""
        args: list[str] = []
        for path in self.catalogs:
            args += ["--catalog", path]
        args.append("proxy")
        args += ["--all"] if self.all else list(self.providers)
        for provider_id, region in sorted(self.regions.items()):
            if self.serves(provider_id):
                args += ["--region", f"{provider_id}={region}"]
        return args

    def as_dict(self) -> dict[str, Any]:
        return {
            "providers": list(self.providers),
            "all": self.all,
            "regions": dict(self.regions),
            "catalogs": list(self.catalogs),
        }

    @classmethod
    def from_dict(cls, data: Any) -> Served:
        if not isinstance(data, dict):
            return cls()

        def strings(value: Any) -> tuple[str, ...]:
            return tuple(str(v) for v in value) if isinstance(value, list) else ()

        regions = data.get("regions")
        return cls(
            providers=strings(data.get("providers")),
            all=data.get("all") is True,
            regions={str(k): str(v) for k, v in regions.items()} if isinstance(regions, dict) else {},
            catalogs=strings(data.get("catalogs")),
        )


@dataclass(frozen=True)
class Program:
    """The installed ``ccendpoint``: the Python that runs it and the script next to it, if any."""

    python: str  # absolute path of the interpreter of ccendpoint's environment
    script: str | None  # absolute path of the ``ccendpoint`` script, when there is one
    platform: str  # sys.platform
    #: Windows: ``pythonw.exe`` beside the interpreter, which runs without a console window
    windowless: str | None = None

    def command(self) -> list[str]:
        """How to run ``ccendpoint``: its own script, or ``python -m ccendpoint``."""
        return [self.script] if self.script else [self.python, "-m", "ccendpoint"]

    def logged_command(self, log_file: str) -> list[str]:
        """``ccendpoint`` with its output appended to ``log_file``, without a console window on Windows."""
        return [self.windowless or self.python, "-m", LAUNCH_MODULE, "--log", log_file, "--"]


def find_program(python: str, platform: str, exists: Callable[[str], bool]) -> Program:
    """The installed ``ccendpoint`` of the interpreter ``python`` (``sys.executable``).

    pipx and every virtual environment put the script beside the interpreter; the paths are kept
    as they are (not resolved), so a venv's ``bin/python`` symlink keeps naming the venv.
    """
    windowless = None
    if platform == "win32":
        folder = PureWindowsPath(python).parent
        candidates = [str(folder / "ccendpoint.exe"), str(folder / "Scripts" / "ccendpoint.exe")]
        pythonw = str(folder / "pythonw.exe")
        windowless = pythonw if exists(pythonw) else None
    else:
        candidates = [str(PurePosixPath(python).parent / "ccendpoint")]
    script = next((c for c in candidates if exists(c)), None)
    return Program(python=python, script=script, platform=platform, windowless=windowless)


@dataclass(frozen=True)
class ServiceSpec:
    """Everything a service definition says, for every system."""

    served: Served
    program: Program
    working_dir: str  # the user config folder: the service reads its .env there
    log_file: str
    user: str = ""  # Windows: DOMAIN\\user whose logon starts the task

    @property
    def args(self) -> list[str]:
        return self.served.command_args()

    @property
    def description(self) -> str:
        return f"ccendpoint proxy for VS Code Custom Endpoint models ({self.served.label()})"

    def argv(self) -> list[str]:
        """The whole command when the service manager captures the output itself."""
        return [*self.program.command(), *self.args]

    def logged_argv(self) -> list[str]:
        """The whole command when nothing captures the output (Windows, XDG autostart)."""
        return [*self.program.logged_command(self.log_file), *self.args]


def program_path(argv: Sequence[str]) -> str | None:
    """The program a service definition runs: its first word."""
    return argv[0] if argv else None
