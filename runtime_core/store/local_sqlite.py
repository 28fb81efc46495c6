"""The SQLite engine ``mozaiks serve`` stores sessions in by default: mongoeco's ``SQLiteEngine`` without the
per-operation costs that grew with the data (see ``LocalSQLiteEngine``). mongoeco is pinned (4.11.0): the
overrides name its internal methods, and ``tests/store/test_sqlite_engine.py`` runs the store contract on it.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from typing import Any, cast

# The tagged (non-JSON) value types mongoeco's SQLite planner scans a collection for before it plans a query.
PLANNER_TAGGED_TYPES = ("decimal", "decimal128", "decimal128_public", "bytes", "undefined", "dbref")
# Query nodes the primary-key lookup of ``LocalSQLiteEngine._select_first_document_for_plan`` evaluates in
# Python: plain field conditions (no $expr, $where, $text, geo: those need variables or other state).
PLAIN_NODES = frozenset(
    {
        "EqualsCondition",
        "NotEqualsCondition",
        "GreaterThanCondition",
        "GreaterThanOrEqualCondition",
        "LessThanCondition",
        "LessThanOrEqualCondition",
        "InCondition",
        "NotInCondition",
        "ExistsCondition",
        "NotCondition",
        "AndCondition",
        "OrCondition",
        "SizeCondition",
        "AllCondition",
        "ElemMatchCondition",
        "TypeCondition",
    }
)


def _id_keys(plan: Any) -> list[str] | None:
    """The string ``_id``s an ``_id`` equality / ``$in`` node (or a top-level ``$and`` holding one) allows,
    or None when the plan does not pin ``_id`` to strings. Only strings: their storage key is exact (a
    numeric ``_id`` can equal another type's, 1 == 1.0, under another key)."""
    name = type(plan).__name__
    if name == "AndCondition":
        for clause in plan.clauses:
            keys = _id_keys(clause)
            if keys is not None:
                return keys
        return None
    if getattr(plan, "field", None) != "_id":
        return None
    if name == "EqualsCondition":
        values: tuple[Any, ...] = (plan.value,)
    elif name == "InCondition":
        values = tuple(plan.values)
    else:
        return None
    if not values or any(type(v) is not str for v in values):
        return None
    return list(values)


def json_path(field: str) -> str:
    """The SQLite JSON path of a dotted field without numeric parts, as mongoeco writes it."""
    return "$" + "".join(f".{part}" for part in field.split("."))


def _array_paths(document: Any, prefix: str, into: set[str]) -> None:
    """Add to ``into`` the dotted path of every array reachable from ``document`` through objects only: the
    paths at which SQLite's ``json_type(document, '$.a.b')`` says 'array'."""
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, (list, tuple)):
            into.add(path)
        elif isinstance(value, Mapping):
            _array_paths(value, f"{path}.", into)


def _plain(plan: Any) -> bool:
    if type(plan).__name__ not in PLAIN_NODES:
        return False
    children = [*getattr(plan, "clauses", ()), *([plan.clause] if hasattr(plan, "clause") else [])]
    return all(_plain(child) for child in children)


