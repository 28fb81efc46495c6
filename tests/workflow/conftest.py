"""Fixtures of the workflow tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from workflow_dirs import build_workflow


@pytest.fixture
def make_workflow(tmp_path: Path) -> Callable[..., Path]:
    """Build a workflow from the base: ``make_workflow({"agents.yaml": "..."}, delete=("tools.yaml",))``."""
    counter = iter(range(1000))

    def make(files: dict[str, str] | None = None, delete: tuple[str, ...] = (), name: str = "") -> Path:
        return build_workflow(tmp_path / (name or f"wf{next(counter)}"), files, delete)

    return make
