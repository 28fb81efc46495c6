"""Workflow YAML: the spec models, the loader and its errors."""

from runtime_core.workflow.errors import WorkflowError, WorkflowValidationError
from runtime_core.workflow.loader import load_workflow
from runtime_core.workflow.spec import Workflow

__all__ = ["Workflow", "WorkflowError", "WorkflowValidationError", "load_workflow"]
