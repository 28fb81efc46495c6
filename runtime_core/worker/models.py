"""Which model a worker step runs on: the workflow's script offline, the echo model, or the real endpoint.

``MOZAIKS_MODEL=echo``: the echo model (``llm.echo``). Scripted when ``MOZAIKS_MODEL=scripted`` or when the
workflow's API key variable (default ``OPENAI_API_KEY``) is unset; real otherwise. A workflow with neither a
key nor a ``script.yaml`` runs on the echo model when ``MOZAIKS_OFFLINE_MODEL=echo`` (what ``mozaiks serve``
sets unless told otherwise); without it (AWS) its model calls fail with a message saying what to configure:
a deployment missing its key must not answer with placeholders. In AWS the key comes from Secrets Manager:
``<VARIABLE>_ARN`` (the template sets ``OPENAI_API_KEY_ARN``) is resolved once per container into
``<VARIABLE>``.

The scripted model keys its replies by the per-agent call counts persisted in the
session, so a fresh provider per step replays the script exactly; only the parsed script is cached (per
workflow version), because a provider records every request it serves and would grow in a warm container.
"""

from __future__ import annotations

import os
import threading
from collections.abc import MutableMapping

from runtime_core.config import fetch_secret
from runtime_core.llm.echo import EchoModel
from runtime_core.llm.provider import ModelConfigError, ModelProvider, OpenAIModel
from runtime_core.llm.script import Script, load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.workflow import Workflow

MODEL_VARIABLE = "MOZAIKS_MODEL"
OFFLINE_VARIABLE = "MOZAIKS_OFFLINE_MODEL"
SCRIPT_FILE = "script.yaml"

_scripts: dict[tuple[str, str], Script | None] = {}
_lock = threading.Lock()


class _Unavailable(OpenAIModel):
    """No key and no script: every model call fails with a message saying what to configure."""

    name = "unavailable"

    def __init__(self, reason: str) -> None:
        super().__init__(max_retries=0, environ={})
        self.reason = reason

    def api_key(self, key_env: str | None) -> str:
        raise ModelConfigError(self.reason)


def _key_variables(workflow: Workflow) -> set[str]:
    configs = [workflow.orchestrator.llm_config, *(a.llm_config for a in workflow.agents)]
    return {c.api_key_env for c in configs if c.api_key_env} | {"OPENAI_API_KEY"}


def resolve_key_secrets(workflow: Workflow, environ: MutableMapping[str, str] | None = None) -> None:
    """Fill each key variable the workflow names from its ``_ARN`` secret, where only the ARN is set."""
    env = os.environ if environ is None else environ
    for name in sorted(_key_variables(workflow)):
        arn = env.get(f"{name}_ARN", "").strip()
        if arn and not env.get(name, "").strip():
            env[name] = fetch_secret(arn)


def wants_scripted(workflow: Workflow, environ: dict[str, str] | None = None) -> bool:
    """True for an offline model (scripted or echo)."""
    if environ is None:
        resolve_key_secrets(workflow)
    env = os.environ if environ is None else environ
    if env.get(MODEL_VARIABLE, "").strip().lower() in ("scripted", "echo"):
        return True
    key_env = workflow.orchestrator.llm_config.api_key_env
    return not OpenAIModel(environ=dict(env)).has_key(key_env)


def provider_for(workflow: Workflow) -> ModelProvider:
    if not wants_scripted(workflow):
        return OpenAIModel()
    if os.environ.get(MODEL_VARIABLE, "").strip().lower() == "echo":
        return EchoModel()
    script = _script(workflow)
    if script is None and os.environ.get(OFFLINE_VARIABLE, "").strip().lower() == "echo":
        return EchoModel()
    if script is None:
        key_env = workflow.orchestrator.llm_config.api_key_env or "OPENAI_API_KEY"
        return _Unavailable(
            f"no model: set {key_env} for a real model, or add {SCRIPT_FILE} to workflow {workflow.name!r} "
            f"to replay a script offline"
        )
    return ScriptedModel(script)


def _script(workflow: Workflow) -> Script | None:
    key = (workflow.name, workflow.content_hash)
    with _lock:
        if key in _scripts:
            return _scripts[key]
    path = workflow.root / SCRIPT_FILE
    script = load_script(path) if path.is_file() else None
    with _lock:
        _scripts[key] = script
    return script


def clear_cache() -> None:
    with _lock:
        _scripts.clear()
