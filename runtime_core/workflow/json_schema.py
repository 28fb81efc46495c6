"""JSON Schema of each workflow file kind, generated from the pydantic models.

Editors use them through the first line of each YAML file
(``# yaml-language-server: $schema=../../docs/schema/<kind>.schema.json``). The committed copies in
``docs/schema/`` are checked against this output by a test, so they cannot drift from the models.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from runtime_core.llm.script import Script
from runtime_core.workflow.original.schema import ORIGINAL_MODELS
from runtime_core.workflow.spec import FILE_KINDS, FILE_MODELS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# The workflow files, the scripted model's ``script.yaml`` (not part of the workflow itself), and the files of
# the original MozaiksAI dialect as their authors write them (``original/<kind>``).
_KINDS: dict[str, tuple[str, type[BaseModel]]] = {
    **{kind: (file, FILE_MODELS[file]) for kind, file in FILE_KINDS.items()},
    "script": ("script.yaml", Script),
    **ORIGINAL_MODELS,
}


def kinds() -> list[str]:
    """The workflow's own file kinds."""
    return list(FILE_KINDS)


def export_kinds() -> list[str]:
    """Every kind with a published schema: the workflow files, ``script`` and ``original/<kind>``."""
    return list(_KINDS)


def schema_for(kind: str) -> dict[str, Any]:
    """The JSON Schema of one file kind (``orchestrator``, ``agents``, ...); KeyError for an unknown kind."""
    file, model = _KINDS[kind]
    schema = model.model_json_schema(mode="validation")
    return {
        "$schema": SCHEMA_DIALECT,
        "$id": f"{kind}.schema.json",
        "title": file,
        **{k: v for k, v in schema.items() if k != "title"},
    }


def schema_text(kind: str) -> str:
    """The schema as written to ``<kind>.schema.json``: stable key order, 2-space indent, final newline."""
    return json.dumps(schema_for(kind), indent=2, sort_keys=True) + "\n"


def write_schemas(out_dir: Path, selected: list[str] | None = None) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in selected or export_kinds():
        path = out_dir / f"{kind}.schema.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(schema_text(kind), encoding="utf-8")
        written.append(path)
    return written
