"""The shared secret masker: names, values, JSON and JSON text."""

from __future__ import annotations

import pytest

from ccendpoint.catalog.loader import load_catalog
from ccendpoint.redact import MASK, hint, is_secret_name, redact, redact_headers, redact_json_text, scrub

KEY = "sk-proj-Zq8vN3kL0pW7xY2mR5tB9cD4fG6hJ1aS"


@pytest.mark.parametrize(
    "name",
    [
        "Authorization",
        "authorization",
        "Proxy-Authorization",
        "X-Api-Key",
        "api-key",
        "apikey",
        "apiKey",
        "api_key",
        "X-Auth-Token",
        "X-Moonshot-Key",
        "Set-Cookie",
        "Cookie",
        "Ocp-Apim-Subscription-Key",
        "x-goog-api-key",
        "X-Signature",
        "client_secret",
        "password",
        "X-AuthToken",
        "x-authtoken",
        "x-apitoken",
        "X-SecretKey",
        "x-accesstoken",
    ],
)
def test_credential_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name",
    ["maxOutputTokens", "maxInputTokens", "keep-alive", "x-request-id", "X-Trace", "requestHeaders", "toolCalling"],
)
def test_ordinary_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"Bearer {KEY}", f"Bearer {MASK}"),
        ("Zq8vN3kL0pW7xY2mR5tB9cD4fG6hJ1aS", MASK),
        ("${input:chat.lm.secret.-60b744f3}", "${input:" + MASK + "}"),
        ("https://user:pass@host.example/x?key=abc123&foo=1", f"https://{MASK}@host.example/x?key={MASK}&foo=1"),
        # things that must stay readable
        ("https://api.moonshot.ai/v1/chat/completions", "https://api.moonshot.ai/v1/chat/completions"),
        (
            "nvidia/nemotron-3-super-120b-a12b mimo-v2.6-pro-ultraspeed",
            "nvidia/nemotron-3-super-120b-a12b mimo-v2.6-pro-ultraspeed",
        ),
        ("4f1c2b9e-8d7a-4e3f-9c1b-2a3d4e5f6a7b", "4f1c2b9e-8d7a-4e3f-9c1b-2a3d4e5f6a7b"),
        ("temperature 0.1 → 1", "temperature 0.1 → 1"),
    ],
)
def test_scrub(text: str, expected: str) -> None:
    assert scrub(text) == expected


def test_the_catalogs_key_prefixes_are_masked_once_a_provider_is_built() -> None:
    """Prefixes live in the catalog (``api_key.prefixes``); building a provider teaches them to the masker."""
    from ccendpoint.catalog.build import provider_from_data

    short_key = "zz-abc12345"  # too short and too plain for the long-token rule
    assert scrub(short_key) == short_key
    doc = {"id": "acme", "api_key": {"env": ["ACME_KEY"], "prefixes": ["zz-"]}, "proxy": {"mode": "direct"}}
    provider_from_data({**doc, "name": "Acme", "endpoints": {}, "default_region": "x", "models": []}, "test")
    assert scrub(f"key {short_key} here") == f"key {MASK} here"
    load_catalog(use_overlays=False)
    assert scrub("nvapi-abcdefghijklmnop and tp-abc12345") == f"{MASK} and {MASK}"


def test_headers_values_and_hints() -> None:
    headers = redact_headers([("Authorization", f"Bearer {KEY}"), ("X-Custom-Key", "short"), ("X-Trace", "on")])
    assert headers == {"authorization": f"Bearer {MASK}", "x-custom-key": MASK, "x-trace": "on"}
    assert hint(KEY) == f"sk-…({len(KEY)} chars)"
    assert KEY[3:] not in hint(KEY)


def test_redact_json_and_json_text() -> None:
    value = {"apiKey": KEY, "models": [{"id": "kimi-k2.6", "requestHeaders": {"X-Moonshot-Key": "abc"}}], "n": 1}
    assert redact(value) == {
        "apiKey": MASK,
        "models": [{"id": "kimi-k2.6", "requestHeaders": {"X-Moonshot-Key": MASK}}],
        "n": 1,
    }
    text = '[\n\t// mine\n\t{"apiKey": "${input:chat.lm.secret.x1}", "note": "' + KEY + '", "maxOutputTokens": 5}\n]'
    out = redact_json_text(text)
    assert KEY not in out and "x1" not in out
    assert out.startswith("[\n\t// mine\n\t{") and '"maxOutputTokens": 5' in out


def test_vscodes_key_placeholder_is_shown_as_it_is() -> None:
    """``Bearer ${apiKey}`` in a gateway group's header is no key: diffs and --json show it."""
    text = '{"requestHeaders": {"Authorization": "Bearer ${apiKey}", "api-key": "${apiKey}"}}'
    assert redact_json_text(text) == text
    assert redact({"Authorization": "Bearer ${apiKey}"}) == {"Authorization": "Bearer ${apiKey}"}
    assert "sk-" not in redact_json_text('{"Authorization": "Bearer sk-1234567890abcdef1234"}')
