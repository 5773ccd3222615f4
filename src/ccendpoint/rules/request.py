"""Facts about a chat-completions request that rule conditions look at, computed once per request."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


def messages_of(body: Mapping[str, Any]) -> Sequence[Any]:
    messages = body.get("messages")
    return messages if isinstance(messages, list) else ()


def has_reasoning(message: Mapping[str, Any]) -> bool:
    """The message carries usable ``reasoning_content``: text that is not only white space."""
    value = message.get("reasoning_content")
    # isspace() reads the text without copying it, as strip() would
    return isinstance(value, str) and value != "" and not value.isspace()


def is_tool_turn(body: Mapping[str, Any]) -> bool:
    """Tools are involved: tools offered, a tool result in the history, or a tool_choice other than none.

    VS Code offers ``tools`` on every request, Ask mode included, and sends no ``tool_choice``.
    """
    tools = body.get("tools")
    if isinstance(tools, list) and tools:
        return True
    tool_choice = body.get("tool_choice")
    if tool_choice is not None and tool_choice != "none":
        return True
    return any(isinstance(m, dict) and m.get("role") == "tool" for m in messages_of(body))


def is_missing_reasoning(body: Mapping[str, Any]) -> bool:
    """An earlier assistant tool call lacks its ``reasoning_content`` (absent, not text, or blank)."""
    for message in messages_of(body):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        tool_calls = message.get("tool_calls")
        if isinstance(tool_calls, list) and tool_calls and not has_reasoning(message):
            return True
    return False


@dataclass(frozen=True)
class RequestFacts:
    """What the conditions look at: the request's model id, whether tools are involved, whether some
    reasoning is missing, whether it streams, and which top-level fields it has."""

    model: str
    tool_turn: bool
    missing_reasoning: bool
    stream: bool
    fields: frozenset[str] = frozenset()


def request_facts(body: Mapping[str, Any]) -> RequestFacts:
    model = body.get("model")
    return RequestFacts(
        model=model if isinstance(model, str) else "",
        tool_turn=is_tool_turn(body),
        missing_reasoning=is_missing_reasoning(body),
        stream=body.get("stream") is True,
        fields=frozenset(body),
    )