@functools.cache
def sqlite_engine_class() -> type[Any]:
    """mongoeco's ``SQLiteEngine`` with the costs that grew with the data removed (see the class). Built on
    first use: mongoeco is a local-only dependency (the "local" extra), never imported on Lambda."""
    from mongoeco.core.filtering import QueryEngine
    from mongoeco.core.identity import id_contains_numeric_value
    from mongoeco.engines.sqlite import SQLiteEngine
    from mongoeco.engines.sqlite_query import path_array_prefixes

    class LocalSQLiteEngine(SQLiteEngine):  # type: ignore[misc]
        """The SQLite engine of ``mozaiks serve``. mongoeco 4.11 does, per operation, work that grows with the
        collection or costs a thread and several SQLite commits; each override removes one, measured on the
        local load (``bench/local_load.py``) with the server profiled (py-spy):

        1. Every insert loaded and JSON-decoded the whole collection, looking for a numerically equal
           ``_id`` (1 == 1.0 in MongoDB): 35-38% of the server's time, and why commits grew with the data.
           String and ObjectId ``_id``s (all of ours) skip it: the primary-key check before it is exact.
        2. Before planning a query the engine scans the collection for tagged decimal/bytes/undefined values
           in each queried field (json_extract on every row), again after every write to the collection
           (the result is cached until then): 21% of the server's time once 1. was gone. The engine now
           knows which tagged types exist at all (one scan at start, then each written document); a type
           nobody ever wrote cannot be in any field.
        3. After every write the engine delivered its durable change outbox to change streams: a lease, a
           heartbeat thread started and joined, 3-4 more SQLite commits, all on the wire server's event
           loop. The runtime opens no change stream; declared without a durable change log, the engine
           leaves change events to the client, which publishes them in process (``watch()`` still works,
           without resuming across a restart) and keeps no outbox rows.
        4. A query pinning ``_id`` (most of ours: a session, an input record, a usage row) was a scan of the
           collection with json_extract on every row; the SQL now also names the row's primary key. A query
           the SQL translation cannot express (``pending.input_id: {$ne: ...}``) loaded and decoded the whole
           collection in Python; with ``_id`` pinned it now reads that one row and matches it in Python.
        """

        _tagged_fragments = {t: f'"type":"{t}"' for t in PLANNER_TAGGED_TYPES}
        _tagged_present: set[str] | None = None

        # 1 -------------------------------------------------------------------------------------------
        def _validate_document_against_unique_indexes(
            self, db_name: str, coll_name: str, document: Any, **kwargs: Any
        ) -> None:
            if kwargs.get("scan_payload_id") and not id_contains_numeric_value(document.get("_id")):
                kwargs["scan_payload_id"] = False
            super()._validate_document_against_unique_indexes(db_name, coll_name, document, **kwargs)

        # 2 -------------------------------------------------------------------------------------------
        def _tagged_types_present(self) -> set[str]:
            if self._tagged_present is None:
                # Substring, not JSON, match: a user string holding the fragment only makes the engine do
                # its own (exact) scan, as before. Inside a JSON string the quotes would be escaped.
                conn = self._require_connection()
                self._tagged_present = {
                    t
                    for t, fragment in self._tagged_fragments.items()
                    if conn.execute(
                        "SELECT 1 FROM documents WHERE instr(document, ?) > 0 LIMIT 1", (fragment,)
                    ).fetchone()
                }
            return self._tagged_present

        def _serialize_document(self, document: Any) -> str:
            # Every document the engine stores is serialized here first (inserts, updates, replacements).
            text: str = super()._serialize_document(document)
            for value_type, fragment in self._tagged_fragments.items():
                if fragment in text:
                    self._tagged_types_present().add(value_type)
            _array_paths(document, "", self._array_paths_seen())
            return text

        def _field_contains_tagged_value_type_in_collection(
            self, db_name: str, coll_name: str, field: str, value_type: str
        ) -> bool:
            if value_type in self._tagged_fragments and value_type not in self._tagged_types_present():
                return False
            return bool(
                super()._field_contains_tagged_value_type_in_collection(db_name, coll_name, field, value_type)
            )

        # 3 -------------------------------------------------------------------------------------------
        # "none": the client publishes a write's change events itself, in process, once the write returns
        # (as for any engine without a durable change log), so no outbox delivery runs after each write.
        capabilities = dataclasses.replace(SQLiteEngine.capabilities, change_delivery="none")

        # 4 -------------------------------------------------------------------------------------------
        def _field_is_top_level_array_in_collection(self, db_name: str, coll_name: str, field: str) -> bool:
            if field == "_id" or not self._may_hold_array(field):
                return False  # an _id cannot be an array (the engine refuses one)
            return bool(super()._field_is_top_level_array_in_collection(db_name, coll_name, field))

        def _field_traverses_array_in_collection(self, db_name: str, coll_name: str, field: str) -> bool:
            if not any(self._may_hold_array(prefix) for prefix in path_array_prefixes(field)):
                return False
            return bool(super()._field_traverses_array_in_collection(db_name, coll_name, field))

        def _field_traverses_dbref_in_collection(self, db_name: str, coll_name: str, field: str) -> bool:
            if "dbref" not in self._tagged_types_present():
                return False
            return bool(super()._field_traverses_dbref_in_collection(db_name, coll_name, field))

        _array_paths: set[str] | None = None
        _array_paths_scanned: set[str] | None = None

        def _array_paths_seen(self) -> set[str]:
            if self._array_paths is None:
                self._array_paths, self._array_paths_scanned = set(), set()
            return self._array_paths

        def _may_hold_array(self, field: str) -> bool:
            """False when no document anywhere holds an array at ``field`` (a path through objects): then
            none in any collection does, and the engine's scan of the collection would say so too."""
            if any(part.isdigit() for part in field.split(".")):
                return True  # a path into an array: not tracked, the engine decides
            seen = self._array_paths_seen()
            scanned = cast("set[str]", self._array_paths_scanned)
            if field not in scanned:
                # Once per field and engine: the documents stored before this process started.
                row = (
                    self._require_connection()
                    .execute(
                        "SELECT 1 FROM documents WHERE json_type(document, ?) = 'array' LIMIT 1",
                        (json_path(field),),
                    )
                    .fetchone()
                )
                if row is not None:
                    seen.add(field)
                scanned.add(field)
            return field in seen

        def _translate_query_plan_with_multikey(
            self, db_name: str, coll_name: str, plan: Any
        ) -> tuple[str, list[object]]:
            sql, params = super()._translate_query_plan_with_multikey(db_name, coll_name, plan)
            name = type(plan).__name__
            keys = _id_keys(plan) if name in ("EqualsCondition", "InCondition") else None
            if keys is None:
                return sql, params
            # Added to the engine's own condition (same meaning for string _ids), where SQLite's planner
            # finds it in any AND: the primary key (db_name, coll_name, storage_key) serves it.
            marks = ", ".join("?" for _ in keys)
            return (
                f"(documents.storage_key IN ({marks}) AND ({sql}))",
                [*(self._storage_key(k) for k in keys), *params],
            )

        def _select_first_document_for_plan(
            self, db_name: str, coll_name: str, plan: Any, **kwargs: Any
        ) -> tuple[str, Any] | None:
            try:
                return cast(
                    "tuple[str, Any] | None",
                    super()._select_first_document_for_plan(db_name, coll_name, plan, **kwargs),
                )
            except NotImplementedError:
                keys = _id_keys(plan)
                if keys is None or not _plain(plan):
                    raise
            conn = self._require_connection(kwargs.get("context"))
            for key in keys:
                row = conn.execute(
                    "SELECT storage_key, document FROM documents"
                    " WHERE db_name = ? AND coll_name = ? AND storage_key = ?",
                    (db_name, coll_name, self._storage_key(key)),
                ).fetchone()
                if row is None:
                    continue
                document = self._deserialize_document(row[1])
                if QueryEngine.match_plan(document, plan):
                    return str(row[0]), document
            return None

    return LocalSQLiteEngine
