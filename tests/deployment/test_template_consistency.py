"""template.yaml against the runtime's own declarations (tests/deployment/template_check.py): the real
template passes, and each class of defect, put into a copy of it on purpose, is reported by name. Also: the
deployment docs list every variable the runtime declares, with the functions that read it."""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from typing import Any

import pytest

from runtime_core.config.variables import VARIABLES
from runtime_core.wiring import HANDLERS, ROLE_GROUPS, Role
from tests.deployment.cfn import Resolver, load_template
from tests.deployment.template_check import REPO_ROOT, check_template, made_up_values

DOCS = REPO_ROOT / "docs" / "deployment.md"
REAL = load_template(REPO_ROOT / "template.yaml")


@pytest.fixture
def template() -> dict[str, Any]:
    return copy.deepcopy(REAL)


def properties(template: dict[str, Any], fid: str) -> dict[str, Any]:
    return template["Resources"][fid]["Properties"]


def variables(template: dict[str, Any], fid: str | None) -> dict[str, Any]:
    holder = template["Globals"]["Function"] if fid is None else properties(template, fid)
    return holder["Environment"]["Variables"]


def drop_statements(template: dict[str, Any], fid: str, unwanted: Callable[[Any], bool]) -> None:
    """Remove the function's statements (plain, or either branch of an ``!If``) that ``unwanted`` picks."""
    kept = []
    for raw in properties(template, fid)["Policies"][0]["Statement"]:
        if isinstance(raw, dict) and "Fn::If" in raw:
            name, when_true, when_false = raw["Fn::If"]
            no_value = {"Ref": "AWS::NoValue"}
            when_true, when_false = (no_value if unwanted(b) else b for b in (when_true, when_false))
            if when_true == when_false == no_value:
                continue
            raw = {"Fn::If": [name, when_true, when_false]}
        elif unwanted(raw):
            continue
        kept.append(raw)
    properties(template, fid)["Policies"][0]["Statement"] = kept


def functions(template: dict[str, Any]) -> list[str]:
    return [k for k, v in template["Resources"].items() if v["Type"] == "AWS::Serverless::Function"]


def action_is(action: str) -> Callable[[Any], bool]:
    def picks(statement: Any) -> bool:
        if not isinstance(statement, dict):
            return False
        actions = statement.get("Action")
        return action == actions or (isinstance(actions, list) and action in actions)

    return picks


def reading(parameter: str) -> Callable[[Any], bool]:
    return lambda s: isinstance(s, dict) and s.get("Resource") == {"Ref": parameter}


def test_the_real_template_is_consistent() -> None:
    assert check_template(REAL) == []


def test_a_handler_module_that_does_not_exist(template: dict[str, Any]) -> None:
    properties(template, "ConnectFunction")["Handler"] = "functions/conect.handler"
    problems = check_template(template)
    assert any(
        p.startswith(
            "ConnectFunction: Handler 'functions/conect.handler': module functions/conect.py does not exist"
        )
        for p in problems
    ), problems
    assert any("'functions/conect.handler' is not in runtime_core.wiring.HANDLERS" in p for p in problems)
    assert "no function has the connect role's handler (in every configuration)" in problems


def test_a_handler_attribute_the_module_does_not_define(template: dict[str, Any]) -> None:
    properties(template, "WorkerFunction")["Handler"] = "functions/worker.handle"
    assert any(
        "WorkerFunction: Handler 'functions/worker.handle': functions/worker.py defines no 'handle'" in p
        for p in check_template(template)
    )


def test_a_required_variable_missing(template: dict[str, Any]) -> None:
    del variables(template, "WorkerFunction")["MOZAIKS_STEP_QUEUE_URL"]
    assert check_template(template) == [
        "WorkerFunction: MOZAIKS_STEP_QUEUE_URL is required by the worker role (group queue) but is not set "
        "(in every configuration)"
    ]


