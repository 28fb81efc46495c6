"""The store's data_reference port: one read-only lookup of the workflow's database, for one tenant only."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

import pytest
from pymongo import MongoClient

from runtime_core.data_references import ReferenceLookup, prepare_session
from runtime_core.session import Tenant, new_session
from runtime_core.store import MongoSessionStore
from runtime_core.store.protocol import StoreError
from runtime_core.workflow import load_workflow

ESCALATION = Path(__file__).resolve().parents[1] / "workflow" / "original" / "Escalation"
MINE = Tenant(app_id="shop-1", user_id="u-7")


@pytest.fixture
def phoneco(client: MongoClient[dict[str, Any]]) -> Any:
    name = f"phoneco_{uuid.uuid4().hex[:8]}"
    customers = client[name]["Customers"]
    customers.insert_many(
        [
            {"app_id": "shop-2", "user_id": "u-7", "active": True, "plan": "other tenant's plan"},
            {"app_id": "shop-1", "user_id": "u-8", "active": True, "plan": "other user's plan"},
            {"app_id": "shop-1", "user_id": "u-7", "active": True, "plan": "family", "pin": "1234"},
        ]
    )
    yield name
    client.drop_database(name)


def test_a_session_starts_with_its_own_tenants_document(
    store: MongoSessionStore, phoneco: str, tmp_path: Path
) -> None:
    folder = tmp_path / "Escalation"
    shutil.copytree(ESCALATION, folder)
    variables = folder / "context_variables.yaml"
    variables.write_text(variables.read_text().replace("database_name: phoneco", f"database_name: {phoneco}"))
    workflow = load_workflow(folder)
    state = new_session(workflow, "s-1", app_id=MINE.app_id, user_id=MINE.user_id)

    prepare_session(workflow, state, store)

    assert state.context_variables["customer_plan"] == "family"


def test_the_lookup_projects_the_fields(store: MongoSessionStore, phoneco: str) -> None:
    lookup = ReferenceLookup(
        database=phoneco,
        collection="Customers",
        filter={"app_id": "shop-1", "user_id": "u-7"},
        fields=["plan"],
    )

    doc = store.read_reference(MINE, lookup)

    assert doc is not None and {k: v for k, v in doc.items() if k != "_id"} == {"plan": "family"}


@pytest.mark.parametrize(
    ("database", "filter_", "says"),
    [
        (None, {"app_id": "shop-1"}, "runtime's own database"),
        ("phoneco", {"user_id": "u-7"}, "filtered by the session's app_id"),
        ("phoneco", {"app_id": "shop-2"}, "filtered by the session's app_id"),
        ("phoneco", {"app_id": "shop-1", "user_id": "u-8"}, "only name the session's user_id"),
    ],
)
def test_a_lookup_outside_the_tenant_is_refused(
    store: MongoSessionStore, phoneco: str, database: str | None, filter_: dict[str, Any], says: str
) -> None:
    lookup = ReferenceLookup(
        database=database or store.settings.db_name, collection="Customers", filter=filter_, fields=[]
    )

    with pytest.raises(StoreError, match=says):
        store.read_reference(MINE, lookup)


def test_a_store_without_the_port_fails_clearly() -> None:
    workflow = load_workflow(ESCALATION)
    state = new_session(workflow, "s-1")

    with pytest.raises(TypeError, match="cannot read them"):
        prepare_session(workflow, state, object())
