"""Cold start of the Lambda entry points, and Management API posts per step.

1. Import time, in the deployed shape: the median, over several fresh processes, of importing each function's
   handler module from the `sam build` output (build/sam, made by .ci/sam-check) with only the function's own
   layers (built for this machine) and the runtime's boto3 on the path (``python -I -S``), as Lambda's init
   does before the first event. For the worker, also what its SnapStart before-snapshot hook adds: importing
   AG2 (``load_engine``), then loading and compiling every workflow. Two layouts of the function's own code:
   as SAM ships it (no bytecode: the read-only code directory makes every cold start compile it; ``-B`` here)
   and compiled ahead (what a compile step in the functions' build would give).
   ``--why`` prints each handler's costliest imports (``python -X importtime``) and who imports them.
2. Posts per step: CustomerSupport end to end through the real handlers (moto for SQS FIFO and the Management
   API, the embedded MongoDB), one and two subscribed connections; every Management API call is counted.

Run: ``python bench/cold_start.py [--runs N] [--why] [--imports-only]``.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import py_compile
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "sam"
SECRET = "bench-secret-0123456789-0123456789-abcdef"
ENDPOINT = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"

# Runs in the fresh process: the handler module's import, then (worker) the before-snapshot work, timed apart.
MEASURE = r"""
import importlib, json, sys, time
sys.path[:0] = json.loads(sys.argv[1])
started = time.perf_counter()
importlib.import_module(sys.argv[2])
times = {"import": time.perf_counter() - started}
if sys.argv[3] == "worker":
    from runtime_core.engine.loading import load_engine
    from runtime_core.worker.snapstart import before_snapshot
    started = time.perf_counter()
    load_engine()
    times["ag2"] = time.perf_counter() - started
    started = time.perf_counter()
    before_snapshot()
    times["workflows"] = time.perf_counter() - started
