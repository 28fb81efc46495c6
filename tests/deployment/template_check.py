"""Does template.yaml give each function what its code needs? A check of the template against the runtime's
own declarations, without deploying: ``runtime_core.wiring`` (handlers, roles, the AWS calls each role makes)
and ``runtime_core.config.variables`` (every variable, its group, whether it is required).

Each problem is a sentence naming the function and what to fix. The template is evaluated under every
combination of the parameters that switch its conditions (the MongoDB URI in Secrets Manager or in SSM, a JWT
secret ARN or none, a model API key ARN or none), with made-up but well-formed ARNs and resource values, so a
statement guarded by ``!If`` is checked in the configuration where it matters.
"""

from __future__ import annotations

import ast
import hashlib
import itertools
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from runtime_core.config.variables import VARIABLES
from runtime_core.wiring import (
    HANDLERS,
    POST_ACTION,
    ROLE_AWS_ACTIONS,
    ROLE_GROUPS,
    ROLES_CLOSING_CONNECTIONS,
    Role,
)
from tests.deployment.cfn import DEFAULT_PSEUDO, Resolver, TemplateError

REPO_ROOT = Path(__file__).resolve().parents[2]
REGION, ACCOUNT = DEFAULT_PSEUDO["AWS::Region"], DEFAULT_PSEUDO["AWS::AccountId"]
# Variables of the libraries themselves (see runtime_core/config/variables.py): not the runtime's to declare.
LIBRARY_PREFIXES = ("POWERTOOLS_", "OTEL_")
SECRET_READ = {"secretsmanager": "secretsmanager:GetSecretValue", "ssm": "ssm:GetParameter"}
_SECRET_ARN = re.compile(r"^arn:aws[a-z-]*:(?P<service>secretsmanager|ssm):(?P<region>[a-z0-9-]+):\d{12}:.+$")
_SQS_URL = re.compile(
    r"^https://sqs\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<account>\d{12})/(?P<name>[^/]+)$"
)
_CALLBACK_URL = re.compile(
    r"^https://(?P<api>[a-z0-9]+)\.execute-api\.(?P<region>[a-z0-9-]+)\.amazonaws\.com/(?P<stage>[^/]+)/?$"
)


@dataclass(frozen=True)
class Option:
    parameter: str
    label: str
    value: str


_SECRET = f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret"
_PARAMETER = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter"
# Each dimension lists the values of one parameter that switch a condition of the template.
DIMENSIONS: tuple[tuple[Option, ...], ...] = (
    (
        Option("MongoDbUriArn", "a Secrets Manager ARN", f"{_SECRET}:mozaiks/mongodb-uri-AbCdEf"),
        Option("MongoDbUriArn", "an SSM parameter ARN", f"{_PARAMETER}/mozaiks/mongodb-uri"),
    ),
    (
        Option("JwtSecretArn", "set", f"{_SECRET}:mozaiks/jwt-secret-GhIjKl"),
        Option("JwtSecretArn", "empty", ""),
    ),
    (
        Option("ModelApiKeyArn", "set", f"{_SECRET}:mozaiks/openai-key-MnOpQr"),
        Option("ModelApiKeyArn", "empty", ""),
    ),
)


def scenarios() -> Iterator[tuple[Option, ...]]:
    yield from itertools.product(*DIMENSIONS)


