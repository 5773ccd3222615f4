"""Turn the request bodies a real VS Code sent in the end-to-end suite into the unit tests' fixtures.

The fixtures keep what the real client decides: header names and fixed values, body keys in their
order and their values, the roles and order of the messages, the names and parameter shapes of the
tools, the id and argument forms of tool calls, the echo fields of returned reasoning. They do not
keep VS Code's texts: every message and every description is replaced by our own words of about
the same length, so sizes stay realistic.

    python tests/e2e/derive.py [ARTIFACTS_FOLDER]   # writes tests/fixtures/vscode/requests/*.json
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
OUT = HERE.parent / "fixtures" / "vscode" / "requests"
FILLER = (
    "This stands in for text the editor sends; the words are ours and only the length follows the real "
    "request, so that sizes in tests stay close to what a provider receives. "
)
#: The suite's private folders, which show up in tool-call arguments and results.
TEMP_PATHS = re.compile(r"/tmp/pytest-of-[^/\"]+/pytest-\d+/e2e\d*/vscode/workspace")
WORKSPACE = "/home/user/project"
#: Header values that identify one request or carry the key: replaced by fixed stand-ins.
VARIABLE_HEADERS = {
    "authorization": "Bearer sk-fixture-key",
    "x-request-id": "00000000-0000-4000-8000-000000000001",
    "x-agent-task-id": "00000000-0000-4000-8000-000000000001",
    "x-interaction-id": "00000000-0000-4000-8000-000000000002",
    "host": "127.0.0.1:3457",
    "content-length": None,
}


def filler(length: int, label: str = "") -> str:
    text = (label + " " if label else "") + FILLER
    return (text * (length // len(text) + 1))[:length] if length else ""


def _sanitize_schema(schema: Any, where: str) -> Any:
    if isinstance(schema, dict):
        out = {}
        for key, value in schema.items():
            if "escription" in key and isinstance(value, str):  # description, markdownDescription, ...
                out[key] = filler(min(len(value), 120), f"About {where}.")
            elif "escription" in key and isinstance(value, list):  # enumDescriptions
                out[key] = [filler(min(len(str(v)), 80), f"About {where}, choice {i}.") for i, v in enumerate(value)]
            else:
                out[key] = _sanitize_schema(value, f"{where}.{key}" if key not in ("properties", "items") else where)
        return out
    if isinstance(schema, list):
        return [_sanitize_schema(item, where) for item in schema]
    return schema


def sanitize_tool(tool: dict[str, Any]) -> dict[str, Any]:
    function = tool["function"]
    name = function["name"]
    out: dict[str, Any] = {**tool, "function": dict(function)}
    if isinstance(function.get("description"), str):
        out["function"]["description"] = filler(min(len(function["description"]), 160), f"The {name} tool.")
    if "parameters" in function:
        out["function"]["parameters"] = _sanitize_schema(function["parameters"], name)
    return out


def sanitize_message(message: dict[str, Any], position: int) -> dict[str, Any]:
    out = dict(message)
    content = message.get("content")
    if isinstance(content, str):
        out["content"] = filler(len(content), f"[{message.get('role')} message {position}]") if content else ""
    for field in ("cot_summary", "reasoning", "reasoning_content"):
        if isinstance(message.get(field), str):
            out[field] = f"Reasoning of step {position}."
    return out


def sanitize_body(body: dict[str, Any]) -> dict[str, Any]:
    out = dict(body)
    out["messages"] = [sanitize_message(m, i) for i, m in enumerate(body.get("messages", []))]
    if "tools" in body:
        out["tools"] = [sanitize_tool(t) for t in body["tools"]]
    return out


def sanitize_headers(headers: dict[str, str]) -> dict[str, str]:
    out = {}
    for name, value in headers.items():
        lower = name.lower()
        if lower in VARIABLE_HEADERS:
            if VARIABLE_HEADERS[lower] is not None:
                out[name] = str(VARIABLE_HEADERS[lower])
        else:
            out[name] = value
    return out


def _requests(folder: Path) -> Iterable[tuple[str, str, dict[str, Any]]]:
    """(scenario, provider, request) for every request the fakes recorded."""
    for path in sorted((folder / "requests").glob("*.json")):
        for provider, requests in json.loads(path.read_text("utf-8")).items():
            for request in requests:
                yield path.stem, provider, request


def pick(folder: Path) -> dict[str, dict[str, Any]]:
    """The requests each fixture is made from, chosen by shape (first match wins)."""
    wanted: dict[str, Callable[[str, str, dict[str, Any]], bool]] = {
        # VS Code's own body for a plain model: straight to the provider, in Ask mode
        "ask": lambda s, p, r: "without_the_proxy" in s and _body(r).get("model") == "kimi-k2.6" and _turns(r) == 0,
        # Agent mode's first request, and a follow-up with a tool call in the history, straight from VS Code
        "agent": lambda s, p, r: p == "glm" and _turns(r) == 0,
        "follow_up": lambda s, p, r: p == "glm" and "direct_mode" in s and _turns(r) == 2,
        # VS Code renames tool-call ids for Kimi model ids: the follow-up straight from VS Code
        "kimi_follow_up": lambda s, p, r: p == "kimi" and "without_the_proxy" in s and _turns(r) == 1,
        # a thinking model with the Thinking Effort menu, straight from VS Code
        "effort": lambda s, p, r: "without_the_proxy" in s and _body(r).get("model") == "kimi-k3",
        # the follow-up VS Code sends when the reasoning carried an id: the echo fields, straight from VS Code
        "echo": lambda s, p, r: p == "glm" and "returns_reasoning" in s and _turns(r) == 2,
    }
    chosen: dict[str, dict[str, Any]] = {}
    for scenario, provider, request in _requests(folder):
        for name, matches in wanted.items():
            if name not in chosen and matches(scenario, provider, request):
                chosen[name] = request
    missing = sorted(set(wanted) - set(chosen))
    if missing:
        raise SystemExit(f"no recorded request for: {', '.join(missing)} (run the end-to-end suite first)")
    return chosen


def _body(request: dict[str, Any]) -> dict[str, Any]:
    body = request.get("body")
    return body if isinstance(body, dict) else {}


def _turns(request: dict[str, Any]) -> int:
    return sum(1 for m in _body(request).get("messages", []) if m.get("role") == "assistant" and m.get("tool_calls"))


def derive(folder: Path, out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, request in pick(folder).items():
        fixture = {"headers": sanitize_headers(request["headers"]), "body": sanitize_body(_body(request))}
        text = TEMP_PATHS.sub(WORKSPACE, json.dumps(fixture, indent=1, ensure_ascii=False))
        path = out / f"{name}.json"
        path.write_text(text + "\n", "utf-8")
        written.append(path)
    return written


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "artifacts"
    for path in derive(source):
        print(path)


def shape(fixture: dict[str, Any]) -> dict[str, Any]:
    """What a fixture pins down about the real client, without any text: for comparing two runs."""
    body = fixture["body"]

    def id_form(value: str) -> str:
        return re.sub(r"\d+", "N", re.sub(r"[0-9a-f]{8,}", "X", value))

    return {
        "header names": sorted(fixture["headers"]),
        "fixed headers": {
            k: v for k, v in fixture["headers"].items() if k.lower() not in VARIABLE_HEADERS and "id" not in k.lower()
        },
        "body keys": list(body),
        "values": {k: v for k, v in body.items() if k not in ("messages", "tools", "model")},
        "roles": [m.get("role") for m in body["messages"]],
        "message keys": [sorted(m) for m in body["messages"]],
        "tool names": [t["function"]["name"] for t in body.get("tools", [])],
        "call ids": [
            id_form(c["id"]) for m in body["messages"] for c in m.get("tool_calls") or [] if isinstance(c, dict)
        ],
        "arguments": [c["function"]["arguments"][:2] for m in body["messages"] for c in m.get("tool_calls") or []],
    }
