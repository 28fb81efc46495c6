"""Workflow YAML: the spec models, the loader and its errors."""

from runtime_core.workflow.errors import WorkflowError, WorkflowValidationError
from runtime_core.workflow.loader import check_workflow, content_hash, load_workflow
from runtime_core.workflow.spec import Workflow

__all__ = [
    "Workflow",
    "WorkflowError",
    "WorkflowValidationError",
    "check_workflow",
    "content_hash",
    "load_workflow",
]
