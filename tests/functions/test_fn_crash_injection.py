"""Crash injection: the worker is killed at each delivery boundary of every example workflow, and every
session still ends exactly as an uninterrupted run of the same conversation does.

A kill raises ``Killed`` (a ``BaseException``) from a named fault point (``runtime_core.faults``; all of them
are in the worker, none in the $default route): nothing after the point runs and no ``except Exception``
catches it, so it stands for kill -9 of the worker process, and the killed delivery's SQS message (moto)
stays in flight. After the kill the client takes no action of its own (no resume, no resend): the fake clock
passes the lease and the grace period, the sweeper runs, the queue drains, and the client only answers the
input requests it is sent, as a real user would. A variant per workflow lets the client ``resume`` once the
lease expired instead of waiting for the sweeper.

Each run is compared with an uninterrupted reference run of the same workflow through the same harness: its
stored and received events, its transcript, its acknowledged inputs, and its usage ledger against the
provider calls counted at the scripted model. Everything runs in-process on a fake clock.
"""

from __future__ import annotations

import contextlib
import itertools
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import pytest

from runtime_core import faults
from runtime_core.llm.script import load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.queue.sqs import SqsStepQueue
from runtime_core.services import Services, install_services
from runtime_core.session import SessionStatus, Tenant
from runtime_core.store.mongo import MongoSessionStore, StoreSettings, connect
from runtime_core.worker import sqs_batch
from runtime_core.worker.sweeper import Sweeper, SweepReport
from runtime_core.workflow import Workflow
from runtime_core.workflow.spec import StartupMode
from tests.functions.conftest import WORKFLOWS, AwsKit
from tests.functions.harness import Client, LambdaContext, events_of, replies_of
from tests.store.scenario import FakeClock

WORKFLOW_NAMES = ("CustomerSupport", "ContentReview", "TripPlanner")
APP = "app-1"
# The reference runs under its own user, so its session never meets the crashed run's in the shared store.
REFERENCE_USER = "user-reference"
CRASH_USER = "user-1"

# How often an uninterrupted run of each workflow passes each fault point. Asserted by the reference run, so a
# point a workflow never reaches is stated here (ContentReview has no tools: never ``between_tools``), not
# silently skipped; and the 1st, 2nd and last occurrence below are real occurrences.
HITS: dict[str, dict[str, int]] = {
    "CustomerSupport": {
        "before_model": 7,
        "after_reply": 5,
        "between_tools": 1,
        "before_commit": 7,
        "after_commit": 7,
        "after_post": 7,
        "after_enqueue": 7,
    },
    "ContentReview": {
        "before_model": 3,
        "after_reply": 3,
        "between_tools": 0,
        "before_commit": 3,
        "after_commit": 3,
        "after_post": 3,
        "after_enqueue": 3,
    },
    "TripPlanner": {
        "before_model": 5,
        "after_reply": 3,
        "between_tools": 1,
        "before_commit": 5,
        "after_commit": 5,
        "after_post": 5,
        "after_enqueue": 5,
    },
}


def occurrences(total: int) -> list[int]:
    """The 1st, the 2nd and the last passage of a point (fewer when it is passed fewer times)."""
    return sorted({n for n in (1, 2, total) if 1 <= n <= total})


CASES = [
    pytest.param(workflow, point, n, id=f"{workflow}-{point}-{n}of{total}")
    for workflow in WORKFLOW_NAMES
    for point in faults.POINTS
    if (total := HITS[workflow][point])
    for n in occurrences(total)
]


class Killed(BaseException):
    """The process died here: nothing after this point runs (``except Exception`` does not catch it)."""


class FaultHook:
    """Counts every fault point passed; kills the process at the ``occurrence``-th passage of ``point``."""

    def __init__(self, point: str | None = None, occurrence: int = 0) -> None:
        self.point = point
        self.occurrence = occurrence
        self.hits: Counter[str] = Counter()
        self.fired = False

    def __call__(self, name: str) -> None:
        self.hits[name] += 1
        if name == self.point and self.hits[name] == self.occurrence and not self.fired:
            self.fired = True
            raise Killed(name)