def test_a_required_secret_missing_in_both_forms(template: dict[str, Any]) -> None:
    del variables(template, None)["MONGODB_URI_ARN"]
    problems = check_template(template)
    # Every function uses the store.
    assert len(problems) == len(functions(template))
    assert all("MONGODB_URI (or MONGODB_URI_ARN) is required" in p for p in problems)


@pytest.mark.parametrize("value", [{"Ref": "StepQueue"}, ""])
def test_an_undeclared_variable(template: dict[str, Any], value: Any) -> None:
    # Declared-but-empty counts too: `sam local invoke --env-vars` would set the misspelt name, in vain.
    variables(template, "DefaultFunction")["MOZAIKS_STEP_QUEUE_URLL"] = value
    assert check_template(template) == [
        "DefaultFunction: MOZAIKS_STEP_QUEUE_URLL is not declared in runtime_core/config/variables.py "
        "(misspelt?) (in every configuration)"
    ]


def test_a_variable_of_a_group_the_role_does_not_load(template: dict[str, Any]) -> None:
    # What the real template did: the worker's metrics namespace was a Global, so every function got it.
    variables(template, None)["MOZAIKS_METRICS_NAMESPACE"] = {"Ref": "MetricsNamespace"}
    problems = check_template(template)
    # Every function but the worker (the only one that emits metrics).
    assert len(problems) == len(functions(template)) - 1
    assert (
        "ConnectFunction: MOZAIKS_METRICS_NAMESPACE belongs to group telemetry, which the connect role does "
        "not load; set it only on the functions that read it (in every configuration)"
    ) in problems
    assert not any(p.startswith("WorkerFunction") for p in problems)


def test_a_secret_given_twice(template: dict[str, Any]) -> None:
    variables(template, "WorkerFunction")["OPENAI_API_KEY"] = "sk-in-the-template"
    assert check_template(template) == [
        "WorkerFunction: both OPENAI_API_KEY and OPENAI_API_KEY_ARN are set; the runtime refuses that "
        "(when ModelApiKeyArn is set)"
    ]


def test_an_action_the_role_calls_is_not_allowed(template: dict[str, Any]) -> None:
    drop_statements(template, "DefaultFunction", action_is("sqs:SendMessage"))
    problems = check_template(template)
    assert (
        "DefaultFunction: the default role calls sqs:SendMessage, which its policies do not allow "
        "(in every configuration)"
    ) in problems
    assert all(p.startswith("DefaultFunction: ") for p in problems)


def test_an_action_allowed_on_the_wrong_resource(template: dict[str, Any]) -> None:
    for statement in properties(template, "WorkerFunction")["Policies"][0]["Statement"]:
        if action_is("sqs:SendMessage")(statement):
            statement["Resource"] = {"Fn::GetAtt": ["StepDeadLetterQueue", "Arn"]}
    assert check_template(template) == [
        "WorkerFunction: sqs:SendMessage is not allowed on "
        "arn:aws:sqs:us-east-1:123456789012:mozaiks-StepQueue-1ABCDEF.fifo (MOZAIKS_STEP_QUEUE_URL) "
        "(in every configuration)"
    ]


def test_posting_allowed_on_another_stage_than_the_callback_url(template: dict[str, Any]) -> None:
    for statement in properties(template, "WorkerFunction")["Policies"][0]["Statement"]:
        if action_is("execute-api:ManageConnections")(statement):
            statement["Resource"]["Fn::Sub"] = statement["Resource"]["Fn::Sub"].replace("${StageName}", "dev")
    (problem,) = check_template(template)
    assert problem.startswith(
        "WorkerFunction: execute-api:ManageConnections is not allowed on arn:aws:execute-api:"
    )
    assert problem.endswith(
        "/prod/POST/@connections/Jx1ABcDEoAMCJYQ= (MOZAIKS_WS_CALLBACK_URL) (in every configuration)"
    )


def test_closing_expired_connections_needs_delete_where_code_closes_them(template: dict[str, Any]) -> None:
    def deleting(statement: Any) -> bool:
        return isinstance(statement, dict) and "/DELETE/@connections/" in str(statement.get("Resource"))

    for fid in ("DefaultFunction", "SweeperFunction"):
        drop_statements(template, fid, deleting)
    problems = check_template(template)
    assert [p.split(":")[0] for p in problems] == ["DefaultFunction", "SweeperFunction"], problems
    assert all("/DELETE/@connections/" in p and "closing expired connections" in p for p in problems)


