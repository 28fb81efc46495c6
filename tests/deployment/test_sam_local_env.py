"""The `sam local invoke` kit in infra/events/: env.json, the invocations infra/events/README.md documents,
and the SQS sample the worker gets.

`sam local invoke --env-vars` only overrides variables the template declares for the function (Globals
included): anything else in the file is silently ignored, which is how a local run ends up with a missing
setting. So env.json is checked against the template, and the environment each documented invocation would
get (template resolved under the documented parameters, env.json on top) is validated by the runtime's own
settings loaders, as the function's cold start would.
"""

from __future__ import annotations

import hashlib
import json
import re

import pytest

from runtime_core.config import ConfigError, RuntimeSettings
from runtime_core.queue import StepMessage
from runtime_core.wiring import HANDLERS, ROLE_GROUPS
from tests.deployment.cfn import Resolver, load_template
from tests.deployment.template_check import REPO_ROOT, made_up_values, scenarios

EVENTS = REPO_ROOT / "infra" / "events"
TEMPLATE = load_template(REPO_ROOT / "template.yaml")
ENV_FILE: dict[str, dict[str, str]] = json.loads((EVENTS / "env.json").read_text())
README = (EVENTS / "README.md").read_text()
REFS, ATTRIBUTES = made_up_values(TEMPLATE)


def resolver(parameters: dict[str, str]) -> Resolver:
    return Resolver(TEMPLATE, parameters, REFS, ATTRIBUTES)


FUNCTIONS = resolver({"MongoDbUriArn": "arn:aws:ssm:us-east-1:123456789012:parameter/x"}).function_ids()


def documented_parameters() -> list[dict[str, str]]:
    """Each `--parameter-overrides` of the README, as a mapping."""
    pair = r"[A-Za-z0-9]+=[^\s\"']+"
    found = re.findall(rf"--parameter-overrides((?:\s+{pair})+)", README)
    return [dict(p.split("=", 1) for p in re.findall(pair, block)) for block in found]


def parameter_sets() -> list[dict[str, str]]:
    # The README's own, then every combination of the conditions but a model key (with one, the worker
    # would read the real key from Secrets Manager: a deliberate choice, not the documented run).
    combos = [
        {o.parameter: o.value for o in s}
        for s in scenarios()
        if not any(o.parameter == "ModelApiKeyArn" and o.value for o in s)
    ]
    return documented_parameters() + combos


def sam_local_environment(r: Resolver, fid: str) -> dict[str, str]:
    """What `sam local invoke --env-vars infra/events/env.json` gives the function.

    Every declared variable is there (SAM blanks an unresolved value or NoValue); env.json's "Parameters"
    apply to all functions, its section for the function on top; undeclared names are dropped."""
    environment = {name: "" for name in r.declared(fid)} | r.environment(fid)
    overrides = ENV_FILE.get("Parameters", {}) | ENV_FILE.get(fid, {})
    return {name: overrides.get(name, value) for name, value in environment.items()}


def refuse_fetch(arn: str) -> str:
    raise AssertionError(f"a local invocation would read {arn} from AWS: blank it in env.json")


def test_the_readme_documents_parameter_overrides() -> None:
    assert documented_parameters(), "infra/events/README.md shows no --parameter-overrides"
    assert all("MongoDbUriArn" in p for p in documented_parameters())


def test_env_json_sections_are_parameters_or_functions() -> None:
    assert set(ENV_FILE) <= {"Parameters", *FUNCTIONS}, sorted(set(ENV_FILE) - {"Parameters", *FUNCTIONS})
    assert all(isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in ENV_FILE.values())


def test_env_json_sets_only_declared_variables() -> None:
    r = resolver(parameter_sets()[0])
    problems = [
        f"{section}: {name} is not declared for {fid} in template.yaml (sam would ignore it)"
        for section, values in ENV_FILE.items()
        # "Parameters" applies to every function: each must declare it, or it is not what it looks like.
        for fid in (FUNCTIONS if section == "Parameters" else [section])
        for name in values
        if name not in r.declared(fid)
    ]
    assert problems == []


@pytest.mark.parametrize(
    "parameters", parameter_sets(), ids=lambda p: ",".join(f"{k}={v[:12]}" for k, v in p.items())
)
@pytest.mark.parametrize("fid", FUNCTIONS)
def test_each_function_starts_with_env_json(fid: str, parameters: dict[str, str]) -> None:
    r = resolver(parameters)
    role = HANDLERS[r.handler(fid)]
    environment = sam_local_environment(r, fid)
    try:
        # What cold_start(role) validates in Lambda, with no AWS to read secrets from.
        RuntimeSettings(environment, refuse_fetch).require(ROLE_GROUPS[role])
    except ConfigError as exc:
        pytest.fail(f"{fid} would fail its cold start under sam local: {exc}")


def test_the_documented_invocations_name_real_functions_and_events() -> None:
    invocations = re.findall(r"sam local invoke (\S+) -e (\S+)", README)
    assert invocations, "infra/events/README.md shows no `sam local invoke <Fn> -e <event>`"
    for fid, event in invocations:
        assert fid in FUNCTIONS, fid
        assert (REPO_ROOT / event).is_file(), event
    assert {fid for fid, _ in invocations} == set(FUNCTIONS), "every function has a documented invocation"


def test_the_worker_sample_is_a_real_step_message_in_a_fifo_record() -> None:
    (record,) = json.loads((EVENTS / "worker_sqs.json").read_text())["Records"]
    message = StepMessage.model_validate_json(record["body"])
    # The body byte for byte as the producer (runtime_core.queue.sqs) sends it, and the attributes SQS adds.
    assert record["body"] == message.model_dump_json()
    assert record["md5OfBody"] == hashlib.md5(record["body"].encode()).hexdigest()
    attributes = record["attributes"]
    assert attributes["MessageGroupId"] == message.session_id
    dedup = hashlib.sha256(f"{message.session_id}:{message.dedup_id}".encode()).hexdigest()
    assert attributes["MessageDeduplicationId"] == dedup
    assert attributes["SequenceNumber"].isdigit() and len(attributes["SequenceNumber"]) == 20
    assert int(attributes["ApproximateReceiveCount"]) >= 1
    assert int(attributes["ApproximateFirstReceiveTimestamp"]) >= int(attributes["SentTimestamp"])
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(".fifo")
    assert record["eventSourceARN"].split(":")[3] == record["awsRegion"]
