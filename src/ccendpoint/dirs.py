"""Per-user folders (platformdirs), in one place so every command agrees on them."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP = "ccendpoint"


def config_dir() -> Path:
    """User configuration: catalog overlays (``catalog/``) and a ``.env`` file."""
    return Path(platformdirs.user_config_dir(APP, appauthor=False))


def state_dir() -> Path:
    """What ccendpoint wrote and must remember: ownership records, backups."""
    return Path(platformdirs.user_state_dir(APP, appauthor=False))


def cache_dir() -> Path:
    """Disposable data: validation stamps, the reasoning cache."""
    return Path(platformdirs.user_cache_dir(APP, appauthor=False))


def log_dir() -> Path:
    """Proxy request logs."""
    return Path(platformdirs.user_log_dir(APP, appauthor=False))


def data_dir() -> Path:
    """Data ccendpoint installs for the user: a catalog newer than the bundled one (``catalog/``)."""
    return Path(platformdirs.user_data_dir(APP, appauthor=False))
