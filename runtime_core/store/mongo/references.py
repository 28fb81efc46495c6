"""The store's side of the ``data_reference`` port (``runtime_core.data_references``): one read-only lookup.

It reads the workflow's database, never the runtime's own (sessions, transcripts, usage): a workflow naming
that database is refused. The filter must carry the session's verified ``app_id`` (the resolver puts it
there); checked again here so no caller can read another tenant's documents by mistake.
"""

from __future__ import annotations

from typing import Any

from runtime_core.data_references import ReferenceLookup
from runtime_core.session import Tenant
from runtime_core.store.mongo.base import StoreBase
from runtime_core.store.protocol import StoreError


class ReferencesMixin(StoreBase):
    def read_reference(self, tenant: Tenant, lookup: ReferenceLookup) -> dict[str, Any] | None:
        if lookup.database == self.settings.db_name:
            raise StoreError(f"a data_reference may not read the runtime's own database {lookup.database!r}")
        if lookup.filter.get("app_id") != tenant.app_id:
            raise StoreError("a data_reference lookup must be filtered by the session's app_id")
        if "user_id" in lookup.filter and lookup.filter["user_id"] != tenant.user_id:
            raise StoreError("a data_reference lookup may only name the session's user_id")
        projection = {field: 1 for field in lookup.fields} or None
        return self.client[lookup.database][lookup.collection].find_one(lookup.filter, projection)
