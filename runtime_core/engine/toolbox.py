"""Tool functions: loaded once per workflow content, wrapped afresh for every step.

A workflow's ``tools/*.py`` are imported with importlib under a module name made from the workflow's content
hash (``mozaiks_tools_<hash>_<stem>``), so two versions of a workflow in one warm process never collide and
``sys.path`` is never touched. The loaded functions are immutable and cached with the compiled workflow.

Per step, each function is wrapped (``functools.wraps`` keeps the signature AG2 builds the tool schema from):
the wrapper records whether the call raised (AG2 turns the exception into an ``Error: ...`` tool result; the
engine adds ``is_error`` and an error event), and for UI tools it returns the client's answer instead of
running the function (the function itself produced, one step earlier, the payload the client rendered).

UI tool answers: if the module also defines ``<function>_result(answer, context_variables)``, it turns the
client's answer (a dict) into the tool's result, and may return a ``ReplyResult`` to update the context;
otherwise the result is the answer as JSON.
"""

from __future__ import annotations
import __future__

import functools
import importlib.util
import inspect
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from runtime_core.workflow.spec import Tool, ToolKind, Workflow

CONTEXT_PARAM = "context_variables"


class ToolLoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class LoadedTool:
    spec: Tool
    function: Callable[..., Any]
    # UI tools only: turns the client's answer into the tool's result.
    result_function: Callable[..., Any] | None

    @property
    def is_ui(self) -> bool:
        return self.spec.kind == ToolKind.ui

    @property
    def takes_context(self) -> bool:
        return CONTEXT_PARAM in inspect.signature(self.function).parameters


def load_tools(workflow: Workflow) -> dict[str, LoadedTool]:
    modules: dict[str, ModuleType] = {}
    tools: dict[str, LoadedTool] = {}
    for spec in workflow.tools:
        path = (workflow.root / spec.file).resolve()
        if spec.file not in modules:
            modules[spec.file] = _import(path, workflow.content_hash)
        module = modules[spec.file]
        function = getattr(module, spec.function, None)
        if not callable(function):
            raise ToolLoadError(
                f"tools.yaml: tool {spec.name!r}: {spec.file} has no function {spec.function!r}"
            )
        result_function = (
            getattr(module, f"{spec.function}_result", None) if spec.kind == ToolKind.ui else None
        )
        tools[spec.name] = LoadedTool(spec=spec, function=function, result_function=result_function)
    return tools


def _import(path: Path, content_hash: str) -> ModuleType:
    name = f"mozaiks_tools_{content_hash[:16]}_{path.stem}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ToolLoadError(f"cannot import tool module {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered under its unique name so dataclasses/pydantic inside the module can find it.
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[name]
        raise ToolLoadError(f"importing tool module {path.name} failed: {exc}") from exc
    if getattr(module, "annotations", None) is __future__.annotations:
        # AG2 builds tool schemas from real annotation objects; postponed (string) annotations break them.
        del sys.modules[name]
        raise ToolLoadError(
            f"tools/{path.name}: remove 'from __future__ import annotations' (AG2 needs real types)"
        )
    return module


@dataclass
class ToolExecution:
    name: str
    error: str | None = None


@dataclass
class ToolRun:
    """Per-step tool state: executions in call order, and the UI answer this step delivers (if any)."""

    executions: list[ToolExecution] = field(default_factory=list)
    ui_answer: dict[str, Any] | None = None

    def wrap(self, tool: LoadedTool) -> Callable[..., Any]:
        target = tool.function

        @functools.wraps(target)
        def run(*args: Any, **kwargs: Any) -> Any:
            record = ToolExecution(name=tool.spec.name)
            self.executions.append(record)
            try:
                if tool.is_ui:
                    return self._answer(tool, kwargs.get(CONTEXT_PARAM))
                return target(*args, **kwargs)
            except Exception as exc:
                record.error = f"{type(exc).__name__}: {exc}"
                raise

        return run

    def _answer(self, tool: LoadedTool, context_variables: Any) -> Any:
        answer = self.ui_answer or {}
        if tool.result_function is None:
            return json.dumps(answer)
        params = inspect.signature(tool.result_function).parameters
        if CONTEXT_PARAM in params:
            return tool.result_function(answer, context_variables=context_variables)
        return tool.result_function(answer)


def ui_payload(tool: LoadedTool, arguments: dict[str, Any], context_variables: Any) -> dict[str, Any]:
    """Run a UI tool's function for what the client should render."""
    kwargs = dict(arguments)
    if tool.takes_context:
        kwargs[CONTEXT_PARAM] = context_variables
    result = tool.function(**kwargs)
    if isinstance(result, dict):
        return result
    return {"value": result if isinstance(result, str | int | float | bool | list) else str(result)}
