"""Fixtures of the gateway suite: the strict fakes and two LiteLLM gateways, for the whole session.

See :mod:`gateway_helpers`. The suite needs the ``litellm`` extra and is run with ``pytest -m gateway``.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from fake_upstreams import PROVIDERS
from gateway_helpers import Fleet, Gateway, exported_config, start_gateway, stop_gateway, wait_until_up


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    fakes = Fleet(sorted(PROVIDERS))
    fakes.start()
    try:
        yield fakes
    finally:
        fakes.stop()


@pytest.fixture(scope="session")
def gateways(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Gateway]]:
    """``with`` and ``without`` the callback, started side by side (each takes a few seconds)."""
    if importlib.util.find_spec("litellm") is None:
        pytest.fail("the gateway suite needs LiteLLM: pip install -e '.[litellm]'", pytrace=False)
    started: dict[str, Gateway] = {}
    try:
        for name in ("with", "without"):
            _, text = exported_config(fleet, with_callback=name == "with")
            started[name] = start_gateway(text, tmp_path_factory.mktemp(f"litellm-{name}"))
        for gateway in started.values():
            wait_until_up(gateway)
        yield started
    finally:
        for gateway in started.values():
            stop_gateway(gateway)


@pytest.fixture
def gateway(gateways: dict[str, Gateway], fleet: Fleet) -> Gateway:
    fleet.reset()
    return gateways["with"]


@pytest.fixture
def bare_gateway(gateways: dict[str, Gateway], fleet: Fleet) -> Gateway:
    fleet.reset()
    return gateways["without"]
