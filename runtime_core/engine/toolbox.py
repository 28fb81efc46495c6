"""Tool functions: loaded once per workflow folder and content, wrapped once per built group.

A workflow's ``tools/*.py`` are imported with importlib under a module name made from the workflow's
``instance_key`` (its content hash and folder) and the file's path (``mozaiks_tools_<key>_tools_<stem>``), so
two versions of a workflow, or two copies in two folders, never collide in one warm process, and ``sys.path``
is never touched. The loaded functions are immutable and cached with the compiled workflow.

Each built group (``engine.group``; a warm process reuses it across steps) wraps each function once, around
the group's ``ToolRun``, which ``reset`` empties at the start of every step (``functools.wraps`` keeps the
signature AG2 builds the tool schema from). The wrapper records whether the call raised (AG2 turns the
exception into an ``Error: ...`` tool result; the engine adds ``is_error`` and an error event), and for UI
tools it returns the client's answer instead of running the function (the function itself produced, one step
earlier, the payload the client rendered).

While a tool function runs, ``runtime_core.tools.current_tool_call()`` returns the call it executes (session,
tool, call id, and an idempotency key stable across retries): AG2 hands the call id only to the executor's
``execute_function``, so ``ToolRun.attach`` wraps that method to note the id for the function wrappers.

UI tool answers: if the module also defines ``<function>_result(answer, context_variables)``, it turns the
client's answer (a dict) into the tool's result, and may return a ``ReplyResult`` to update the context;
otherwise the result is the answer as JSON.
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import inspect
import json
import re
import sys
import threading
import typing
from collections.abc import Awaitable, Callable, Coroutine
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from runtime_core import faults
from runtime_core.engine.runtime_context import restore_runtime
from runtime_core.telemetry import tracing
from runtime_core.tools import Display, Interactions, ToolCallInfo, UIWait, executing
from runtime_core.workflow.spec import Tool, ToolKind, Workflow
from runtime_core.workflow.tool_source import SHARED_DIR

CONTEXT_PARAM = "context_variables"


class ToolLoadError(RuntimeError):
    pass


@dataclass(frozen=True)
class LoadedTool:
    spec: Tool
    function: Callable[..., Any]
    # UI tools only: turns the client's answer into the tool's result.
    result_function: Callable[..., Any] | None
    # The function's signature with every annotation resolved to a real type (``resolved_signature``).
    signature: inspect.Signature | None = None

    @property
    def is_ui(self) -> bool:
        return self.spec.kind == ToolKind.ui

    @property
    def takes_context(self) -> bool:
        return CONTEXT_PARAM in inspect.signature(self.function).parameters


def load_tools(workflow: Workflow) -> dict[str, LoadedTool]:
    from runtime_core import compat

    # Tools written for the original MozaiksAI runtime import its helper modules and their own workflow's
    # modules (``workflows.<Name>.tools.x``, by folder and by workflow name): served by ``compat``.
    compat.install()
    compat.register_workflow(workflow.root.name, workflow.root)
    compat.register_workflow(workflow.name, workflow.root)
    # The original's modules shared by several workflows: ``workflows._shared.x`` from the folder beside the
    # workflow folders (validate checks the imported modules are there: workflow.tool_source).
    shared = workflow.root.parent / SHARED_DIR
    if shared.is_dir() and shared.resolve().is_relative_to(workflow.root.parent.resolve()):
        compat.register_workflow(SHARED_DIR, shared)
    modules: dict[str, ModuleType] = {}
    tools: dict[str, LoadedTool] = {}
    for spec in workflow.tools:
        if spec.file not in modules:
            modules[spec.file] = _import(workflow, spec.file)
        module = modules[spec.file]
        function = getattr(module, spec.function, None)
        if not callable(function):
            raise ToolLoadError(
                f"tools.yaml: tool {spec.name!r}: {spec.file} has no function {spec.function!r}"
            )
        result_function = (
            getattr(module, f"{spec.function}_result", None) if spec.kind == ToolKind.ui else None
        )
        tools[spec.name] = LoadedTool(
            spec=spec,
            function=function,
            result_function=result_function,
            signature=resolved_signature(function, spec.file),
        )
    return tools


def resolved_signature(function: Callable[..., Any], file: str) -> inspect.Signature:
    """``function``'s signature with its annotations evaluated in its own module.

    Under ``from __future__ import annotations`` (PEP 563) every annotation is a string. AG2 evaluates
    strings in the namespace of the callable it is given, which is the engine's wrapper, not the tool's
    module, and builds a wrong schema or fails; so the engine resolves them here, once per loaded
    workflow, and hands AG2 a wrapper carrying this signature.
    """
    try:
        hints = typing.get_type_hints(function, include_extras=True)
    except Exception as exc:
        name = getattr(function, "__name__", "?")
        raise ToolLoadError(
            f"{file}: function {name!r}: a type annotation cannot be resolved: {type(exc).__name__}: {exc}"
        ) from exc
    signature = inspect.signature(function)
    parameters = [
        p.replace(annotation=hints[p.name]) if p.name in hints else p for p in signature.parameters.values()
    ]
    returns = hints.get("return", signature.return_annotation)
    return signature.replace(parameters=parameters, return_annotation=returns)


# Two steps compiling the same workflow on two threads (the local server) must not both execute a tool
# module, nor see it half-imported in sys.modules.
_IMPORT_LOCK = threading.RLock()


def _import(workflow: Workflow, file: str) -> ModuleType:
    """A tool file's module (``tools/x.py``), imported once per workflow folder and content."""
    path = (workflow.root / file).resolve()
    # Named after the workflow instance and the file's place in it: tools/a/x.py and tools/b/x.py differ.
    dotted = re.sub(r"\W", "_", Path(file).with_suffix("").as_posix())
    with _IMPORT_LOCK:
        return _import_once(path, f"mozaiks_tools_{workflow.instance_key[:16]}_{dotted}")


def _import_once(path: Path, name: str) -> ModuleType:
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
    return module


@dataclass
class ToolExecution:
    name: str
    call_id: str | None = None
    error: str | None = None


# What a tool call returns to AG2 when the reply's tools stop at a wait for the user; the executor's reply
# that carries it is never committed (``engine.turn``).
WAITING = "[waiting for the user's answer]"


@dataclass(frozen=True)
class Waiting:
    """A tool reached a wait for the user (``ask_ui`` / ``use_ui_tool``) that has no recorded answer."""

    tool_name: str
    call_id: str
    wait: UIWait


def ui_displays(tools: dict[str, LoadedTool]) -> dict[str, Display]:
    """Component -> display mode, from the ``ui`` blocks of tools.yaml (how ``use_ui_tool`` resolves it)."""
    return {
        t.spec.ui.component: str(t.spec.ui.mode)  # type: ignore[misc]
        for t in tools.values()
        if t.spec.ui is not None and t.spec.ui.component and t.spec.ui.mode
    }


@dataclass
class ToolRun:
    """Per-step tool state: executions in call order, the UI answers recorded for the reply being executed
    (``interactions``), a wait a tool reached, and the call the executor runs (``current_tool_call()``)."""

    session_id: str = ""
    executions: list[ToolExecution] = field(default_factory=list)
    # Session-independent: set when the group is built.
    displays: dict[str, Display] = field(default_factory=dict)
    interactions: Interactions = field(default_factory=Interactions)
    waiting: Waiting | None = None
    # The reply whose tool calls run in this step: its agent and transcript position.
    caller: str = ""
    caller_seq: int = 0
    # Set by the executor's execute_function for the duration of one call.
    call_id: str | None = None
    # The group's own ContextVariables (``engine.group`` binds it): tools get it, not AG2's copy, so what
    # they change in place (``.set``, item assignment, ``.data[...]``) stays, as in the original runtime.
    context: Any = None
    # The step's runtime context (``engine.runtime_context``): restored after every tool.
    runtime: dict[str, str] = field(default_factory=dict)

    def reset(self, session_id: str, runtime: dict[str, str] | None = None) -> None:
        """A new step (the wrappers and the executor hook stay attached to this object)."""
        self.session_id = session_id
        self.executions = []
        self.interactions = Interactions(displays=dict(self.displays))
        self.waiting = None
        self.caller, self.caller_seq = "", 0
        self.call_id = None
        self.runtime = dict(runtime or {})

    def guard(self, changed_by: str) -> None:
        """Undo any change of the runtime context (read-only to tools and the model)."""
        if self.context is not None and self.runtime:
            restore_runtime(self.context.data, self.runtime, changed_by)

    def attach(self, executor: Any) -> None:
        """Have ``executor`` (AG2's group tool executor) report the id of each call it executes."""
        original = executor.execute_function

        def execute_function(
            func_call: dict[str, Any], call_id: str | None = None, verbose: bool = False
        ) -> tuple[bool, dict[str, Any]]:
            self.call_id = call_id
            try:
                return original(func_call, call_id=call_id, verbose=verbose)
            finally:
                self.call_id = None

        executor.execute_function = execute_function

    def info(self, tool_name: str, call_id: str | None) -> ToolCallInfo | None:
        if call_id is None or not self.session_id:
            return None
        return ToolCallInfo(
            session_id=self.session_id,
            tool_name=tool_name,
            tool_call_id=call_id,
            agent=self.caller,
            message_seq=self.caller_seq,
        )

    def wrap(self, tool: LoadedTool) -> Callable[..., Any]:
        target = tool.function

        @functools.wraps(target)
        def run(*args: Any, **kwargs: Any) -> Any:
            if self.waiting is not None:
                # An earlier call of this reply waits for the user: the later ones run after the answer.
                return WAITING
            record = ToolExecution(name=tool.spec.name, call_id=self.call_id)
            self.executions.append(record)
            call = self.info(tool.spec.name, self.call_id)
            if CONTEXT_PARAM in kwargs and self.context is not None:
                kwargs[CONTEXT_PARAM] = self.context
            who = f"tool {tool.spec.name}"
            self.interactions.start()
            try:
                with (
                    executing(call, self.interactions) if call is not None else nullcontext(),
                    _tool_span(tool, record) as span,
                ):
                    if tool.is_ui:
                        return self._answer(tool, kwargs.get(CONTEXT_PARAM), record.call_id)
                    result = target(*args, **kwargs)
            except UIWait:
                result = None
            except Exception as exc:
                if self.interactions.pending is None:
                    record.error = f"{type(exc).__name__}: {exc}"
                    span.record_error(exc)
                    raise
                result = None  # the tool swallowed its wait and failed after: the wait wins
            finally:
                self.guard(who)
            if self._reached_wait(tool, record):
                return WAITING
            if inspect.isawaitable(result):
                # Awaited here rather than handed back: AG2 would await it on a thread of its own, where a
                # failure kills the thread (a traceback on stderr) and the model is told "Error: 'value'".
                # Raised in this thread, it becomes "Error: <the failure>", as a plain tool's does.
                return _await_in_thread(self._finish(result, tool, record, call))
            # A tool has run and the step has not committed: a crash here is what reruns a tool.
            faults.point("between_tools")
            return result

        if tool.signature is not None:
            # What AG2 builds the schema from (inspect stops unwrapping at ``__signature__``): real types.
            run.__signature__ = tool.signature  # type: ignore[attr-defined]
            annotations = {p.name: p.annotation for p in tool.signature.parameters.values()}
            annotations["return"] = tool.signature.return_annotation
            run.__annotations__ = {k: v for k, v in annotations.items() if v is not inspect.Parameter.empty}
        return run

    def _reached_wait(self, tool: LoadedTool, record: ToolExecution) -> bool:
        wait = self.interactions.pending
        if wait is None:
            return False
        self.waiting = Waiting(tool.spec.name, record.call_id or "", wait)
        return True

    async def _finish(
        self, result: Awaitable[Any], tool: LoadedTool, record: ToolExecution, call: ToolCallInfo | None
    ) -> Any:
        with executing(call, self.interactions) if call is not None else nullcontext():
            try:
                value = await result
            except UIWait:
                value = None
            except Exception as exc:
                if self.interactions.pending is None:
                    record.error = f"{type(exc).__name__}: {exc}"
                    raise
                value = None
            finally:
                self.guard(f"tool {tool.spec.name}")
        return WAITING if self._reached_wait(tool, record) else value

    def _answer(self, tool: LoadedTool, context_variables: Any, call_id: str | None) -> Any:
        recorded = self.interactions.answers.get(call_id or "") or [{"data": {}}]
        answer = recorded[0]["data"]
        if tool.result_function is None:
            return json.dumps(answer)
        params = inspect.signature(tool.result_function).parameters
        if CONTEXT_PARAM in params:
            return tool.result_function(answer, context_variables=context_variables)
        return tool.result_function(answer)


