"""The deployed stack, locally: the built functions run as Lambda runs them (``lambda_runtime``), AWS is
moto's server in its own process (``aws_double``), the store is an embedded MongoDB wire server, and each
function's environment is what template.yaml gives it, with its parameters and references resolved to those
local values.

``Stack.invoke`` runs one invocation in a fresh process and keeps it, so a test can check afterwards what
every invocation read from the environment and which AWS calls it made (``env_problems``, ``iam_problems``).
"""

from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
import time
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import jwt

from runtime_core.config import VARIABLES
from runtime_core.transport import Reassembler, split_posts
from runtime_core.wiring import HANDLERS, ROLE_AWS_ACTIONS, SECRET_ACTIONS
from tests.deployment.cfn import Resolver, load_template
from tests.deployment.lambda_runtime import BUILD, REPO, Artifacts, Invocation, invoke, lambda_environment

EVENTS = REPO / "infra" / "events"
TEMPLATE = REPO / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"
# Local stand-ins for the stack's resources (what `!Ref` / `!GetAtt` resolve to).
WEBSOCKET_API = "wsapi00001"
HTTP_API = "httpapi001"
STAGE = "prod"
JWT_SECRET = "deployed-shape-test-secret-0123456789abcdef"
# Every variable with these prefixes is ours; OPENAI_* ones are the OpenAI SDK's (OPENAI_ORG_ID ...) except
# those we declare (OPENAI_API_KEY and its _ARN twin).
OUR_PREFIXES = ("MOZAIKS_", "MONGODB_")


