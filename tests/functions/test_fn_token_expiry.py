"""A connection whose token expired gets nothing more and is closed: by $default, and by the sweeper."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from runtime_core.session import Tenant
from runtime_core.worker.sweeper import Sweeper
from tests.functions.conftest import SECRET
from tests.functions.harness import Client, events_of, replies_of, run_queue

TENANT = Tenant(app_id="app-1", user_id="user-1")
START = {"type": "start", "workflow": "CustomerSupport", "msg_id": "m-1", "message": "Where is A100?"}


def _expire(store: Any, connection_id: str) -> None:
    """What the passing of time does to the record: its token's expiry is now behind us."""
    past = datetime.now(UTC) - timedelta(seconds=1)
    assert store.connections.update_one(
        {"_id": connection_id}, {"$set": {"token_expires_at": past}}
    ).matched_count


def test_connect_records_when_the_token_expires(aws: Any, services: Any, store: Any) -> None:
    exp = int(time.time()) + 120
    alice = Client(aws, "conn-A")
    alice.token = jwt.encode({"sub": "user-1", "app_id": "app-1", "exp": exp}, SECRET)
    assert alice.connect() == {"statusCode": 200}
    record = store.get_connection("conn-A")
    leeway = services.settings.jwt.leeway_seconds
    assert record.token_expires_at == datetime.fromtimestamp(exp + leeway, UTC)


def test_a_frame_after_expiry_is_not_handled_and_closes_the_socket(
    aws: Any, services: Any, store: Any, monkeypatch: Any
) -> None:
    from runtime_core.transport.management_api import ManagementApiPoster

    alice = Client(aws, "conn-A")
    seen_before_close: list[dict[str, Any]] = []
    real_close = ManagementApiPoster.close

    def close(self: ManagementApiPoster, cid: str, reason: str) -> bool:
        # What the client received before its socket closed (moto forgets a deleted connection's posts).
        seen_before_close.extend(alice.poll())
        return real_close(self, cid, reason)

    monkeypatch.setattr(ManagementApiPoster, "close", close)
    alice.connect()
    session_id = replies_of(alice.send(START))[0]["session_id"]
    run_queue(aws)
    alice.poll()
    _expire(store, "conn-A")
    alice.send({"type": "user_message", "session_id": session_id, "msg_id": "m-2", "text": "Thanks."})
    assert seen_before_close == [
        {
            "type": "closing",
            "code": "token_expired",
            "message": "the token of this connection expired: reconnect with a new token, then resume",
        }
    ]
    assert aws.posted("conn-A") == b""  # DELETE @connections reached the Management API
    assert store.get_connection("conn-A") is None
    assert store.find_input(TENANT, session_id, "m-2") is None
    assert aws.depth() == 0


def test_an_expired_connection_gets_no_live_events_and_the_sweeper_closes_it(
    aws: Any, services: Any, store: Any, monkeypatch: Any
) -> None:
    from runtime_core.transport.management_api import ManagementApiPoster

    closed: list[str] = []
    monkeypatch.setattr(ManagementApiPoster, "close", lambda self, cid, reason: closed.append(cid) or True)
    alice = Client(aws, "conn-A")
    alice.connect()
    session_id = replies_of(alice.send(START))[0]["session_id"]
    bob = Client(aws, "conn-B")
    bob.connect()
    bob.send({"type": "resume", "session_id": session_id, "after_seq": 0})
    _expire(store, "conn-B")
    run_queue(aws)
    assert events_of(alice.poll())
    assert bob.poll() == []  # subscribed, but its token expired: no live event reaches it

    report = Sweeper(services, grace_seconds=30, callback_url=services.settings.endpoint.callback_url).sweep()
    assert report.closed_connections == 1
    assert closed == ["conn-B"]
    assert [m["type"] for m in bob.poll()] == ["closing"]
    assert store.get_connection("conn-B") is None
    assert store.get_connection("conn-A") is not None
    assert Sweeper(services, grace_seconds=30, callback_url=None).sweep().closed_connections == 0


def test_a_page_can_tell_an_expired_token_from_an_outage(services: Any) -> None:
    from fastapi.testclient import TestClient

    from functions import http_api
    from tests.functions.conftest import token

    api = TestClient(http_api.app)
    fresh = api.get("/token", headers={"Authorization": f"Bearer {token()}"})
    assert fresh.status_code == 200
    body = fresh.json()
    assert (body["valid"], body["app_id"], body["user_id"]) == (True, "app-1", "user-1")
    assert datetime.fromisoformat(body["expires_at"]) > datetime.now(UTC)
    now = int(time.time())
    stale = jwt.encode({"sub": "user-1", "app_id": "app-1", "exp": now - 3600}, SECRET)
    expired = api.get("/token", headers={"Authorization": f"Bearer {stale}"})
    assert expired.status_code == 401 and expired.json()["error"] == "expired"
    missing = api.get("/token")
    assert missing.status_code == 401 and missing.json()["error"] == "missing_token"