def test_the_model_key_unreadable_only_where_it_is_set(template: dict[str, Any]) -> None:
    drop_statements(template, "WorkerFunction", reading("ModelApiKeyArn"))
    assert check_template(template) == [
        "WorkerFunction: cannot read OPENAI_API_KEY_ARN: its policies do not allow "
        "secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:123456789012:secret:"
        "mozaiks/openai-key-MnOpQr "
        "(when ModelApiKeyArn is set)"
    ]


def test_the_mongo_uri_unreadable_by_disconnect(template: dict[str, Any]) -> None:
    drop_statements(template, "DisconnectFunction", reading("MongoDbUriArn"))
    assert check_template(template) == [
        "DisconnectFunction: cannot read MONGODB_URI_ARN: its policies do not allow "
        "secretsmanager:GetSecretValue on arn:aws:secretsmanager:us-east-1:123456789012:secret:"
        "mozaiks/mongodb-uri-AbCdEf (when MongoDbUriArn is a Secrets Manager ARN)",
        "DisconnectFunction: cannot read MONGODB_URI_ARN: its policies do not allow ssm:GetParameter on "
        "arn:aws:ssm:us-east-1:123456789012:parameter/mozaiks/mongodb-uri (when MongoDbUriArn is an SSM "
        "parameter ARN)",
    ]


def test_the_wrong_read_action_for_an_ssm_uri(template: dict[str, Any]) -> None:
    # The !If keeps its Secrets Manager branch only: right for a secret, nothing for an SSM parameter.
    drop_statements(template, "HttpApiFunction", action_is("ssm:GetParameter"))
    problems = check_template(template)
    assert problems == [
        "HttpApiFunction: cannot read MONGODB_URI_ARN: its policies do not allow ssm:GetParameter on "
        "arn:aws:ssm:us-east-1:123456789012:parameter/mozaiks/mongodb-uri (when MongoDbUriArn is an SSM "
        "parameter ARN)"
    ]


def test_a_role_no_function_plays(template: dict[str, Any]) -> None:
    del template["Resources"]["HttpApiFunction"]
    assert check_template(template) == ["no function has the http role's handler (in every configuration)"]


# --- docs/deployment.md ---


def roles_reading(group: Any) -> str:
    roles = [role.value for role in Role if group in ROLE_GROUPS[role]]
    return "all" if len(roles) == len(Role) else ", ".join(roles)


def expected_rows() -> list[str]:
    """The table of the "Environment variables" section, as VARIABLES and ROLE_GROUPS say it must read."""
    return [
        f"| `{v.name}` | {roles_reading(v.group)} | {markdown(v.unset)} | {markdown(v.doc)} |"
        for v in sorted(VARIABLES.values(), key=lambda v: v.name)
    ]


def markdown(text: str) -> str:
    # "<NAME>" would be read as an HTML tag and vanish from the rendered page.
    return text.replace("<", "\\<")


def documented_rows() -> list[str]:
    text = DOCS.read_text()
    section = re.search(r"^### Environment variables\n(.*?)(?=^#)", text, re.S | re.M)
    assert section is not None, "docs/deployment.md has no '### Environment variables' section"
    return [line for line in section.group(1).splitlines() if line.startswith("| `")]


def test_the_docs_list_every_variable() -> None:
    rows = documented_rows()
    named = {re.match(r"\| `([A-Z0-9_]+)`", row).group(1) for row in rows}  # type: ignore[union-attr]
    assert sorted(set(VARIABLES) - named) == [], "undocumented variables"
    assert sorted(named - set(VARIABLES)) == [], "documented variables the runtime does not declare"


def test_the_docs_table_matches_the_declarations() -> None:
    # On failure, paste the expected rows (printed by pytest) into the section.
    assert documented_rows() == expected_rows()


