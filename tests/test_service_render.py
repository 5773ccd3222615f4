"""The service definitions for each system (golden files) and reading their program back."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from ccendpoint.service import render
from ccendpoint.service.spec import Program, Served, ServiceSpec, find_program
from service_helpers import GOLDEN, posix_spec, windows_spec

CASES: list[tuple[str, Callable[[ServiceSpec], str], Callable[[], ServiceSpec]]] = [
    ("ccendpoint-proxy.service", render.systemd_unit, posix_spec),
    ("ccendpoint.proxy.plist", render.launchd_plist, lambda: posix_spec("darwin")),
    ("ccendpoint-proxy.xml", render.task_xml, windows_spec),
    ("ccendpoint-proxy.desktop", render.autostart_entry, posix_spec),
]


@pytest.mark.parametrize(("name", "renderer", "spec"), CASES, ids=[c[0] for c in CASES])
def test_definitions_match_their_golden_files(
    name: str, renderer: Callable[[ServiceSpec], str], spec: Callable[[], ServiceSpec]
) -> None:
    expected = (GOLDEN / name).read_text("utf-8")
    assert renderer(spec()) == expected


def test_the_command_serves_the_providers_with_their_regions_and_catalogs() -> None:
    args = posix_spec().args
    assert args == [
        "--catalog",
        "/home/me/my catalogs/extra.yaml",
        "proxy",
        "kimi",
        "qwen",
        "--region",
        "kimi=china",
    ]
    assert Served(all=True, regions={"kimi": "china"}).command_args() == ["proxy", "--all", "--region", "kimi=china"]
    # a region for a provider the service no longer serves is left out
    assert Served(providers=("qwen",), regions={"kimi": "china"}).command_args() == ["proxy", "qwen"]


def test_the_launchd_agent_runs_the_same_command_and_logs_to_the_log_file() -> None:
    data = plistlib.loads((GOLDEN / "ccendpoint.proxy.plist").read_bytes())
    spec = posix_spec("darwin")
    assert data["ProgramArguments"] == spec.argv()
    assert data["StandardOutPath"] == data["StandardErrorPath"] == spec.log_file
    assert data["KeepAlive"] == {"SuccessfulExit": False} and data["RunAtLoad"] is True


def test_the_windows_task_runs_pythonw_with_arguments_windows_splits_back() -> None:
    spec = windows_spec()
    text = render.task_xml(spec)
    assert render.task_program(text) == spec.program.windowless
    arguments = text.split("<Arguments>")[1].split("</Arguments>")[0]
    assert arguments.startswith("-m ccendpoint.service.launch --log ")
    assert '"/home/me/my catalogs/extra.yaml"' in arguments  # a path with a space stays one argument
    assert "<UserId>DESKTOP-1\\me</UserId>" in text


WEIRD_PATHS = [
    "/opt/ccendpoint/bin/ccendpoint",
    "/home/me/My Tools/bin/ccendpoint",
    "/home/me/100%/bin/ccendpoint",
    "/home/me/$HOME/bin/ccendpoint",
    '/home/me/"quoted"/bin/ccendpoint',
    "/home/me/back\\slash/bin/ccendpoint",
    "/home/me/tab\there/ccendpoint",
]


@pytest.mark.parametrize("path", WEIRD_PATHS)
def test_the_program_path_survives_every_format(path: str) -> None:
    spec = ServiceSpec(
        served=Served(providers=("kimi",)),
        program=Program(python=path.replace("ccendpoint", "python", 1), script=path, platform="linux"),
        working_dir="/w",
        log_file="/l/service.log",
    )
    assert render.systemd_program(render.systemd_unit(spec)) == path
    assert render.launchd_program(render.launchd_plist(spec)) == path
    python = spec.program.python
    assert render.autostart_program(render.autostart_entry(spec)) == python


def test_systemd_escapes_specifiers_and_variables() -> None:
    assert render.systemd_word("/a/100%/b") == "/a/100%%/b"
    assert render.systemd_word("/a/$HOME") == '"/a/$$HOME"'
    assert render.systemd_word("plain-word") == "plain-word"


def test_windows_arguments_split_back_the_way_they_were_given() -> None:
    words = ["--log", r"C:\Users\me\My Logs\service.log", "--", "proxy", 'say "hi"', "trailing\\"]
    assert subprocess.list2cmdline(words) == render.windows_arguments(words)


def test_find_program_prefers_the_script_beside_the_interpreter() -> None:
    venv = "/home/me/.local/share/pipx/venvs/ccendpoint/bin"
    found = find_program(f"{venv}/python", "linux", lambda p: p == f"{venv}/ccendpoint")
    assert found.command() == [f"{venv}/ccendpoint"]
    bare = find_program("/usr/bin/python3", "linux", lambda p: False)
    assert bare.command() == ["/usr/bin/python3", "-m", "ccendpoint"]
    win = r"C:\venv\Scripts"
    windows = find_program(rf"{win}\python.exe", "win32", lambda p: True)
    assert windows.script == rf"{win}\ccendpoint.exe" and windows.windowless == rf"{win}\pythonw.exe"
    assert windows.logged_command("L")[0] == rf"{win}\pythonw.exe"
    console = find_program(rf"{win}\python.exe", "win32", lambda p: False)
    assert console.logged_command("L")[0] == rf"{win}\python.exe"


def test_readers_return_none_for_something_else() -> None:
    assert render.systemd_program("[Unit]\nDescription=x\n") is None
    assert render.launchd_program("not a plist") is None
    assert render.task_program("<nope") is None
    assert render.autostart_program("[Desktop Entry]\nName=x\n") is None


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_systemd_itself_accepts_the_unit(tmp_path: Path) -> None:
    spec = ServiceSpec(
        served=Served(
            providers=("kimi",), regions={"kimi": "china"}, catalogs=(str(tmp_path / "my %zone catalog.yaml"),)
        ),
        program=find_program(sys.executable, "linux", os.path.exists),
        working_dir=str(tmp_path / "100% config"),
        log_file=str(tmp_path / "logs" / "service.log"),
    )
    unit = tmp_path / "ccendpoint-proxy.service"
    unit.write_text(render.systemd_unit(spec))
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert not [line for line in done.stderr.splitlines() if "ccendpoint-proxy" in line], done.stderr
