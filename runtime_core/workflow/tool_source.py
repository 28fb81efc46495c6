"""Static checks of a tool's Python file: parsed with ``ast``, never imported or executed.

Validation runs on untrusted workflow folders (CI, the validate command): importing a tool would run its
module-level code, so everything here reads the syntax tree only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

TOOLS_DIR = "tools"
# The original MozaiksAI runtime's tools import modules shared by several workflows from the folder
# ``_shared`` beside the workflow folders, as ``workflows._shared.<module>`` (engine.toolbox serves it).
WORKFLOWS_PACKAGE = "workflows"
SHARED_DIR = "_shared"
# AG2 injects this parameter itself; it is not part of the tool's JSON schema.
CONTEXT_PARAM = "context_variables"
MAX_TOOL_BYTES = 1_000_000


@dataclass(frozen=True)
class SourceProblem:
    message: str
    # Line in the Python file, when the problem is in the file rather than in tools.yaml.
    line: int | None = None


def check_tool_path(file: str) -> str | None:
    """Why ``file`` is not an acceptable tool path, or None. Acceptable: relative, as ``tools/<name>.py``."""
    if "\\" in file:
        return f"tool file '{file}' must use forward slashes"
    path = PurePosixPath(file)
    if path.is_absolute() or file.startswith("~"):
        return f"tool file '{file}' must be a relative path inside {TOOLS_DIR}/, not an absolute path"
    if ".." in path.parts:
        return f"tool file '{file}' must stay inside the workflow's {TOOLS_DIR}/ folder ('..' is not allowed)"
    if len(path.parts) < 2 or path.parts[0] != TOOLS_DIR:
        suggestion = f"{TOOLS_DIR}/{path.name}"
        return f"tool file '{file}' must be inside the workflow's {TOOLS_DIR}/ folder, e.g. {suggestion}"
    if path.suffix != ".py":
        return f"tool file '{file}' must be a Python file ending in .py"
    return None


@dataclass(frozen=True)
class FunctionInfo:
    line: int
    # Parameters AG2 cannot describe: no annotation and no default (AG2 raises TypeError on them).
    unannotated: tuple[str, ...]


def _function_info(node: ast.FunctionDef | ast.AsyncFunctionDef) -> FunctionInfo:
    args = node.args
    positional = [*args.posonlyargs, *args.args]
    # Defaults align with the last positional parameters; keyword-only ones carry their own (None = none).
    with_default = {a.arg for a in positional[len(positional) - len(args.defaults) :]}
    with_default |= {a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None}
    unannotated = tuple(
        a.arg
        for a in [*positional, *args.kwonlyargs]
        if a.annotation is None and a.arg not in with_default and a.arg != CONTEXT_PARAM
    )
    return FunctionInfo(node.lineno, unannotated)


@dataclass
class ToolSource:
    """A parsed tool file: its top-level functions, or the problems that stop it from loading."""

    # Top-level function name -> what AG2 will see of it; None when the file could not be read or parsed.
    functions: dict[str, FunctionInfo] | None
    problems: list[SourceProblem]


def read_tool_source(root: Path, file: str, own_names: frozenset[str] = frozenset()) -> ToolSource:
    """``file`` of the workflow in ``root`` parsed; ``own_names``: names ``workflows.<name>`` serves the
    workflow's own folder by (its folder name always does)."""
    path = root / file
    # Symlinks could point outside the folder even when the written path does not.
    try:
        resolved = path.resolve(strict=True)
    except (FileNotFoundError, OSError):
        return ToolSource(None, [SourceProblem(f"tool file '{file}' does not exist")])
    if not resolved.is_relative_to((root / TOOLS_DIR).resolve()):
        return ToolSource(
            None, [SourceProblem(f"tool file '{file}' resolves outside the workflow's tools/ folder")]
        )
    if not resolved.is_file():
        return ToolSource(None, [SourceProblem(f"tool file '{file}' is not a file")])
    if resolved.stat().st_size > MAX_TOOL_BYTES:
        # Checked before reading: a huge file is refused without being read.
        return ToolSource(
            None, [SourceProblem(f"tool file '{file}' is larger than {MAX_TOOL_BYTES // 1_000_000} MB")]
        )
    try:
        tree = ast.parse(resolved.read_bytes(), filename=file)
    except SyntaxError as exc:
        return ToolSource(None, [SourceProblem(f"Python syntax error: {exc.msg}", exc.lineno or 1)])
    except ValueError as exc:
        return ToolSource(None, [SourceProblem(f"cannot parse tool file: {exc}", 1)])
    except (RecursionError, MemoryError):
        # CPython's parser gives up on deep nesting (``1+1+...``, ``f()()...``, ``---1``) with these instead
        # of a SyntaxError; a hostile file must still get an error, never a traceback.
        return ToolSource(
            None,
            [
                SourceProblem(
                    f"tool file '{file}' is nested too deeply for Python's parser; simplify the code", 1
                )
            ],
        )
    functions = {
        node.name: _function_info(node)
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    # ``from __future__ import annotations`` is fine: the engine resolves the annotations in the module's
    # namespace before AG2 builds the tool schema (engine.toolbox).
    return ToolSource(functions, import_problems(tree, root, own_names | {root.name}))


def _workflows_imports(tree: ast.Module) -> Iterator[tuple[list[str], int, bool]]:
    """Each module a ``workflows.*`` import names (its parts), the import's line, and whether its last part
    may be a name of the package rather than a module (``from workflows._shared import x``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == WORKFLOWS_PACKAGE:
                    yield alias.name.split("."), node.lineno, False
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            parts = node.module.split(".")
            if parts[0] != WORKFLOWS_PACKAGE:
                continue
            if len(parts) == 2 and parts[1] == SHARED_DIR:
                # ``from workflows._shared import x``: x is a module of the folder or a name of its __init__.
                for alias in node.names:
                    yield [*parts, alias.name], node.lineno, True
            else:
                yield parts, node.lineno, False


def import_problems(tree: ast.Module, root: Path, own_names: frozenset[str]) -> list[SourceProblem]:
    """``workflows.*`` imports the engine cannot serve: another workflow's modules, and modules missing from
    the ``_shared`` folder beside the workflow's folder (the workflows root)."""
    problems = []
    for parts, line, may_be_name in _workflows_imports(tree):
        module = ".".join(parts)
        if len(parts) < 2 or parts[1] in own_names:
            continue
        if parts[1] != SHARED_DIR:
            problems.append(
                SourceProblem(
                    f"imports {WORKFLOWS_PACKAGE}.{parts[1]}, another workflow's module: a tool may import "
                    f"its own workflow's modules and those of {WORKFLOWS_PACKAGE}/{SHARED_DIR} (a folder "
                    "beside the workflow folders); move the shared code there",
                    line,
                )
            )
            continue
        missing = _missing_shared(root.parent / SHARED_DIR, parts[2:], root.parent, may_be_name)
        if missing is not None:
            problems.append(SourceProblem(f"imports {module}, but {missing}", line))
    return problems


def _missing_shared(shared: Path, parts: list[str], workflows_root: Path, may_be_name: bool) -> str | None:
    """Why ``workflows._shared.<parts>`` cannot be imported, or None."""
    if not shared.is_dir():
        return f"there is no {SHARED_DIR} folder beside the workflow's folder ({shared})"
    if not shared.resolve().is_relative_to(workflows_root.resolve()):
        return f"{SHARED_DIR} resolves outside the workflows folder {workflows_root}"
    if not parts:
        return None
    # The last part of ``from workflows._shared import x`` may be a name defined in _shared/__init__.py.
    *packages, last = parts
    folder = shared.joinpath(*packages)
    if not folder.is_dir() and packages:
        return f"{SHARED_DIR} has no module {'.'.join(packages)}"
    if (folder / f"{last}.py").is_file() or (folder / last).is_dir():
        return None
    if may_be_name and (shared / "__init__.py").is_file():
        return None
    return f"{SHARED_DIR} has no module {'.'.join(parts)}"
