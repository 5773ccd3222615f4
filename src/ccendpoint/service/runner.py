"""The one small runner every service-manager command goes through; tests replace it with a recorder."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: Seconds a service-manager command may take before it counts as failed.
COMMAND_TIMEOUT = 30.0


@dataclass(frozen=True)
class Completed:
    """What a command did: exit code and output (127 when the program is not there)."""

    argv: tuple[str, ...]
    code: int
    out: str = ""
    err: str = ""

    @property
    def ok(self) -> bool:
        return self.code == 0

    def message(self) -> str:
        """The command's own words about a failure, on one line."""
        text = (self.err or self.out).strip()
        return " ".join(text.split()) or f"exit code {self.code}"


class Runner(Protocol):
    def run(self, argv: Sequence[str]) -> Completed:
        """Run a command to its end and capture its output."""

    def spawn(self, argv: Sequence[str], cwd: Path) -> int:
        """Start a command in the background, detached from this terminal; its process id."""

    def alive(self, pid: int) -> bool:
        """True when process ``pid`` runs and is a ccendpoint process."""

    def stop(self, pid: int) -> None:
        """Ask process ``pid`` to stop (SIGTERM)."""


class SystemRunner:
    """Runs the commands for real."""

    def run(self, argv: Sequence[str]) -> Completed:
        try:
            done = subprocess.run(
                list(argv),
                capture_output=True,
                text=True,
                timeout=COMMAND_TIMEOUT,
                check=False,
                stdin=subprocess.DEVNULL,
            )
        except FileNotFoundError:
            return Completed(tuple(argv), 127, err=f"{argv[0]}: command not found")
        except subprocess.TimeoutExpired:
            return Completed(tuple(argv), 124, err=f"{argv[0]}: no answer within {COMMAND_TIMEOUT:g} s")
        except OSError as exc:
            return Completed(tuple(argv), 126, err=f"{argv[0]}: {exc.strerror or exc}")
        return Completed(tuple(argv), done.returncode, done.stdout, done.stderr)

    def spawn(self, argv: Sequence[str], cwd: Path) -> int:
        extra: dict[str, object] = {}
        if sys.platform == "win32":
            extra["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP | subprocess.DETACHED_PROCESS
        else:
            extra["start_new_session"] = True
        process = subprocess.Popen(
            list(argv),
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=True,
            **extra,  # type: ignore[call-overload]
        )
        return int(process.pid)

    def alive(self, pid: int) -> bool:
        if pid <= 0 or sys.platform == "win32":  # there os.kill(pid, 0) would end the process
            return False
        if Path("/proc/self/cmdline").exists():  # Linux: also make sure the process is ours
            try:
                return b"ccendpoint" in Path(f"/proc/{pid}/cmdline").read_bytes()
            except OSError:
                return False
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True

    def stop(self, pid: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)


def default_runner() -> Runner:
    """The runner the commands use (tests put a recorder here)."""
    return SystemRunner()
