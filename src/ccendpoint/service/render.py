"""Service definitions for each system, rendered from a :class:`ServiceSpec`, and read back (pure).

- systemd user unit (Linux), started at login by the user's service manager;
- launchd agent property list (macOS), loaded into the user's GUI domain;
- Task Scheduler task XML (Windows), a logon trigger running the proxy without a console window;
- XDG autostart desktop entry (Linux without a user systemd), started by desktop sessions.

Each reader returns the program a definition runs, so ``status`` can tell when it no longer exists.
"""

from __future__ import annotations

import plistlib
import re
import subprocess
from collections.abc import Sequence
from typing import Any
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from ccendpoint.service.spec import LAUNCHD_LABEL, ServiceSpec

HEADER = "Written by `ccendpoint service install`; `ccendpoint service uninstall` removes it."
TASK_NAMESPACE = "http://schemas.microsoft.com/windows/2004/02/mit/task"


def first_word(command: str) -> str | None:
    """The first word of a command line written by :func:`systemd_word` or :func:`desktop_word`.

    A word is bare, or in double quotes where a backslash takes the next character literally.
    """
    match = re.match(r'\s*(?:"((?:[^"\\]|\\.)*)"|([^\s"]+))', command)
    if match is None:
        return None
    if match[2] is not None:
        return match[2]
    return re.sub(r"\\(.)", r"\1", match[1])


# -- systemd -----------------------------------------------------------------------------------------

_SYSTEMD_PLAIN = re.compile(r"[A-Za-z0-9_@%+=:,./-]+")


def systemd_word(word: str) -> str:
    """One word of a systemd command line: specifiers (%) and variables ($) taken literally."""
    literal = word.replace("%", "%%").replace("$", "$$")
    if _SYSTEMD_PLAIN.fullmatch(literal):
        return literal
    return '"' + literal.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_path(path: str) -> str:
    """A path in a setting that takes one path: only specifiers need escaping."""
    return path.replace("%", "%%")


def systemd_unit(spec: ServiceSpec) -> str:
    command = " ".join(systemd_word(word) for word in spec.argv())
    return "\n".join(
        [
            f"# {HEADER}",
            "[Unit]",
            f"Description={spec.description}",
            "",
            "[Service]",
            "Type=simple",
            f"ExecStart={command}",
            f"WorkingDirectory={systemd_path(spec.working_dir)}",
            f"StandardOutput=append:{systemd_path(spec.log_file)}",
            "StandardError=inherit",
            "Restart=on-failure",
            "RestartSec=5",
            "",
            "[Install]",
            "WantedBy=default.target",
            "",
        ]
    )


def systemd_program(text: str) -> str | None:
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "ExecStart":
            first = first_word(value.strip().lstrip("-@:+!"))
            return first.replace("%%", "%").replace("$$", "$") if first else None
    return None


# -- launchd -----------------------------------------------------------------------------------------


def launchd_plist(spec: ServiceSpec) -> str:
    data: dict[str, Any] = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": spec.argv(),
        "RunAtLoad": True,
        # started again after a crash, but not after a clean stop (`launchctl kill`, uninstall)
        "KeepAlive": {"SuccessfulExit": False},
        "ThrottleInterval": 10,
        "ProcessType": "Background",
        "WorkingDirectory": spec.working_dir,
        "StandardOutPath": spec.log_file,
        "StandardErrorPath": spec.log_file,
    }
    return plistlib.dumps(data, sort_keys=False).decode("utf-8")


def launchd_program(text: str) -> str | None:
    try:
        data = plistlib.loads(text.encode("utf-8"))
    except (plistlib.InvalidFileException, ValueError, ElementTree.ParseError):
        return None
    words = data.get("ProgramArguments") if isinstance(data, dict) else None
    return str(words[0]) if isinstance(words, list) and words else None


# -- Windows Task Scheduler ------------------------------------------------------------------------------


