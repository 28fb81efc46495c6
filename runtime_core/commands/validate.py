"""``mozaiks validate PATH...``: check workflow folders, print every error as ``file:line: field: message``.

Exit status: 0 when every workflow is valid, 1 when one is not (or a folder holds no workflow), 2 when a path
does not exist.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from runtime_core.workflow.errors import WorkflowError
from runtime_core.workflow.loader import check_workflow_report
from runtime_core.workflow.spec import FILE_MODELS

EXIT_OK = 0
EXIT_INVALID = 1
EXIT_NOT_FOUND = 2


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "validate",
        help="check workflow folders",
        description="Check workflow folders (or folders of workflow folders) and report every error.",
    )
    parser.add_argument(
        "paths", nargs="+", type=Path, metavar="PATH", help="a workflow folder or a folder of them"
    )
    return parser


def is_workflow_folder(path: Path) -> bool:
    return path.is_dir() and any((path / name).is_file() for name in FILE_MODELS)


def find_workflows(path: Path) -> list[Path]:
    """``path`` itself when it is a workflow folder, else its workflow subfolders, sorted."""
    if is_workflow_folder(path):
        return [path]
    if path.is_file() and path.name in FILE_MODELS:
        return [path.parent]
    if not path.is_dir():
        return []
    return sorted(child for child in path.iterdir() if is_workflow_folder(child))


def format_error(folder: Path, error: WorkflowError, kind: str = "") -> str:
    """The error with the folder prefixed to its file, so an editor or terminal can open the spot."""
    where = (folder / error.file).as_posix()
    if error.line is not None:
        where += f":{error.line}"
    return f"{where}: {error.field or '<file>'}: {kind}{error.message}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def validate_folder(folder: Path) -> bool:
    """Print the folder's errors and warnings (warnings never make it invalid); True when it is valid."""
    result = check_workflow_report(folder)
    workflow = result.workflow
    for warning in result.warnings:
        print(format_error(folder, warning, "warning: "))
    if workflow is not None:
        counts = ", ".join(
            _count(len(items), noun)
            for items, noun in (
                (workflow.agents, "agent"),
                (workflow.handoffs, "handoff"),
                (workflow.tools, "tool"),
            )
        )
        dialect = " original dialect," if workflow.dialect == "original" else ""
        warned = f", {_count(len(result.warnings), 'warning')}" if result.warnings else ""
        print(f"{folder.as_posix()}: OK ({workflow.name}:{dialect} {counts}{warned})")
        return True
    for error in result.errors:
        print(format_error(folder, error))
    print(f"{folder.as_posix()}: {_count(len(result.errors), 'error')}")
    return False


def run(args: argparse.Namespace) -> int:
    status = EXIT_OK
    for path in args.paths:
        if not path.exists():
            print(f"mozaiks validate: {path.as_posix()}: no such file or directory", file=sys.stderr)
            status = EXIT_NOT_FOUND
            continue
        workflows = find_workflows(path)
        if not workflows:
            print(
                f"{path.as_posix()}: no workflow found "
                "(a workflow folder holds orchestrator.yaml and agents.yaml)"
            )
            status = max(status, EXIT_INVALID)
            continue
        for folder in workflows:
            if not validate_folder(folder):
                status = max(status, EXIT_INVALID)
    return status
