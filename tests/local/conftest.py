"""Fixtures of the local server tests: one ``mozaiks serve`` for the session, and where artifacts go."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from local_server import ARTIFACTS, RunningServer, running_server


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("serve")) as running:
        yield running


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS
