"""Where proxy settings may come from besides the flags: the environment and ``.env`` files, each trusted or not.

The variables are named after the provider's ``env_prefix`` (:func:`env_names`). The ``.env``
files are read with python-dotenv into dictionaries, never into ``os.environ``. A ``.env`` in the
working folder is somebody's project, not necessarily the user's, so it is an untrusted layer: it
may not choose where the key goes (:func:`guard_dotenv`). The rules are in :mod:`.settings`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from ccendpoint import dirs
from ccendpoint.catalog.export import proxy_env_names
from ccendpoint.catalog.model import Provider
from ccendpoint.errors import UsageError


def env_names(provider: Provider) -> dict[str, str]:
    """Every variable the proxy reads for ``provider``; the first three keep the Node proxies' names."""
    names = proxy_env_names(provider)
    prefix = provider.env_prefix
    names.update(
        {
            "host": f"{prefix}_PROXY_HOST",
            "region": f"{prefix}_PROXY_REGION",
            "max_body_mb": f"{prefix}_PROXY_MAX_BODY_MB",
            "first_byte_timeout": f"{prefix}_PROXY_FIRST_BYTE_TIMEOUT",
            "idle_timeout": f"{prefix}_PROXY_IDLE_TIMEOUT",
        }
    )
    return names


# -- layers --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    label: str  # how an error message names it, e.g. "the environment", ".env (/home/me/.env)"
    values: Mapping[str, str]
    #: False for the working folder's ``.env``: it may not choose where the key goes.
    trusted: bool = True


def dotenv_files(cwd: Path | None = None) -> list[Path]:
    """The ``.env`` files that apply, highest precedence first."""
    here = (cwd or Path.cwd()) / ".env"
    config = dirs.config_dir() / ".env"
    return [here] if here.resolve() == config.resolve() else [here, config]


def _read_dotenv(path: Path) -> dict[str, str]:
    from dotenv import dotenv_values  # start-up: the serving process reads no .env, so it never loads this

    if not path.is_file():
        return {}
    try:
        values = dotenv_values(path)
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(
            f"Cannot read {path}: {exc}.",
            hint="Make it a readable UTF-8 text file of NAME=value lines, or move it out of the way.",
        ) from None
    return {key: value for key, value in values.items() if value is not None}


def env_layers(environ: Mapping[str, str] | None = None, cwd: Path | None = None) -> list[Layer]:
    """The environment and the ``.env`` files as lookup layers, highest precedence first."""
    layers = [Layer("the environment", os.environ if environ is None else environ)]
    here = (cwd or Path.cwd()).resolve()
    for path in dotenv_files(cwd):
        values = _read_dotenv(path)
        if values:
            in_working_folder = path.resolve().parent == here
            label = f".env in the working folder ({path})" if in_working_folder else f".env ({path})"
            layers.append(Layer(label, values, trusted=not in_working_folder))
    return layers


def guard_dotenv(name: str, layer: Layer, trust_dotenv: bool, what: str) -> None:
    """Refuse a working-folder ``.env`` that would choose where the key goes, unless trusted."""
    if not layer.trusted and not trust_dotenv:
        raise UsageError(
            f"{name} is set in {layer.label}, and a file in the working folder may not choose {what}: "
            "the proxy forwards your API key there.",
            hint=f"If the file is yours, pass --trust-dotenv; or set {name} in the environment, or in "
            f"{dirs.config_dir() / '.env'}.",
        )


def origin(name: str, layer: Layer) -> str:
    """How an error names a value's source, e.g. ``KIMI_PROXY_PORT (from the environment)``."""
    return f"{name} (from {layer.label})"
