"""One place that decides what is a secret and how it is hidden.

Every output that could carry a credential goes through here: the proxy's request log, the diff
and ``--json`` plan of ``add``/``remove``, doctor's findings and its support report. Two tests
decide:

- by name: a header or JSON field whose name has a credential word in it (``Authorization``,
  ``X-Api-Key``, ``X-Auth-Token``, ``apiKey``, ``Set-Cookie``, ``X-Moonshot-Key`` …) has its whole
  value masked. Names are split into words, so ``maxOutputTokens`` is not a credential;
- by value: anywhere in any text, a known key prefix (``sk-…``, and the prefixes the catalog
  lists for each provider's keys, such as ``tp-…`` or ``nvapi-…``), a long
  token that mixes letters and digits, a ``key=``/``token=`` URL parameter, credentials in a
  URL (``user:pass@``) and VS Code's secret references (``${input:chat.lm.secret.…}``) are
  masked where they stand. Ids shaped like UUIDs stay readable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from ccendpoint.vscode.facts import API_KEY_PLACEHOLDER, SECRET_REFERENCE

MASK = "<redacted>"

#: Words that make a header or field name a credential.
SECRET_WORDS = frozenset(
    {
        "key",
        "apikey",
        "token",
        "secret",
        "password",
        "passwd",
        "authorization",
        "auth",
        "cookie",
        "signature",
        "credential",
        "credentials",
        "session",
    }
)
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z0-9])(?=[A-Z])")

#: Key prefixes many APIs share (``sk-…``, ``key_…``); each provider's own come from the catalog.
COMMON_KEY_PREFIXES = ("sk", "pk", "rk", "ak", "api", "key")
_key_prefixes: set[str] = set(COMMON_KEY_PREFIXES)


def _prefixed_key_pattern() -> re.Pattern[str]:
    """A known key prefix followed by a long token."""
    alternatives = "|".join(re.escape(p) for p in sorted(_key_prefixes, key=len, reverse=True))
    return re.compile(rf"\b(?:{alternatives})[-_][A-Za-z0-9._\-]{{8,}}", re.IGNORECASE)


_PREFIXED_KEY = _prefixed_key_pattern()


def learn_key_prefixes(prefixes: Iterable[str]) -> None:
    """Mask keys with these prefixes too (``api_key.prefixes`` of a catalog provider, e.g. ``tp-``)."""
    global _PREFIXED_KEY
    new = {prefix.rstrip("-_") for prefix in prefixes if prefix.rstrip("-_")} - _key_prefixes
    if new:
        _key_prefixes.update(new)
        _PREFIXED_KEY = _prefixed_key_pattern()


# runs of token characters; masked when one piece between separators is a long letters-and-digits
# mix (base64, hex, JWT parts), which model ids such as nemotron-3-super-120b-a12b never have
_LONG_TOKEN = re.compile(r"[A-Za-z0-9_\-.+=]{16,}")
_PIECES = re.compile(r"[-_.]")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_DIGIT = re.compile(r"\d")
_LETTER = re.compile(r"[A-Za-z]")
_URL_USERINFO = re.compile(r"(?<=://)[^/@\s\"']+:[^/@\s\"']*@")
_QUERY_SECRET = re.compile(r"(?i)([?&](?:[a-z_-]*(?:key|token|secret|signature|password))=)[^&#\s\"']+")
_JSON_MEMBER = re.compile(r'"(?P<name>(?:[^"\\]|\\.)*)"(?P<sep>\s*:\s*)"(?P<value>(?:[^"\\]|\\.)*)"')


#: The same words inside a name written without separators (``x-authtoken``); ``tokens`` (plural)
#: is a count, as in ``maxOutputTokens``, and ``key`` only counts at the end.
_COMPACT_SECRET = re.compile(r"apikey|secret|passw|cookie|credential|signature|auth|session|token(?!s)|key$")


def is_secret_name(name: str) -> bool:
    """Whether a header or field called ``name`` holds a credential (any letter case)."""
    words = {w.lower() for w in _WORD_SPLIT.split(name) if w}
    compact = re.sub(r"[^a-z0-9]", "", name.lower())
    return bool(words & SECRET_WORDS) or _COMPACT_SECRET.search(compact) is not None


def is_secret_reference(value: str) -> bool:
    """``${input:…}``: a reference VS Code resolves from its secret storage (not the key itself)."""
    return SECRET_REFERENCE.fullmatch(value.strip()) is not None


def _mask_token(match: re.Match[str]) -> str:
    token = match.group(0)
    if _UUID.match(token):
        return token
    for piece in _PIECES.split(token):
        if len(piece) >= 16 and _DIGIT.search(piece) and _LETTER.search(piece):
            return MASK
    return token


def scrub(text: str) -> str:
    """``text`` with every key-looking part masked where it stands."""
    text = SECRET_REFERENCE.sub("${input:" + MASK + "}", text)
    text = _URL_USERINFO.sub(MASK + "@", text)
    text = _QUERY_SECRET.sub(lambda m: m.group(1) + MASK, text)
    text = _PREFIXED_KEY.sub(MASK, text)
    return _LONG_TOKEN.sub(_mask_token, text)


def mask_value(value: str) -> str:
    """A credential's value: the scheme word (``Bearer``) stays, the rest is masked.

    VS Code's placeholder for the group's key (``Bearer ${apiKey}``) is no secret and stays.
    """
    scheme, sep, rest = value.strip().partition(" ")
    if API_KEY_PLACEHOLDER in (value.strip(), rest.strip()):
        return value
    if sep and scheme.isalpha() and len(scheme) <= 12:
        return f"{scheme} {MASK}"
    return MASK


def hint(value: str) -> str:
    """Just enough of a secret to recognise it in a message: ``sk-…(51 chars)``."""
    head = value[:3] if len(value) > 12 else ""
    return f"{head}…({len(value)} chars)"


def redact_headers(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Headers as a dict fit for a log line (repeated names joined with ``, ``)."""
    out: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        shown = mask_value(value) if is_secret_name(key) else scrub(value)
        out[key] = f"{out[key]}, {shown}" if key in out else shown
    return out


def redact(value: Any) -> Any:
    """A JSON-like value with credential fields masked and every string scrubbed (for ``--json``)."""
    if isinstance(value, Mapping):
        return {
            key: (mask_value(item) if isinstance(item, str) and is_secret_name(str(key)) else redact(item))
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [redact(item) for item in value]
    if isinstance(value, str):
        return scrub(value)
    return value


def redact_json_text(text: str) -> str:
    """JSON (with comments) as text, credential members masked and everything scrubbed; layout kept."""

    def member(match: re.Match[str]) -> str:
        if not is_secret_name(match.group("name")):
            return match.group(0)
        value = match.group("value")
        shown = "${input:" + MASK + "}" if is_secret_reference(value) else mask_value(value)
        return f'"{match.group("name")}"{match.group("sep")}"{shown}"'

    return scrub(_JSON_MEMBER.sub(member, text))
