"""Load a workflow folder into a validated ``Workflow``.

First cut: reads each file with ``yaml.safe_load`` and validates it. To be replaced by the line-tracking
loader with cross-checks (file:line:field errors, suggestions, every error at once).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import yaml

from runtime_core.workflow.spec import FILE_MODELS, Workflow


def content_hash(root: Path) -> str:
    digest = hashlib.sha256()
    files = sorted([*root.glob("*.yaml"), *root.glob("tools/*.py")])
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode())
        digest.update(b"\0")
        digest.update(path.read_bytes())
        digest.update(b"\0")
    return digest.hexdigest()


def load_workflow(root: Path) -> Workflow:
    root = Path(root)
    parsed = {}
    for name, model in FILE_MODELS.items():
        path = root / name
        data = yaml.safe_load(path.read_text()) if path.exists() else {}
        parsed[name] = model.model_validate(data or {})
    return Workflow(
        root=root.resolve(),
        orchestrator=parsed["orchestrator.yaml"],
        agents=parsed["agents.yaml"].agents,
        handoffs=parsed["handoffs.yaml"].handoffs,
        tools=parsed["tools.yaml"].tools,
        context_variables=parsed["context_variables.yaml"].context_variables,
        structured_outputs=parsed["structured_outputs.yaml"].models,
        content_hash=content_hash(root),
    )
