"""AG-UI connections through the real handlers (moto): ``?encoding=agui`` at $connect is recorded, the worker
posts the session's events (and the live text) as AG-UI events, a resume replays them as AG-UI events after
the prologue that opens the run again; control replies stay this runtime's. Route handlers never import
the ag-ui package unless an AG-UI connection asks."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from functions import connect
from runtime_core.local.gateway import LambdaContext
from runtime_core.worker import sqs_batch
from tests.functions.harness import Client, connect_event, events_of, run_queue

CONTROL = {"ack", "error", "replay_end", "pong"}


def _agui_client(aws: Any, connection_id: str) -> Client:
    client = Client(aws, connection_id)
    event = connect_event(connection_id, client.token)
    event["queryStringParameters"]["encoding"] = "agui"
    event["multiValueQueryStringParameters"]["encoding"] = ["agui"]
    assert connect.handler(event, LambdaContext("connect")) == {"statusCode": 200}
    return client


def test_an_agui_connection_gets_ag_ui_events_live_and_on_resume(aws: Any, services: Any, store: Any) -> None:
    ui = _agui_client(aws, "conn-ui")
    assert store.get_connection("conn-ui").encoding == "agui"
    plain = Client(aws, "conn-plain")
    plain.connect()
    assert store.get_connection("conn-plain").encoding == "mozaiks"

    got = ui.send(
        {"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "Where is A100?"}
    )
    assert [m["type"] for m in got] == ["ack"]  # a reply to a frame stays this runtime's
    session_id = got[0]["session_id"]
    plain.send({"type": "resume", "session_id": session_id, "after_seq": 0})
    plain.poll()
    sqs_batch.REPORTS.clear()
    run_queue(aws)

    live = ui.poll()
    assert live and all(m["type"] not in CONTROL and m["type"].isupper() for m in live)
    types = [m["type"] for m in live]
    assert types[0] == "RUN_STARTED" and live[0]["threadId"] == session_id
    assert live[0]["runId"] == f"{session_id}:1"
    assert types[-1] == "RUN_FINISHED" and live[-1]["outcome"]["type"] == "interrupt"
    request = next(m for m in live if m["type"] == "CUSTOM" and m["name"] == "mozaiks.input_request")
    assert live[-1]["outcome"]["interrupts"][0]["id"] == request["value"]["request"]["request_id"]
    assert "TOOL_CALL_START" in types and "TOOL_CALL_RESULT" in types and "STEP_STARTED" in types
    # The reply was streamed: its text arrived as content without a seq (deltas), before the stored END.
    reply_id = f"{session_id}:2"
    contents = [m for m in live if m["type"] == "TEXT_MESSAGE_CONTENT" and m["messageId"] == reply_id]
    assert contents and "metadata" not in contents[0]
    end = next(
        i for i, m in enumerate(live) if m["type"] == "TEXT_MESSAGE_END" and m["messageId"] == reply_id
    )
    assert live.index(contents[0]) < end and live[end]["metadata"]["seq"] > 0
    stored = events_of(plain.poll())
    message = next(e for e in stored if e["type"] == "agent_message")
    assert "".join(m["delta"] for m in contents) == message["content"]
    assert [m for m in plain.inbox if m["type"] == "text_delta"], "the JSON connection got the deltas too"

    # A resume in the middle of the run: the prologue opens the run (and the step) again, then the events.
    cut = next(e["seq"] for e in stored if e["type"] == "tool_result")
    replay = ui.send({"type": "resume", "session_id": session_id, "after_seq": cut, "msg_id": "r-1"})
    assert replay[0]["type"] == "ack" and replay[-1]["type"] == "replay_end"
    body = replay[1:-1]
    assert [m["type"] for m in body[:3]] == ["RUN_STARTED", "STATE_SNAPSHOT", "STEP_STARTED"]
    assert "metadata" not in body[0] and body[0]["runId"] == f"{session_id}:1"
    # The context as the run had it at the cut: the live stream's snapshot plus its deltas until then.
    context = _context_at(live, cut)
    assert body[1]["snapshot"] == context and context
    body = body[1:]
    assert min(m["metadata"]["seq"] for m in body[2:]) == cut + 1
    # The replay of the same events is the live stream's, less what the deltas sent early.
    early = {"TEXT_MESSAGE_START", "TEXT_MESSAGE_CONTENT", "RUN_STARTED", "STEP_STARTED", "STEP_FINISHED"}
    after_cut = [m for m in live if m.get("metadata", {}).get("seq", 0) > cut and m["type"] not in early]
    assert [m for m in body[2:] if m["type"] not in early] == after_cut
    assert json.dumps(body[2:]).count("TEXT_MESSAGE_START") == 1  # replayed whole: START, CONTENT, END


def test_route_handlers_do_not_import_the_ag_ui_package() -> None:
    code = (
        "import json, sys\n"
        "import functions.connect, functions.default, functions.disconnect, functions.http_api\n"
        "import runtime_core.workflow, runtime_core.store.protocol, runtime_core.store.mongo\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "ag_ui" not in json.loads(done.stdout.strip().splitlines()[-1])


def _context_at(stream: list[dict[str, Any]], seq: int) -> dict[str, Any]:
    """The state an AG-UI client holds after the events up to ``seq``: snapshots replace it, deltas patch it
    (add and remove of top-level members: what context changes produce)."""
    state: dict[str, Any] = {}
    for event in stream:
        if event.get("metadata", {}).get("seq", 0) > seq:
            break
        if event["type"] == "STATE_SNAPSHOT":
            state = dict(event["snapshot"])
        elif event["type"] == "STATE_DELTA":
            for op in event["delta"]:
                name = op["path"][1:]
                if op["op"] == "remove":
                    state.pop(name, None)
                else:
                    state[name] = op["value"]
    return state


def test_an_agui_connection_whose_stream_cannot_be_read_does_not_fail_the_committed_step(
    aws: Any, services: Any, store: Any, monkeypatch: Any
) -> None:
    ui = _agui_client(aws, "conn-ui")
    plain = Client(aws, "conn-plain")
    plain.connect()
    got = plain.send({"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "A100?"})
    ui.send({"type": "resume", "session_id": got[0]["session_id"], "after_seq": 0})
    ui.poll()

    import runtime_core.agui.delivery as delivery

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise ConnectionError("store hiccup")

    monkeypatch.setattr(delivery, "state_at", broken)
    sqs_batch.REPORTS.clear()
    responses = run_queue(aws)
    assert all(r == {"batchItemFailures": []} for r in responses)  # the step was not failed for it
    assert [r.action for r in sqs_batch.REPORTS][:1] == ["run"]
    assert events_of(plain.poll()), "the other connection got the step's events"
    assert not ui.poll()  # nothing half-encoded reached the AG-UI one: it resumes
