"""Writing a rewritten body again without serialising its ``messages``: the request's own bytes are reused.

The rules only change top-level members (temperature, thinking …); reasoning replay changes the
history only when it restores something. When ``messages`` is left as it came, the body sent on is
``{"messages":`` + the request's own bytes of that value + the other members serialised anew. For a
long agent history that saves serialising megabytes of text the proxy never touched.

Finding where ``messages`` ends without scanning it (which would cost more than serialising it)
rests on three facts about a body orjson has accepted (strict RFC 8259 JSON):

* its start is at a top-level ``"messages":`` key: the body begins with ``{"messages":`` (VS Code's
  order), or a ``,"messages":`` is found whose prefix, closed with ``}``, parses as JSON (so the
  prefix ends between top-level members);
* its end is a ``]`` followed by ``,"<next key>":``, the next key being the one after ``messages``
  in the body's order. When that key does not start with a character that may follow a string
  (white space, ``,``, ``:``, ``]``, ``}``), its quote can only open a key, and ``{`` + what follows
  the comma parses as JSON only when the comma is between top-level members: text that started
  inside a nested value would close more brackets than it opens. When ``messages`` is the last
  member, the end is the body's closing brace;
* JSON's last-wins rule covers the rest: every other member is written after the reused bytes, so
  a member that came twice and hid among them is overridden. That is why a rewrite that removes a
  member is written in full: the removed member could hide there and would survive.

Anything else (spaces around separators, escaped key names, a member removed, a body that had to be
read by the standard json module) is written in full by the caller: the result is always JSON whose
value equals the rewritten body.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

_FIRST = b'{"messages":'
_AFTER_START = b',"messages":'
#: Characters that may follow the end of a string: a key starting with one could hide one (module text).
_AFTER_STRING = frozenset(b" \t\r\n,:]}")
#: Candidates for each end of ``messages`` tried before giving up (each costs a parse of the part before
#: or after it).
_ATTEMPTS = 4


def messages_span(raw: bytes, original: Mapping[str, Any]) -> tuple[int, int] | None:
    """(start, end) of the ``messages`` value's bytes in ``raw``, which parsed to ``original``; None when unsure.

    ``raw[start:end]`` is the value, possibly followed by top-level members that came twice (see the
    module text); what follows ``end`` is the rest of the body's members.
    """
    start = _start(raw)
    if start is None:
        return None
    keys = list(original)
    try:
        following = keys[keys.index("messages") + 1 :]
    except ValueError:
        return None
    if not following:  # the last member: the value runs to the closing brace
        end = len(raw.rstrip()) - 1
        return (start, end) if end > start and raw[end] == ord("}") else None
    key = orjson.dumps(following[0])
    if len(key) > 2 and key[1] in _AFTER_STRING:
        return None
    pattern = b"]," + key + b":"
    position = len(raw)
    for _ in range(_ATTEMPTS):
        position = raw.rfind(pattern, start, position)
        if position == -1:
            return None
        end = position + 1  # just after the ``]``
        try:
            tail = orjson.loads(b"{" + raw[end + 1 :])
        except orjson.JSONDecodeError:
            continue  # a nested occurrence
        if not isinstance(tail, dict) or "messages" in tail:
            return None  # a later ``messages`` would win over the reused bytes
        return start, end
    return None


def _start(raw: bytes) -> int | None:
    if raw.startswith(_FIRST):
        return len(_FIRST)
    index = -1
    for _ in range(_ATTEMPTS):
        index = raw.find(_AFTER_START, index + 1)
        if index == -1:
            return None
        try:
            prefix = orjson.loads(raw[:index] + b"}")
        except orjson.JSONDecodeError:
            continue  # inside a nested value
        return index + len(_AFTER_START) if isinstance(prefix, dict) else None
    return None


def splice_messages(raw: bytes, original: Mapping[str, Any], body: Mapping[str, Any]) -> bytes | None:
    """``body`` as JSON reusing ``raw``'s bytes of ``messages``; None when that cannot be proven right.

    ``original`` is what ``raw`` parsed to (by orjson), ``body`` the rewrite of it. Only a rewrite
    that left ``messages`` as it was (the same object) and removed no member qualifies.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or original.get("messages") is not messages:
        return None
    if any(key not in body for key in original):
        return None  # a removed member could hide among the reused bytes
    span = messages_span(raw, original)
    if span is None:
        return None
    start, end = span
    rest = orjson.dumps({key: value for key, value in body.items() if key != "messages"})
    closing = b"," + rest[1:] if len(rest) > 2 else b"}"
    return b"".join((_FIRST, memoryview(raw)[start:end], closing))
