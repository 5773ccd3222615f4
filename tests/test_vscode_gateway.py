"""The VS Code group that calls a team's LiteLLM gateway, rendered from the fixture catalog."""

from __future__ import annotations

import pytest

from catalog_helpers import fixture_provider
from ccendpoint.errors import UsageError
from ccendpoint.vscode.blocks import GroupOptions, render_group
from ccendpoint.vscode.gateway import gateway_chat_url, parse_header, render_gateway_group
from ccendpoint.vscode.validate import validate

CHAT = "https://llm.example.com/v1/chat/completions"


def test_the_group_calls_the_gateway_with_the_key_from_vscode_storage() -> None:
    orbit = fixture_provider("orbit")
    group = render_gateway_group(orbit, None, "https://llm.example.com")
    direct = render_group(orbit, GroupOptions(mode="direct", force=True))
    assert [m["id"] for m in group["models"]] == [m["id"] for m in direct["models"]]  # the exported model names
    for gateway_model, direct_model in zip(group["models"], direct["models"], strict=True):
        assert gateway_model["url"] == CHAT
        assert gateway_model["requestHeaders"] == {"Authorization": "Bearer ${apiKey}"}
        assert {k: v for k, v in gateway_model.items() if k not in ("url", "requestHeaders")} == {
            k: v for k, v in direct_model.items() if k != "url"
        }
    assert "apiKey" not in group
    assert validate([group]) == []  # VS Code's schema for the file


def test_own_headers_group_name_and_models() -> None:
    orbit = fixture_provider("orbit")
    headers = {"api-key": "${apiKey}", "x-team": "platform"}
    group = render_gateway_group(
        orbit, GroupOptions(group_name="Orbit (team)", model_ids=["orbit-flash"]), "https://llm.example.com", headers
    )
    assert group["name"] == "Orbit (team)"
    assert [(m["id"], m["requestHeaders"]) for m in group["models"]] == [("orbit-flash", headers)]


@pytest.mark.parametrize(
    ("given", "url"),
    [
        ("https://llm.example.com/", CHAT),
        ("https://llm.example.com/v1", CHAT),
        ("https://llm.example.com/v1/chat/completions", CHAT),
        ("https://llm.example.com:8443/litellm/v1/", "https://llm.example.com:8443/litellm/v1/chat/completions"),
        ("http://127.0.0.1:4000", "http://127.0.0.1:4000/v1/chat/completions"),
    ],
)
def test_gateway_addresses(given: str, url: str) -> None:
    assert gateway_chat_url(given) == url


@pytest.mark.parametrize(
    ("given", "message"),
    [
        ("llm.example.com", "not an http"),
        ("ftp://llm.example.com", "not an http"),
        ("https://user:secret@llm.example.com", "carries a user"),
        ("https://llm.example.com/?key=abc", "carries a user, a query"),
        ("http://llm.example.com", "plain http"),
    ],
)
def test_bad_gateway_addresses_are_refused(given: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as refused:
        render_gateway_group(fixture_provider("orbit"), None, given)
    assert "secret" not in refused.value.message


def test_plain_http_inside_a_trusted_network_when_asked() -> None:
    group = render_gateway_group(fixture_provider("orbit"), None, "http://gateway.internal:4000", allow_plain_http=True)
    assert group["models"][0]["url"] == "http://gateway.internal:4000/v1/chat/completions"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({"Authorization": "Bearer sk-team-0123456789"}, "in plain text"),
        ({"x-api-key": "abc"}, "in plain text"),
        ({"Content-Type": "text/plain"}, "never sends it"),
        ({"X-Forwarded-For": "1.2.3.4"}, "never sends it"),
        ({"Bad Name": "x"}, "not a header name"),
        ({"x-team": "a\nb"}, "control characters"),
        ({"x-team": "a", "X-Team": "b"}, "given twice"),
        ({f"x-h{i}": "v" for i in range(21)}, "at most 20"),
    ],
)
def test_headers_vscode_would_drop_or_that_would_hold_a_key_are_refused(headers: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message) as refused:
        render_gateway_group(fixture_provider("orbit"), None, "https://llm.example.com", headers)
    assert "sk-team-0123456789" not in str(refused.value)


@pytest.mark.parametrize(
    ("flag", "options"),
    [
        ("--port", GroupOptions(port=4000)),
        ("--region", GroupOptions(region="china")),
        ("--mode", GroupOptions(mode="proxy")),
    ],
)
def test_options_that_do_not_apply_to_a_gateway_are_refused(flag: str, options: GroupOptions) -> None:
    with pytest.raises(UsageError, match=f"{flag} does not apply with --gateway"):
        render_gateway_group(fixture_provider("orbit"), options, "https://llm.example.com")


def test_header_arguments() -> None:
    assert parse_header("Authorization=Bearer ${apiKey}") == ("Authorization", "Bearer ${apiKey}")
    assert parse_header("x-team = a=b") == ("x-team", "a=b")
    with pytest.raises(UsageError, match="expected NAME=VALUE"):
        parse_header("Authorization")


def test_a_gateway_header_without_the_key_keeps_the_key_header() -> None:
    group = render_gateway_group(fixture_provider("orbit"), None, "https://llm.example.com", {"x-team": "platform"})
    assert group["models"][0]["requestHeaders"] == {"Authorization": "Bearer ${apiKey}", "x-team": "platform"}
