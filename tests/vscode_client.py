"""VS Code 1.139's side of a chat, for tests: the requests it sends and how it keeps the history.

Everything here follows what a real VS Code sent in the end-to-end suite (``tests/e2e``); the bodies
are in ``tests/fixtures/vscode/requests/`` (derived by ``tests/e2e/derive.py``, with our own text in
place of VS Code's). A :class:`Chat` builds each request the way VS Code does and takes each answer
the way VS Code reads it:

* the body keys in their order, and the sampling, effort and output fields of
  :mod:`ccendpoint.vscode.requests` (the product's own statement of those rules);
* tool calls come back with compact JSON arguments, and with ids renumbered ``functions.<name>:<n>``
  for Kimi model ids;
* reasoning comes back only when the answer's reasoning carried an id, only within the turn it
  belongs to, as ``cot_id`` and ``cot_summary`` (plus ``reasoning_content`` and ``reasoning`` for
  ``thinking`` models); reasoning without an id is never sent back.
"""

from __future__ import annotations

import contextlib
import copy
import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccendpoint.vscode.requests import SAMPLING_KEYS, body_fields

FIXTURES = Path(__file__).parent / "fixtures" / "vscode" / "requests"
#: Model ids for which VS Code renumbers tool-call ids (``functions.<name>:<n>``).
RENUMBERED_IDS = ("kimi-k2.6", "kimi-k2.7-code", "kimi-k3")


@functools.cache
def recorded(name: str) -> dict[str, Any]:
    """A fixture: ``{"headers": …, "body": …}`` as the real client sent it (our own text)."""
    data: dict[str, Any] = json.loads((FIXTURES / f"{name}.json").read_text("utf-8"))
    return data


def headers() -> dict[str, str]:
    """The headers VS Code sends, without the ones an HTTP client sets itself."""
    skip = {"host", "connection", "content-length", "accept-encoding"}
    return {k: v for k, v in recorded("agent")["headers"].items() if k.lower() not in skip}


SYSTEM_TEXT: str = recorded("agent")["body"]["messages"][0]["content"]


def tool_call(name: str, arguments: dict[str, Any], call_id: str | None = None) -> dict[str, Any]:
    """A tool call as VS Code sends it back: compact JSON arguments."""
    return {
        "id": call_id or f"call_{name}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments, separators=(",", ":"))},
    }


@dataclass
class Round:
    """One answer that called tools, and the tools' results."""

    calls: list[dict[str, Any]]
    text: str
    reasoning: str
    reasoning_id: str | None
    results: list[str] = field(default_factory=list)


@dataclass
class Answer:
    """An answer as VS Code read it."""

    content: str
    reasoning: str
    reasoning_id: str | None
    calls: list[dict[str, Any]]


