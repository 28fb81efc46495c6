"""Store contract fixtures: MONGODB_URI when set, else one embedded mongoeco memory server per test session.

Each test gets its own database, so tests never see each other's documents.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient

from runtime_core.store import MongoSessionStore, StoreSettings, start_embedded
from runtime_core.store.embedded import connect
from tests.store.scenario import FakeClock


@pytest.fixture(scope="session")
def mongo_uri() -> Iterator[str]:
    uri = os.environ.get("MONGODB_URI")
    if uri:
        yield uri
        return
    server = start_embedded("memory")
    try:
        yield server.uri
    finally:
        server.stop()


@pytest.fixture
def db_name() -> str:
    return f"t_{uuid.uuid4().hex[:12]}"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def client(mongo_uri: str) -> Iterator[MongoClient[dict[str, Any]]]:
    c = connect(mongo_uri)
    yield c
    c.close()


@pytest.fixture
def store(client: MongoClient[dict[str, Any]], db_name: str, clock: FakeClock) -> Iterator[MongoSessionStore]:
    s = MongoSessionStore(client, StoreSettings(db_name=db_name), clock=clock)
    s.ensure_indexes()
    yield s
    client.drop_database(db_name)
