"""What VS Code 1.139 puts in a chat-completions body for a Custom Endpoint model entry (pure).

Observed in a real VS Code (the end-to-end suite): every request carries ``temperature`` 0.1,
``top_p`` 1 and ``n`` 1, ``stream`` (with ``stream_options.include_usage`` when streaming) and the
tools of the chat mode; never ``max_tokens``, ``tool_choice`` or a thinking switch. The entry
changes that:

* ``thinking: true`` drops ``temperature`` (even one set in ``modelOptions``) and adds
  ``max_completion_tokens`` = ``maxOutputTokens``;
* ``supportsReasoningEffort`` with ``reasoningEffortFormat: chat-completions`` adds a top-level
  ``reasoning_effort``: the user's pick from the group's ``settings``, else VS Code's default level;
* ``modelOptions`` sets ``temperature`` and ``top_p`` (``null`` leaves the field out).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

DEFAULT_SAMPLING = {"temperature": 0.1, "top_p": 1}
SAMPLING_KEYS = ("temperature", "top_p")


def default_effort(model_id: str, levels: list[str]) -> str:
    """The Thinking Effort level VS Code sends while the user has not picked one."""
    if "medium" in levels:
        return "medium"
    if model_id.startswith("claude") or "kimi-k3" in model_id:
        return "high"
    return levels[0]


def body_fields(entry: Mapping[str, Any], chosen_effort: str | None = None) -> dict[str, Any]:
    """The sampling, output and effort fields of the body VS Code sends for ``entry``, in its order."""
    thinking = entry.get("thinking") is True
    fields: dict[str, Any] = dict(DEFAULT_SAMPLING)
    if thinking:
        del fields["temperature"]
    levels = entry.get("supportsReasoningEffort")
    if (
        isinstance(levels, list)
        and levels
        and entry.get("reasoningEffortFormat", "chat-completions") == ("chat-completions")
    ):
        model_id = str(entry.get("id", ""))
        fields["reasoning_effort"] = chosen_effort or default_effort(model_id, [str(level) for level in levels])
    if thinking and isinstance(entry.get("maxOutputTokens"), int):
        fields["max_completion_tokens"] = entry["maxOutputTokens"]
    options = entry.get("modelOptions")
    if isinstance(options, Mapping):
        for key in SAMPLING_KEYS:
            if key not in options:
                continue
            if options[key] is None:
                fields.pop(key, None)
            elif not (key == "temperature" and thinking):
                fields[key] = options[key]
    return fields


def chosen_effort(group: Mapping[str, Any], model_id: str) -> str | None:
    """The Thinking Effort the user picked for ``model_id``, which VS Code keeps in the group's ``settings``."""
    settings = group.get("settings")
    if isinstance(settings, Mapping):
        picked = settings.get(model_id)
        if isinstance(picked, Mapping) and isinstance(picked.get("reasoningEffort"), str):
            return str(picked["reasoningEffort"])
    return None
