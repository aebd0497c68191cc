"""Settings read from the environment (so `panel serve app/main.py` and `tieout serve` agree)."""

from __future__ import annotations

import os
from pathlib import Path

DATA_ENV = "TIEOUT_DATA"


def data_root() -> Path:
    """The data folder: ``$TIEOUT_DATA``, else ``demo-data`` in the working folder."""
    return Path(os.environ.get(DATA_ENV, "demo-data")).resolve()
