"""Fake provider APIs on 127.0.0.1 that check requests the way each real provider does.

Each fake enforces the provider's documented validation (the same error messages where the
provider's are known), answers in OpenAI chat-completions format (JSON or SSE), and records what
it received and whether the client went away before the answer was complete.

Answers look like the real providers' as VS Code meets them: while thinking, the reasoning streams
first, in several ``reasoning_content`` deltas without any id; tool calls follow, with the
provider's own id form (Kimi ``functions.<name>:<n>``, others ``call_…``) and arguments
serialised with spaces (``{"path": "/w"}``). Every answer's reasoning and text carry a serial
number, so a test can tell whose reasoning came back. The thinking providers refuse an assistant
message that carries fields they do not define (VS Code's ``cot_id``, ``cot_summary`` and
``reasoning``): how the real APIs treat unknown fields is not documented, so the fakes assume the
strictest answer and the proxy must never rely on their tolerance.

Behaviour knobs (:class:`Behaviour`): forced status (429 …), slow first byte, delay between
chunks, a connection cut after N chunks, an error event after N chunks, gzip, extra response headers.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
import json
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web

Rejection = tuple[int, str] | None


# -- what each provider accepts ------------------------------------------------------------------


def _missing_reasoning(body: Mapping[str, Any]) -> bool:
    for message in body.get("messages") or []:
        if isinstance(message, dict) and message.get("role") == "assistant" and message.get("tool_calls"):
            reasoning = message.get("reasoning_content")
            if not isinstance(reasoning, str) or not reasoning.strip():
                return True
    return False


#: Assistant-message fields a strict chat-completions API defines (the rest are refused).
ASSISTANT_FIELDS = frozenset({"role", "content", "tool_calls", "reasoning_content", "name", "prefix", "partial"})


def _unknown_message_field(body: Mapping[str, Any]) -> Rejection:
    for index, message in enumerate(body.get("messages") or []):
        if isinstance(message, dict) and message.get("role") == "assistant":
            unknown = sorted(set(message) - ASSISTANT_FIELDS)
            if unknown:
                return 400, f"unknown field {unknown[0]!r} in messages[{index}]"
    return None


def _effort(body: Mapping[str, Any], allowed: tuple[str, ...]) -> Rejection:
    if "reasoning_effort" in body and body["reasoning_effort"] not in allowed:
        return 400, f"invalid reasoning_effort: {body['reasoning_effort']!r}, expected one of {', '.join(allowed)}"
    return None


def _thinking_type(body: Mapping[str, Any]) -> str | None:
    thinking = body.get("thinking")
    if thinking is None:
        return None
    if isinstance(thinking, dict):
        value = thinking.get("type")
        return value if isinstance(value, str) else "?"
    return "?"


def _in_range(body: Mapping[str, Any], key: str, low: float, high: float, *, high_open: bool = False) -> Rejection:
    if key not in body:
        return None
    value = body[key]
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and low <= value
    ok = ok and (value < high if high_open else value <= high)
    if not ok:
        return 400, f"invalid {key}: {value!r} is out of range"
    return None


def kimi_thinking_on(body: Mapping[str, Any]) -> bool:
    model = str(body.get("model", ""))
    if model.startswith(("kimi-k2.7", "kimi-k3")):
        return True
    return _thinking_type(body) != "disabled"


def check_kimi(body: Mapping[str, Any]) -> Rejection:
    model = str(body.get("model", ""))
    problem = _unknown_message_field(body)
    if problem:
        return problem
    if model.startswith("kimi-k3"):
        problem = _effort(body, ("low", "high", "max"))
        if problem:
            return problem
    elif "reasoning_effort" in body:
        return 400, "unsupported parameter: reasoning_effort"
    thinking = _thinking_type(body)
    if model.startswith("kimi-k3") and "thinking" in body:
        return 400, "unsupported parameter: thinking"
    if model.startswith("kimi-k2.7") and thinking is not None and thinking != "enabled":
        return 400, "invalid thinking: only type=enabled is allowed for this model"
    if thinking not in (None, "enabled", "disabled"):
        return 400, "invalid thinking type"
    thinking_on = kimi_thinking_on(body)
    wanted = 1 if thinking_on else 0.6
    if "temperature" in body and body["temperature"] != wanted:
        return 400, f"invalid temperature: only {wanted:g} is allowed for this model"
    if "top_p" in body and body["top_p"] != 0.95:
        return 400, "invalid top_p: only 0.95 is allowed for this model"
    if thinking_on and _missing_reasoning(body):
        return 400, "thinking is enabled but reasoning_content is missing in assistant tool call message"
    return None


def mimo_thinking_on(body: Mapping[str, Any]) -> bool:
    default = "disabled" if str(body.get("model", "")).startswith("mimo-v2-flash") else "enabled"
    return (_thinking_type(body) or default) == "enabled"


def check_mimo(body: Mapping[str, Any]) -> Rejection:
    problem = _unknown_message_field(body)
    if problem:
        return problem
    if _thinking_type(body) not in (None, "enabled", "disabled"):
        return 400, "Param Incorrect: thinking.type must be enabled or disabled"
    problem = _in_range(body, "temperature", 0, 1.5) or _in_range(body, "top_p", 0.01, 1.0)
    if problem:
        return problem
    if mimo_thinking_on(body) and _missing_reasoning(body):
        return 400, "Param Incorrect: reasoning_content is required for assistant tool call messages in thinking mode"
    return None


def qwen_thinking_on(body: Mapping[str, Any]) -> bool:
    return body.get("enable_thinking", True) is not False


def check_qwen(body: Mapping[str, Any]) -> Rejection:
    problem = _unknown_message_field(body)
    if problem:
        return problem
    if "enable_thinking" in body and not isinstance(body["enable_thinking"], bool):
        return 400, "<400> InternalError.Algo.InvalidParameter: enable_thinking must be a boolean"
    problem = _in_range(body, "temperature", 0, 2, high_open=True) or _in_range(body, "top_p", 0.0001, 1.0)
    if problem:
        return problem
    if qwen_thinking_on(body) and _missing_reasoning(body):
        return 400, "<400> InternalError.Algo.InvalidParameter: reasoning_content is missing in the assistant message"
    return None


def deepseek_thinking_on(body: Mapping[str, Any]) -> bool:
    return (_thinking_type(body) or "enabled") == "enabled"


#: What DeepSeek's thinking guide lists for reasoning_effort (mapped to low, high or max).
DEEPSEEK_EFFORTS = ("minimal", "low", "medium", "high", "xhigh", "max", "ultra")


def check_deepseek(body: Mapping[str, Any]) -> Rejection:
    if _thinking_type(body) not in (None, "enabled", "disabled"):
        return 400, "Invalid request body format"
    problem = _unknown_message_field(body) or _effort(body, DEEPSEEK_EFFORTS)
    if problem:
        return problem
    if deepseek_thinking_on(body) and _missing_reasoning(body):
        return 400, "Missing `reasoning_content` field in the assistant message at message index 2"
    return None


def glm_thinking_on(body: Mapping[str, Any]) -> bool:
    return (_thinking_type(body) or "enabled") == "enabled"


def check_glm(body: Mapping[str, Any]) -> Rejection:
    model = str(body.get("model", ""))
    if model.startswith("glm-5.3") and _thinking_type(body) not in (None, "enabled"):
        return 400, "thinking.type only supports enabled for this model"
    temperature = body.get("temperature")
    if isinstance(temperature, (int, float)) and temperature > 1:
        return 400, "temperature must be at most 1.0"
    problem = _in_range(body, "top_p", 0.01, 1.0)
    if problem:
        return problem
    if body.get("clear_thinking") is False and glm_thinking_on(body) and _missing_reasoning(body):
        return 400, "reasoning_content of historical assistant messages is required when clear_thinking is false"
    return None


def minimax_thinking_on(body: Mapping[str, Any]) -> bool:
    return True  # MiniMax-M3 reasons whatever the thinking hint says


def check_minimax(body: Mapping[str, Any]) -> Rejection:
    if "reasoning_split" in body and not isinstance(body["reasoning_split"], bool):
        return 400, "invalid params, reasoning_split must be a boolean (2013)"
    if _thinking_type(body) not in (None, "enabled", "disabled", "adaptive"):
        return 400, "invalid params, thinking.type (2013)"
    return _in_range(body, "temperature", 0, 2) or _in_range(body, "top_p", 0, 1)


def nemotron_thinking_on(body: Mapping[str, Any]) -> bool:
    kwargs = body.get("chat_template_kwargs")
    return isinstance(kwargs, dict) and kwargs.get("enable_thinking") is True


def check_nemotron(body: Mapping[str, Any]) -> Rejection:
    kwargs = body.get("chat_template_kwargs")
    if kwargs is not None and not isinstance(kwargs, dict):
        return 400, "chat_template_kwargs must be an object"
    return None


@dataclass(frozen=True)
class ProviderRules:
    check: Callable[[Mapping[str, Any]], Rejection]
    thinking_on: Callable[[Mapping[str, Any]], bool]


PROVIDERS: dict[str, ProviderRules] = {
    "kimi": ProviderRules(check_kimi, kimi_thinking_on),
    "mimo": ProviderRules(check_mimo, mimo_thinking_on),
    "qwen": ProviderRules(check_qwen, qwen_thinking_on),
    "deepseek": ProviderRules(check_deepseek, deepseek_thinking_on),
    "glm": ProviderRules(check_glm, glm_thinking_on),
    "minimax": ProviderRules(check_minimax, minimax_thinking_on),
    "nemotron": ProviderRules(check_nemotron, nemotron_thinking_on),
}


# -- the server ------------------------------------------------------------------------------------


@dataclass
class Behaviour:
    status: int | None = None  # answer every request with this status and an error body
    retry_after: str | None = None
    first_byte_delay: float = 0.0  # before the response headers
    chunk_delay: float = 0.0  # between SSE events
    chunks: int = 3  # content pieces in an answer
    break_after: int | None = None  # cut the connection after this many SSE events
    stall_after: int | None = None  # stop sending (without closing) after this many SSE events
    error_event_after: int | None = None  # after this many SSE events send an error event and end
    gzip: bool = False  # compress non-stream answers
    extra_headers: dict[str, str] = field(default_factory=dict)
    reasoning_in_content: bool = False  # MiniMax without reasoning_split: <think> inside content
    tool_rounds: int = 0  # keep calling tools until the current turn holds this many tool results
    tool_name: str | None = None  # the tool to call when offered (default: the first one offered)
    answer_only: bool = False  # never call a tool, even when tools are offered (VS Code's Ask mode)
    reasoning_id: bool = False  # give the first reasoning delta a cot_id, as some providers do
    tool_arguments: dict[str, Any] = field(default_factory=lambda: {"path": "README.md"})


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    raw: bytes
    body: Any
    started: float
    status: int | None = None
    completed: bool = False
    disconnected: bool = False
    events_sent: int = 0
    #: What the answer carried: its reasoning, its text, the tool call it made.
    reasoning: str | None = None
    answer_text: str = ""
    tool_call: dict[str, Any] | None = None
    #: The error message when the request was refused.
    error: str | None = None


_ids = itertools.count(1)


class FakeUpstream:
    """One fake provider API. ``async with FakeUpstream("kimi") as up: up.url``."""

    def __init__(self, provider: str, behaviour: Behaviour | None = None) -> None:
        self.provider = provider
        self.rules = PROVIDERS[provider]
        self.behaviour = behaviour or Behaviour()
        self.received: list[Received] = []
        self.port = 0
        self._runner: web.AppRunner | None = None
        self.cancelled = asyncio.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/chat/completions"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    async def __aenter__(self) -> FakeUpstream:
        app = web.Application(client_max_size=256 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._handle)
        app.router.add_post("/chat/completions", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(self._runner.addresses[0][1])
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @property
    def last(self) -> Received:
        return self.received[-1]

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        raw = await request.read()
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError:
            body = None
        got = Received(request.path, dict(request.headers), raw, body, time.perf_counter())
        self.received.append(got)
        try:
            return await self._answer(request, got)
        except (asyncio.CancelledError, ConnectionResetError):
            got.disconnected = True
            self.cancelled.set()
            raise

    async def _answer(self, request: web.Request, got: Received) -> web.StreamResponse:
        b = self.behaviour
        if b.first_byte_delay:
            await asyncio.sleep(b.first_byte_delay)
        if b.status is not None:
            got.status = b.status
            headers = {"Retry-After": b.retry_after} if b.retry_after else {}
            err = {"error": {"message": "Rate limit reached for requests", "type": "rate_limit_error"}}
            got.completed = True
            return web.json_response(err, status=b.status, headers={**headers, **b.extra_headers})
        body = got.body
        if not isinstance(body, dict):
            got.status = 400
            return web.json_response({"error": {"message": "Invalid request body format"}}, status=400)
        rejection = self.rules.check(body)
        if rejection is not None:
            got.status = rejection[0]
            got.error = rejection[1]
            got.completed = True
            return web.json_response(
                {"error": {"message": rejection[1], "type": "invalid_request_error"}}, status=rejection[0]
            )
        got.status = 200
        if body.get("stream") is True:
            return await self._stream(request, got, body)
        return self._json(got, body)

    # -- answers ---------------------------------------------------------------------------------

    def _pieces(self, body: Mapping[str, Any]) -> tuple[str | None, list[str], dict[str, Any] | None]:
        """(reasoning, content pieces, tool call) for this request."""
        serial = next(_ids)
        reasoning = f"Thinking {serial}: let me look at this step by step." if self.rules.thinking_on(body) else None
        tools = [t.get("function", {}).get("name") for t in body.get("tools") or [] if isinstance(t, dict)]
        messages = [m for m in body.get("messages") or [] if isinstance(m, dict)]
        last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
        results = sum(1 for m in messages[last_user + 1 :] if m.get("role") == "tool")
        tool_call = None
        wants_tool = results < max(self.behaviour.tool_rounds, 1) and (self.behaviour.tool_rounds or not results)
        if tools and not self.behaviour.answer_only and wants_tool:
            wanted = self.behaviour.tool_name
            name = wanted if wanted in tools else tools[0] or "tool"
            tool_call = {"id": self._call_id(name, messages), "type": "function", "function": {"name": name}}
        pieces = [f"word{i} " for i in range(self.behaviour.chunks)]
        if tool_call is None:
            pieces.append(f"(answer {serial})")
        return reasoning, pieces, tool_call

    def _call_id(self, name: str, messages: list[dict[str, Any]]) -> str:
        """The provider's id for a new tool call: Kimi numbers calls in the conversation, others are random."""
        if self.provider == "kimi":
            earlier = sum(len(m.get("tool_calls") or []) for m in messages if m.get("role") == "assistant")
            return f"functions.{name}:{earlier}"
        return f"call_{next(_ids):02d}_{random.getrandbits(64):016x}"

    def _arguments(self) -> str:
        return json.dumps(self.behaviour.tool_arguments)  # with spaces, as most servers write JSON

    def _headers(self) -> dict[str, str]:
        return {"x-request-id": f"req-up-{next(_ids)}", **self.behaviour.extra_headers}

    def _json(self, got: Received, body: Mapping[str, Any]) -> web.Response:
        reasoning, pieces, tool_call = self._pieces(body)
        got.reasoning, got.answer_text, got.tool_call = reasoning, "".join(pieces), tool_call
        message: dict[str, Any] = {"role": "assistant", "content": "".join(pieces)}
        if reasoning and self.behaviour.reasoning_in_content and not body.get("reasoning_split"):
            message["content"] = f"<think>{reasoning}</think>" + message["content"]
        elif reasoning:
            message["reasoning_content"] = reasoning
        if tool_call:
            tool_call["function"]["arguments"] = self._arguments()
            message["tool_calls"] = [tool_call]
        answer = {
            "id": f"chatcmpl-{next(_ids)}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model"),
            "choices": [{"index": 0, "message": message, "finish_reason": "tool_calls" if tool_call else "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        }
        data = orjson.dumps(answer)
        headers = self._headers()
        if self.behaviour.gzip:
            data = gzip.compress(data)
            headers["Content-Encoding"] = "gzip"
        got.completed = True
        return web.Response(body=data, content_type="application/json", headers=headers)

    async def _stream(self, request: web.Request, got: Received, body: Mapping[str, Any]) -> web.StreamResponse:
        b = self.behaviour
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", **self._headers()})
        await response.prepare(request)
        reasoning, pieces, tool_call = self._pieces(body)
        got.reasoning, got.answer_text, got.tool_call = reasoning, "".join(pieces), tool_call
        cid = f"chatcmpl-{next(_ids)}"
        model = body.get("model")

        def event(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
            chunk = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": 1,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                **extra,
            }
            return b"data: " + orjson.dumps(chunk) + b"\n\n"

        events = [event({"role": "assistant", "content": ""})]
        if reasoning:
            words = reasoning.split(" ")
            half = len(words) // 2
            first = {"reasoning_content": " ".join(words[:half]) + " "}
            if b.reasoning_id:
                first["cot_id"] = f"fake-{cid}"
            events.append(event(first))
            events.append(event({"reasoning_content": " ".join(words[half:])}))
        events += [event({"content": piece}) for piece in pieces]
        if tool_call:
            call = {
                "index": 0,
                "id": tool_call["id"],
                "type": "function",
                "function": {"name": tool_call["function"]["name"], "arguments": ""},
            }
            events.append(event({"tool_calls": [call]}))
            arguments = self._arguments()
            middle = len(arguments) // 2
            for piece in (arguments[:middle], arguments[middle:]):
                events.append(event({"tool_calls": [{"index": 0, "function": {"arguments": piece}}]}))
        events.append(event({}, "tool_calls" if tool_call else "stop"))
        if (body.get("stream_options") or {}).get("include_usage"):
            usage = {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18}
            events.append(b"data: " + orjson.dumps({"id": cid, "choices": [], "usage": usage}) + b"\n\n")
        events.append(b"data: [DONE]\n\n")

        for index, data in enumerate(events):
            if b.break_after is not None and index >= b.break_after:
                assert request.transport is not None
                request.transport.abort()
                return response
            if b.stall_after is not None and index >= b.stall_after:
                await asyncio.sleep(3600)
            if b.error_event_after is not None and index >= b.error_event_after:
                # what OpenAI-compatible servers send when an answer fails after the 200 went out
                error = {"error": {"message": "The server is overloaded, please retry.", "type": "server_error"}}
                await response.write(b"data: " + orjson.dumps(error) + b"\n\n")
                break
            if index and b.chunk_delay:
                await asyncio.sleep(b.chunk_delay)
            await response.write(data)
            got.events_sent += 1
        await response.write_eof()
        got.completed = True
        return response


def free_port() -> int:
    """A port nobody listens on (for "upstream down")."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