class ProviderCalls:
    """Every scripted model the worker builds, so the HTTP requests they served can be counted."""

    def __init__(self) -> None:
        self.models: list[ScriptedModel] = []

    def wrap(self, real: Any) -> Any:
        def provider_for(workflow: Workflow) -> Any:
            model = real(workflow)
            assert isinstance(model, ScriptedModel), "the crash tests run on the scripted model"
            self.models.append(model)
            return model

        return provider_for

    def count(self) -> int:
        # A request is recorded as the transport receives it, before its reply: a call whose step was killed
        # afterwards is counted like any other.
        return sum(len(m.requests) for m in self.models)

    def reset(self) -> None:
        self.models.clear()


@dataclass
class Kit:
    aws: AwsKit
    services: Services
    clock: FakeClock
    calls: ProviderCalls

    @property
    def store(self) -> MongoSessionStore:
        return self.services.store  # type: ignore[return-value]


@dataclass
class Run:
    """What one conversation left behind, normalized for comparison with another run."""

    session_id: str
    # msg_ids of the frames that carried an input and were acknowledged, in the order sent.
    acked: list[str]
    # Fault points passed (the hook keeps counting after its kill).
    hits: Counter[str]
    status: SessionStatus = SessionStatus.running
    events: list[dict[str, Any]] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    transcript: list[dict[str, Any]] = field(default_factory=list)
    # The input_id of every user_message event.
    user_inputs: list[str] = field(default_factory=list)
    provider_calls: int = 0
    ledger: int = 0
    usage_calls: int = 0
    killed: bool = False
    # Sweeps run while the session was still going, and those of the settling after it completed.
    sweeps: list[SweepReport] = field(default_factory=list)
    settle_sweeps: list[SweepReport] = field(default_factory=list)
    resumes: int = 0
    # After settling: what the session still owed (an outbox, an alarm) and the step messages left in SQS.
    leftover_outbox: bool = False
    leftover_alarm: bool = False
    queue_depth: int = 0
    # The store's record of every acknowledged input, by msg_id: "completed" once a step consumed it.
    input_status: dict[str, str] = field(default_factory=dict)
    # Control replies of type error the client got (a failed step, a refused frame): a crash is not one.
    errors: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def kit(aws: AwsKit, mongo_uri: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Kit]:
    clock = FakeClock()
    client = connect(mongo_uri)
    store = MongoSessionStore(client, StoreSettings(db_name=f"c{uuid.uuid4().hex[:12]}"), clock=clock)
    store.ensure_indexes()
    services = Services(
        store_factory=lambda: store,
        queue_factory=lambda: SqsStepQueue(aws.url, client=aws.sqs),
        workflows_dir=WORKFLOWS,
    )
    install_services(services)
    calls = ProviderCalls()
    monkeypatch.setattr(sqs_batch, "provider_for", calls.wrap(sqs_batch.provider_for))
    yield Kit(aws=aws, services=services, clock=clock, calls=calls)
    faults.install(None)
    client.drop_database(store.settings.db_name)
    client.close()


# ---- the conversation ------------------------------------------------------------------------------------
def scripted_inputs(workflow: str) -> list[str | dict[str, Any]]:
    """The user's side of the conversation: a text for a user turn, a dict answering a UI tool's request."""
    script = load_script(WORKFLOWS / workflow / "script.yaml")
    return [u.answer if u.answer is not None else str(u.text) for u in script.user_inputs]


def deliver(aws: AwsKit) -> tuple[int, bool]:
    """Run the worker on the visible step messages one at a time (the template's BatchSize is 1) until none is
    visible. Returns (deliveries, killed); a killed delivery's message stays in flight, as after kill -9."""
    from functions import worker

    delivered = 0
    while messages := aws.receive(max_messages=1):
        delivered += 1
        try:
            response = worker.handler(aws.sqs_event(messages), LambdaContext("worker"))
        except Killed:
            return delivered, True
        failed = {f["itemIdentifier"] for f in response["batchItemFailures"]}
        for m in messages:
            if m["MessageId"] in failed:
                # A failed step is retried soon (the worker set a short visibility); do not wait for it.
                aws.sqs.change_message_visibility(
                    QueueUrl=aws.url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0
                )
            else:
                aws.sqs.delete_message(QueueUrl=aws.url, ReceiptHandle=m["ReceiptHandle"])
    return delivered, False


