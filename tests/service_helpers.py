"""Shared pieces of the service tests: fixed specs for golden files, and a recording runner."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from catalog_helpers import fixture_catalog
from ccendpoint import __version__
from ccendpoint.proxy.probe import Probe
from ccendpoint.service.runner import Completed
from ccendpoint.service.spec import Program, Served, ServiceSpec

GOLDEN = Path(__file__).parent / "fixtures" / "service"
SERVED = Served(providers=("kimi", "qwen"), regions={"kimi": "china"}, catalogs=("/home/me/my catalogs/extra.yaml",))


def posix_spec(platform: str = "linux") -> ServiceSpec:
    venv = "/home/me/.local/share/pipx/venvs/ccendpoint/bin"
    return ServiceSpec(
        served=SERVED,
        program=Program(python=f"{venv}/python", script=f"{venv}/ccendpoint", platform=platform),
        working_dir="/home/me/.config/ccendpoint",
        log_file="/home/me/.local/state/ccendpoint/log/service.log",
    )


def windows_spec() -> ServiceSpec:
    venv = r"C:\Users\me\pipx\venvs\ccendpoint\Scripts"
    return ServiceSpec(
        served=SERVED,
        program=Program(
            python=rf"{venv}\python.exe",
            script=rf"{venv}\ccendpoint.exe",
            platform="win32",
            windowless=rf"{venv}\pythonw.exe",
        ),
        working_dir=r"C:\Users\me\AppData\Local\ccendpoint",
        log_file=r"C:\Users\me\AppData\Local\ccendpoint\Logs\service.log",
        user=r"DESKTOP-1\me",
    )


Answer = Callable[[tuple[str, ...]], Completed | None]


@dataclass
class Recorder:
    """A runner that records every command and answers from ``answers`` (first match wins).

    ``answers`` maps a command prefix to (exit code, stdout); anything else succeeds quietly.
    Background processes are remembered, never started.
    """

    answers: dict[tuple[str, ...], tuple[int, str]] = field(default_factory=dict)
    calls: list[tuple[str, ...]] = field(default_factory=list)
    spawned: list[tuple[tuple[str, ...], Path]] = field(default_factory=list)
    running: set[int] = field(default_factory=set)
    stopped: list[int] = field(default_factory=list)

    def run(self, argv: Sequence[str]) -> Completed:
        call = tuple(argv)
        self.calls.append(call)
        for prefix, (code, out) in sorted(self.answers.items(), key=lambda item: -len(item[0])):
            if call[: len(prefix)] == prefix:
                return Completed(call, code, out, "" if code == 0 else out)
        return Completed(call, 0)

    def spawn(self, argv: Sequence[str], cwd: Path) -> int:
        self.spawned.append((tuple(argv), cwd))
        pid = 40000 + len(self.spawned)
        self.running.add(pid)
        return pid

    def alive(self, pid: int) -> bool:
        return pid in self.running

    def stop(self, pid: int) -> None:
        self.stopped.append(pid)
        self.running.discard(pid)

    def commands(self, program: str) -> list[tuple[str, ...]]:
        return [call for call in self.calls if call[0] == program]


SYSTEMD = {
    ("systemctl", "--user", "show-environment"): (0, ""),
    ("systemctl", "--user", "show"): (0, "LoadState=loaded\nActiveState=active\nSubState=running\nResult=success\n"),
}
probes: dict[str, Callable[[int], Probe]] = {}


def provider_on(port: int) -> str:
    """The provider whose catalog port this is (bundled or fixture), or "?"."""
    return next((p.id for p in fixture_catalog().providers if p.proxy_port == port), "?")


def answering(port: int) -> Probe:
    """Every catalog port answers as the proxy of its provider."""
    return Probe("ccendpoint", {"provider": provider_on(port), "version": __version__})


def set_probe(probe: Callable[[int], Probe]) -> None:
    """What the service's ports answer from now on (in this test)."""
    probes["current"] = probe
