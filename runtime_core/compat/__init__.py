"""The tool-facing API of the original MozaiksAI runtime, under the module names its tools import.

Published MozaiksAI workflows' tools import helper modules of the original platform: asking the UI and
waiting for the answer (``mozaiksai.core.workflow.outputs.ui_tools.use_ui_tool``, earlier
``core.workflow.outputs.ui_tools`` and ``core.workflow.ui_tools``), workflow loggers
(``logs.logging_config.get_workflow_logger``, ``logs.tools_logs``), a few platform services, and modules of
their own workflow as ``workflows.<Name>.tools.<module>``. ``install()`` (the engine calls it before it
imports tool modules) puts an import hook on ``sys.meta_path`` that serves those names from this package's
own implementations (``ui_tools``, ``logging_config``, ``tools_logs``, ``platform``),
``workflows.<Name>`` from the folder of each workflow the engine loaded (``register_workflow``), and
``workflows._shared`` from the ``_shared`` folder beside the workflow folders (the original's modules shared
by several workflows). A folder with an ``__init__.py`` runs it, as a regular package does.

Precedence: ``mozaiksai.*``, ``mozaiks_infra.*``, ``mozaiks_platform.*`` and ``workflows.<a loaded
workflow>`` are served first; the generic names
``logs.*`` and ``core.*`` only when nothing installed provides them.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import sys
import threading
from pathlib import Path
from types import ModuleType

_IMPL = "runtime_core.compat"
# Module name -> our implementation (a module of this package).
ALIASES: dict[str, str] = {
    "mozaiksai.core.workflow.outputs.ui_tools": f"{_IMPL}.ui_tools",
    "mozaiksai.core.workflow.ui_tools": f"{_IMPL}.ui_tools",
    "core.workflow.outputs.ui_tools": f"{_IMPL}.ui_tools",
    "core.workflow.ui_tools": f"{_IMPL}.ui_tools",
    "logs.logging_config": f"{_IMPL}.logging_config",
    "logs.tools_logs": f"{_IMPL}.tools_logs",
    "mozaiksai.core.transport.simple_transport": f"{_IMPL}.platform",
    "core.transport.simple_transport": f"{_IMPL}.platform",
    "mozaiksai.core.data.persistence.persistence_manager": f"{_IMPL}.platform",
    "core.data.persistence.persistence_manager": f"{_IMPL}.platform",
    "core.data.persistence_manager": f"{_IMPL}.platform",
    "mozaiksai.core.core_config": f"{_IMPL}.platform",
    "core.core_config": f"{_IMPL}.platform",
    "mozaiksai.core.artifacts.attachments": f"{_IMPL}.platform",
    # mozaiks-core's workflows (its successor platform).
    "mozaiks_infra.utils.log_sanitizer": f"{_IMPL}.logging_config",
    "mozaiks_platform.subscription_manager": f"{_IMPL}.platform",
}
# Every parent of an alias is an (empty) package.
PACKAGES = {".".join(name.split(".")[:i]) for name in ALIASES for i in range(1, name.count(".") + 1)}
WORKFLOWS = "workflows"

_LOCK = threading.Lock()
_ROOTS: dict[str, Path] = {}


class _Loader(importlib.abc.Loader):
    def __init__(self, implementation: str | None) -> None:
        self.implementation = implementation

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        if self.implementation is None:
            return
        source = importlib.import_module(self.implementation)
        public = getattr(source, "__all__", [n for n in vars(source) if not n.startswith("_")])
        for name in public:
            setattr(module, name, getattr(source, name))


def _package(name: str, locations: list[str]) -> importlib.machinery.ModuleSpec:
    spec = importlib.machinery.ModuleSpec(name, _Loader(None), is_package=True)
    spec.submodule_search_locations = locations
    return spec


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, front: bool) -> None:
        self.front = front

    def find_spec(self, fullname: str, path: object = None, target: object = None) -> object:
        if self.front:
            return _front_spec(fullname)
        return _fallback_spec(fullname)


def _front_spec(fullname: str) -> importlib.machinery.ModuleSpec | None:
    parts = fullname.split(".")
    if parts[0] == WORKFLOWS and len(parts) == 2:
        with _LOCK:
            root = _ROOTS.get(parts[1])
        if root is None:
            return None
        init = root / "__init__.py"
        if init.is_file():
            # A folder with an __init__.py is a regular package, as Python made it for the original runtime.
            return importlib.util.spec_from_file_location(
                fullname, init, submodule_search_locations=[str(root)]
            )
        # Deeper names resolve inside this package's folder through the normal path finder.
        return _package(fullname, [str(root)])
    if parts[0] in ("mozaiksai", "mozaiks_infra", "mozaiks_platform"):
        return _alias_spec(fullname)
    return None


def _fallback_spec(fullname: str) -> importlib.machinery.ModuleSpec | None:
    if fullname == WORKFLOWS:
        return _package(fullname, [])
    if fullname.split(".")[0] in ("logs", "core"):
        return _alias_spec(fullname)
    return None


def _alias_spec(fullname: str) -> importlib.machinery.ModuleSpec | None:
    if fullname in ALIASES:
        return importlib.machinery.ModuleSpec(fullname, _Loader(ALIASES[fullname]))
    if fullname in PACKAGES:
        return _package(fullname, [])
    return None


_FRONT = _Finder(front=True)
_FALLBACK = _Finder(front=False)


def install() -> None:
    """Put the import hook in place (idempotent)."""
    with _LOCK:
        if _FRONT not in sys.meta_path:
            sys.meta_path.insert(0, _FRONT)
        if _FALLBACK not in sys.meta_path:
            sys.meta_path.append(_FALLBACK)


def register_workflow(name: str, root: Path) -> None:
    """Serve ``workflows.<name>`` from ``root``. Another folder under the same name replaces the first (and
    drops the modules imported from it): one process serves one folder per workflow name at a time."""
    root = root.resolve()
    with _LOCK:
        if _ROOTS.get(name) == root:
            return
        _ROOTS[name] = root
        prefix = f"{WORKFLOWS}.{name}"
        for module in [m for m in sys.modules if m == prefix or m.startswith(prefix + ".")]:
            del sys.modules[module]
