"""Run in a separate process by the concurrency test: one claim attempt against a shared database."""

from __future__ import annotations

from runtime_core.session import Tenant
from runtime_core.store import Claim, MongoSessionStore, StoreSettings
from runtime_core.store.embedded import connect


def try_claim(uri: str, db_name: str, session_id: str, owner: str) -> tuple[str, str | None]:
    client = connect(uri)
    try:
        store = MongoSessionStore(client, StoreSettings(db_name=db_name))
        result = store.claim(Tenant(app_id="app-1", user_id="user-1"), session_id, owner, 60)
        return owner, result.token if isinstance(result, Claim) else None
    finally:
        client.close()
