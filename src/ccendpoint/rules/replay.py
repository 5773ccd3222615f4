"""Reasoning replay: thinking models get back the reasoning_content of their earlier tool calls.

Thinking providers (Kimi, MiMo, DeepSeek, Qwen) refuse a tool follow-up whose history has an
assistant tool-call message without its ``reasoning_content``, and VS Code never sends that field
back by itself. Two facts of VS Code 1.139 make replay possible:

* **Within a turn** (the tool loop after one user message), VS Code returns the reasoning of an
  answer when the answer's reasoning carried an id: the assistant message then comes back with
  ``cot_id`` and ``cot_summary`` (and, for models marked ``thinking``, ``reasoning_content`` and
  ``reasoning``). The proxy gives each answer's reasoning an id on the way out (see
  :mod:`ccendpoint.proxy.tagging`); here, on the way in, VS Code's echo becomes the provider's
  ``reasoning_content`` and the echo fields, which providers do not know, are removed. Nothing is
  stored: the reasoning travels with the conversation.
* **In later turns** VS Code sends the earlier turns' tool calls again, without any reasoning. For
  those a cache is asked (a ``lookup`` function), filled when a turn ends (the answer without tool
  calls, see :func:`turn_entries`): each of the turn's tool-call messages is stored under a key
  made of the provider, the turn's tool calls (name and arguments in canonical JSON, so spacing and
  key order do not matter; ids are left out because VS Code renumbers them) and the turn's final
  answer text, plus the message's position in the turn. Two conversations only share an entry when
  their turns called the same tools with the same arguments and ended in the same answer.

Pure functions: the cache itself is :class:`ccendpoint.proxy.reasoning_cache.ReasoningCache`.
"""

from __future__ import annotations

import functools
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ccendpoint.rules.request import has_reasoning

#: Fields VS Code adds to an assistant message whose reasoning carried an id: the id, the text
#: (``cot_summary``; ``reasoning`` as well for models marked ``thinking``). No provider knows them.
ECHO_FIELDS = ("cot_id", "cot_summary", "reasoning")
_ECHO = frozenset(ECHO_FIELDS)
#: Arguments up to this length have their canonical form remembered: a history is sent again with
#: every request of a session, so the same calls are read again and again.
_REMEMBERED_ARGUMENTS = 1024


def _text(value: Any) -> str:
    """Message content as text: a string, or the text parts of a content list."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "".join(
            part.get("text", "") for part in value if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""


def usable(value: Any) -> bool:
    """Reasoning text that is not only white space (isspace() reads it without a copy)."""
    return isinstance(value, str) and value != "" and not value.isspace()


def _tool_calls(message: Any) -> list[Any] | None:
    """The message's tool calls when it is an assistant message that has some."""
    if not isinstance(message, dict) or message.get("role") != "assistant":
        return None
    calls = message.get("tool_calls")
    return calls if isinstance(calls, list) and calls else None


def echoed_reasoning(message: Mapping[str, Any]) -> str | None:
    """The reasoning VS Code sent back in its own fields (``cot_summary``, then ``reasoning``)."""
    for field in ("cot_summary", "reasoning"):
        value = message.get(field)
        if usable(value):
            return str(value)
    return None


def canonical_arguments(arguments: Any) -> str:
    """Tool-call arguments as compact JSON with sorted keys; text that is not JSON, stripped.

    Providers stream ``{"path": "/w"}`` and VS Code sends back ``{"path":"/w"}``: both give the same.
    """
    if not isinstance(arguments, str):
        return ""
    if len(arguments) <= _REMEMBERED_ARGUMENTS:
        return _remembered_canonical(arguments)
    return _canonical(arguments)


@functools.lru_cache(maxsize=2048)
def _remembered_canonical(arguments: str) -> str:
    return _canonical(arguments)