def normalized(event: dict[str, Any]) -> dict[str, Any]:
    # Timestamps and the session id differ between any two runs; everything else must not.
    return {k: v for k, v in event.items() if k not in ("ts", "session_id")}


def converse(
    kit: Kit,
    workflow: str,
    *,
    user_id: str,
    hook: FaultHook,
    recover: Literal["sweep", "resume"] = "sweep",
    max_rounds: int = 40,
) -> Run:
    """Play the workflow's scripted conversation through the handlers until the session completes, then let
    time pass until the sweeper finds nothing left to do.

    Whenever nothing can move (no visible step message, no request to answer), time passes: the fake clock
    goes past the lease and the grace period, and the sweeper runs (or, with ``recover="resume"``, the client
    resumes the session once)."""
    store, aws, tenant = kit.store, kit.aws, Tenant(app_id=APP, user_id=user_id)
    lease = kit.services.settings.worker.lease_seconds
    settle = lease + store.recovery_grace_seconds + 1
    kit.calls.reset()
    faults.install(hook)
    client = Client(aws, f"conn-{user_id}", user_id=user_id)
    client.connect()
    inputs = scripted_inputs(workflow)
    msg_ids = (f"m-{n}" for n in itertools.count(1))
    acked: list[str] = []

    def acknowledged(replies: list[dict[str, Any]], msg_id: str, carries_input: bool) -> dict[str, Any]:
        (ack,) = replies_of(replies)
        assert ack["type"] == "ack" and ack["msg_id"] == msg_id and not ack["duplicate"], ack
        if carries_input:
            acked.append(msg_id)  # from here on the server owes the user this input
        return ack

    start: dict[str, Any] = {"type": "start", "workflow": workflow, "msg_id": next(msg_ids)}
    if kit.services.workflow(workflow).orchestrator.startup_mode == StartupMode.user_first:
        start["message"] = inputs.pop(0)  # the opening message rides on the start frame
    session_id = str(acknowledged(client.send(start), start["msg_id"], "message" in start)["session_id"])
    answered: set[int] = set()
    run = Run(session_id=session_id, acked=acked, hits=hook.hits)
    for _ in range(max_rounds):
        delivered, killed = deliver(aws)
        run.killed |= killed
        client.poll()
        moved = delivered > 0
        for event in events_of(client.inbox):
            if event["type"] != "input_request" or event["seq"] in answered:
                continue
            answered.add(event["seq"])  # the client drops a seq it already has: one answer per request
            request = event["request"]
            assert inputs, f"the run asked for more input than the uninterrupted conversation: {event}"
            item = inputs.pop(0)
            msg_id = next(msg_ids)
            if request["kind"] == "ui_tool":
                assert isinstance(item, dict), (request, item)
                frame = {
                    "type": "answer",
                    "session_id": session_id,
                    "msg_id": msg_id,
                    "request_id": request["request_id"],
                    "data": item,
                }
            else:
                assert isinstance(item, str), (request, item)
                frame = {"type": "user_message", "session_id": session_id, "msg_id": msg_id, "text": item}
            acknowledged(client.send(frame), msg_id, carries_input=True)
            moved = True
        closed = store.get_session(tenant, session_id).status.is_final
        if closed and any(e["type"] == "run_completed" for e in events_of(client.inbox)):
            break
        if moved:
            continue
        # Stalled: only time (and the machinery that watches it) can move the session now.
        if recover == "resume" and run.resumes == 0:
            # Right after the lease expired, well within the grace period the sweeper waits for.
            kit.clock.advance(lease + 1)
            run.resumes += 1
            last = max((e["seq"] for e in events_of(client.inbox)), default=0)
            replies = client.send({"type": "resume", "session_id": session_id, "after_seq": last})
            assert replies_of(replies)[0]["type"] == "ack", replies
        else:
            kit.clock.advance(settle)
            run.sweeps.append(sweep(kit))
    else:
        raise AssertionError(f"{workflow}: the session did not complete in {max_rounds} rounds")
    # The client has the whole run. A crash may still have left work behind (an outbox whose posts were made
    # but never cleared, a message in flight): time passes until a sweep finds nothing due.
    for _ in range(5):
        kit.clock.advance(settle)
        report = sweep(kit)
        run.settle_sweeps.append(report)
        delivered, killed = deliver(aws)
        run.killed |= killed
        client.poll()
        if report.due == 0 and delivered == 0:
            break
    faults.install(None)
    header = store.header(tenant, session_id)
    run.leftover_outbox, run.leftover_alarm = header.outbox is not None, header.due_at is not None
    run.queue_depth = aws.depth()
    run.errors = [r for r in replies_of(client.inbox) if r["type"] == "error"]
    run.input_status = {
        msg_id: record.status if (record := store.find_input(tenant, session_id, msg_id)) else "missing"
        for msg_id in acked
    }

    state = store.get_session(tenant, session_id)
    stored = [e.model_dump(mode="json") for e in store.events_after(tenant, session_id, 0, limit=10_000)]
    run.status = state.status
    run.events = [normalized(e) for e in stored]
    run.received = received_once(events_of(client.inbox))
    run.transcript = [
        m.model_dump(mode="json", exclude={"created_at"}) for m in store.history(tenant, session_id)
    ]
    run.user_inputs = [e["input_id"] for e in stored if e["type"] == "user_message"]
    run.provider_calls = kit.calls.count()
    run.ledger = store.usage.count_documents({"session_id": session_id})  # type: ignore[attr-defined]
    run.usage_calls = state.usage.calls
    return run


