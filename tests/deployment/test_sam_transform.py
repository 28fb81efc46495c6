"""What SAM's transform makes of template.yaml (build/sam/transformed.json: .ci/sam-check runs SAM's own
translator offline): the worker's published versions snapshotted (SnapStart), its alias, the SQS event source
invoking the alias (never $LATEST), the versions a deploy replaces deleted; no other function with either;
and each function's layers in the order tests/deployment/cfn.py models them (the Globals' first)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.deployment.cfn import Resolver, load_template
from tests.deployment.lambda_runtime import REPO, Artifacts
from tests.deployment.template_check import made_up_values


@pytest.fixture(scope="module")
def transformed(artifacts: Artifacts) -> dict[str, Any]:
    resources: dict[str, Any] = json.loads(artifacts.transformed.read_text())["Resources"]
    return resources


def of_type(resources: dict[str, Any], kind: str) -> dict[str, Any]:
    return {name: r for name, r in resources.items() if r["Type"] == kind}


def test_the_worker_runs_from_snapshots_of_its_published_versions(transformed: dict[str, Any]) -> None:
    worker = transformed["WorkerFunction"]["Properties"]
    assert worker["SnapStart"] == {"ApplyOn": "PublishedVersions"}
    ((alias_id, alias),) = of_type(transformed, "AWS::Lambda::Alias").items()
    ((version_id, version),) = of_type(transformed, "AWS::Lambda::Version").items()
    assert alias["Properties"]["FunctionName"] == {"Ref": "WorkerFunction"}
    assert alias["Properties"]["FunctionVersion"] == {"Fn::GetAtt": [version_id, "Version"]}
    assert version["Properties"]["FunctionName"] == {"Ref": "WorkerFunction"}
    # A replaced version (and its cached snapshot, which is billed) does not outlive the deploy.
    assert version["DeletionPolicy"] == "Delete"
    # The queue's event source invokes the alias: $LATEST never starts from a snapshot.
    (mapping,) = of_type(transformed, "AWS::Lambda::EventSourceMapping").values()
    assert mapping["Properties"]["EventSourceArn"] == {"Fn::GetAtt": ["StepQueue", "Arn"]}
    assert mapping["Properties"]["FunctionName"] == {"Ref": alias_id}


def test_no_other_function_snapshots_or_publishes(transformed: dict[str, Any]) -> None:
    functions = of_type(transformed, "AWS::Lambda::Function")
    snapshotted = sorted(name for name, r in functions.items() if "SnapStart" in r["Properties"])
    assert snapshotted == ["WorkerFunction"]


def test_the_template_model_stacks_layers_as_sam_does(transformed: dict[str, Any]) -> None:
    template = load_template(REPO / "template.yaml")
    refs, attributes = made_up_values(template)
    resolver = Resolver(template, {"MongoDbUriArn": "arn:aws:ssm:us-east-1:123456789012:parameter/x"}, refs,
                        attributes)  # fmt: skip
    for name, function in of_type(transformed, "AWS::Lambda::Function").items():
        layers = [re.sub(r"[0-9a-f]{10}$", "", layer["Ref"]) for layer in function["Properties"]["Layers"]]
        assert resolver.layer_ids(name) == layers, name
        assert resolver.snapstart(name) == ("SnapStart" in function["Properties"]), name
