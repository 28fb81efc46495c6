"""Which model a local run uses: the one asked for, else the real one if its key is set, else the workflow's
script, else the echo model (``llm.echo``: offline, needs neither a key nor a script)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from runtime_core.llm.echo import EchoModel
from runtime_core.llm.provider import DEFAULT_KEY_ENV, ModelConfigError, ModelProvider, OpenAIModel
from runtime_core.llm.script import load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.workflow.spec import Workflow

SCRIPT_FILE = "script.yaml"
MODEL_VARIABLE = "MOZAIKS_MODEL"
# What ``--model`` / MOZAIKS_MODEL may name (unset: choose as described above).
OFFLINE_MODELS = ("scripted", "echo")


def requested_model(value: str | None) -> str | None:
    """``value`` (from ``--model`` or MOZAIKS_MODEL) checked: one of ``OFFLINE_MODELS``, or None for unset."""
    name = (value or "").strip().lower()
    if not name:
        return None
    if name not in OFFLINE_MODELS:
        raise ModelConfigError(
            f"unknown model {value!r}: {MODEL_VARIABLE} / --model take {' or '.join(OFFLINE_MODELS)} "
            f"(leave it unset to use a real model when its key is set)"
        )
    return name


def choose_provider(
    workflow: Workflow,
    script: Path | None = None,
    environ: Mapping[str, str] | None = None,
    model: str | None = None,
) -> ModelProvider:
    """``script`` if given; else ``model`` (or MOZAIKS_MODEL) when it names an offline model; else the real
    model when the workflow's key variable is set; else the workflow's own ``script.yaml``; else the echo
    model. Raises ``ModelConfigError`` for an unknown model name, or ``scripted`` without a script."""
    if script is not None:
        return ScriptedModel(load_script(script))
    env = dict(os.environ if environ is None else environ)
    asked = requested_model(model) if model is not None else requested_model(env.get(MODEL_VARIABLE))
    own = workflow.root / SCRIPT_FILE
    if asked == "echo":
        return EchoModel()
    if asked == "scripted":
        if not own.is_file():
            raise ModelConfigError(f"the scripted model needs {SCRIPT_FILE} in {workflow.root}")
        return ScriptedModel(load_script(own))
    key_env = workflow.orchestrator.llm_config.api_key_env or DEFAULT_KEY_ENV
    if env.get(key_env):
        return OpenAIModel(environ=env)
    if own.is_file():
        return ScriptedModel(load_script(own))
    return EchoModel()


def describe_choice(provider: ModelProvider, workflow: Workflow, script: Path | None = None) -> str:
    """One line naming the model a run uses and why (the first line ``mozaiks run`` prints)."""
    key_env = workflow.orchestrator.llm_config.api_key_env or DEFAULT_KEY_ENV
    if isinstance(provider, EchoModel):
        return (
            f"the echo model (offline and deterministic: placeholder replies, valid structured outputs, no "
            f"tool calls; set {key_env} for a real model or add {SCRIPT_FILE} to script the replies)"
        )
    if isinstance(provider, ScriptedModel):
        then = ", then the echo model" if provider.script.fallback == "echo" else ""
        return f"the scripted model (replaying {script or workflow.root / SCRIPT_FILE}{then}, offline)"
    return f"the real model (API key from {key_env})"
