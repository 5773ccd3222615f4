"""Catalog files from a user folder cannot make ccendpoint eat memory or silently drop a value."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from ccendpoint.catalog.loader import MAX_FILE_BYTES, load_catalog
from ccendpoint.errors import CatalogError

BILLION_LAUGHS = """id: kimi
extends: true
a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
"""


def overlay(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "kimi.yaml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def test_an_alias_bomb_is_refused_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(CatalogError, match=r"aliases \(\*name\) are not allowed") as caught:
        load_catalog([overlay(tmp_path, BILLION_LAUGHS)])
    assert time.monotonic() - started < 2
    assert "line 4" in caught.value.path  # where the first alias is


def test_a_key_given_twice_is_an_error_not_a_silent_last_one(tmp_path: Path) -> None:
    text = "id: kimi\nextends: true\nmodels:\n  - id: kimi-k2.6\n    max_output: 1000\n    max_output: 9000\n"
    with pytest.raises(CatalogError, match="'max_output' is given twice"):
        load_catalog([overlay(tmp_path, text)])


def test_an_oversized_file_is_refused_before_it_is_parsed(tmp_path: Path) -> None:
    big = b"id: kimi\nextends: true\n" + b"# padding\n" * (MAX_FILE_BYTES // 10 + 1)
    with pytest.raises(CatalogError, match="may be at most 1 MiB"):
        load_catalog([overlay(tmp_path, big)])


def test_a_plain_overlay_still_loads(tmp_path: Path) -> None:
    text = "id: kimi\nextends: true\nmodels:\n  - id: kimi-k2.6\n    max_output: 16384  # a comment with * in it\n"
    kimi = load_catalog([overlay(tmp_path, text)]).provider("kimi")
    assert kimi is not None and kimi.model("kimi-k2.6") is not None
    assert kimi.model("kimi-k2.6").max_output == 16384  # type: ignore[union-attr]
