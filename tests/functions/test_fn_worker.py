"""The step worker under redelivery, crashes, Management API failures, cancel, and inputs queued mid-run."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from functions import worker
from runtime_core.services import Services, install_services
from runtime_core.session import SessionStatus, Tenant
from runtime_core.transport import InMemoryPoster, ManagementApiPoster, Reassembler, management_api
from runtime_core.worker import sqs_batch
from tests.functions.conftest import ENDPOINT, REGION
from tests.functions.harness import Client, LambdaContext, events_of, replies_of, run_queue

TENANT = Tenant(app_id="app-1", user_id="user-1")
FIRST = "Hi, where is my order A100?"


def _start(client: Client, msg_id: str = "m-1", message: str | None = FIRST) -> str:
    frame: dict[str, Any] = {"type": "start", "workflow": "CustomerSupport", "msg_id": msg_id}
    if message is not None:
        frame["message"] = message
    return replies_of(client.send(frame))[0]["session_id"]


def _deliver(aws: Any) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    messages = aws.receive(max_messages=1)
    assert len(messages) == 1
    event = aws.sqs_event(messages)
    return worker.handler(event, LambdaContext("worker")), messages


def _delete(aws: Any, messages: list[dict[str, Any]]) -> None:
    for m in messages:
        aws.sqs.delete_message(QueueUrl=aws.url, ReceiptHandle=m["ReceiptHandle"])


def test_a_redelivered_message_runs_its_step_once(aws: Any, services: Any, store: Any) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = _start(client)
    response, messages = _deliver(aws)  # the start: consumes the first message, the session keeps running
    assert response == {"batchItemFailures": []}
    sqs_batch.REPORTS.clear()
    # The start delivered again: the session has started, the message does nothing.
    assert worker.handler(aws.sqs_event(messages), LambdaContext("worker")) == {"batchItemFailures": []}
    assert [(r.action, r.why) for r in sqs_batch.REPORTS] == [("skip", "already started")]
    _delete(aws, messages)

    continue_messages = aws.receive(max_messages=1)
    event = aws.sqs_event(continue_messages)
    sqs_batch.REPORTS.clear()
    assert worker.handler(event, LambdaContext("worker")) == {"batchItemFailures": []}
    after_first = store.get_session(TENANT, session_id)
    # The same record again (SQS redelivers when the delete is lost): nothing runs twice.
    assert worker.handler(event, LambdaContext("worker")) == {"batchItemFailures": []}
    _delete(aws, continue_messages)

    assert [r.action for r in sqs_batch.REPORTS] == ["run", "skip"]
    assert sqs_batch.REPORTS[1].why.startswith("stale")
    after_second = store.get_session(TENANT, session_id)
    assert after_second.last_event_seq == after_first.last_event_seq
    # The user's message and the reply that called a tool, then the tool's result: three messages.
    assert len(store.history(TENANT, session_id)) == 3
    # A redelivery cannot tell a delivery that died after its commit from one whose delete was lost: it posts
    # the committed step's events again, and the client keeps the first copy of each seq.
    seqs = sorted({e["seq"] for e in events_of(client.poll())})
    assert seqs == list(range(1, len(seqs) + 1))
    # One next step queued: the stale delivery re-armed the same progress, and SQS dropped the copy.
    assert aws.depth() == 1


def test_a_worker_dying_before_commit_is_redone_without_duplicates(
    aws: Any, services: Any, store: Any, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = _start(client)
    real_commit = store.commit
    calls = {"n": 0}

    def commit_dies_once(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 1:
            raise ConnectionError("the worker died after the model call")
        return real_commit(*args, **kwargs)

    monkeypatch.setattr(store, "commit", commit_dies_once)
    response, messages = _deliver(aws)
    assert response == {"batchItemFailures": [{"itemIdentifier": messages[0]["MessageId"]}]}
    notice = client.poll()
    assert notice == [
        {
            "type": "error",
            "code": "step_failed",
            "session_id": session_id,
            "msg_id": None,
            "message": "a step failed and will be retried (ConnectionError)",
        }
    ]
    state = store.get_session(TENANT, session_id)
    assert state.last_event_seq == 0 and state.status == SessionStatus.running
    assert store.sessions.find_one({"_id": session_id})["lease"] is None  # released, not left to expire

    # SQS makes the record visible again; the next delivery redoes the step from the last checkpoint.
    aws.sqs.change_message_visibility(
        QueueUrl=aws.url, ReceiptHandle=messages[0]["ReceiptHandle"], VisibilityTimeout=0
    )
    run_queue(aws)
    events = events_of(client.poll())
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert [e["type"] for e in events].count("user_message") == 1
    history = store.history(TENANT, session_id)
    assert [m.seq for m in history] == list(range(len(history)))
    # Three model calls billed: the first reply, the same reply asked again after the crash, the next reply.
    assert store.usage.count_documents({"session_id": session_id}) == 3
    assert store.get_session(TENANT, session_id).status == SessionStatus.awaiting_input
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(r["Steps"], r["Errors"], r.get("error")) for r in emf] == [
        ([1.0], [1.0], "step_failed"),
        ([1.0], [0.0], None),
        ([1.0], [0.0], None),
        ([1.0], [0.0], None),
    ]


def test_gone_connections_are_forgotten_and_the_others_still_get_the_step(
    aws: Any, store: Any, services: Services
) -> None:
    poster = InMemoryPoster()
    poster.connect("conn-B")
    install_services(
        Services(
            store_factory=lambda: store,
            queue_factory=services.queue_factory,
            poster_factory_factory=lambda: lambda endpoint: poster,
            workflows_dir=services.workflows_dir,
        )
    )
    alice = Client(aws, "conn-A", posts=lambda cid: poster.payloads.get(cid, []))
    bob = Client(aws, "conn-B", posts=lambda cid: poster.payloads.get(cid, []))
    alice.connect()
    bob.connect()
    poster.connect("conn-A")  # open for the ack of its start frame, closed before the step runs
    session_id = _start(alice)
    poster.disconnect("conn-A")
    bob.send({"type": "resume", "session_id": session_id, "after_seq": 0})
    sqs_batch.REPORTS.clear()
    run_queue(aws)

    assert store.get_connection("conn-A") is None
    assert store.get_connection("conn-B") is not None
    assert sqs_batch.REPORTS[0].gone == 1
    received = [m for m in poster.received("conn-B") if "seq" in m]
    assert [m["seq"] for m in received] == list(range(1, len(received) + 1))
    assert received[-1]["type"] == "input_request"
    # Nothing is lost for the client that left: it resumes and gets every event.
    again = Client(aws, "conn-A2", posts=lambda cid: poster.payloads.get(cid, []))
    again.connect()
    poster.connect("conn-A2")
    again.send({"type": "resume", "session_id": session_id, "after_seq": 0})
    replayed = [m for m in poster.received("conn-A2") if "seq" in m]
    assert replayed == received


class _Stubbed:
    """The Management API client of the worker's poster, answering from a script of statuses."""

    def __init__(self) -> None:
        self.client = management_api.management_api_client(ENDPOINT, REGION)
        self.stubber = Stubber(self.client)
        self.sent: list[tuple[bytes, bool]] = []
        self._ok: list[bool] = []
        self.client.meta.events.register(
            "before-parameter-build.apigatewaymanagementapi.PostToConnection",
            lambda params, **_: self.sent.append((params["Data"], self._ok.pop(0))),
        )

    def ok(self, times: int = 1) -> None:
        for _ in range(times):
            self.stubber.add_response("post_to_connection", {}, {"ConnectionId": ANY, "Data": ANY})
            self._ok.append(True)

    def fail(self, code: str, status: int) -> None:
        self.stubber.add_client_error("post_to_connection", service_error_code=code, http_status_code=status)
        self._ok.append(False)

    def delivered(self) -> list[dict[str, Any]]:
        reassembler = Reassembler()
        return [m for data, ok in self.sent if ok for m in reassembler.feed(data)]