def ensure_build() -> Artifacts:
    """The `sam build` output of the current sources: reuse build/sam when its stamp matches, else build."""
    spec = importlib.util.spec_from_file_location("build_stamp", REPO / ".ci" / "build_stamp.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    artifacts = Artifacts()
    stamp_file = BUILD / "STAMP"
    current = stamp_file.read_text().strip() if stamp_file.is_file() else ""
    ready = all(p.is_dir() for p in (artifacts.build, artifacts.host_layers, artifacts.runtime_sdk))
    ready = ready and artifacts.transformed.is_file()
    if not ready or current != module.stamp(REPO):
        subprocess.run([str(REPO / ".ci" / "sam-check")], cwd=REPO, check=True)
    return artifacts


class AwsDouble:
    """``python -m tests.deployment.aws_double`` in its own process."""

    def __init__(self) -> None:
        self.log = open(BUILD / "aws-double.log", "w")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.deployment.aws_double"],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("listening "):
            raise RuntimeError(f"the AWS double did not start: {line!r}")
        self.endpoint = f"http://127.0.0.1:{int(line.split()[1])}"

    def client(self, service: str) -> Any:
        import boto3

        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def posted(self, connection_id: str) -> bytes:
        quoted = urllib.parse.quote(connection_id, safe="")
        with urllib.request.urlopen(f"{self.endpoint}/_double/posts/{quoted}") as response:
            return bytes(response.read())

    def gone(self, connection_id: str) -> None:
        quoted = urllib.parse.quote(connection_id, safe="")
        request = urllib.request.Request(f"{self.endpoint}/_double/gone/{quoted}", method="POST")
        urllib.request.urlopen(request).close()

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.log.close()


class Stack:
    """The resources a deployment would have, and the functions' environments resolved to them."""

    def __init__(self, artifacts: Artifacts, aws: AwsDouble, mongo_uri: str, db_name: str) -> None:
        self.artifacts = artifacts
        self.aws = aws
        self.invocations: list[Invocation] = []
        sqs = aws.client("sqs")
        queue_name = f"steps-{db_name}.fifo"
        self.queue_url = sqs.create_queue(
            QueueName=queue_name,
            Attributes={
                "FifoQueue": "true",
                "VisibilityTimeout": "1800",
                "ContentBasedDeduplication": "false",
            },
        )["QueueUrl"]
        self.queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
        self.sqs = sqs
        # The MongoDB URI in SSM (a SecureString parameter), the JWT secret in Secrets Manager: both kinds of
        # secret ARN the template accepts are exercised.
        aws.client("ssm").put_parameter(
            Name=f"/mozaiks/{db_name}/mongodb-uri", Value=mongo_uri, Type="SecureString"
        )
        self.mongo_uri_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/mozaiks/{db_name}/mongodb-uri"
        self.jwt_secret_arn = aws.client("secretsmanager").create_secret(
            Name=f"mozaiks/jwt-{db_name}", SecretString=JWT_SECRET
        )["ARN"]
        self.parameters = {
            "MongoDbUriArn": self.mongo_uri_arn,
            "MongoDbName": db_name,
            "JwtSecretArn": self.jwt_secret_arn,
            "StageName": STAGE,
        }
        self.template = load_template(TEMPLATE)
        self.resolver = self.resolver_for(self.template)

    def resolver_for(self, template: dict[str, Any]) -> Resolver:
        return Resolver(
            template,
            parameters=self.parameters,
            refs={
                "StepQueue": self.queue_url,
                "StepDeadLetterQueue": self.queue_url.replace(".fifo", "-dlq.fifo"),
                "WebSocketApi": WEBSOCKET_API,
                "HttpApi": HTTP_API,
                "BaseLayer": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:base:1",
                "EngineLayer": f"arn:aws:lambda:{REGION}:{ACCOUNT}:layer:engine:1",
            },
            attributes={
                "StepQueue.Arn": self.queue_arn,
                "StepDeadLetterQueue.Arn": self.queue_arn.replace(".fifo", "-dlq.fifo"),
                **{
                    f"{fid}.Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{fid}"
                    for fid in ("ConnectFunction", "DefaultFunction", "DisconnectFunction", "WorkerFunction")
                },
            },
        )

    # ---- the functions -----------------------------------------------------------------------------------
    def template_env(self, function_id: str, resolver: Resolver | None = None) -> dict[str, str]:
        """The function's variables from template.yaml; the Management API endpoint pointed at the double."""
        env = (resolver or self.resolver).environment(function_id)
        public = f"https://{WEBSOCKET_API}.execute-api.{REGION}.amazonaws.com"
        return {k: v.replace(public, self.aws.endpoint) for k, v in env.items()}

    def function_id(self, handler: str) -> str:
        matches = [f for f in self.resolver.function_ids() if self.resolver.handler(f) == handler]
        assert len(matches) == 1, f"{handler}: {matches}"
        return matches[0]

    def invoke(
        self,
        handler: str,
        event: dict[str, Any],
        *,
        env: dict[str, str] | None = None,
        artifacts: Artifacts | None = None,
    ) -> Invocation:
        function_id = self.function_id(handler)
        properties = {
            **self.template.get("Globals", {}).get("Function", {}),
            **self.template["Resources"][function_id]["Properties"],
        }
        template_env = self.template_env(function_id) if env is None else env
        snapstart = self.resolver.snapstart(function_id)
        full_env = lambda_environment(
            function_id,
            template_env,
            int(properties.get("MemorySize", 512)),
            self.aws.endpoint,
            snapstart=snapstart,
        )
        result = invoke(
            artifacts or self.artifacts,
            function_id,
            handler,
            full_env,
            event,
            layers=self.resolver.layer_ids(function_id),
            snapstart=snapstart,
            timeout=float(properties.get("Timeout", 3)),
            request_id=f"req-{len(self.invocations) + 1}",
        )
        self.invocations.append(result)
        return result

    # ---- events as API Gateway and SQS send them ---------------------------------------------------------
    def token(self, app_id: str = "app-deployed", user_id: str = "user-deployed") -> str:
        now = int(time.time())
        return jwt.encode({"sub": user_id, "app_id": app_id, "iat": now, "exp": now + 3600}, JWT_SECRET)

    @staticmethod
    def _sample(name: str) -> dict[str, Any]:
        return copy.deepcopy(json.loads((EVENTS / name).read_text()))

    def connect_event(self, connection_id: str, token: str) -> dict[str, Any]:
        event = self._sample("connect.json")
        event["requestContext"]["connectionId"] = connection_id
        event["queryStringParameters"] = {"token": token}
        event["multiValueQueryStringParameters"] = {"token": [token]}
        return event

    def frame_event(self, connection_id: str, frame: dict[str, Any]) -> dict[str, Any]:
        event = self._sample("default_ping.json")
        event["requestContext"]["connectionId"] = connection_id
        event["body"] = json.dumps(frame)
        return event

    def disconnect_event(self, connection_id: str) -> dict[str, Any]:
        event = self._sample("disconnect.json")
        event["requestContext"]["connectionId"] = connection_id
        return event

    def http_event(self, path: str, query: str, token: str) -> dict[str, Any]:
        event = self._sample("http_api_health.json")
        event["rawPath"] = path
        event["rawQueryString"] = query
        event["requestContext"]["http"]["path"] = path
        event["pathParameters"] = {"proxy": path.lstrip("/")}
        event["headers"]["authorization"] = f"Bearer {token}"
        if query:
            event["queryStringParameters"] = dict(urllib.parse.parse_qsl(query))
        return event

    def receive_one(self) -> dict[str, Any] | None:
        """One step message, received as the event source mapping would (batch size 1, as in the template)."""
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url, MaxNumberOfMessages=1, AttributeNames=["All"], WaitTimeSeconds=0
        )
        messages = response.get("Messages", [])
        return messages[0] if messages else None

    def sqs_event(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": message["MessageId"],
                    "receiptHandle": message["ReceiptHandle"],
                    "body": message["Body"],
                    "attributes": dict(message.get("Attributes", {})),
                    "messageAttributes": {},
                    "md5OfBody": message["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.queue_arn,
                    "awsRegion": REGION,
                }
            ]
        }

    def drain(self, max_steps: int = 40, stop_after: int | None = None) -> int:
        """Deliver queued steps one message at a time, each to a fresh worker process; how many ran."""
        ran = 0
        while ran < max_steps and (stop_after is None or ran < stop_after):
            message = self.receive_one()
            if message is None:
                return ran
            response = self.invoke("functions/worker.handler", self.sqs_event(message)).ok()
            assert response == {"batchItemFailures": []}, response
            # The event source mapping deletes a record the function did not report as failed.
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"])
            ran += 1
        return ran