def windows_arguments(words: Sequence[str]) -> str:
    """Arguments as the C runtime splits them again (what Task Scheduler passes on)."""
    return subprocess.list2cmdline(list(words))


def task_xml(spec: ServiceSpec) -> str:
    """Task Scheduler XML: at the user's logon, without a console window, restarted after a failure."""
    command, *args = spec.logged_argv()
    user = escape(spec.user)
    return "\n".join(
        [
            '<?xml version="1.0" encoding="UTF-16"?>',
            f'<Task version="1.2" xmlns="{TASK_NAMESPACE}">',
            "  <RegistrationInfo>",
            f"    <Description>{escape(spec.description)}. {escape(HEADER)}</Description>",
            "  </RegistrationInfo>",
            "  <Triggers>",
            "    <LogonTrigger>",
            "      <Enabled>true</Enabled>",
            f"      <UserId>{user}</UserId>",
            "    </LogonTrigger>",
            "  </Triggers>",
            "  <Principals>",
            '    <Principal id="Author">',
            f"      <UserId>{user}</UserId>",
            "      <LogonType>InteractiveToken</LogonType>",
            "      <RunLevel>LeastPrivilege</RunLevel>",
            "    </Principal>",
            "  </Principals>",
            "  <Settings>",
            "    <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>",
            "    <DisallowStartIfOnBatteries>false</DisallowStartIfOnBatteries>",
            "    <StopIfGoingOnBatteries>false</StopIfGoingOnBatteries>",
            "    <AllowStartOnDemand>true</AllowStartOnDemand>",
            "    <Enabled>true</Enabled>",
            "    <ExecutionTimeLimit>PT0S</ExecutionTimeLimit>",
            "    <RestartOnFailure>",
            "      <Interval>PT1M</Interval>",
            "      <Count>3</Count>",
            "    </RestartOnFailure>",
            "  </Settings>",
            '  <Actions Context="Author">',
            "    <Exec>",
            f"      <Command>{escape(command)}</Command>",
            f"      <Arguments>{escape(windows_arguments(args))}</Arguments>",
            f"      <WorkingDirectory>{escape(spec.working_dir)}</WorkingDirectory>",
            "    </Exec>",
            "  </Actions>",
            "</Task>",
            "",
        ]
    )


def task_program(text: str) -> str | None:
    try:
        root = ElementTree.fromstring(text.removeprefix('<?xml version="1.0" encoding="UTF-16"?>'))
    except ElementTree.ParseError:
        return None
    found = root.find(f".//{{{TASK_NAMESPACE}}}Exec/{{{TASK_NAMESPACE}}}Command")
    return found.text.strip() if found is not None and found.text else None


# -- XDG autostart -------------------------------------------------------------------------------------

_DESKTOP_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


def desktop_word(word: str) -> str:
    """One word of a desktop entry's ``Exec`` key (quoting rules, then the string escape)."""
    word = word.replace("%", "%%")
    if any(c in _DESKTOP_RESERVED for c in word):
        word = '"' + re.sub(r'(["`$\\])', r"\\\1", word) + '"'
    return word.replace("\\", "\\\\")


def autostart_entry(spec: ServiceSpec) -> str:
    command = " ".join(desktop_word(word) for word in spec.logged_argv())
    return "\n".join(
        [
            f"# {HEADER}",
            "[Desktop Entry]",
            "Type=Application",
            "Name=ccendpoint proxy",
            f"Comment={spec.description}",
            f"Exec={command}",
            f"Path={spec.working_dir}",
            "Terminal=false",
            "NoDisplay=true",
            "X-GNOME-Autostart-enabled=true",
            "",
        ]
    )


def autostart_program(text: str) -> str | None:
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() == "Exec":
            unescaped = re.sub(r"\\(.)", lambda m: {"s": " ", "n": "\n", "t": "\t", "r": "\r"}.get(m[1], m[1]), value)
            first = first_word(unescaped.strip())
            return first.replace("%%", "%") if first else None
    return None
