"""Which model a run uses when nobody says: the real one if its key is set, else the workflow's script."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from runtime_core.llm.provider import DEFAULT_KEY_ENV, ModelConfigError, ModelProvider, OpenAIModel
from runtime_core.llm.script import load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.workflow.spec import Workflow

SCRIPT_FILE = "script.yaml"


def choose_provider(
    workflow: Workflow, script: Path | None = None, environ: Mapping[str, str] | None = None
) -> ModelProvider:
    """``script`` if given; else the real model when the workflow's key variable is set; else the workflow's
    own ``script.yaml``. Raises ``ModelConfigError`` when there is neither a key nor a script."""
    if script is not None:
        return ScriptedModel(load_script(script))
    env = dict(os.environ if environ is None else environ)
    key_env = workflow.orchestrator.llm_config.api_key_env or DEFAULT_KEY_ENV
    if env.get(key_env):
        return OpenAIModel(environ=env)
    own = workflow.root / SCRIPT_FILE
    if own.is_file():
        return ScriptedModel(load_script(own))
    raise ModelConfigError(
        f"no model for {workflow.name}: set {key_env} or add {SCRIPT_FILE} to the workflow"
    )