def connection_id() -> str:
    """A new id shaped like API Gateway's (base64-ish, ending in '='): moto keeps posts per id for the whole
    server's life, so every test connection needs its own."""
    return f"{uuid.uuid4().hex[:15]}="


class Connection:
    """A client's WebSocket as API Gateway sees it: frames go through $default, posts come back from the
    Management API (read from the double)."""

    def __init__(self, stack: Stack, connection_id: str, token: str) -> None:
        self.stack = stack
        self.connection_id = connection_id
        self.token = token
        self._read = 0
        self._reassembler = Reassembler()

    def connect(self) -> dict[str, Any]:
        result: dict[str, Any] = self.stack.invoke(
            "functions/connect.handler", self.stack.connect_event(self.connection_id, self.token)
        ).ok()
        return result

    def send(self, frame: dict[str, Any]) -> None:
        result = self.stack.invoke(
            "functions/default.handler", self.stack.frame_event(self.connection_id, frame)
        ).ok()
        assert result == {"statusCode": 200}, result

    def disconnect(self) -> None:
        self.stack.invoke(
            "functions/disconnect.handler", self.stack.disconnect_event(self.connection_id)
        ).ok()

    def received(self) -> list[dict[str, Any]]:
        """Messages posted to this connection since the last call, reassembled from batches and chunks."""
        data = self.stack.aws.posted(self.connection_id)
        posts = split_posts(data) if data else []
        new, self._read = posts[self._read :], len(posts)
        messages: list[dict[str, Any]] = []
        for post in new:
            text = post if isinstance(post, str | bytes) else json.dumps(post)
            messages.extend(self._reassembler.feed(text))
        return messages


# ---- audits of what the invocations did ------------------------------------------------------------------
def env_problems(invocation: Invocation, template_env: dict[str, str]) -> list[str]:
    """Variables of ours read by the function that the template does not set and that have no default."""
    problems = []
    for name in invocation.env_reads:
        ours = name.startswith(OUR_PREFIXES) or name in VARIABLES
        if not ours or name in template_env:
            continue
        declared = VARIABLES.get(name)
        if declared is None:
            problems.append(
                f"{invocation.function_id} reads {name}: not declared and not set by template.yaml"
            )
        elif declared.required:
            problems.append(f"{invocation.function_id} reads {name}: required, not set by template.yaml")
    return problems


def iam_action(call: Any, endpoint_stage: str = STAGE) -> tuple[str, str]:
    """The IAM action and resource ARN a recorded AWS call needs."""
    if call.service == "execute-api":
        resource = (
            f"arn:aws:execute-api:{REGION}:{ACCOUNT}:{WEBSOCKET_API}/{endpoint_stage}/POST/@connections/"
            f"{call.params.get('ConnectionId', '*')}"
        )
        return "execute-api:ManageConnections", resource
    if call.service == "sqs":
        name = call.params.get("QueueUrl", "").rsplit("/", 1)[-1]
        return f"sqs:{call.operation}", f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
    if call.service == "ssm":
        return (
            f"ssm:{call.operation}",
            f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{call.params.get('Name', '')}",
        )
    if call.service == "secretsmanager":
        return f"secretsmanager:{call.operation}", call.params.get("SecretId", "")
    return f"{call.service}:{call.operation}", "*"


def iam_problems(invocation: Invocation, resolver: Resolver) -> list[str]:
    """Calls the function's policy does not allow, or that its role does not declare (runtime_core.wiring)."""
    role = HANDLERS[invocation.handler]
    declared = ROLE_AWS_ACTIONS[role] | SECRET_ACTIONS
    problems = []
    for call in invocation.aws_calls:
        action, resource = iam_action(call)
        if not resolver.allows(invocation.function_id, action, resource):
            problems.append(
                f"{invocation.function_id} calls {action} on {resource}: not allowed by template.yaml"
            )
        if action not in declared:
            problems.append(f"{invocation.function_id} calls {action}: not in ROLE_AWS_ACTIONS[{role.value}]")
    return problems


def normalized(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Session events without what differs between two runs of the same conversation: ids and clocks."""
    return [{k: v for k, v in e.items() if k not in ("ts", "session_id")} for e in events]


def repo_path(*parts: str) -> Path:
    return REPO.joinpath(*parts)
