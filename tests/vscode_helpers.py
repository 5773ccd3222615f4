"""Shared helpers for the chatLanguageModels.json tests: the test provider and the fixture files."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from ccendpoint.catalog.loader import load_catalog
from ccendpoint.catalog.model import Provider
from ccendpoint.vscode.blocks import GroupOptions, render_group

FIXTURES = Path(__file__).parent / "fixtures" / "vscode"
PROVIDER_FILE = FIXTURES / "acme.yaml"


def fixture_text(name: str) -> str:
    return (FIXTURES / name).read_bytes().decode("utf-8")


@cache
def acme() -> Provider:
    provider = load_catalog([PROVIDER_FILE], environ={}).provider("acme")
    assert provider is not None
    return provider


def acme_group(**options: Any) -> dict[str, Any]:
    return render_group(acme(), GroupOptions(**options))


def catalog_ids() -> list[str]:
    return [m.id for m in acme().models]
