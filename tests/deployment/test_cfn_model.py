"""The template model itself (tests/deployment/cfn.py): every short tag, every intrinsic, both branches of a
condition, Globals merging, and the IAM matching the template checks rely on."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.deployment.cfn import NO_VALUE, Resolver, Statement, TemplateError, load_template

TEMPLATE = r"""
Parameters:
  Arn:
    Type: String
    AllowedPattern: "^arn:aws:(secretsmanager|ssm):.+$"
  Optional:
    Type: String
    Default: ""
  Stage:
    Type: String
    Default: prod
    AllowedValues: [prod, dev]
Conditions:
  HasOptional: !Not [!Equals [!Ref Optional, ""]]
  InSsm: !Equals [!Select [2, !Split [":", !Ref Arn]], ssm]
  Both: !And [!Condition HasOptional, !Condition InSsm]
  Either: !Or [!Condition HasOptional, !Condition InSsm]
Globals:
  Function:
    CodeUri: .
    Environment:
      Variables:
        SHARED: global
        OVERRIDDEN: global
Resources:
  Queue:
    Type: AWS::SQS::Queue
  Api:
    Type: AWS::Serverless::WebSocketApi
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      Handler: functions/fn.handler
      Environment:
        Variables:
          OVERRIDDEN: function
          QUEUE: !Ref Queue
          REGION_URL: !Sub https://${Api}.execute-api.${AWS::Region}.${AWS::URLSuffix}/${Stage}
          LITERAL: !Sub "${!NotAVariable}-${Stage}"
          LIST_SUB: !Sub ["${Name}-${Queue.Arn}", {Name: !Ref Stage}]
          QUEUE_ARN: !GetAtt Queue.Arn
          QUEUE_ARN_LIST: !GetAtt [Queue, Arn]
          OPTIONAL: !If [HasOptional, !Ref Optional, !Ref AWS::NoValue]
          JOINED: !Join ["/", [a, !Ref Stage, !Select [1, [x, y, z]]]]
          FLAG: true
          COUNT: 5
      Policies:
        - Version: "2012-10-17"
          Statement:
            - !If
              - InSsm
              - Effect: Allow
                Action: ssm:GetParameter
                Resource: !Ref Arn
              - Effect: Allow
                Action: secretsmanager:GetSecretValue
                Resource: !Ref Arn
            - !If [HasOptional, {Effect: Allow, Action: "sqs:*", Resource: !GetAtt Queue.Arn},
                   !Ref AWS::NoValue]
            - Effect: Allow
              Action: [execute-api:ManageConnections]
              Resource: !Sub arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/*
            - Effect: Deny
              Action: execute-api:ManageConnections
              Resource: !Sub arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${Api}/dev/*
  Conditional:
    Type: AWS::Serverless::Function
    Condition: Both
    Properties:
      Handler: functions/other.handler
"""
SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:s-AbCdEf"
PARAMETER = "arn:aws:ssm:us-east-1:123456789012:parameter/p"
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:q.fifo"


@pytest.fixture
def template(tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / "template.yaml"
    path.write_text(TEMPLATE)
    return load_template(path)


def resolver(template: dict[str, Any], **parameters: str) -> Resolver:
    return Resolver(
        template,
        parameters=parameters,
        refs={"Queue": "https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo", "Api": "a1b2c3d4e5"},
        attributes={"Queue.Arn": QUEUE_ARN},
    )


def test_short_tags_load_in_their_long_form(template: dict[str, Any]) -> None:
    variables = template["Resources"]["Fn"]["Properties"]["Environment"]["Variables"]
    assert variables["QUEUE"] == {"Ref": "Queue"}
    assert variables["QUEUE_ARN"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert variables["QUEUE_ARN_LIST"] == {"Fn::GetAtt": ["Queue", "Arn"]}
    assert variables["OPTIONAL"] == {"Fn::If": ["HasOptional", {"Ref": "Optional"}, {"Ref": "AWS::NoValue"}]}
    assert template["Conditions"]["Both"] == {
        "Fn::And": [{"Condition": "HasOptional"}, {"Condition": "InSsm"}]
    }
    assert template["Conditions"]["InSsm"]["Fn::Equals"][0] == {
        "Fn::Select": [2, {"Fn::Split": [":", {"Ref": "Arn"}]}]
    }


def test_conditions_take_both_branches(template: dict[str, Any]) -> None:
    secret_only = resolver(template, Arn=SECRET)
    assert not secret_only.condition("HasOptional") and not secret_only.condition("InSsm")
    assert not secret_only.condition("Either") and not secret_only.condition("Both")
    ssm_and_optional = resolver(template, Arn=PARAMETER, Optional="x")
    assert ssm_and_optional.condition("HasOptional") and ssm_and_optional.condition("InSsm")
    assert ssm_and_optional.condition("Both")
    assert secret_only.function_ids() == ["Fn"]
    assert ssm_and_optional.function_ids() == ["Fn", "Conditional"]


def test_environment_resolves_every_intrinsic_with_globals_under_the_function(
    template: dict[str, Any],
) -> None:
    env = resolver(template, Arn=SECRET, Stage="dev").environment("Fn")
    assert env == {
        "SHARED": "global",
        "OVERRIDDEN": "function",
        "QUEUE": "https://sqs.us-east-1.amazonaws.com/123456789012/q.fifo",
        "REGION_URL": "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/dev",
        "LITERAL": "${NotAVariable}-dev",
        "LIST_SUB": f"dev-{QUEUE_ARN}",
        "QUEUE_ARN": QUEUE_ARN,
        "QUEUE_ARN_LIST": QUEUE_ARN,
        "JOINED": "a/dev/y",
        "FLAG": "true",
        "COUNT": "5",
    }
    with_optional = resolver(template, Arn=SECRET, Optional="set").environment("Fn")
    assert with_optional["OPTIONAL"] == "set"
    assert resolver(template, Arn=SECRET).declared("Fn") >= {"OPTIONAL", "SHARED", "OVERRIDDEN"}


def test_no_value_is_dropped_from_lists_and_mappings(template: dict[str, Any]) -> None:
    r = resolver(template, Arn=SECRET)
    assert r.value({"Ref": "AWS::NoValue"}) is NO_VALUE
    assert r.value([1, {"Ref": "AWS::NoValue"}, 2]) == [1, 2]
    assert r.value({"a": {"Ref": "AWS::NoValue"}, "b": {"Ref": "Stage"}}) == {"b": "prod"}


def test_policies_follow_the_conditions(template: dict[str, Any]) -> None:
    secret = resolver(template, Arn=SECRET)
    assert [s.actions for s in secret.statements("Fn")] == [
        ["secretsmanager:GetSecretValue"],
        ["execute-api:ManageConnections"],
        ["execute-api:ManageConnections"],
    ]
    assert secret.allows("Fn", "secretsmanager:GetSecretValue", SECRET)
    assert not secret.allows("Fn", "ssm:GetParameter", SECRET)
    assert not secret.allows("Fn", "sqs:SendMessage", QUEUE_ARN)

    ssm = resolver(template, Arn=PARAMETER, Optional="x")
    assert ssm.allows("Fn", "ssm:GetParameter", PARAMETER)
    assert not ssm.allows("Fn", "secretsmanager:GetSecretValue", PARAMETER)
    # "sqs:*" covers every SQS action, on that queue only; action names are case-insensitive.
    assert ssm.allows("Fn", "SQS:SendMessage", QUEUE_ARN)
    assert not ssm.allows("Fn", "sqs:SendMessage", QUEUE_ARN + "x")


def test_wildcards_and_explicit_deny(template: dict[str, Any]) -> None:
    r = resolver(template, Arn=SECRET)
    post = "execute-api:ManageConnections"
    base = "arn:aws:execute-api:us-east-1:123456789012:a1b2c3d4e5"
    assert r.allows("Fn", post, f"{base}/prod/POST/@connections/abc=")
    assert not r.allows("Fn", post, f"{base}/dev/POST/@connections/abc=")  # the Deny wins
    assert not r.allows("Fn", post, "arn:aws:execute-api:us-east-1:123456789012:otherapi/prod/POST/x")
    # Only * and ? are IAM wildcards: "[" is an ordinary character.
    assert Statement("Allow", ["s3:GetObject"], ["arn:aws:s3:::b/[ab]"]).matches(
        "s3:GetObject", "arn:aws:s3:::b/[ab]"
    )
    assert not Statement("Allow", ["s3:GetObject"], ["arn:aws:s3:::b/[ab]"]).matches(
        "s3:GetObject", "arn:aws:s3:::b/a"
    )


def test_handler_and_code_uri(template: dict[str, Any]) -> None:
    r = resolver(template, Arn=SECRET)
    assert r.handler("Fn") == "functions/fn.handler"
    assert r.code_uri("Fn") == "."
    with pytest.raises(TemplateError, match="not an AWS::Serverless::Function"):
        r.handler("Queue")


def test_parameters_are_checked(template: dict[str, Any]) -> None:
    with pytest.raises(TemplateError, match="Arn has no default"):
        resolver(template)
    with pytest.raises(TemplateError, match="AllowedPattern"):
        resolver(template, Arn="arn:aws:s3:::bucket")
    with pytest.raises(TemplateError, match="not one of"):
        resolver(template, Arn=SECRET, Stage="staging")
    with pytest.raises(TemplateError, match="not declared"):
        resolver(template, Arn=SECRET, Stgae="dev")


def test_unknown_references_are_errors_not_guesses(template: dict[str, Any]) -> None:
    r = Resolver(template, parameters={"Arn": SECRET}, refs={}, attributes={})
    with pytest.raises(TemplateError, match="no value was given for !Ref Queue"):
        r.value({"Ref": "Queue"})
    with pytest.raises(TemplateError, match=r"no value was given for !GetAtt Queue\.Arn"):
        r.value({"Fn::GetAtt": ["Queue", "Arn"]})
    with pytest.raises(TemplateError, match="no such parameter"):
        r.value({"Ref": "Nowhere"})
    with pytest.raises(TemplateError, match="unknown condition"):
        r.condition("Nowhere")


def test_pseudo_parameters_default_and_can_be_replaced(template: dict[str, Any]) -> None:
    default = resolver(template, Arn=SECRET)
    assert default.value({"Fn::Sub": "${AWS::StackName}:${AWS::AccountId}:${AWS::Partition}"}) == (
        "mozaiks:123456789012:aws"
    )
    other = Resolver(template, {"Arn": SECRET}, {}, {}, pseudo={"AWS::Region": "eu-west-1"})
    assert other.value({"Ref": "AWS::Region"}) == "eu-west-1"


@pytest.mark.parametrize(
    ("policies", "message"),
    [
        ([{"SQSSendMessagePolicy": {"QueueName": "q"}}], "SAM policy templates"),
        (["AWSLambdaBasicExecutionRole"], "managed policy"),
        ([{"Statement": [{"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}]}], "NotAction"),
        ([{"Statement": [{"Effect": "Allow", "Action": [], "Resource": "*"}]}], "Action must be"),
    ],
)
def test_unmodelled_policies_are_refused(template: dict[str, Any], policies: list[Any], message: str) -> None:
    template["Resources"]["Fn"]["Properties"]["Policies"] = policies
    with pytest.raises(TemplateError, match=message):
        resolver(template, Arn=SECRET).statements("Fn")


def test_unknown_tags_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("Value: !Bogus x\n")
    with pytest.raises(TemplateError, match="unknown tag !Bogus"):
        load_template(path)


LAYERED = r"""
Parameters:
  Snap:
    Type: String
    Default: PublishedVersions
Globals:
  Function:
    Runtime: python3.13
    MemorySize: 512
    Layers: [!Ref Base]
Resources:
  Base:
    Type: AWS::Serverless::LayerVersion
  Engine:
    Type: AWS::Serverless::LayerVersion
  Plain:
    Type: AWS::Serverless::Function
    Properties:
      Handler: functions/plain.handler
  Worker:
    Type: AWS::Serverless::Function
    Properties:
      Handler: functions/worker.handler
      MemorySize: 1024
      Layers: [!Ref Engine]
      SnapStart:
        ApplyOn: !Ref Snap
  Odd:
    Type: AWS::Serverless::Function
    Properties:
      Handler: functions/odd.handler
      Layers: ["arn:aws:lambda:us-east-1:123456789012:layer:x:1"]
"""


def test_layers_globals_first_settings_and_snapstart(tmp_path: Path) -> None:
    path = tmp_path / "layered.yaml"
    path.write_text(LAYERED)
    template = load_template(path)
    r = Resolver(template, {}, refs={"Base": "b", "Engine": "e"}, attributes={})
    assert r.layer_ids("Plain") == ["Base"]
    assert r.layer_ids("Worker") == ["Base", "Engine"]
    with pytest.raises(TemplateError, match="only a !Ref to a layer of the template is modelled"):
        r.layer_ids("Odd")
    assert (r.setting("Plain", "MemorySize"), r.setting("Worker", "MemorySize")) == (512, 1024)
    assert r.setting("Plain", "Timeout", 3) == 3
    assert (r.snapstart("Plain"), r.snapstart("Worker")) == (False, True)
    assert not Resolver(template, {"Snap": "None"}, refs={}, attributes={}).snapstart("Worker")