def made_up_values(template: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """``!Ref`` and ``!GetAtt`` values for every resource, shaped like the real ones (URLs, ARNs, API ids)."""
    refs: dict[str, str] = {}
    attributes: dict[str, str] = {}
    for lid, resource in (template.get("Resources") or {}).items():
        kind = resource.get("Type", "")
        properties = resource.get("Properties") or {}
        if kind == "AWS::SQS::Queue":
            name = f"mozaiks-{lid}-1ABCDEF" + (".fifo" if properties.get("FifoQueue") else "")
            refs[lid] = f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            attributes[f"{lid}.Arn"] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
            attributes[f"{lid}.QueueName"] = name
        elif kind.endswith("Api"):
            # API Gateway ids are 10 lowercase alphanumerics; a different one per API.
            refs[lid] = hashlib.sha256(lid.encode()).hexdigest()[:10]
        elif kind == "AWS::Serverless::Function":
            refs[lid] = f"mozaiks-{lid}-1ABCDEF"
            attributes[f"{lid}.Arn"] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:mozaiks-{lid}-1ABCDEF"
        else:
            refs[lid] = f"arn:aws:test:{REGION}:{ACCOUNT}:{lid}"
            attributes[f"{lid}.Arn"] = refs[lid]
    return refs, attributes


def check_template(template: dict[str, Any], root: Path = REPO_ROOT) -> list[str]:
    """Every inconsistency between the template and the runtime's declarations; empty when there is none.

    A problem found in only some configurations says in which ("when JwtSecretArn is set").
    """
    refs, attributes = made_up_values(template)
    declared_parameters = set(template.get("Parameters") or {})
    all_scenarios = list(scenarios())
    found: dict[str, list[tuple[Option, ...]]] = {}
    for scenario in all_scenarios:
        parameters = {o.parameter: o.value for o in scenario if o.parameter in declared_parameters}
        try:
            resolver = Resolver(template, parameters, refs, attributes)
            problems = _check_resolved(resolver, root)
        except TemplateError as exc:
            problems = [f"the template cannot be evaluated: {exc}"]
        for problem in problems:
            found.setdefault(problem, []).append(scenario)
    return [f"{problem} ({_when(matched, all_scenarios)})" for problem, matched in found.items()]


def _when(matched: list[tuple[Option, ...]], every: list[tuple[Option, ...]]) -> str:
    """The configurations of one problem, said as briefly as they allow."""
    if len(matched) == len(every):
        return "in every configuration"
    per_dimension = [sorted({s[i] for s in matched}, key=DIMENSIONS[i].index) for i in range(len(DIMENSIONS))]
    if len(matched) == math.prod(len(values) for values in per_dimension):
        # A sub-cube: only the dimensions it restricts matter.
        said = [
            f"{values[0].parameter} is {' or '.join(o.label for o in values)}"
            for i, values in enumerate(per_dimension)
            if len(values) < len(DIMENSIONS[i])
        ]
        return "when " + " and ".join(said)
    return "when " + "; or ".join(", ".join(f"{o.parameter} is {o.label}" for o in s) for s in matched)


def _check_resolved(resolver: Resolver, root: Path) -> list[str]:
    problems: list[str] = []
    roles: set[Role] = set()
    for fid in resolver.function_ids():
        handler = resolver.handler(fid)
        problems += _check_handler_module(fid, handler, root / resolver.code_uri(fid))
        role = HANDLERS.get(handler)
        if role is None:
            problems.append(
                f"{fid}: Handler {handler!r} is not in runtime_core.wiring.HANDLERS "
                f"(known: {sorted(HANDLERS)}), so nothing says what it needs"
            )
            continue
        roles.add(role)
        environment = resolver.environment(fid)
        problems += _check_environment(fid, role, environment)
        problems += _check_permissions(resolver, fid, role, environment)
        if role == Role.worker:
            problems += _check_timing(resolver, fid, environment)
        problems += _check_snapstart(resolver, fid)
        problems += _check_layers(resolver, fid)
    problems += [f"no function has the {role.value} role's handler" for role in Role if role not in roles]
    return problems


def _check_handler_module(fid: str, handler: str, code_root: Path) -> list[str]:
    module, _, attribute = handler.rpartition(".")
    if not module or not attribute:
        return [f"{fid}: Handler {handler!r} is not module.attribute"]
    # Lambda's Python runtime accepts "dir/module.attr" and "package.module.attr".
    relative = module.replace(".", "/")
    candidates = [code_root / f"{relative}.py", code_root / relative / "__init__.py"]
    path = next((p for p in candidates if p.is_file()), None)
    if path is None:
        return [f"{fid}: Handler {handler!r}: module {relative}.py does not exist under {code_root}"]
    if attribute not in _top_level_names(ast.parse(path.read_text(), filename=str(path))):
        return [f"{fid}: Handler {handler!r}: {path.relative_to(code_root)} defines no {attribute!r}"]
    return []


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
    return names


def _check_environment(fid: str, role: Role, environment: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    groups = ROLE_GROUPS[role]
    for name, variable in VARIABLES.items():
        if variable.group not in groups:
            continue
        direct = bool(environment.get(name))
        twin = bool(environment.get(f"{name}_ARN")) if variable.secret else False
        if variable.required and not (direct or twin):
            either = f" (or {name}_ARN)" if variable.secret else ""
            problems.append(
                f"{fid}: {name}{either} is required by the {role.value} role (group {variable.group.value}) "
                "but is not set"
            )
        if direct and twin:
            problems.append(f"{fid}: both {name} and {name}_ARN are set; the runtime refuses that")
    for name, value in environment.items():
        if name.startswith(LIBRARY_PREFIXES):
            continue
        if name.startswith("AWS_"):
            problems.append(f"{fid}: {name} is reserved by Lambda and cannot be set")
        elif name not in VARIABLES:
            # Declared-but-empty variables count too: they are what `sam local invoke --env-vars` can set.
            problems.append(f"{fid}: {name} is not declared in runtime_core/config/variables.py (misspelt?)")
        elif value and VARIABLES[name].group not in groups:
            group = VARIABLES[name].group.value
            problems.append(
                f"{fid}: {name} belongs to group {group}, which the {role.value} role does not load; "
                "set it only on the functions that read it"
            )
    return problems


def _check_permissions(resolver: Resolver, fid: str, role: Role, environment: Mapping[str, str]) -> list[str]:
    problems: list[str] = []
    statements = resolver.statements(fid)
    for action in sorted(ROLE_AWS_ACTIONS[role]):
        # "On some resource": each Allow statement's own resource patterns stand for the resources it covers.
        patterns = [r for s in statements if s.effect == "Allow" for r in s.resources]
        if not any(resolver.allows(fid, action, pattern) for pattern in patterns):
            problems.append(f"{fid}: the {role.value} role calls {action}, which its policies do not allow")
    # Where the code sends, as an ARN: the policy must cover that resource, not merely mention the action.
    queue = _SQS_URL.match(environment.get("MOZAIKS_STEP_QUEUE_URL", ""))
    if queue and "sqs:SendMessage" in ROLE_AWS_ACTIONS[role]:
        arn = f"arn:aws:sqs:{queue['region']}:{queue['account']}:{queue['name']}"
        if not resolver.allows(fid, "sqs:SendMessage", arn):
            problems.append(f"{fid}: sqs:SendMessage is not allowed on {arn} (MOZAIKS_STEP_QUEUE_URL)")
    endpoint = _CALLBACK_URL.match(environment.get("MOZAIKS_WS_CALLBACK_URL", ""))
    if endpoint and POST_ACTION in ROLE_AWS_ACTIONS[role]:
        arn = (
            f"arn:aws:execute-api:{endpoint['region']}:{resolver.pseudo['AWS::AccountId']}:"
            f"{endpoint['api']}/{endpoint['stage']}/POST/@connections/Jx1ABcDEoAMCJYQ="
        )
        if not resolver.allows(fid, POST_ACTION, arn):
            problems.append(f"{fid}: {POST_ACTION} is not allowed on {arn} (MOZAIKS_WS_CALLBACK_URL)")
        closing = arn.replace("/POST/@connections/", "/DELETE/@connections/")
        if role in ROLES_CLOSING_CONNECTIONS and not resolver.allows(fid, POST_ACTION, closing):
            problems.append(f"{fid}: {POST_ACTION} is not allowed on {closing} (closing expired connections)")
    for name, value in environment.items():
        secret = VARIABLES.get(name.removesuffix("_ARN"))
        if not (name.endswith("_ARN") and value and secret is not None and secret.secret):
            continue
        match = _SECRET_ARN.match(value)
        if match is None:
            problems.append(f"{fid}: {name}={value!r} is not a Secrets Manager or SSM parameter ARN")
            continue
        action = SECRET_READ[match["service"]]
        if not resolver.allows(fid, action, value):
            problems.append(f"{fid}: cannot read {name}: its policies do not allow {action} on {value}")
    return problems


def _check_timing(resolver: Resolver, fid: str, environment: Mapping[str, str]) -> list[str]:
    """The worker's time settings, as the template sets them: what the runtime itself checks at start, its
    declared timeout equal to the function's, and a queue visibility timeout no shorter (AWS refuses an SQS
    event source whose visibility timeout is shorter than the function's timeout)."""
    from runtime_core.config import ConfigError, WorkerSettings

    problems: list[str] = []
    template = resolver.template
    timeout = int(
        (template["Resources"][fid]["Properties"].get("Timeout"))
        or template.get("Globals", {}).get("Function", {}).get("Timeout", 3)
    )
    try:
        settings = WorkerSettings.from_env(dict(environment))
    except ConfigError as exc:
        return [f"{fid}: {exc}"]
    if settings.timeout_seconds != timeout:
        problems.append(
            f"{fid}: MOZAIKS_WORKER_TIMEOUT_SECONDS is {settings.timeout_seconds} but the function's Timeout "
            f"is {timeout}"
        )
    queue = template["Resources"].get("StepQueue", {}).get("Properties", {})
    visibility = int(queue.get("VisibilityTimeout", 30))
    if visibility < timeout:
        problems.append(
            f"{fid}: StepQueue VisibilityTimeout {visibility} is shorter than the Timeout {timeout}"
        )
    return problems


# Lambda SnapStart's Python runtimes (python3.12 and later).
_SNAPSTART_RUNTIME = re.compile(r"^python3\.(1[2-9]|[2-9][0-9])$")
# SnapStart refuses ephemeral storage above 512 MB.
_SNAPSTART_MAX_EPHEMERAL_MB = 512


def _check_snapstart(resolver: Resolver, fid: str) -> list[str]:
    """What SnapStart needs of the function, and what makes it pay: a snapshot is taken of published
    versions only (so the events must invoke an alias), on python3.12+, without provisioned concurrency, EFS
    or more than 512 MB of /tmp; every version kept keeps a cached snapshot, which is billed."""
    if not resolver.snapstart(fid):
        return []
    problems = []
    if not resolver.setting(fid, "AutoPublishAlias"):
        problems.append(
            f"{fid}: SnapStart without AutoPublishAlias: no version is published and its events invoke "
            "$LATEST, which never starts from a snapshot"
        )
    runtime = str(resolver.setting(fid, "Runtime", ""))
    if not _SNAPSTART_RUNTIME.match(runtime):
        problems.append(f"{fid}: SnapStart needs python3.12 or later, not {runtime!r}")
    if resolver.setting(fid, "ProvisionedConcurrencyConfig"):
        problems.append(f"{fid}: SnapStart and provisioned concurrency cannot be combined")
    if resolver.setting(fid, "FileSystemConfigs"):
        problems.append(f"{fid}: SnapStart cannot be combined with an EFS file system")
    storage = (resolver.setting(fid, "EphemeralStorage") or {}).get("Size", 512)
    if int(storage) > _SNAPSTART_MAX_EPHEMERAL_MB:
        problems.append(f"{fid}: SnapStart allows at most 512 MB of ephemeral storage, not {storage}")
    if (
        resolver.setting(fid, "AutoPublishAlias")
        and resolver.setting(fid, "VersionDeletionPolicy") != "Delete"
    ):
        problems.append(
            f"{fid}: each version a deploy replaces is retained with its cached snapshot, billed while it "
            "exists: set VersionDeletionPolicy: Delete"
        )
    return problems


def _check_layers(resolver: Resolver, fid: str) -> list[str]:
    """Each layer declares the function's runtime and architecture (its wheels are built for one)."""
    problems = []
    runtime = resolver.setting(fid, "Runtime")
    architectures = resolver.setting(fid, "Architectures", ["x86_64"])
    for layer in resolver.layer_ids(fid):
        resource = resolver.resources[layer]
        if resource.get("Type") != "AWS::Serverless::LayerVersion":
            problems.append(f"{fid}: layer {layer} is not an AWS::Serverless::LayerVersion")
            continue
        properties = resolver.value(resource.get("Properties") or {})
        if runtime not in properties.get("CompatibleRuntimes", [runtime]):
            problems.append(f"{fid}: layer {layer} is not built for {runtime}")
        for architecture in architectures:
            if architecture not in properties.get("CompatibleArchitectures", ["x86_64"]):
                problems.append(f"{fid}: layer {layer} is not built for {architecture}")
            build = (resource.get("Metadata") or {}).get("BuildArchitecture", "x86_64")
            if build != architecture:
                problems.append(
                    f"{fid}: layer {layer} is built for {build} (BuildArchitecture), not {architecture}"
                )
    return problems
