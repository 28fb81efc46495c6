"""Cold start of the Lambda entry points, and Management API posts per step.

1. Import time: the median, over several fresh Python processes, of ``import functions.<module>`` for each
   route handler and the worker, plus what the worker's first step adds (the engine and AG2). Fresh processes
   with warm OS file caches and compiled ``.pyc`` files: close to a Lambda cold start without the runtime's
   own init.
2. Posts per step: CustomerSupport end to end through the real handlers (moto for SQS FIFO and the Management
   API, the embedded MongoDB), one and two subscribed connections; every Management API call is counted.

Run: ``python bench/cold_start.py [--runs N]``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODULES = ("connect", "default", "disconnect", "http_api", "worker")
SECRET = "bench-secret-0123456789-0123456789-abcdef"
ENDPOINT = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"


def import_seconds(statement: str) -> float:
    code = f"import time\nt = time.perf_counter()\n{statement}\nprint(time.perf_counter() - t)\n"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def import_times(runs: int) -> dict[str, float]:
    cases = {name: f"import functions.{name}" for name in MODULES}
    cases["worker + engine (first step)"] = "import functions.worker, runtime_core.engine.step, autogen"
    for statement in cases.values():
        import_seconds(statement)  # compile .pyc files once, as a deployed bundle ships them
    return {label: statistics.median(import_seconds(s) for _ in range(runs)) for label, s in cases.items()}


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

            worker.REPORTS.clear()
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
            ran = [r for r in worker.REPORTS if r.action == "run"]
            return {
                "connections": connections,
                "steps": len(ran),
                "events": sum(r.events for r in ran),
                "worker posts": sum(r.posts for r in ran),
                "posts per step": [r.posts for r in ran],
                "skipped deliveries": sum(1 for r in worker.REPORTS if r.action == "skip"),
                "default latency ms": {k: statistics.median(v) * 1000 for k, v in latency.items()},
            }
    finally:
        install_services(None)
        server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per module (median)")
    args = parser.parse_args()
    print(f"Import time, median of {args.runs} fresh processes (python {sys.version.split()[0]}):")
    for label, seconds in import_times(args.runs).items():
        print(f"  {label:<32} {seconds * 1000:8.1f} ms")
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