def _tool_span(tool: LoadedTool, record: ToolExecution) -> Any:
    """The tool call's span (GenAI ``execute_tool``); a no-op object while tracing is off."""
    return tracing.span(
        f"execute_tool {tool.spec.name}",
        {
            "gen_ai.operation.name": "execute_tool",
            "gen_ai.tool.name": tool.spec.name,
            "gen_ai.tool.call.id": record.call_id,
            "gen_ai.tool.type": "function",
        },
    )


def ui_payload(
    tool: LoadedTool, arguments: dict[str, Any], context_variables: Any, call: ToolCallInfo | None = None
) -> dict[str, Any]:
    """Run a UI tool's function for what the client should render."""
    kwargs = dict(arguments)
    if tool.takes_context:
        kwargs[CONTEXT_PARAM] = context_variables
    with executing(call) if call is not None else nullcontext():
        result = tool.function(**kwargs)
    if isinstance(result, dict):
        return result
    return {"value": result if isinstance(result, str | int | float | bool | list) else str(result)}


def _await_in_thread(awaitable: Coroutine[Any, Any, Any]) -> Any:
    """Run an async tool to its end on a thread with its own loop (the caller may be inside one), and
    return its value or raise its exception here."""
    outcome: dict[str, Any] = {}

    def runner() -> None:
        try:
            outcome["value"] = asyncio.run(awaitable)
        except BaseException as exc:  # handed to the caller's thread as it is
            outcome["error"] = exc

    thread = threading.Thread(target=runner, name="mozaiks-async-tool")
    thread.start()
    thread.join()
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]
