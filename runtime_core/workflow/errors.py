"""Workflow errors that point at a place a person can open: file, line and field."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class WorkflowError(BaseModel):
    model_config = ConfigDict(frozen=True)

    file: str
    # 1-based; None when the error concerns a whole missing file.
    line: int | None
    # Dotted path inside the file, e.g. ``agents[1].llm_config.model``; empty for the whole file.
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.field or '<file>'}: {self.message}"


class WorkflowValidationError(Exception):
    """Every error found in one workflow, reported together."""

    def __init__(self, errors: list[WorkflowError]) -> None:
        self.errors = errors
        super().__init__("\n".join(str(e) for e in errors))
