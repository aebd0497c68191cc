"""Settings read from the environment (so `panel serve app/main.py` and `tieout serve` agree),
per-user folders of the desktop app, and its remembered preferences."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from data.paths import HOME_ENV, user_dir

__all__ = ["HOME_ENV"]  # overrides every per-user folder (see data.paths)

DATA_ENV = "TIEOUT_DATA"
#: "desktop" (one user on their own machine: may open any folder) or "server" (the default:
#: users see the data folder the host chose and may upload files, never browse the disk).
MODE_ENV = "TIEOUT_MODE"


def data_root() -> Path:
    """The data folder: ``$TIEOUT_DATA``, else ``demo-data`` in the working folder."""
    return Path(os.environ.get(DATA_ENV, "demo-data")).resolve()


def mode() -> str:
    return "desktop" if os.environ.get(MODE_ENV) == "desktop" else "server"


def config_dir() -> Path:
    return user_dir("config")


def user_data_dir() -> Path:
    return user_dir("data")


def log_dir() -> Path:
    return user_dir("log")


def demo_dir() -> Path:
    """Where the desktop app writes its demo data on first launch."""
    return user_data_dir() / "demo-data"


def load_prefs() -> dict[str, Any]:
    """The desktop preferences (``{}`` when none or unreadable)."""
    path = config_dir() / "prefs.json"
    try:
        prefs = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return prefs if isinstance(prefs, dict) else {}


def save_prefs(**changes: Any) -> None:
    """Merge ``changes`` into the preferences file (written atomically)."""
    prefs = {**load_prefs(), **changes}
    folder = config_dir()
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / "prefs.json.tmp"
    tmp.write_text(json.dumps(prefs, indent=1), encoding="utf-8")
    os.replace(tmp, folder / "prefs.json")


def last_data_folder() -> Path | None:
    """The data folder used last on the desktop, if it still exists."""
    last = load_prefs().get("last_data")
    return Path(last) if isinstance(last, str) and Path(last).is_dir() else None