print("BENCH " + json.dumps(times))
"""


@cache
def lambda_python() -> str:
    """The bare CPython 3.13 (Lambda's runtime is CPython 3.13), outside any virtual environment."""
    env = {**os.environ, "PYENV_VERSION": os.environ.get("PYENV_VERSION", "3.13.0")}
    found = subprocess.run(
        ["python3.13", "-c", "import sys; print(sys.executable)"], capture_output=True, text=True, env=env
    )
    return found.stdout.strip() or sys.executable


def functions() -> dict[str, tuple[str, list[Path]]]:
    """Each function of the built stack: its handler module and its layers' directories (this machine's)."""
    transformed = BUILD / "transformed.json"
    if not transformed.is_file():
        raise SystemExit("no build/sam/transformed.json: run .ci/sam-check first")
    resources = json.loads(transformed.read_text())["Resources"]
    found = {}
    for name, resource in resources.items():
        if resource["Type"] != "AWS::Lambda::Function":
            continue
        properties = resource["Properties"]
        module = properties["Handler"].rsplit(".", 1)[0].replace("/", ".")
        layers = [re.sub(r"[0-9a-f]{10}$", "", layer["Ref"]) for layer in properties.get("Layers", [])]
        found[name] = (module, [BUILD / "host-layers" / layer / "python" for layer in layers])
    return found


def measure(task_root: Path, module: str, layers: list[Path], worker: bool, importtime: bool = False) -> Any:
    paths = [str(task_root), *map(str, layers), str(BUILD / "lambda-runtime")]
    env = {
        "PATH": "/usr/bin:/bin",
        "POWERTOOLS_LOG_LEVEL": "WARNING",
        "POWERTOOLS_METRICS_DISABLED": "true",
        "MOZAIKS_WORKFLOWS_DIR": "workflows",
        "MOZAIKS_MODEL": "scripted",
    }
    flags = ["-I", "-S", "-B", *(["-X", "importtime"] if importtime else [])]
    done = subprocess.run(
        [lambda_python(), *flags, "-c", MEASURE, json.dumps(paths), module, "worker" if worker else "route"],
        cwd=task_root,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    if importtime:
        return done.stderr
    line = next(x for x in done.stdout.splitlines() if x.startswith("BENCH "))
    return json.loads(line.removeprefix("BENCH "))


def import_times(runs: int, precompiled: bool) -> dict[str, dict[str, float]]:
    """Median seconds per phase, per function; ``precompiled``: the function's code compiled ahead. The
    functions take turns, run after run, so a busy moment of the machine weighs on all of them alike."""
    with tempfile.TemporaryDirectory(prefix="cold-start-") as scratch:
        cases = []
        for name, (module, layers) in functions().items():
            task_root = BUILD / "build" / name
            if precompiled:
                task_root = Path(scratch) / name
                shutil.copytree(BUILD / "build" / name, task_root)
                compileall.compile_dir(
                    task_root,
                    quiet=2,
                    invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH,
                )
            cases.append((name, task_root, module, layers, module == "functions.worker"))
        samples: dict[str, list[dict[str, float]]] = {name: [] for name, *_ in cases}
        for run in range(runs + 1):
            for name, task_root, module, layers, worker in cases:
                timed = measure(task_root, module, layers, worker)
                if run:  # the first round only warms the OS file cache
                    samples[name].append(timed)
    return {
        name: {phase: statistics.median(s[phase] for s in runs_) for phase in runs_[0]}
        for name, runs_ in samples.items()
    }


def import_report(runs: int) -> None:
    for precompiled in (False, True):
        layout = "function code compiled ahead" if precompiled else "as SAM ships it (code compiled at init)"
        print(f"\nImport time in the deployed shape, median of {runs} fresh processes; {layout}:")
        results = import_times(runs, precompiled)
        worker = results.pop("WorkerFunction")
        with_ag2 = worker["import"] + worker["ag2"]
        snapshot = with_ag2 + worker["workflows"]
        print(f"  {'WorkerFunction, import':<40} {worker['import'] * 1000:7.0f} ms")
        print(f"  {'  + AG2 (load_engine)':<40} {with_ag2 * 1000:7.0f} ms")
        print(f"  {'  + every workflow compiled (snapshot)':<40} {snapshot * 1000:7.0f} ms")
        for name, phases in results.items():
            seconds = phases["import"]
            print(
                f"  {name + ', import':<40} {seconds * 1000:7.0f} ms  = {seconds / snapshot:.2f}x the "
                f"worker's init, {seconds / with_ag2:.2f}x without the workflows, "
                f"{seconds / worker['import']:.2f}x without AG2"
            )


def why(top: int = 8) -> None:
    """The costliest top-level imports of each route handler, by cumulative time, and what imported them."""
    for name, (module, layers) in functions().items():
        if module == "functions.worker":
            continue
        rows = []
        for line in measure(BUILD / "build" / name, module, layers, False, importtime=True).splitlines():
            found = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|( *)(\S+)", line)
            if found:
                rows.append((int(found[2]), len(found[3]), found[4]))
        print(f"\n{name} ({module}): costliest imports, cumulative")
        # Children print before their parent, one level deeper: a module's importer is the next row above
        # its level.
        level1 = []
        for index, (cumulative, level, module_name) in enumerate(rows):
            parent = next((r[2] for r in rows[index + 1 :] if r[1] < level), "-")
            if "." not in module_name or level <= 3:
                level1.append((cumulative, module_name, parent))
        seen = set()
        for cumulative, module_name, parent in sorted(level1, reverse=True):
            top_name = module_name.split(".")[0]
            if top_name in seen or top_name in ("functions", "runtime_core"):
                continue
            seen.add(top_name)
            print(f"  {cumulative / 1000:7.1f} ms  {module_name:<40} imported by {parent}")
            if len(seen) >= top:
                break


def _environment() -> None:
    os.environ.update(
        AWS_ACCESS_KEY_ID="bench",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="us-east-1",
        MOZAIKS_JWT_SECRET=SECRET,
        MOZAIKS_MODEL="scripted",
        MOZAIKS_WS_CALLBACK_URL=ENDPOINT,
        MOZAIKS_WORKFLOWS_DIR=str(ROOT / "workflows"),
        POWERTOOLS_METRICS_DISABLED="true",
        POWERTOOLS_LOG_LEVEL="WARNING",
    )


def _event(name: str, connection_id: str, **changes: Any) -> dict[str, Any]:
    event = json.loads((ROOT / "infra" / "events" / name).read_text())
    event["requestContext"]["connectionId"] = connection_id
    event.update(changes)
    return event


def posts_per_step(connections: int) -> dict[str, Any]:
    """Runs one CustomerSupport conversation; returns steps, events and Management API calls of the worker."""
    import boto3
    import jwt
    from moto import mock_aws

    from functions import connect, default, worker
    from runtime_core.queue.sqs import SqsStepQueue
    from runtime_core.services import Services, install_services
    from runtime_core.store.embedded import connect as mongo_connect
    from runtime_core.store.embedded import start_embedded
    from runtime_core.store.mongo import MongoSessionStore, StoreSettings
    from runtime_core.transport import ManagementApiPoster
    from runtime_core.worker.sqs_batch import REPORTS

    server = start_embedded("memory")
    posters: list[ManagementApiPoster] = []

    def poster_for(endpoint: str) -> ManagementApiPoster:
        posters.append(ManagementApiPoster(endpoint))
        return posters[-1]

    try:
        with mock_aws():
            sqs = boto3.client("sqs", region_name="us-east-1")
            url = sqs.create_queue(QueueName="bench.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
            store = MongoSessionStore(
                mongo_connect(server.uri), StoreSettings(db_name=f"b{uuid.uuid4().hex[:8]}")
            )
            store.ensure_indexes()
            install_services(
                Services(
                    store_factory=lambda: store,
                    queue_factory=lambda: SqsStepQueue(url, client=sqs),
                    poster_factory_factory=lambda: poster_for,
                    workflows_dir=ROOT / "workflows",
                )
            )
            now = int(time.time())
            token = jwt.encode({"sub": "u", "app_id": "a", "iat": now, "exp": now + 600}, SECRET)
            ids = [f"conn-{i}" for i in range(connections)]
            for cid in ids:
                query = {"token": token}
                connect.handler(
                    _event(
                        "connect.json", cid, queryStringParameters=query, multiValueQueryStringParameters=None
                    ),
                    None,
                )

            latency: dict[str, list[float]] = {}

            def send(frame: dict[str, Any], cid: str = ids[0]) -> None:
                started = time.perf_counter()
                default.handler(_event("default_ping.json", cid, body=json.dumps(frame)), None)
                latency.setdefault(frame["type"], []).append(time.perf_counter() - started)

            def drain() -> None:
                while messages := sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
                ).get("Messages"):
                    event = {
                        "Records": [
                            {
                                "messageId": m["MessageId"],
                                "receiptHandle": m["ReceiptHandle"],
                                "body": m["Body"],
                                "attributes": m["Attributes"],
                                "messageAttributes": {},
                                "md5OfBody": m["MD5OfBody"],
                                "eventSource": "aws:sqs",
                                "awsRegion": "us-east-1",
                                "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:bench.fifo",
                            }
                            for m in messages
                        ]
                    }
                    worker.handler(event, None)
                    for m in messages:
                        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])

            REPORTS.clear()
            session_id = ""
            start = {
                "type": "start",
                "workflow": "CustomerSupport",
                "msg_id": "m-1",
                "message": "Hi, where is my order A100?",
            }
            send(start)
            session_id = store.list_sessions(store.get_connection(ids[0]).tenant)[0].session_id  # type: ignore[union-attr]
            for cid in ids[1:]:
                send({"type": "resume", "session_id": session_id, "after_seq": 0}, cid)
            drain()
            for n, text in enumerate(
                ["I'd like to talk to a human about a refund.", "Call me at +1 555 0100."]
            ):
                send({"type": "user_message", "session_id": session_id, "msg_id": f"m-{n + 2}", "text": text})
                drain()
            for n in range(5):
                send({"type": "ping", "msg_id": f"p-{n}"})
                send({"type": "resume", "session_id": session_id, "after_seq": 0})
            ran = [r for r in REPORTS if r.action == "run"]
            return {
                "connections": connections,
                "steps": len(ran),
                "events": sum(r.events for r in ran),
                "worker posts": sum(r.posts for r in ran),
                "posts per step": [r.posts for r in ran],
                "skipped deliveries": sum(1 for r in REPORTS if r.action == "skip"),
                "default latency ms": {k: statistics.median(v) * 1000 for k, v in latency.items()},
            }
    finally:
        install_services(None)
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per function (median)")
    parser.add_argument("--why", action="store_true", help="the route handlers' costliest imports")
    parser.add_argument("--imports-only", action="store_true", help="skip the posts-per-step run")
    args = parser.parse_args()
    print(f"python {sys.version.split()[0]} ({lambda_python()})")
    import_report(args.runs)
    if args.why:
        why()
    if args.imports_only:
        return 0
    _environment()
    sys.path.insert(0, str(ROOT))
    print("\nManagement API posts per step (CustomerSupport, scripted model, end to end):")
    for connections in (1, 2):
        result = posts_per_step(connections)
        print(
            f"  {connections} connection(s): {result['steps']} steps, {result['events']} events, "
            f"{result['worker posts']} posts -> {result['worker posts'] / result['steps']:.2f} per step "
            f"({result['posts per step']}); {result['skipped deliveries']} no-op deliveries"
        )
    frames = ", ".join(f"{k} {v:.1f} ms" for k, v in result["default latency ms"].items())
    print(f"\n$default handler, warm, median per frame type (embedded MongoDB, moto): {frames}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
