"""Which model the worker runs a step on: scripted offline, or the real endpoint when a key is configured."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from runtime_core.llm.echo import EchoModel
from runtime_core.llm.provider import ModelConfigError, OpenAIModel
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.services import Services, install_services
from runtime_core.worker import models as _models
from runtime_core.workflow import load_workflow
from tests.functions.conftest import WORKFLOWS
from tests.functions.harness import Client, events_of, replies_of, run_queue


def test_scripted_without_a_key_or_when_asked(monkeypatch: pytest.MonkeyPatch) -> None:
    workflow = load_workflow(WORKFLOWS / "CustomerSupport")
    monkeypatch.delenv("MOZAIKS_MODEL")
    assert isinstance(_models.provider_for(workflow), ScriptedModel)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-not-used")
    assert type(_models.provider_for(workflow)) is OpenAIModel  # built, never called here
    monkeypatch.setenv("MOZAIKS_MODEL", "scripted")
    assert type(_models.provider_for(workflow)) is ScriptedModel
    monkeypatch.setenv("MOZAIKS_MODEL", "echo")  # even with a key and a script
    assert type(_models.provider_for(workflow)) is EchoModel


def test_no_key_and_no_script_is_a_clear_step_error(
    aws: Any, services: Services, store: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS / "CustomerSupport", root / "CustomerSupport")
    (root / "CustomerSupport" / "script.yaml").unlink()
    workflow = load_workflow(root / "CustomerSupport")
    with pytest.raises(ModelConfigError, match="OPENAI_API_KEY"):
        _models.provider_for(workflow).api_key(None)
    # What `mozaiks serve` sets: such a workflow runs on the echo model instead (never in AWS by default).
    monkeypatch.setenv("MOZAIKS_OFFLINE_MODEL", "echo")
    assert type(_models.provider_for(workflow)) is EchoModel
    monkeypatch.delenv("MOZAIKS_OFFLINE_MODEL")

    install_services(
        Services(store_factory=lambda: store, queue_factory=services.queue_factory, workflows_dir=root)
    )
    client = Client(aws, "conn-A")
    client.connect()
    frame = {"type": "start", "workflow": "CustomerSupport", "message": "Where is A100?"}
    replies_of(client.send(frame))
    run_queue(aws)
    error = events_of(client.poll())[-1]
    assert error["type"] == "error" and error["code"] == "model_config_error" and error["recoverable"] is True
    assert "script.yaml" in error["message"]


def test_the_key_comes_from_secrets_manager_when_only_its_arn_is_set(aws: Any) -> None:
    import boto3

    from runtime_core.config import clear_secret_cache

    workflow = load_workflow(WORKFLOWS / "CustomerSupport")
    arn = boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name="model-key", SecretString="sk-from-secrets-manager"
    )["ARN"]
    clear_secret_cache()
    env = {"OPENAI_API_KEY_ARN": arn}
    _models.resolve_key_secrets(workflow, env)
    assert env["OPENAI_API_KEY"] == "sk-from-secrets-manager"
    assert not _models.wants_scripted(workflow, env)

    # A key given directly wins: the ARN is not read.
    direct = {"OPENAI_API_KEY": "sk-direct", "OPENAI_API_KEY_ARN": arn + "-missing"}
    _models.resolve_key_secrets(workflow, direct)
    assert direct["OPENAI_API_KEY"] == "sk-direct"
