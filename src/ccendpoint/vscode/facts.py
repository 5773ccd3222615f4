"""What VS Code is and does, as ccendpoint relies on it: names, ids, file names, versions, UI paths.

Facts only, no logic: every other module takes them from here, so a VS Code release that changes
one is followed in one place (docs/vscode-config.md describes them). What VS Code puts in a request
body is in :mod:`ccendpoint.vscode.requests`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Literal

# --- the Custom Endpoint provider ----------------------------------------------------------------

#: The ``vendor`` of the groups that Copilot Chat's built-in Custom Endpoint provider reads.
VENDOR = "customendpoint"
#: The ``apiType`` ccendpoint writes: OpenAI-style chat completions.
API_TYPE = "chat-completions"
#: ``reasoningEffortFormat`` that sends the chosen Thinking Effort as a top-level ``reasoning_effort``.
EFFORT_FORMAT = "chat-completions"
#: What VS Code's own "Add Models" wizard writes when a model's limits are unknown.
FALLBACK_MAX_INPUT = 128000
FALLBACK_MAX_OUTPUT = 16000

#: Model ids that Copilot itself serves. A custom model with one of these ids is hidden in the model
#: picker or fails with "502 Model not found" (microsoft/vscode#318968). These are common examples,
#: not the complete list, which changes with Copilot releases.
BUILTIN_MODEL_IDS = frozenset(
    {
        "gpt-4o",
        "gpt-4o-mini",
        "gpt-4.1",
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-codex",
        "gpt-5.1",
        "gpt-5.1-codex",
        "gpt-5.2",
        "gpt-5.5",
        "o3",
        "o3-mini",
        "o4-mini",
        "claude-sonnet-4",
        "claude-sonnet-4.5",
        "claude-opus-4.1",
        "claude-opus-4.5",
        "claude-haiku-4.5",
        "gemini-2.5-pro",
        "gemini-3-pro-preview",
        "grok-code-fast-1",
    }
)

#: VS Code's reference to a key in its secret storage, e.g. ``${input:chat.lm.secret.-60b744f3}``.
SECRET_REFERENCE = re.compile(r"\$\{input:[^}\"]*\}")
#: What VS Code replaces with the group's key inside a model's ``requestHeaders`` value.
API_KEY_PLACEHOLDER = "${apiKey}"

# --- files and folders ---------------------------------------------------------------------------

#: Inside the user-data folder: ``User/`` for the default profile, ``User/profiles/<id>/`` for the others.
USER_FOLDER = "User"
PROFILES_FOLDER = "profiles"
#: The global state that lists the profiles, under ``User/``.
STORAGE_FILE = ("globalStorage", "storage.json")
#: The user-data folder of a portable install, under ``VSCODE_PORTABLE``.
PORTABLE_USER_DATA = "user-data"
#: The file that holds the language-model groups, in each profile's folder.
MODELS_FILE = "chatLanguageModels.json"
#: The user's settings, beside :data:`MODELS_FILE`.
SETTINGS_FILE = "settings.json"
#: How VS Code writes chatLanguageModels.json: ``JSON.stringify(groups, undefined, '\t')``.
MODELS_FILE_INDENT = "\t"
#: How VS Code's settings editor indents a new settings.json.
SETTINGS_FILE_INDENT = "    "

Edition = Literal["stable", "insiders", "vscodium"]
EDITIONS: tuple[Edition, ...] = ("stable", "insiders", "vscodium")
#: The product folder name (``nameShort``) of each edition.
PRODUCT_FOLDER: Mapping[Edition, str] = {"stable": "Code", "insiders": "Code - Insiders", "vscodium": "VSCodium"}
#: How each edition is called.
EDITION_NAMES: Mapping[Edition, str] = {"stable": "VS Code", "insiders": "VS Code Insiders", "vscodium": "VSCodium"}
#: The command each edition puts on PATH (``code --version``).
EDITION_COMMANDS: Mapping[str, str] = {"stable": "code", "insiders": "code-insiders", "vscodium": "codium"}
VSCODIUM_WARNING = (
    "VSCodium ships without GitHub Copilot Chat, so no Custom Endpoint provider reads this file "
    "there; the groups only work in VS Code (Stable or Insiders)."
)

# --- settings ------------------------------------------------------------------------------------

#: Utility models: ``"<vendor>/<model id>"`` (a Custom Endpoint model is ``"customendpoint/kimi-k2.6"``).
UTILITY_MODEL = "chat.utilityModel"
UTILITY_SMALL_MODEL = "chat.utilitySmallModel"
UTILITY_SETTINGS = (UTILITY_MODEL, UTILITY_SMALL_MODEL)
#: "copilot" (the default), "mainAgent" (utility tasks use the chat's model) or "none".
BYOK_UTILITY_DEFAULT = "chat.byokUtilityModelDefault"
MAIN_AGENT = "mainAgent"
#: From this release on, Custom Endpoint models need this setting to show in the Agent Host picker.
AGENT_HOST_SINCE = (1, 132)
AGENT_HOST_SETTING = "chat.agentHost.byokModels.enabled"

# --- where things are in VS Code's UI (Command Palette entries) -----------------------------------

MANAGE_MODELS = "Chat: Manage Language Models"
OPEN_MODELS_JSON = "Chat: Open Language Models (JSON)"
OPEN_SETTINGS_JSON = "Preferences: Open User Settings (JSON)"
RELOAD_WINDOW = "Developer: Reload Window"
UPDATE_API_KEY = "Update API Key"
