"""The HTTP API: FastAPI's TestClient, and the same app through Mangum with API Gateway HTTP API v2 events."""

from __future__ import annotations

import asyncio
import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from functions import http_api
from runtime_core.services import Services, install_services
from tests.functions.conftest import WORKFLOWS, broken_workflow, sample, token
from tests.functions.harness import Client, LambdaContext, replies_of, run_queue


def _auth(app_id: str = "app-1", user_id: str = "user-1") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(app_id, user_id)}"}


@pytest.fixture
def api() -> TestClient:
    return TestClient(http_api.app)


@pytest.fixture
def conversation(aws: Any, services: Any) -> str:
    alice = Client(aws, "conn-A")
    alice.connect()
    frame = {"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "Where is A100?"}
    session_id: str = replies_of(alice.send(frame))[0]["session_id"]
    run_queue(aws)
    return session_id


def test_health_needs_no_token(api: TestClient) -> None:
    assert api.get("/health").json() == {"status": "ok"}


def test_everything_else_needs_a_valid_bearer_token(api: TestClient, services: Any) -> None:
    for path in (
        "/workflows",
        "/sessions",
        "/sessions/s-1",
        "/sessions/s-1/messages",
        "/sessions/s-1/events",
        "/sessions/s-1/usage",
        "/usage",
    ):
        missing = api.get(path)
        assert missing.status_code == 401 and missing.json()["error"] == "missing_token"
        assert missing.headers["www-authenticate"].startswith("Bearer")
        bad = api.get(path, headers={"Authorization": "Bearer not-a-jwt"})
        assert bad.status_code == 401 and bad.json()["error"] == "malformed_token"
    assert api.post("/workflows/CustomerSupport/validate").status_code == 401


def test_sessions_are_tenant_scoped(api: TestClient, conversation: str) -> None:
    listed = api.get("/sessions", headers=_auth()).json()["sessions"]
    assert [s["session_id"] for s in listed] == [conversation]
    assert listed[0]["status"] == "awaiting_input" and listed[0]["workflow_name"] == "CustomerSupport"

    summary = api.get(f"/sessions/{conversation}", headers=_auth()).json()
    assert summary["status"] == "awaiting_input" and summary["last_event_seq"] == 13
    assert summary["pending_request"]["kind"] == "user_turn"
    assert summary["usage"]["calls"] == 2

    messages = api.get(f"/sessions/{conversation}/messages", headers=_auth()).json()["messages"]
    assert [m["speaker"] for m in messages][:2] == ["user", "SupportAgent"]
    assert messages[0]["content"] == "Where is A100?"
    assert "raw" not in messages[0]

    events = api.get(f"/sessions/{conversation}/events", params={"after": 10}, headers=_auth()).json()[
        "events"
    ]
    assert [e["seq"] for e in events] == [11, 12, 13]

    # Another tenant (another app, or another user of the same app) gets the same 404 as for a missing id.
    for headers in (_auth("app-2", "user-1"), _auth("app-1", "user-2")):
        assert api.get("/sessions", headers=headers).json() == {"sessions": []}
        for suffix in ("", "/messages", "/events"):
            theirs = api.get(f"/sessions/{conversation}{suffix}", headers=headers)
            missing = api.get(f"/sessions/s-missing{suffix}", headers=headers)
            assert theirs.status_code == missing.status_code == 404
            assert theirs.json()["detail"].replace(conversation, "X") == missing.json()["detail"].replace(
                "s-missing", "X"
            )
    assert (
        api.get(f"/sessions/{conversation}/events", params={"after": -1}, headers=_auth()).status_code == 422
    )


def test_workflows_are_listed_and_validated(api: TestClient, services: Services, tmp_path: Path) -> None:
    root = tmp_path / "workflows"
    shutil.copytree(WORKFLOWS / "CustomerSupport", root / "CustomerSupport")
    broken_workflow(root / "Broken")
    install_services(Services(store_factory=services.store_factory, workflows_dir=root))

    listed = {w["name"]: w for w in api.get("/workflows", headers=_auth()).json()["workflows"]}
    assert set(listed) == {"Broken", "CustomerSupport"}
    good = listed["CustomerSupport"]
    assert good["valid"] is True and good["description"] == "AI customer support with escalation"
    assert len(good["content_hash"]) == 64 and good["errors"] == []

    report = api.post("/workflows/Broken/validate", headers=_auth()).json()
    assert report["valid"] is False and report["content_hash"] is None
    assert report["errors"] and set(report["errors"][0]) == {"file", "line", "field", "message"}
    assert any(e["file"] == "agents.yaml" and isinstance(e["line"], int) for e in report["errors"])
    assert api.get("/workflows/Broken", headers=_auth()).json() == report
    assert api.get("/workflows/Nope", headers=_auth()).status_code == 404


def _v2(path: str, query: str = "", headers: dict[str, str] | None = None) -> dict[str, Any]:
    event = sample("http_api_health.json")
    event["rawPath"] = path
    event["rawQueryString"] = query
    event["requestContext"]["http"]["path"] = path
    event["pathParameters"] = {"proxy": path.lstrip("/")}
    event["headers"].update({k.lower(): v for k, v in (headers or {}).items()})
    return event


def test_through_mangum_with_http_api_v2_events(conversation: str) -> None:
    health = http_api.handler(sample("http_api_health.json"), LambdaContext("http"))
    assert health["statusCode"] == 200 and json.loads(health["body"]) == {"status": "ok"}

    response = http_api.handler(_v2(f"/sessions/{conversation}/events", "after=12", _auth()), LambdaContext())
    assert response["statusCode"] == 200
    assert [e["type"] for e in json.loads(response["body"])["events"]] == ["input_request"]

    hidden = http_api.handler(_v2(f"/sessions/{conversation}", "", _auth("app-2", "user-1")), LambdaContext())
    assert hidden["statusCode"] == 404
    refused = http_api.handler(_v2("/sessions"), LambdaContext())
    assert refused["statusCode"] == 401


def test_usage_is_the_callers_own(api: TestClient, conversation: str) -> None:
    today = api.get("/usage", headers=_auth()).json()
    assert today["by"] == "day" and today["app_id"] == "app-1" and today["user_id"] == "user-1"
    [row] = today["rows"]
    assert (row["calls"], row["steps"]) == (2, 2) and row["total_tokens"] > 0
    by_agent = api.get("/usage", params={"by": "agent"}, headers=_auth()).json()
    assert by_agent["total"]["calls"] == 2 and set(by_agent["totals"]) == {"SupportAgent"}
    by_workflow = api.get("/usage", params={"by": "workflow"}, headers=_auth()).json()
    assert set(by_workflow["totals"]) == {"CustomerSupport"}

    session = api.get(f"/sessions/{conversation}/usage", headers=_auth()).json()
    assert session["total"]["calls"] == 2 and session["total"]["steps"] == 2
    assert session["total"]["prompt_tokens"] == row["prompt_tokens"]

    # Another app, or another user of the same app: no usage, and someone else's session is a 404.
    for headers in (_auth("app-2", "user-1"), _auth("app-1", "user-2")):
        theirs = api.get("/usage", headers=headers).json()
        assert theirs["rows"] == [] and theirs["total"]["calls"] == 0
        assert api.get(f"/sessions/{conversation}/usage", headers=headers).status_code == 404


def test_usage_ranges_are_checked(api: TestClient, services: Any) -> None:
    backwards = api.get("/usage", params={"since": "2026-03-02", "until": "2026-03-01"}, headers=_auth())
    assert backwards.status_code == 400 and "before" in backwards.json()["detail"]
    too_long = api.get("/usage", params={"since": "2020-01-01", "until": "2026-03-01"}, headers=_auth())
    assert too_long.status_code == 400 and "366" in too_long.json()["detail"]
    assert api.get("/usage", params={"by": "session"}, headers=_auth()).status_code == 422
    assert api.get("/usage", params={"since": "yesterday"}, headers=_auth()).status_code == 422
    empty = api.get("/usage", params={"since": "2026-03-01", "until": "2026-03-01"}, headers=_auth())
    assert empty.status_code == 200 and empty.json()["rows"] == []


def test_the_handler_works_after_an_event_loop_was_closed_in_the_process() -> None:
    """Mangum runs the app on ``asyncio.get_event_loop()``, which raises in the main thread once anything in
    the process ran a loop to completion (``asyncio.run``: a library, a warm-up) and, from Python 3.14,
    whenever none is set. The handler must not depend on what else the process did."""
    asyncio.run(asyncio.sleep(0))
    health = http_api.handler(sample("http_api_health.json"), LambdaContext("http"))
    assert health["statusCode"] == 200 and json.loads(health["body"]) == {"status": "ok"}
