"""What one worker step sends to MongoDB, through the deployed handlers: a fixed set of commands per step.

A step's store work is its claim (one findAndModify; plus one find of the transcript the first time this
container meets the session), two ledger writes per model call (noted before the call, completed after), the
commit (the step document and the header's compare-and-set), the session's live connections, and the daily
rollup when there was usage. Nothing in it grows with the history or repeats per message or event.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient, monitoring

from runtime_core.services import Services, install_services
from runtime_core.worker import sqs_batch
from tests.functions.conftest import WORKFLOWS
from tests.functions.harness import Client, LambdaContext, replies_of

CLAIM = ["findAndModify sessions"]
COLD_READ = ["find steps"]
CALL = ["insert usage", "update usage"]
COMMIT = ["insert steps", "update sessions"]
POST = ["find connections"]
ROLLUP = ["update usage_daily"]
CHAIN_END = ["update sessions"]  # the outbox cleared when no next step is queued


class Commands(monitoring.CommandListener):
    def __init__(self) -> None:
        self.sent: list[str] = []

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        collection = event.command.get(event.command_name)
        self.sent.append(f"{event.command_name} {collection}")

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


@pytest.fixture
def counted(aws: Any, mongo_uri: str) -> Iterator[tuple[Commands, Any]]:
    from runtime_core.queue.sqs import SqsStepQueue
    from runtime_core.store.mongo import MongoSessionStore, StoreSettings

    commands = Commands()
    client: MongoClient[dict[str, Any]] = MongoClient(mongo_uri, tz_aware=True, event_listeners=[commands])
    store = MongoSessionStore(client, StoreSettings(db_name=f"t{uuid.uuid4().hex[:12]}"))
    store.ensure_indexes()
    install_services(
        Services(
            store_factory=lambda: store,
            queue_factory=lambda: SqsStepQueue(aws.url, client=aws.sqs),
            workflows_dir=WORKFLOWS,
        )
    )
    yield commands, store
    client.drop_database(store.settings.db_name)
    client.close()


def expected(calls: int, *, cold: bool, chain_end: bool, streamed: bool = False) -> list[str]:
    # A reply streamed to the client looks up the session's connections once, at its first delta, while the
    # model writes (before the call's usage is written).
    streamed_call = [CALL[0], "find connections", *CALL[1:]] if streamed else CALL
    return (
        CLAIM
        + (COLD_READ if cold else [])
        + (streamed_call + CALL * (calls - 1) if calls else [])
        + COMMIT
        + POST
        + (CHAIN_END if chain_end else [])
        + (ROLLUP if calls else [])
    )


def client_of(store: Any) -> Any:
    return store.sessions.database.client


def deliver_one(aws: Any, commands: Commands) -> list[str]:
    """One SQS delivery to the worker handler; the commands it sent."""
    messages = aws.receive(max_messages=1)
    assert len(messages) == 1
    commands.sent.clear()
    sqs_batch.REPORTS.clear()
    from functions import worker

    assert worker.handler(aws.sqs_event(messages), LambdaContext("worker")) == {"batchItemFailures": []}
    aws.sqs.delete_message(QueueUrl=aws.url, ReceiptHandle=messages[0]["ReceiptHandle"])
    assert [r.action for r in sqs_batch.REPORTS] == ["run"]
    return list(commands.sent)


def test_every_worker_step_sends_the_same_few_commands(aws: Any, counted: tuple[Commands, Any]) -> None:
    from runtime_core.queue.sqs import SqsStepQueue
    from runtime_core.store.mongo import MongoSessionStore

    commands, store = counted
    client = Client(aws, "conn-rt")
    client.connect()
    frame = {"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "Where is A100?"}
    session_id = replies_of(client.send(frame))[0]["session_id"]
    assert session_id

    steps, streamed = [], []
    while aws.depth():
        steps.append(deliver_one(aws, commands))
        streamed.append(any(m["type"] == "text_delta" for m in client.poll()))
    # The CustomerSupport script: the agent calls a tool (one model call), runs it and answers (one more
    # call), then the session waits for the user: the chain ends there.
    assert len(steps) >= 2
    for n, sent in enumerate(steps):
        calls = sent.count("insert usage")
        last = n == len(steps) - 1
        # This container wrote every step itself, so it holds the transcript: no step reads it.
        assert sent == expected(calls, cold=False, chain_end=last, streamed=streamed[n]), (n, sent)
    assert [s.count("insert usage") for s in steps] == [1, 0, 1]
    assert streamed == [False, False, True]  # the tool call is not text; the answer is

    # A new container (its own store object, nothing in memory) takes the session's next step: it reads the
    # transcript once, with one more find; the next step on that container does not.
    install_services(
        Services(
            store_factory=lambda: MongoSessionStore(client_of(store), store.settings),
            queue_factory=lambda: SqsStepQueue(aws.url, client=aws.sqs),
            workflows_dir=WORKFLOWS,
        )
    )
    client.send({"type": "user_message", "session_id": session_id, "msg_id": "m-2", "text": "A refund?"})
    cold = deliver_one(aws, commands)
    live = any(m["type"] == "text_delta" for m in client.poll())
    assert cold == expected(cold.count("insert usage"), cold=True, chain_end=not aws.depth(), streamed=live)
    while aws.depth():
        warm = deliver_one(aws, commands)
        live = any(m["type"] == "text_delta" for m in client.poll())
        assert warm == expected(
            warm.count("insert usage"), cold=False, chain_end=not aws.depth(), streamed=live
        )