def _stubbed_services(store: Any, services: Services, stubbed: _Stubbed) -> None:
    sleeps: list[float] = []
    install_services(
        Services(
            store_factory=lambda: store,
            queue_factory=services.queue_factory,
            poster_factory_factory=lambda: (
                lambda endpoint: ManagementApiPoster(
                    endpoint, client=stubbed.client, sleep=sleeps.append, max_post_bytes=2048
                )
            ),
            workflows_dir=services.workflows_dir,
        )
    )


def test_throttled_and_too_large_posts_still_deliver_the_step_in_order(
    aws: Any, store: Any, services: Services
) -> None:
    stubbed = _Stubbed()
    _stubbed_services(store, services, stubbed)
    client = Client(aws, "conn-A", posts=lambda cid: [data for data, ok in stubbed.sent if ok])
    client.connect()
    with stubbed.stubber:
        stubbed.ok()  # the ack of the start frame
        session_id = _start(client)
        # The first step's 5 events fit one 2 KB post: throttled once (429), then refused as too large (413),
        # so the poster splits the batch in two, and both halves go through.
        stubbed.fail("LimitExceededException", 429)
        stubbed.fail("PayloadTooLargeException", 413)
        stubbed.ok(2)
        response, messages = _deliver(aws)
        assert response == {"batchItemFailures": []}
        stubbed.stubber.assert_no_pending_responses()
    _delete(aws, messages)
    delivered = stubbed.delivered()
    assert delivered[0]["type"] == "ack"
    step = [m for m in delivered if "seq" in m]
    assert [m["seq"] for m in step] == list(range(1, 7))
    assert store.get_session(TENANT, session_id).last_event_seq == 6


