"""Build workflow folders for tests: the small valid base, and a case overlaid on it."""

from __future__ import annotations

import shutil
from pathlib import Path

HERE = Path(__file__).parent
BASE = HERE / "base"
BROKEN = HERE / "broken"
REPO = HERE.parent.parent


def build_workflow(target: Path, files: dict[str, str] | None = None, delete: tuple[str, ...] = ()) -> Path:
    """Copy the base workflow to ``target``, remove ``delete`` and write ``files`` over it."""
    shutil.copytree(BASE, target)
    for name in delete:
        (target / name).unlink()
    for name, text in (files or {}).items():
        path = target / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return target
