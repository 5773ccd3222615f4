"""A real VS Code (code-server) in headless Chromium, driven through its own UI with Playwright.

:class:`CodeServer` runs code-server on loopback with a private user-data folder, settings that
keep it quiet offline, and no sign-in. :class:`Workbench` is the browser page: it marks chat set-up
as done (offline, VS Code cannot do its GitHub sign-in), sets a group's API key through Chat:
Manage Language Models → Update API Key, opens chats, picks models and modes, sends messages and
waits for answers. Selectors and steps follow what VS Code 1.139 shows; when a step fails, the page
is kept as a screenshot next to the test's artifacts.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, Playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

#: Chromium as the machine's Debian package installs it, with the flags a closed network needs.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: User settings for the test instance: no workspace-trust prompt, no welcome page, no telemetry.
USER_SETTINGS = {
    "security.workspace.trust.enabled": False,
    "workbench.startupEditor": "none",
    "telemetry.telemetryLevel": "off",
    "chat.tools.global.autoApprove": True,
}
#: Browser-storage items that mark chat set-up as done (see the suite's README).
CHAT_SETUP = {
    "extensionsIdentifiers/disabled": "[]",
    "chat.setupContext": json.dumps(
        {
            "entitlement": 1,
            "installed": True,
            "disabled": False,
            "untrusted": False,
            "disabledInWorkspace": False,
            "completed": True,
            "hidden": False,
            "later": False,
        }
    ),
}
_STORE_ITEMS_JS = """
async (items) => {
  const db = await new Promise((resolve, reject) => {
    const request = indexedDB.open('vscode-web-state-db-global');
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  const tx = db.transaction('ItemTable', 'readwrite');
  for (const [key, value] of Object.entries(items)) tx.objectStore('ItemTable').put(value, key);
  await new Promise((resolve, reject) => { tx.oncomplete = resolve; tx.onerror = () => reject(tx.error); });
}
"""
INPUT = ".interactive-input-part .monaco-editor:visible"
_PICKER_READY_JS = "() => [...document.querySelectorAll('.action-widget .monaco-list-row')].some(e => e.ariaLabel)"
_LABELS_JS = "els => els.map(e => e.getAttribute('aria-label'))"
#: (aria-label, separator text) of each row of the model picker.
_ROW_FACTS_JS = (
    "els => els.map(e => [e.getAttribute('aria-label'), e.classList.contains('separator') ? e.textContent : null])"
)


def _row_index(rows: list[list[str | None]], model_name: str, group: str) -> int | None:
    """Where ``model_name`` of ``group`` is in the model picker: under the group's heading, or inline."""
    heading: str | None = None
    for index, (label, separator) in enumerate(rows):
        if separator is not None:
            heading = separator or heading
        elif (label and (label.startswith(f"{model_name}, {group},") or label == f"{model_name}, {group}")) or (
            label == model_name and heading == group
        ):
            return index
    return None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout:g} s")


class CodeServer:
    """code-server on 127.0.0.1 with its own HOME, user-data folder and workspace."""

    def __init__(self, node: Path, code_server: Path, root: Path) -> None:
        self.root = root
        self.home = root / "home"
        self.user_data = root / "user-data"
        self.workspace = root / "workspace"
        for folder in (self.home, self.user_data / "User", self.workspace, root / "extensions"):
            folder.mkdir(parents=True, exist_ok=True)
        (self.user_data / "User" / "settings.json").write_text(json.dumps(USER_SETTINGS, indent=2))
        (self.workspace / "notes.txt").write_text("Shopping list: apples, bread.\n")
        self.port = free_port()
        self.log = root / "code-server.log"
        env = {**os.environ, "HOME": str(self.home), "XDG_CONFIG_HOME": str(self.home / ".config")}
        command = [
            str(node),
            str(code_server / "out" / "node" / "entry.js"),
            "--auth=none",
            f"--bind-addr=127.0.0.1:{self.port}",
            f"--user-data-dir={self.user_data}",
            f"--extensions-dir={root / 'extensions'}",
            "--disable-telemetry",
            "--disable-update-check",
            "--disable-workspace-trust",
            str(self.workspace),
        ]
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?folder={self.workspace}"

    @property
    def models_file(self) -> Path:
        return self.user_data / "User" / "chatLanguageModels.json"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


class Workbench:
    """The VS Code page in Chromium."""

    def __init__(self, playwright: Playwright, chromium: str, server: CodeServer, artifacts: Path) -> None:
        self.server = server
        self.artifacts = artifacts
        self.browser: Browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        self.page: Page = self.browser.new_page(viewport={"width": 1400, "height": 900})
        self.page.set_default_timeout(30_000)
        self.page.goto(server.url)
        self._wait_ready()
        self.page.evaluate(_STORE_ITEMS_JS, CHAT_SETUP)
        self.reload()

    def close(self) -> None:
        self.browser.close()

    def _wait_ready(self) -> None:
        self.page.wait_for_selector(".monaco-workbench", timeout=90_000)
        self.page.wait_for_selector(INPUT, timeout=90_000)
        self.page.wait_for_timeout(1500)  # the chat view settles (model list, modes)

    def reload(self) -> None:
        """Reload the page: VS Code reads chatLanguageModels.json again (like Developer: Reload Window)."""
        self.page.reload()
        self._wait_ready()

    def screenshot(self, name: str) -> Path:
        path = self.artifacts / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', name)}.png"
        self.page.screenshot(path=str(path))
        return path

    # -- commands --------------------------------------------------------------------------------

    def command(self, title: str) -> None:
        """Run a command from the Command Palette by its title."""
        box = self.page.locator(".quick-input-widget input")
        row = self.page.locator(f".quick-input-list .monaco-list-row[aria-label^='{title}']").first
        for attempt in range(4):  # the palette can close again when something else takes the focus
            try:
                self.page.locator(".part.editor").first.click(force=True)  # the palette opens for a focused window
                self.page.keyboard.press("F1")
                box.wait_for(state="visible", timeout=5000)
                box.fill(">" + title, timeout=5000)
                row.wait_for(timeout=5000)
                self.page.keyboard.press("Enter")
                return
            except PlaywrightTimeout:
                if attempt == 3:
                    self.screenshot(f"command-{title}")
                    raise
                self.page.keyboard.press("Escape")

    def set_api_key(self, model_name: str, group: str, key: str) -> None:
        """Chat: Manage Language Models → right-click the model's group → Update API Key."""
        before = self.server.models_file.read_text("utf-8")
        rows = self.page.locator(".monaco-list-row[aria-label*=' from ']").first
        for attempt in range(3):  # on a busy machine the view can miss its first opening
            self.command("Chat: Manage Language Models")
            try:
                rows.wait_for(timeout=20_000)
                break
            except PlaywrightTimeout:
                if attempt == 2:
                    self.screenshot("manage-language-models")
                    raise
                self.page.keyboard.press("Escape")
        # the list is virtual: filter it (the search box has the focus) so the row is on screen
        self.page.keyboard.type(model_name)
        row = self.page.locator(f".monaco-list-row[aria-label^='{model_name} from {group}']").first
        try:
            row.wait_for(timeout=10_000)
        except PlaywrightTimeout:
            self.screenshot(f"set-api-key-{group}")
            labels = self.page.locator(".monaco-list-row").evaluate_all(_LABELS_JS)
            raise AssertionError(f"no row for {model_name} from {group}; rows: {labels}") from None
        box = self.page.locator(".quick-input-widget input")
        for _ in range(4):  # the menu sometimes takes a click before it is ready for one
            row.click(button="right")
            item = self.page.get_by_role("menuitem", name="Update API Key").filter(visible=True)
            item.hover()
            self.page.wait_for_timeout(300)
            item.click(force=True)
            try:
                box.wait_for(state="visible", timeout=3000)
                break
            except PlaywrightTimeout:
                self.page.keyboard.press("Escape")
        else:
            self.screenshot(f"set-api-key-box-{group}")
            raise AssertionError(f"no API key box for the group {group}")
        box.fill(key)
        self.page.keyboard.press("Enter")
        deadline = time.monotonic() + 20
        while self.server.models_file.read_text("utf-8") == before:
            if time.monotonic() > deadline:
                raise TimeoutError("VS Code did not write the API key reference into chatLanguageModels.json")
            time.sleep(0.2)
        self.page.keyboard.press("Escape")
        self.page.keyboard.press("Escape")

    # -- chat ------------------------------------------------------------------------------------

    def _input(self) -> Any:
        return self.page.locator(INPUT).first

    def new_chat(self) -> None:
        self.close_popups()  # whatever a failed step left open
        self._input().click()
        self.page.keyboard.press("Control+n")
        self.page.wait_for_timeout(800)

    def pick_model(self, model_name: str, group: str) -> None:
        labels: list[list[str | None]] = []
        for _ in range(15):  # models appear a while after a reload, once their keys are read
            try:
                labels = self._choose_model(model_name, group)
                self.page.wait_for_function(
                    "([sel, name]) => [...document.querySelectorAll(sel)].some(e => e.textContent.trim() === name)",
                    arg=[".interactive-input-part .model-picker-name", model_name],
                    timeout=3000,
                )
                return
            except PlaywrightTimeout:
                self.close_popups()
                self.page.wait_for_timeout(1000)
        self.screenshot(f"pick-model-{model_name}")
        raise AssertionError(f"could not pick {model_name} from {group}; the picker offered {labels}")

    def _choose_model(self, model_name: str, group: str) -> list[list[str | None]]:
        """One try: open the picker, narrow it to ``model_name``, click the group's row."""
        self.page.locator(".interactive-input-part .model-picker-name:visible").first.click()
        search = self.page.locator(".action-widget .action-list-filter-input")
        search.wait_for(timeout=3000)
        search.fill(model_name)  # the list is virtual and grouped by provider: narrow it down first
        self.page.wait_for_function(_PICKER_READY_JS, timeout=3000)
        toggle = self.page.locator(".action-widget .monaco-list-row[aria-label='Other Models']")
        if toggle.count() and toggle.get_attribute("aria-expanded") != "true":
            toggle.click()
            self.page.wait_for_timeout(300)
            search.click()  # back to the keyboard
        rows = self.page.locator(".action-widget .monaco-list-row")
        labels: list[list[str | None]] = rows.evaluate_all(_ROW_FACTS_JS)
        target = _row_index(labels, model_name, group)
        if target is None:
            raise PlaywrightTimeout(f"{model_name} from {group} is not offered yet")
        # the keyboard, not the mouse: a click can land on a row's pin button
        for _ in range(len(labels)):
            focused = rows.evaluate_all("els => els.findIndex(e => e.classList.contains('focused'))")
            if focused == target:
                self.page.keyboard.press("Enter")
                return labels
            self.page.keyboard.press("ArrowDown" if focused < target else "ArrowUp")
        raise PlaywrightTimeout(f"could not move to {model_name} from {group}")

    def close_popups(self) -> None:
        """Close whatever menu or picker a step left open."""
        for _ in range(3):
            if not self.page.locator(".context-view .action-widget, .monaco-menu").filter(visible=True).count():
                return
            self.page.keyboard.press("Escape")
            self.page.wait_for_timeout(200)

    def pick_mode(self, mode: str) -> None:
        """``Ask`` or ``Agent`` in the chat input's mode picker."""
        labels = self.page.locator(".interactive-input-part .action-label:visible")
        button = labels.filter(has_text=re.compile(r"^(Agent|Ask|Plan|Edit)$")).first
        if button.inner_text().strip() == mode:
            return
        row = self.page.locator(f".action-widget .monaco-list-row[aria-label^='{mode},']").first
        for _ in range(20):  # Ask and Plan are built-in agents that load a while after the window
            button.click()
            try:
                row.wait_for(timeout=1000)
                row.click()
                return
            except PlaywrightTimeout:
                self.page.keyboard.press("Escape")
                self.page.wait_for_timeout(1000)
        raise AssertionError(f"the chat offers no {mode} mode")

    def send(self, text: str) -> None:
        box = self._input()
        box.click()
        self.page.keyboard.type(text)
        self.page.keyboard.press("Enter")
        # the input empties once the chat took the message
        self.page.wait_for_function("e => !e.textContent.trim()", arg=box.element_handle(), timeout=10_000)

    def wait_for_text(self, text: str, timeout: float = 60.0) -> None:
        """Wait until ``text`` is shown in the chat's answers."""
        self.page.locator(".interactive-response", has_text=text).last.wait_for(timeout=timeout * 1000)

    def chat_text(self) -> str:
        return "\n".join(self.page.locator(".interactive-response").all_inner_texts())
