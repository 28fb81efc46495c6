"""Workflow YAML: the spec models, the loader and its errors.

The loader (PyYAML, the line-tracking parser, the cross-checks) is imported on first use: the sweeper and
the route handlers import this package for the spec's enums and never load a workflow, and their cold
start should not pay for it.
"""

from typing import TYPE_CHECKING, Any

from runtime_core.workflow.errors import WorkflowError, WorkflowValidationError
from runtime_core.workflow.spec import Workflow

if TYPE_CHECKING:
    from runtime_core.workflow.loader import check_workflow, content_hash, load_workflow

_LAZY = {"check_workflow", "content_hash", "load_workflow"}

__all__ = [
    "Workflow",
    "WorkflowError",
    "WorkflowValidationError",
    "check_workflow",
    "content_hash",
    "load_workflow",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        from runtime_core.workflow import loader

        return getattr(loader, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