class Chat:
    """One conversation in VS Code's chat view with one model entry (as ``add`` writes it)."""

    def __init__(self, entry: dict[str, Any], *, mode: str = "agent", effort: str | None = None) -> None:
        self.entry = entry
        self.mode = mode
        self.effort = effort
        base = recorded("agent" if mode == "agent" else "ask")["body"]
        self._lead = copy.deepcopy(base["messages"][:2])  # system prompt and environment
        self._tools = copy.deepcopy(base["tools"])
        self._turns: list[tuple[dict[str, Any], list[Round], str | None]] = []  # user, rounds, final text

    # -- the user's side ---------------------------------------------------------------------------

    def ask(self, text: str) -> None:
        """A new user message: a new turn."""
        self._turns.append(({"role": "user", "content": text}, [], None))

    def add_round(
        self, calls: list[dict[str, Any]], results: list[str], *, reasoning: str = "", reasoning_id: str | None = None
    ) -> None:
        """An earlier answer that called tools (as VS Code keeps it), with the tools' results."""
        self._turns[-1][1].append(Round(calls, "", reasoning, reasoning_id, results))

    def tool_results(self, *results: str) -> None:
        """The results of the last answer's tool calls (one per call)."""
        rounds = self._turns[-1][1]
        rounds[-1].results = list(results) or ["done"] * len(rounds[-1].calls)

    # -- requests ----------------------------------------------------------------------------------

    def request(self, *, stream: bool = True) -> dict[str, Any]:
        """The next request body, as VS Code would send it now."""
        messages = [*copy.deepcopy(self._lead), *self._history()]
        if any(self.entry["id"].lower().find(model) >= 0 for model in RENUMBERED_IDS):
            messages = _renumber(messages)
        fields = body_fields(self.entry, self.effort)
        body: dict[str, Any] = {"messages": messages, "model": self.entry["id"]}
        body.update({k: fields.pop(k) for k in SAMPLING_KEYS if k in fields})
        body["stream"] = stream
        if self.entry.get("toolCalling", True):
            body["tools"] = copy.deepcopy(self._tools)
        body["n"] = 1
        body.update(fields)  # reasoning_effort, max_completion_tokens
        if stream:
            body["stream_options"] = {"include_usage": True}
        return body

    def _history(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for index, (user, rounds, final) in enumerate(self._turns):
            current = index == len(self._turns) - 1
            out.append(copy.deepcopy(user))
            for round_ in rounds:
                message: dict[str, Any] = {"role": "assistant", "content": round_.text, "tool_calls": round_.calls}
                if current and round_.reasoning_id is not None:
                    message["cot_id"] = round_.reasoning_id
                    message["cot_summary"] = round_.reasoning
                    if self.entry.get("thinking"):
                        message["reasoning_content"] = message["reasoning"] = round_.reasoning
                out.append(copy.deepcopy(message))
                for call, result in zip(round_.calls, round_.results, strict=False):
                    out.append({"role": "tool", "content": result, "tool_call_id": call["id"]})
            if final is not None:
                out.append({"role": "assistant", "content": final})
        return out

    # -- answers -----------------------------------------------------------------------------------

    def take(self, raw: bytes, *, stream: bool = True) -> Answer:
        """Read an answer the way VS Code does and add it to the conversation."""
        answer = _read_stream(raw) if stream else _read_json(raw)
        user, rounds, _ = self._turns[-1]
        if answer.calls:
            calls = [_as_sent_back(call) for call in answer.calls]
            rounds.append(Round(calls, answer.content, answer.reasoning, answer.reasoning_id))
        else:
            self._turns[-1] = (user, rounds, answer.content)
        return answer


def _as_sent_back(call: dict[str, Any]) -> dict[str, Any]:
    """VS Code parses the streamed arguments and writes them back compactly."""
    arguments = call["function"]["arguments"] or "{}"
    with contextlib.suppress(ValueError):
        arguments = json.dumps(json.loads(arguments), separators=(",", ":"), ensure_ascii=False)
    function = {"name": call["function"]["name"], "arguments": arguments}
    return {"id": call["id"], "function": function, "type": "function"}


def _renumber(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Kimi model ids: every tool call becomes ``functions.<name>:<n>``, counted over the conversation."""
    counter = 0
    renamed: dict[str, str] = {}
    out = []
    for message in messages:
        if message.get("role") == "assistant" and message.get("tool_calls"):
            calls = []
            for call in message["tool_calls"]:
                new_id = f"functions.{call['function']['name']}:{counter}"
                counter += 1
                renamed[call["id"]] = new_id
                calls.append({**call, "id": new_id})
            message = {**message, "tool_calls": calls}
        elif message.get("role") == "tool" and message.get("tool_call_id") in renamed:
            message = {**message, "tool_call_id": renamed[message["tool_call_id"]]}
        out.append(message)
    return out


_REASONING_TEXT = ("cot_summary", "reasoning_text", "reasoning_content", "reasoning", "thinking")
_REASONING_ID = ("cot_id", "reasoning_opaque", "signature")


def _take_part(part: dict[str, Any], answer: Answer, calls: dict[int, dict[str, Any]]) -> None:
    text = next((part[k] for k in _REASONING_TEXT if isinstance(part.get(k), str) and part[k]), None)
    if text:
        answer.reasoning += text
    rid = next((part[k] for k in _REASONING_ID if isinstance(part.get(k), str) and part[k]), None)
    if rid:
        answer.reasoning_id = rid
    if isinstance(part.get("content"), str):
        answer.content += part["content"]
    for position, piece in enumerate(part.get("tool_calls") or []):
        slot = calls.setdefault(piece.get("index", position), {"id": "", "function": {"name": "", "arguments": ""}})
        slot["id"] = piece.get("id") or slot["id"]
        function = piece.get("function") or {}
        slot["function"]["name"] += function.get("name") or ""
        slot["function"]["arguments"] += function.get("arguments") or ""


def _read_stream(raw: bytes) -> Answer:
    answer = Answer("", "", None, [])
    calls: dict[int, dict[str, Any]] = {}
    for event in raw.replace(b"\r\n", b"\n").split(b"\n\n"):
        data = b"\n".join(line[5:].lstrip() for line in event.split(b"\n") if line.startswith(b"data:"))
        if not data or data == b"[DONE]":
            continue
        parsed = json.loads(data)
        for choice in parsed.get("choices") or []:
            _take_part(choice.get("delta") or {}, answer, calls)
    answer.calls = [calls[i] for i in sorted(calls)]
    return answer


def _read_json(raw: bytes) -> Answer:
    answer = Answer("", "", None, [])
    calls: dict[int, dict[str, Any]] = {}
    message = json.loads(raw)["choices"][0]["message"]
    _take_part(message, answer, calls)
    answer.calls = [calls[i] for i in sorted(calls)]
    return answer