def _canonical(arguments: str) -> str:
    try:
        parsed = json.loads(arguments)
    except ValueError:
        return arguments.strip()
    return json.dumps(parsed, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _call_text(call: Any) -> str:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return "?"
    return f"{function.get('name') or ''}({canonical_arguments(function.get('arguments'))})"


def turn_signature(scope: str, segment: Sequence[Any]) -> str:
    """What identifies one finished turn: its tool calls in order and its final answer's text.

    ``segment`` is the turn's messages after its user message. The final answer is the last
    assistant message without tool calls ("" when the turn has none).
    """
    digest = hashlib.blake2b(digest_size=16)
    digest.update(scope.encode("utf-8", "surrogatepass") + b"\x00")
    final = ""
    for message in segment:
        calls = _tool_calls(message)
        if calls is not None:
            line = "\x1f".join(_call_text(call) for call in calls)
            digest.update(line.encode("utf-8", "surrogatepass") + b"\x00")
        elif isinstance(message, dict) and message.get("role") == "assistant":
            final = _text(message.get("content")).strip()
    digest.update(b"\x02" + final.encode("utf-8", "surrogatepass"))
    return digest.hexdigest()


def entry_key(signature: str, position: int) -> str:
    """The cache key of the ``position``-th tool-call message of the turn ``signature`` names."""
    return f"{signature}:{position}"


def _segments(messages: Sequence[Any]) -> list[tuple[int, int]]:
    """(start, end) of each turn: the messages after a user message, up to the next one."""
    bounds = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
    if not bounds:
        return []
    return [(start + 1, end) for start, end in zip(bounds, [*bounds[1:], len(messages)], strict=True)]


@dataclass(frozen=True)
class Replay:
    """What replay did to one request."""

    body: dict[str, Any]
    from_echo: int  # assistant tool-call messages whose reasoning came from VS Code's echo fields
    from_cache: int  # ... from the cache of finished turns
    missing: int  # assistant tool-call messages still without reasoning
    cleaned: int  # assistant messages that lost VS Code's echo fields

    @property
    def restored(self) -> int:
        return self.from_echo + self.from_cache

    @property
    def changed(self) -> bool:
        return self.restored > 0 or self.cleaned > 0


def restore_reasoning(body: Mapping[str, Any], scope: str, lookup: Callable[[str], str | None] | None = None) -> Replay:
    """Copy of ``body`` with reasoning put back and VS Code's echo fields removed (pure but for ``lookup``).

    A message that already carries usable ``reasoning_content`` keeps it. ``lookup`` (cache key →
    reasoning) is asked only for turns that ended before the last user message.
    """
    messages = body.get("messages")
    if not isinstance(messages, list):
        return Replay(dict(body), 0, 0, 0, 0)
    new_messages: list[Any] | None = None
    from_echo = from_cache = missing = cleaned = 0
    turns = _segments(messages)
    last_turn_start = turns[-1][0] if turns else len(messages)
    for start, end in _with_lead(turns, len(messages)):
        signature: str | None = None
        position = 0
        for index in range(start, end):
            message = messages[index]
            # only assistant messages matter: a tool-call message, or one VS Code added its echo to
            if not isinstance(message, dict) or message.get("role") != "assistant":
                continue
            calls = message.get("tool_calls")
            has_calls = isinstance(calls, list) and bool(calls)
            echo_fields = not _ECHO.isdisjoint(message)
            if not has_calls and not echo_fields:
                continue
            fixed = {k: v for k, v in message.items() if k not in _ECHO} if echo_fields else message
            if has_calls:
                position += 1
                if not has_reasoning(message):
                    found = echoed_reasoning(message)
                    if found is not None:
                        from_echo += 1
                    elif lookup is not None and start < last_turn_start:
                        if signature is None:
                            signature = turn_signature(scope, messages[start:end])
                        found = lookup(entry_key(signature, position))
                        from_cache += found is not None
                    if found is None:
                        missing += 1
                    else:
                        fixed = {**fixed, "reasoning_content": found}
            if fixed is not message:
                if echo_fields:
                    cleaned += 1
                if new_messages is None:
                    new_messages = list(messages)
                new_messages[index] = fixed
    new_body = dict(body)
    if new_messages is not None:
        new_body["messages"] = new_messages
    return Replay(new_body, from_echo, from_cache, missing, cleaned)


def _with_lead(turns: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    """The turns, plus the messages before the first user message (a history may start there)."""
    first = turns[0][0] - 1 if turns else length
    return [(0, first), *turns] if first > 0 else turns


def last_turn(messages: Any) -> list[Any]:
    """All of a history that :func:`turn_entries` reads: the assistant messages after the last user
    message, behind a stand-in for that message. Tool results and the user's text, often nearly
    all of a long request, are left out, so keeping this costs little."""
    if not isinstance(messages, list):
        return []
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, dict) and message.get("role") == "user":
            after = messages[index + 1 :]
            return [_TURN_START, *(m for m in after if isinstance(m, dict) and m.get("role") == "assistant")]
    return []


#: Stands in for the user message that starts a turn (see :func:`last_turn`).
_TURN_START: dict[str, Any] = {"role": "user", "content": ""}


def turn_entries(scope: str, messages: Sequence[Any], answer_text: str) -> list[tuple[str, str]]:
    """(key, reasoning) for each tool-call message of the turn that ``answer_text`` finishes.

    ``messages`` is the request as sent upstream (reasoning already restored); the turn is what
    follows its last user message. Messages without usable reasoning are left out.
    """
    turns = _segments(messages)
    if not turns or not answer_text.strip():
        return []
    start, end = turns[-1]
    segment = [*messages[start:end], {"role": "assistant", "content": answer_text}]
    signature: str | None = None
    entries: list[tuple[str, str]] = []
    position = 0
    for message in segment:
        if _tool_calls(message) is None:
            continue
        position += 1
        if has_reasoning(message):
            signature = signature or turn_signature(scope, segment)
            entries.append((entry_key(signature, position), str(message["reasoning_content"])))
    return entries
