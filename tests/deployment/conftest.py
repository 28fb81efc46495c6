"""Fixtures of the deployed-shape tests: the built artifacts, moto's server, an embedded MongoDB, a stack."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from runtime_core.store.embedded import start_embedded
from tests.deployment.deployed_stack import AwsDouble, Stack, ensure_build
from tests.deployment.lambda_runtime import Artifacts


@pytest.fixture(scope="session")
def artifacts() -> Artifacts:
    return ensure_build()


@pytest.fixture(scope="session")
def aws() -> Iterator[AwsDouble]:
    double = AwsDouble()
    yield double
    double.stop()


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    server = start_embedded("memory")
    yield server.uri
    server.stop()


@pytest.fixture
def stack(artifacts: Artifacts, aws: AwsDouble, mongo_uri: str) -> Stack:
    """A fresh stack per test: its own queue, secrets and database on the shared servers."""
    return Stack(artifacts, aws, mongo_uri, db_name=f"deployed{uuid.uuid4().hex[:8]}")
