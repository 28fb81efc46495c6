"""Where a local run keeps its state: the embedded store, the dev secret and the dev token.

Kept free of heavy imports: ``mozaiks serve --help`` and ``mozaiks chat --help`` read it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

DATA_DIR_VARIABLE = "MOZAIKS_LOCAL_DIR"
DEFAULT_DATA_DIR = ".mozaiks"


def default_data_dir(env: Mapping[str, str] | None = None) -> Path:
    values = os.environ if env is None else env
    return Path(values.get(DATA_DIR_VARIABLE, "").strip() or DEFAULT_DATA_DIR)