def test_a_410_from_the_management_api_forgets_the_connection(
    aws: Any, store: Any, services: Services
) -> None:
    stubbed = _Stubbed()
    _stubbed_services(store, services, stubbed)
    client = Client(aws, "conn-A", posts=lambda cid: [data for data, ok in stubbed.sent if ok])
    client.connect()
    with stubbed.stubber:
        stubbed.ok()
        session_id = _start(client)
        stubbed.fail("GoneException", 410)
        response, messages = _deliver(aws)
        stubbed.stubber.assert_no_pending_responses()  # one call: a 410 is never retried
    assert response == {"batchItemFailures": []}
    _delete(aws, messages)
    assert store.get_connection("conn-A") is None
    assert store.get_session(TENANT, session_id).last_event_seq == 6


def test_a_post_that_keeps_failing_does_not_fail_a_committed_step(
    aws: Any, store: Any, services: Services, capsys: pytest.CaptureFixture[str]
) -> None:
    stubbed = _Stubbed()
    _stubbed_services(store, services, stubbed)
    client = Client(aws, "conn-A", posts=lambda cid: [data for data, ok in stubbed.sent if ok])
    client.connect()
    with stubbed.stubber:
        stubbed.ok()
        session_id = _start(client)
        stubbed.fail("ForbiddenException", 403)
        response, messages = _deliver(aws)
        stubbed.stubber.assert_no_pending_responses()
    # The events are stored: the client gets them on resume; redoing the step would duplicate them.
    assert response == {"batchItemFailures": []}
    _delete(aws, messages)
    assert store.get_session(TENANT, session_id).last_event_seq == 6
    assert store.get_connection("conn-A") is not None
    # The step's metrics count the failed post (what the Management API failure alarm watches).
    [emf] = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert (emf["PostFailures"], emf["Posts"], emf["PostedBytes"]) == ([1.0], [0.0], [0.0])


def test_cancel_ends_the_session(aws: Any, services: Any, store: Any) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = _start(client, message=None)
    run_queue(aws)
    got = client.send({"type": "cancel", "session_id": session_id, "msg_id": "c-1"})
    assert replies_of(got) == [{"type": "ack", "msg_id": "c-1", "session_id": session_id, "duplicate": False}]
    run_queue(aws)
    events = events_of(client.poll())
    assert events[-1]["type"] == "run_completed" and events[-1]["status"] == "cancelled"
    assert store.get_session(TENANT, session_id).status == SessionStatus.cancelled
    late = client.send({"type": "user_message", "session_id": session_id, "msg_id": "m-9", "text": "hello?"})
    assert late[0]["code"] == "session_closed"