def sweep(kit: Kit) -> SweepReport:
    report = Sweeper(kit.services, grace_seconds=kit.store.recovery_grace_seconds, callback_url=None).sweep()
    assert report.failed == 0, report
    return report


def received_once(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What a client keeps: each seq once, in order. A seq posted twice (an outbox carried out again after a
    crash) must carry the same event both times, or the client would keep a wrong one."""
    kept: dict[int, dict[str, Any]] = {}
    for event in events:
        first = kept.setdefault(event["seq"], event)
        assert first == event, f"seq {event['seq']} was posted with two contents:\n{first}\n{event}"
    return [normalized(kept[seq]) for seq in sorted(kept)]


# ---- the reference runs ----------------------------------------------------------------------------------
_REFERENCES: dict[str, Run] = {}


def reference(kit: Kit, workflow: str) -> Run:
    """The uninterrupted run of ``workflow`` (computed once per process, in the first test that needs it)."""
    if workflow not in _REFERENCES:
        run = converse(kit, workflow, user_id=REFERENCE_USER, hook=FaultHook())
        assert not run.killed and run.resumes == 0
        assert not run.sweeps and all(s.due == 0 for s in run.settle_sweeps), "it never needs the sweeper"
        _REFERENCES[workflow] = run
    return _REFERENCES[workflow]


def assert_same_outcome(run: Run, ref: Run) -> None:
    assert run.status == SessionStatus.completed
    assert run.errors == []
    # Nothing left behind: no outbox, no alarm, no step message (in flight or queued).
    assert (run.leftover_outbox, run.leftover_alarm, run.queue_depth) == (False, False, 0)
    seqs = [e["seq"] for e in run.events]
    assert seqs == list(range(1, len(seqs) + 1)), seqs
    assert run.events == ref.events
    assert run.received == run.events, "the client did not end up with exactly the stored events"
    assert run.transcript == ref.transcript
    # Every acknowledged input is in the run exactly once (an agent-first workflow's opening message is a
    # user_message too, with no msg_id of the client's).
    assert run.acked == ref.acked
    assert {msg_id: run.user_inputs.count(msg_id) for msg_id in run.acked} == dict.fromkeys(run.acked, 1)
    assert run.input_status == dict.fromkeys(run.acked, "completed")
    # The ledger bills every provider call, repeated ones included; the session's totals only the kept ones.
    assert run.ledger == run.provider_calls
    assert run.usage_calls == ref.usage_calls


# ---- the table -------------------------------------------------------------------------------------------
_TABLE: list[tuple[str, str, str, int, int, str]] = []


@pytest.fixture(scope="module", autouse=True)
def crash_table(request: pytest.FixtureRequest) -> Iterator[None]:
    """Prints, after the module, what each crash cost: extra provider calls and steps run again."""
    started = time.perf_counter()
    yield
    if not _TABLE:
        return
    lines = [
        f"crash injection ({len(_TABLE)} runs, {time.perf_counter() - started:.1f} s)",
        f"{'workflow':<16} {'point':<14} {'kill':<6} {'extra calls':>11} {'steps re-run':>12}  recovery",
    ]
    for workflow, point, kill, extra, rerun, how in sorted(_TABLE):
        lines.append(f"{workflow:<16} {point:<14} {kill:<6} {extra:>11} {rerun:>12}  {how}")
    # Teardown output is captured like the test's; the table is for whoever runs the file, so write it past
    # the capture (what ``capsys.disabled()`` does, which a module-scoped fixture cannot use).
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext():
        print("\n" + "\n".join(lines), flush=True)


def record(workflow: str, point: str, kill: str, run: Run, ref: Run) -> None:
    # Every step that runs the engine passes ``before_model`` once: more passages than the reference are
    # steps whose work was lost to the crash and done again.
    rerun = run.hits["before_model"] - ref.hits["before_model"]
    sweeps = len([s for s in run.sweeps + run.settle_sweeps if s.due])
    how = f"{run.resumes} resume, " if run.resumes else ""
    how += f"{sweeps} sweep(s)" + (" after the run" if sweeps and not run.sweeps else "")
    _TABLE.append((workflow, point, kill, run.provider_calls - ref.provider_calls, rerun, how))


# ---- the tests -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("workflow", WORKFLOW_NAMES)
def test_an_uninterrupted_run_passes_the_expected_fault_points(kit: Kit, workflow: str) -> None:
    ref = reference(kit, workflow)
    assert ref.status == SessionStatus.completed
    assert {p: ref.hits[p] for p in faults.POINTS} == HITS[workflow]
    assert ref.events[-1]["type"] == "run_completed"
    assert_same_outcome(ref, ref)  # contiguous, received as stored, nothing left behind
    assert ref.provider_calls == ref.ledger == ref.usage_calls > 0
    assert {msg_id: ref.user_inputs.count(msg_id) for msg_id in ref.acked} == dict.fromkeys(ref.acked, 1)
    assert len(ref.acked) == len(scripted_inputs(workflow))


@pytest.mark.parametrize(("workflow", "point", "occurrence"), CASES)
def test_a_worker_killed_at_a_boundary_recovers_without_the_client(
    kit: Kit, workflow: str, point: str, occurrence: int
) -> None:
    ref = reference(kit, workflow)
    run = converse(kit, workflow, user_id=CRASH_USER, hook=FaultHook(point, occurrence))
    assert run.killed, f"the run never passed {point} #{occurrence}"
    # The sweeper alone moved it again, in one pass: a single crash costs the session one sweep interval.
    # (After the last step's posts the client had everything, and that sweep only cleaned up.)
    assert len(run.sweeps) <= 1
    assert len([s for s in run.sweeps + run.settle_sweeps if s.due]) == 1
    assert_same_outcome(run, ref)
    record(workflow, point, f"#{occurrence}", run, ref)


# A step killed mid-run (its lease must expire first), and one killed after its commit (its outbox is owed).
@pytest.mark.parametrize("point", ["before_commit", "after_commit"])
@pytest.mark.parametrize("workflow", WORKFLOW_NAMES)
def test_a_resume_after_the_lease_expired_recovers_a_killed_step_at_once(
    kit: Kit, workflow: str, point: str
) -> None:
    ref = reference(kit, workflow)
    run = converse(kit, workflow, user_id=CRASH_USER, hook=FaultHook(point, 1), recover="resume")
    assert run.killed
    assert run.resumes == 1 and not run.sweeps, "the resume alone must have re-armed the session"
    assert all(s.due == 0 for s in run.settle_sweeps), "the resume left something for the sweeper"
    assert_same_outcome(run, ref)
    record(workflow, point, "#1", run, ref)
