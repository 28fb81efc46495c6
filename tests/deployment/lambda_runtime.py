"""Run a built Lambda function the way Lambda runs it: one fresh Python process per invocation.

The process sees only what a deployed function sees: the function's directory from ``sam build`` (the task
root, also the working directory), the function's own layers built for this machine, in the template's order
(merged into ``/opt/python`` on Lambda), and what the Lambda Python runtime provides: the SDK
(boto3/botocore) and the SnapStart hooks library (``snapshot_restore_py``, a stand-in here), on top of the
standard library. Not the repository, not the dev virtual environment (``python -I -S``: no site-packages, no
PYTHONPATH, no current directory). Nothing is written next to the code (``-B``): Lambda's code directory is
read-only, so modules the build did not compile are compiled again by every cold start, here too. Its
environment is what template.yaml gives the function plus what the Lambda service sets, and AWS calls go to
the test's moto server through ``AWS_ENDPOINT_URL``.

A function with SnapStart goes through SnapStart's phases in the one process: init (the handler module's
import), the before-snapshot hooks, the after-restore hooks, then the invocation; each is timed.

The handler is imported by the template's ``Handler`` string, as the runtime does
(``functions/connect.handler`` -> module ``functions.connect``, attribute ``handler``), and called with the
event and a context object.

The process also reports, for the checks of the deployed shape: every environment variable read (through
``os.environ`` / ``os.getenv``), every AWS API call (botocore), and any module loaded from outside the task
root, the layer, the runtime SDK and the standard library.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from functools import cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

REPO = Path(__file__).resolve().parents[2]
BUILD = REPO / "build" / "sam"
HERE = Path(__file__).resolve().parent


class Artifacts(BaseModel):
    model_config = ConfigDict(frozen=True)

    build: Path = BUILD / "build"
    # The layers built for this machine, one directory per layer resource (BaseLayer/python, ...).
    host_layers: Path = BUILD / "host-layers"
    runtime_sdk: Path = BUILD / "lambda-runtime"
    # Where the stand-in of the runtime's snapshot_restore_py lives (/var/runtime on Lambda).
    runtime_hooks: Path = HERE / "lambda_runtime_hooks"
    # The template after SAM's transform (.ci/sam-check): what CloudFormation would create.
    transformed: Path = BUILD / "transformed.json"

    def task_root(self, function_id: str) -> Path:
        return self.build / function_id

    def layer(self, layer_id: str) -> Path:
        return self.host_layers / layer_id / "python"


class AwsCall(BaseModel):
    service: str  # the signing name: sqs, secretsmanager, ssm, execute-api ...
    operation: str
    endpoint: str
    params: dict[str, str] = Field(default_factory=dict)


class Invocation(BaseModel):
    function_id: str
    handler: str
    phase: str  # "ok", "init" (the import failed) or "invoke" (the handler raised)
    result: Any = None
    error: str | None = None
    output: str = ""
    env_reads: list[str] = Field(default_factory=list)
    aws_calls: list[AwsCall] = Field(default_factory=list)
    outside_modules: list[str] = Field(default_factory=list)
    seconds: float = 0.0
    # The phases, timed inside the process: init (importing the handler module), then for a SnapStart
    # function the before-snapshot and after-restore hooks, then the handler.
    phases: dict[str, float] = Field(default_factory=dict)
    # Top-level packages already imported when the handler was called.
    loaded_before_handler: list[str] = Field(default_factory=list)

    def ok(self) -> Any:
        if self.phase != "ok":
            raise AssertionError(
                f"{self.function_id} ({self.handler}) failed at {self.phase}: {self.error}\n"
                f"{self.output[-4000:]}"
            )
        return self.result


# Runs inside the fresh process, before anything but the standard library can be imported.
BOOTSTRAP = r'''
import importlib, importlib.abc, importlib.machinery, json, os, sys, time, traceback

spec = json.load(open(sys.argv[1]))
paths = [spec["task_root"], *spec["layers"], spec["runtime_sdk"], spec["runtime_hooks"]]
stdlib = tuple(os.path.realpath(p) for p in sys.path)
sys.path[:0] = paths
allowed = tuple(os.path.realpath(p) for p in paths)

reads = []

class AuditedEnviron(type(os.environ)):
    def __getitem__(self, key):
        reads.append(key if isinstance(key, str) else os.fsdecode(key))
        return super().__getitem__(key)

os.environ.__class__ = AuditedEnviron

calls = []

def _patch_botocore(module):
    original = module.BaseClient._make_api_call

    def _make_api_call(self, operation_name, api_params):
        named = ("QueueUrl", "SecretId", "Name", "ConnectionId")
        keep = {k: str(v) for k, v in api_params.items() if k in named}
        calls.append({
            "service": self._service_model.signing_name or self._service_model.endpoint_prefix,
            "operation": operation_name,
            "endpoint": self.meta.endpoint_url,
            "params": keep,
        })
        return original(self, operation_name, api_params)

    module.BaseClient._make_api_call = _make_api_call


class _Watch(importlib.abc.MetaPathFinder):
    """Patches botocore.client when (if ever) the handler imports it: nothing is imported early."""

    def find_spec(self, name, path, target=None):
        if name != "botocore.client":
            return None
        found = importlib.machinery.PathFinder.find_spec(name, path)
        if found is None:
            return None
        loader = found.loader
        exec_module = loader.exec_module

        def patched(module):
            exec_module(module)
            _patch_botocore(module)

        loader.exec_module = patched
        return found

sys.meta_path.insert(0, _Watch())


class Context:
    def __init__(self, spec):
        self.function_name = spec["env"]["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + self.function_name
        self.memory_limit_in_mb = int(spec["env"]["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.aws_request_id = spec["request_id"]
        self.log_group_name = "/aws/lambda/" + self.function_name
        self.log_stream_name = "deployed-shape-test"
        self._deadline = time.monotonic() + spec["timeout"]

    def get_remaining_time_in_millis(self):
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def timed(phase, call):
    started = time.perf_counter()
    try:
        return call()
    finally:
        phases[phase] = time.perf_counter() - started


def run_hooks(registered):
    for func, args, kwargs in registered:
        func(*args, **kwargs)


report = {"phase": "ok", "result": None, "error": None}
phases = {}
loaded = []
try:
    module_name, attribute = spec["handler"].rsplit(".", 1)
    module = timed("init", lambda: importlib.import_module(module_name.replace("/", ".")))
    handler = getattr(module, attribute)
    hooks = sys.modules.get("snapshot_restore_py")
    if spec["snapstart"] and hooks is not None:
        # What Lambda does when it publishes a version (before-snapshot hooks, last registered first) and
        # when it resumes an environment from the snapshot (after-restore hooks, in registration order).
        timed("before_snapshot", lambda: run_hooks(reversed(hooks.get_before_snapshot())))
        timed("after_restore", lambda: run_hooks(hooks.get_after_restore()))
except BaseException as exc:
    report.update(phase="init", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")
else:
    loaded = sorted({name.split(".")[0] for name in sys.modules})
    try:
        report["result"] = timed("handler", lambda: handler(spec["event"], Context(spec)))
    except BaseException as exc:
        report.update(phase="invoke", error=f"{type(exc).__name__}: {exc}\n{traceback.format_exc()}")

outside = []
for name, module in list(sys.modules.items()):
    where = getattr(module, "__file__", None)
    if not where:
        continue
    real = os.path.realpath(where)
    if not real.startswith(allowed + stdlib):
        outside.append(f"{name}: {real}")
report.update(
    env_reads=sorted(set(reads)),
    aws_calls=calls,
    outside_modules=sorted(outside),
    phases=phases,
    loaded_before_handler=loaded,
)
sys.stdout.flush()
with open(sys.argv[2], "w") as out:
    json.dump(report, out, default=str)
'''


def lambda_environment(
    function_id: str, template_env: dict[str, str], memory: int, aws_endpoint: str, *, snapstart: bool = False
) -> dict[str, str]:
    """What the Lambda service sets for a function, plus the template's variables and the moto redirection.
    A SnapStart function does not get the log group and stream names (one snapshot serves many streams)."""
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.13",
        "AWS_LAMBDA_FUNCTION_NAME": f"mozaiks-{function_id}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/mozaiks-{function_id}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "deployed-shape-test",
        # Every AWS call of the function goes to the moto server (boto3 honours it for every service).
        "AWS_ENDPOINT_URL": aws_endpoint,
    }
    if snapstart:
        del env["AWS_LAMBDA_LOG_GROUP_NAME"], env["AWS_LAMBDA_LOG_STREAM_NAME"]
    env.update(template_env)
    return env


def invoke(
    artifacts: Artifacts,
    function_id: str,
    handler: str,
    env: dict[str, str],
    event: dict[str, Any],
    *,
    layers: list[str],
    snapstart: bool = False,
    timeout: float,
    request_id: str = "req-deployed",
) -> Invocation:
    """One invocation in a fresh process (a cold start), as Lambda would run it: ``layers`` are the function's
    layer resources in the template's order; ``snapstart`` runs the SnapStart hooks between init and the
    invocation."""
    task_root = artifacts.task_root(function_id)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="lambda-") as scratch:
        spec_path, result_path = Path(scratch) / "spec.json", Path(scratch) / "result.json"
        spec_path.write_text(
            json.dumps(
                {
                    "task_root": str(task_root),
                    "layers": [str(artifacts.layer(layer)) for layer in layers],
                    "runtime_sdk": str(artifacts.runtime_sdk),
                    "runtime_hooks": str(artifacts.runtime_hooks),
                    "snapstart": snapstart,
                    "handler": handler,
                    "event": event,
                    "env": env,
                    "timeout": timeout,
                    "request_id": request_id,
                }
            )
        )
        env = {**env, "TMPDIR": scratch}
        completed = subprocess.run(
            [lambda_python(), "-I", "-S", "-B", "-c", BOOTSTRAP, str(spec_path), str(result_path)],
            cwd=task_root,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout + 30,
            check=False,
        )
        output = completed.stdout + completed.stderr
        if not result_path.exists():
            return Invocation(
                function_id=function_id,
                handler=handler,
                phase="crash",
                error=f"exit status {completed.returncode}",
                output=output,
                seconds=time.perf_counter() - started,
            )
        report = json.loads(result_path.read_text())
    return Invocation(
        function_id=function_id,
        handler=handler,
        output=output,
        seconds=time.perf_counter() - started,
        **report,
    )


@cache
def lambda_python() -> str:
    """The bare CPython 3.13 interpreter (Lambda's runtime is CPython 3.13): pyenv's on these machines, found
    outside any virtual environment."""
    return subprocess.run(
        ["python3.13", "-c", "import sys; print(sys.executable)"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.13.0")},
    ).stdout.strip()