def test_inputs_sent_while_a_step_runs_are_queued_and_consumed_in_order(
    aws: Any, services: Any, store: Any
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = _start(client)
    # Sent before the first step ran: recorded and acknowledged now, consumed when the session next waits.
    got = client.send(
        {
            "type": "user_message",
            "session_id": session_id,
            "msg_id": "m-2",
            "text": "Thanks. I'd like to talk to a human about a refund.",
        }
    )
    assert replies_of(got)[0]["duplicate"] is False
    sqs_batch.REPORTS.clear()
    run_queue(aws)
    events = events_of(client.poll())
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    users = [e["input_id"] for e in events if e["type"] == "user_message"]
    assert users == ["m-1", "m-2"]
    second = [e["type"] for e in events].index("input_request")
    assert events[second + 1]["type"] == "user_message"  # consumed right after the session asked
    assert store.get_session(TENANT, session_id).status == SessionStatus.awaiting_input
    assert all(r.action in ("run", "skip") for r in sqs_batch.REPORTS)


def test_one_failing_session_does_not_hold_back_another_in_the_same_batch(
    aws: Any, services: Any, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice, bob = Client(aws, "conn-A"), Client(aws, "conn-B", app_id="app-2", user_id="user-2")
    alice.connect()
    bob.connect()
    doomed = _start(alice)
    healthy = _start(bob)
    # A second step message of the doomed session, behind its first in the same batch.
    alice.send({"type": "user_message", "session_id": doomed, "msg_id": "m-2", "text": "and my refund?"})
    real_commit = store.commit

    def commit(claim: Any, *args: Any, **kwargs: Any) -> Any:
        if claim.session_id == doomed:
            raise ConnectionError("store hiccup")
        return real_commit(claim, *args, **kwargs)

    monkeypatch.setattr(store, "commit", commit)
    messages = aws.receive()
    groups = [m["Attributes"]["MessageGroupId"] for m in messages]
    assert sorted(groups) == sorted([doomed, doomed, healthy])
    sqs_batch.REPORTS.clear()
    response = worker.handler(aws.sqs_event(messages), LambdaContext("worker"))
    failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
    # The doomed session's later message is failed unprocessed (its order is kept); the other session ran.
    assert failed == {m["MessageId"] for m in messages if m["Attributes"]["MessageGroupId"] == doomed}
    assert [r.session_id for r in sqs_batch.REPORTS] == [healthy]
    assert store.get_session(Tenant(app_id="app-2", user_id="user-2"), healthy).last_event_seq == 6


def test_a_commit_refused_for_a_lost_lease_is_not_retried(
    aws: Any, services: Any, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime_core.store.protocol import LeaseLost

    client = Client(aws, "conn-A")
    client.connect()
    session_id = _start(client)

    def lost(*args: Any, **kwargs: Any) -> Any:
        raise LeaseLost("the lease expired and another delivery claimed the session")

    monkeypatch.setattr(store, "commit", lost)
    sqs_batch.REPORTS.clear()
    response, _ = _deliver(aws)
    # The delivery that holds the lease now owns the step: this one neither retries nor posts.
    assert response == {"batchItemFailures": []}
    assert sqs_batch.REPORTS[-1].action == "lost"
    assert client.poll() == [] and aws.depth() == 1  # only the in-flight message itself
    assert store.get_session(TENANT, session_id).last_event_seq == 0


def test_a_message_that_is_not_a_step_fails_its_record_only(aws: Any, services: Any) -> None:
    event = aws.sqs_event(
        [
            {
                "MessageId": "bad-1",
                "ReceiptHandle": "h",
                "Body": '{"session_id": 1}',
                "MD5OfBody": "",
                "Attributes": {"MessageGroupId": "g-1"},
            }
        ]
    )
    assert worker.handler(event, LambdaContext("worker")) == {
        "batchItemFailures": [{"itemIdentifier": "bad-1"}]
    }


def test_a_failed_model_call_stops_the_chain_and_resume_retries_it(
    aws: Any, services: Services, store: Any, tmp_path: Any
) -> None:
    import shutil

    import yaml

    from tests.functions.conftest import WORKFLOWS

    root = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS / "CustomerSupport", root / "CustomerSupport")
    script = yaml.safe_load((root / "CustomerSupport" / "script.yaml").read_text())
    script["replies"]["SupportAgent"] = script["replies"]["SupportAgent"][:1]  # the second reply is missing
    (root / "CustomerSupport" / "script.yaml").write_text(yaml.safe_dump(script))
    install_services(
        Services(store_factory=lambda: store, queue_factory=services.queue_factory, workflows_dir=root)
    )

    client = Client(aws, "conn-A")
    client.connect()
    session_id = _start(client)
    run_queue(aws)
    events = events_of(client.poll())
    assert events[-1]["type"] == "error" and events[-1]["code"] == "script_exhausted"
    assert events[-1]["recoverable"] is True
    state = store.get_session(TENANT, session_id)
    assert state.status == SessionStatus.running and state.error is not None
    assert aws.depth() == 0  # the chain stopped: retrying at once would fail the same way

    sqs_batch.REPORTS.clear()
    got = client.send({"type": "resume", "session_id": session_id, "after_seq": events[-1]["seq"]})
    assert replies_of(got)[0]["type"] == "ack"
    run_queue(aws)
    # The retry fails the same way: the client is told, and the log does not grow by another error event.
    assert [(r.action, r.why, r.failed_again) for r in sqs_batch.REPORTS] == [("run", "agent turn", True)]
    (notice,) = client.poll()
    assert notice["type"] == "error" and notice["code"] == "step_failed_again" and "seq" not in notice
    assert store.get_session(TENANT, session_id).last_event_seq == events[-1]["seq"]
    # Every resume retries once more (the stored version moved), never more than once per resume.
    for _ in range(2):
        client.send({"type": "resume", "session_id": session_id, "after_seq": events[-1]["seq"]})
        client.send({"type": "resume", "session_id": session_id, "after_seq": events[-1]["seq"]})
        run_queue(aws)
    assert len([r for r in sqs_batch.REPORTS if r.failed_again]) == 3
    assert [e.type for e in store.events_after(TENANT, session_id, 0)].count("error") == 1


def test_worker_log_lines_carry_the_session_and_tenant(
    aws: Any, services: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = _start(client)
    run_queue(aws)
    Client(aws, "conn-B", app_id="app-2", user_id="user-2").connect()
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"level"')]
    steps = [line for line in lines if line["message"] == "step done"]
    assert steps and all(s["session_id"] == session_id and s["app_id"] == "app-1" for s in steps)
    # The next invocation in the same (warm) process carries its own keys, none of the step's.
    later = lines[-1]
    assert later["message"] == "connected" and later["app_id"] == "app-2" and "session_id" not in later


def test_a_failed_step_keeps_its_input_pending_and_does_not_loop(
    aws: Any, services: Services, store: Any, tmp_path: Any
) -> None:
    import shutil

    import yaml

    from tests.functions.conftest import WORKFLOWS

    root = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS / "CustomerSupport", root / "CustomerSupport")
    script = yaml.safe_load((root / "CustomerSupport" / "script.yaml").read_text())
    script["replies"]["EscalationAgent"] = script["replies"]["EscalationAgent"][:1]
    (root / "CustomerSupport" / "script.yaml").write_text(yaml.safe_dump(script))
    install_services(
        Services(store_factory=lambda: store, queue_factory=services.queue_factory, workflows_dir=root)
    )

    client = Client(aws, "conn-A")
    client.connect()
    session_id = _start(client)
    run_queue(aws)
    for n, text in ((2, "I'd like to talk to a human about a refund."), (3, "Call me at +1 555 0100.")):
        client.send({"type": "user_message", "session_id": session_id, "msg_id": f"m-{n}", "text": text})
        run_queue(aws)  # drains: the failed step does not chain itself
    events = events_of(client.poll())
    assert events[-1]["type"] == "error" and events[-1]["code"] == "script_exhausted"
    state = store.get_session(TENANT, session_id)
    assert state.status == SessionStatus.awaiting_input and state.error is not None
    assert store.inputs.find_one({"input_id": "m-3"})["status"] == "in_progress"  # not consumed: retryable

    sqs_batch.REPORTS.clear()
    client.send({"type": "resume", "session_id": session_id, "after_seq": events[-1]["seq"]})
    run_queue(aws)
    assert [(r.action, r.why, r.failed_again) for r in sqs_batch.REPORTS] == [("run", "input", True)]
    assert store.inputs.find_one({"input_id": "m-3"})["status"] == "in_progress"


def test_a_session_whose_step_was_dead_lettered_is_resumed_by_the_client(
    aws: Any, services: Any, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = Client(aws, "conn-A")
    client.connect()
    session_id = _start(client)
    real_commit = store.commit

    def commit_fails(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("database unreachable")

    monkeypatch.setattr(store, "commit", commit_fails)
    for _ in range(3):  # every delivery fails until SQS moves the message to the dead-letter queue
        response, messages = _deliver(aws)
        assert len(response["batchItemFailures"]) == 1
        aws.sqs.change_message_visibility(
            QueueUrl=aws.url, ReceiptHandle=messages[0]["ReceiptHandle"], VisibilityTimeout=0
        )
    _delete(aws, aws.receive(max_messages=1))  # the dead-letter queue takes it
    assert aws.depth() == 0
    stuck = store.get_session(TENANT, session_id)
    assert stuck.status == SessionStatus.running and stuck.error is None and stuck.last_event_seq == 0
    assert [r["code"] for r in client.poll()] == ["step_failed"] * 3

    monkeypatch.setattr(store, "commit", real_commit)
    got = client.send({"type": "resume", "session_id": session_id, "after_seq": 0})
    assert replies_of(got)[0]["type"] == "ack"
    run_queue(aws)
    events = events_of(client.poll())
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    assert store.get_session(TENANT, session_id).status == SessionStatus.awaiting_input
