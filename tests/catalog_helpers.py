"""The fixture catalog of the rendering tests: made-up providers whose prices, ports and models only tests change.

``orbit.yaml``: the proxy is required (port 4300), two regions, priced, unpriced (with a note) and retired
models.
``clockwork.yaml``: no proxy needed (port 4200), peak and off-peak prices, a retired model.
Both are overlays, so the bundled providers are there too; tests name the fixture providers.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from ccendpoint.catalog.loader import Source, build_catalog, bundled_sources
from ccendpoint.catalog.model import Catalog, Provider

FOLDER = Path(__file__).parent / "fixtures" / "catalog"
ORBIT_FILE = FOLDER / "orbit.yaml"
CLOCKWORK_FILE = FOLDER / "clockwork.yaml"
#: global options that point a command at the fixture catalog
CATALOG_ARGS = ["--catalog", str(FOLDER)]


@cache
def fixture_catalog() -> Catalog:
    """The bundled providers and the fixture ones, as ``--catalog FOLDER`` shows them, without the user's files.

    Call it inside a test (not at import), so its validation stamps go to the test's own cache folder.
    """
    files = [Source(str(path), path.read_bytes()) for path in sorted(FOLDER.glob("*.yaml"))]
    return build_catalog([*bundled_sources(), *files])


def fixture_provider(provider_id: str) -> Provider:
    provider = fixture_catalog().provider(provider_id)
    assert provider is not None, provider_id
    return provider
