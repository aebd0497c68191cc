"""Per-user folders (config, data, log, cache) from `platformdirs`, so they are where each OS
keeps them (Windows and macOS included, where the desktop bundle runs); ``$TIEOUT_HOME``
overrides all of them (tests, portable installs)."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "TIEOUT_HOME"
APP = "tieout"
#: Header choices made on the Data page (never written into a data folder).
USER_MAPPING = "mapping.toml"


def user_dir(kind: str) -> Path:
    """``$TIEOUT_HOME/<kind>``, else the OS's folder of that kind for Tieout."""
    if home := os.environ.get(HOME_ENV):
        return Path(home) / kind
    fn = {
        "config": platformdirs.user_config_dir,
        "data": platformdirs.user_data_dir,
        "log": platformdirs.user_log_dir,
        "cache": platformdirs.user_cache_dir,
    }[kind]
    return Path(fn(APP, appauthor=False))


def user_mapping_file() -> Path:
    """Where the Data page keeps the headers a person mapped to columns."""
    return user_dir("config") / USER_MAPPING