def test_the_docs_name_the_function_of_each_role() -> None:
    refs, attributes = made_up_values(REAL)
    r = Resolver(REAL, {"MongoDbUriArn": "arn:aws:ssm:us-east-1:123456789012:parameter/x"}, refs, attributes)
    text = " ".join(DOCS.read_text().split())
    for fid in r.function_ids():
        assert f"`{HANDLERS[r.handler(fid)].value}` is `{fid}`" in text, fid


def test_a_worker_timeout_that_disagrees_with_the_function(template: dict[str, Any]) -> None:
    properties(template, "WorkerFunction")["Timeout"] = 120
    assert check_template(template) == [
        "WorkerFunction: MOZAIKS_WORKER_TIMEOUT_SECONDS is 300 but the function's Timeout is 120 "
        "(in every configuration)"
    ]


def test_a_lease_longer_than_the_worker_can_run(template: dict[str, Any]) -> None:
    variables(template, "WorkerFunction")["MOZAIKS_STEP_LEASE_SECONDS"] = "600"
    (problem,) = check_template(template)
    assert problem.startswith(
        "WorkerFunction: invalid configuration (1 problem(s)): MOZAIKS_STEP_LEASE_SECONDS"
    )


def test_a_visibility_timeout_shorter_than_the_worker_timeout(template: dict[str, Any]) -> None:
    template["Resources"]["StepQueue"]["Properties"]["VisibilityTimeout"] = 60
    assert check_template(template) == [
        "WorkerFunction: StepQueue VisibilityTimeout 60 is shorter than the Timeout 300 "
        "(in every configuration)"
    ]


# --- SnapStart and layers ---


def test_snapstart_without_an_alias(template: dict[str, Any]) -> None:
    del properties(template, "WorkerFunction")["AutoPublishAlias"]
    assert check_template(template) == [
        "WorkerFunction: SnapStart without AutoPublishAlias: no version is published and its events invoke "
        "$LATEST, which never starts from a snapshot (in every configuration)"
    ]


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        ({"Runtime": "python3.11"}, "SnapStart needs python3.12 or later, not 'python3.11'"),
        (
            {"EphemeralStorage": {"Size": 1024}},
            "SnapStart allows at most 512 MB of ephemeral storage, not 1024",
        ),
        (
            {"ProvisionedConcurrencyConfig": {"ProvisionedConcurrentExecutions": 1}},
            "SnapStart and provisioned concurrency cannot be combined",
        ),
        (
            {"FileSystemConfigs": [{"Arn": "arn:aws:elasticfilesystem:x", "LocalMountPath": "/mnt/x"}]},
            "SnapStart cannot be combined with an EFS file system",
        ),
        (
            {"VersionDeletionPolicy": "Retain"},
            "each version a deploy replaces is retained with its cached snapshot, billed while it exists: "
            "set VersionDeletionPolicy: Delete",
        ),
    ],
)
def test_what_snapstart_refuses_or_makes_costly(
    template: dict[str, Any], changes: dict[str, Any], problem: str
) -> None:
    properties(template, "WorkerFunction").update(changes)
    problems = check_template(template)
    assert f"WorkerFunction: {problem} (in every configuration)" in problems, problems
    assert all(p.startswith("WorkerFunction: ") for p in problems)


def test_a_layer_built_for_another_architecture(template: dict[str, Any]) -> None:
    template["Resources"]["EngineLayer"]["Metadata"]["BuildArchitecture"] = "x86_64"
    assert check_template(template) == [
        "WorkerFunction: layer EngineLayer is built for x86_64 (BuildArchitecture), not arm64 "
        "(in every configuration)"
    ]
    template["Resources"]["EngineLayer"]["Metadata"]["BuildArchitecture"] = "arm64"
    properties(template, "BaseLayer")["CompatibleRuntimes"] = ["python3.12"]
    problems = check_template(template)
    assert len(problems) == len(functions(template))
    assert "ConnectFunction: layer BaseLayer is not built for python3.13 (in every configuration)" in problems
