"""The Management API poster against botocore's Stubber (410/413/429/403) and moto (real posts, read back)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import ANY, Stubber

from runtime_core.transport import (
    ManagementApiPoster,
    PostError,
    Reassembler,
    callback_url_from_event,
    management_api,
    split_posts,
)

ENDPOINT = "https://a1b2c3d4e5.execute-api.us-east-1.amazonaws.com/prod"
EVENTS = Path(__file__).resolve().parents[2] / "infra" / "events"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setattr(management_api, "_CLIENTS", {})


class Stubbed:
    def __init__(self) -> None:
        # The poster's own client configuration: botocore must not retry behind the poster's back.
        self.client = management_api.management_api_client(ENDPOINT, "us-east-1")
        self.stubber = Stubber(self.client)
        self.sent: list[bytes] = []
        self.outcomes: list[bool] = []
        self.sleeps: list[float] = []
        self.client.meta.events.register(
            "before-parameter-build.apigatewaymanagementapi.PostToConnection",
            lambda params, **_: self.sent.append(params["Data"]),
        )

    def ok(self, times: int = 1) -> None:
        for _ in range(times):
            self.stubber.add_response("post_to_connection", {}, {"ConnectionId": "c1", "Data": ANY})
            self.outcomes.append(True)

    def fail(self, code: str, status: int, times: int = 1) -> None:
        for _ in range(times):
            self.stubber.add_client_error(
                "post_to_connection",
                service_error_code=code,
                http_status_code=status,
                expected_params={"ConnectionId": "c1", "Data": ANY},
            )
            self.outcomes.append(False)

    def poster(self, **options: Any) -> ManagementApiPoster:
        return ManagementApiPoster(ENDPOINT, client=self.client, sleep=self.sleeps.append, **options)

    def received(self) -> list[dict[str, Any]]:
        reassembler = Reassembler()
        delivered = [data for data, ok in zip(self.sent, self.outcomes, strict=True) if ok]
        return [m for data in delivered for m in reassembler.feed(data)]


@pytest.fixture
def stub() -> Iterator[Stubbed]:
    stubbed = Stubbed()
    with stubbed.stubber:
        yield stubbed
        stubbed.stubber.assert_no_pending_responses()


def events(count: int, size: int = 200) -> list[dict[str, Any]]:
    return [{"type": "agent_message", "seq": i, "content": "x" * size} for i in range(1, count + 1)]


def test_gone_is_reported_and_never_retried(stub: Stubbed) -> None:
    stub.fail("GoneException", 410)
    poster = stub.poster()
    outcome = poster.post("c1", events(3))
    assert outcome.gone and outcome.posts == 0
    assert len(stub.sent) == 1 and stub.sleeps == []


def test_gone_midway_stops_posting(stub: Stubbed) -> None:
    stub.ok()
    stub.fail("GoneException", 410)
    outcome = stub.poster().post("c1", events(3, size=100_000))
    assert outcome.gone and outcome.posts == 1 and len(stub.sent) == 2


def test_throttling_is_retried_with_bounded_backoff(stub: Stubbed) -> None:
    stub.fail("LimitExceededException", 429, times=2)
    stub.ok()
    poster = stub.poster()
    outcome = poster.post("c1", events(2))
    assert (outcome.posts, outcome.gone) == (1, False)
    assert len(stub.sleeps) == 2 and all(0 < s <= 1.0 for s in stub.sleeps)
    assert (poster.total_posts, poster.total_calls) == (1, 3)
    assert stub.received() == events(2)


def test_throttling_past_the_budget_raises(stub: Stubbed) -> None:
    stub.fail("LimitExceededException", 429, times=3)
    with pytest.raises(PostError) as caught:
        stub.poster(max_attempts=3).post("c1", events(1))
    assert (caught.value.code, caught.value.status) == ("throttled", 429)
    assert len(stub.sleeps) == 2


def test_payload_too_large_splits_a_batch(stub: Stubbed) -> None:
    stub.fail("PayloadTooLargeException", 413)
    stub.ok(times=2)
    poster = stub.poster()
    batch = events(4, size=20_000)
    outcome = poster.post("c1", batch)
    assert outcome.posts == 2 and poster.total_calls == 3
    assert [len(json.loads(d)["messages"]) for d in stub.sent] == [4, 2, 2]
    assert stub.received() == batch


def test_payload_too_large_rechunks_a_single_event(stub: Stubbed) -> None:
    stub.fail("PayloadTooLargeException", 413)
    stub.ok(times=3)
    big = {"type": "agent_message", "seq": 5, "content": "y" * 120_000}
    outcome = stub.poster().post("c1", [big])
    assert outcome.posts == 3
    assert [json.loads(d)["type"] for d in stub.sent[1:]] == ["chunk", "chunk", "chunk"]
    assert stub.received() == [big]


def test_chunk_refused_midway_restarts_the_chunk_sequence(stub: Stubbed) -> None:
    stub.ok()
    stub.fail("PayloadTooLargeException", 413)
    stub.ok(times=6)
    big = {"type": "agent_message", "seq": 8, "content": "z" * 300_000}
    outcome = stub.poster().post("c1", [big, {"type": "usage", "seq": 9}])
    assert stub.received() == [big, {"type": "usage", "seq": 9}]
    # Part 0 went through, part 1 was refused: the event is re-sent as 5 smaller parts (from part 0 again),
    # the old part 2 is never sent, and the usage event follows.
    assert outcome.posts == 1 + 5 + 1
    assert [json.loads(d)["part"] for d in stub.sent[2:7]] == [0, 1, 2, 3, 4]


def test_forbidden_raises_with_its_status(stub: Stubbed) -> None:
    stub.fail("ForbiddenException", 403)
    with pytest.raises(PostError) as caught:
        stub.poster().post("c1", events(1))
    assert (caught.value.code, caught.value.status) == ("ForbiddenException", 403)


def test_endpoint_and_region_come_from_the_event() -> None:
    event = json.loads((EVENTS / "default_user_message.json").read_text())
    assert callback_url_from_event(event) == ENDPOINT
    poster = ManagementApiPoster.from_event(event)
    assert (poster.endpoint_url, poster.region) == (ENDPOINT, "us-east-1")
    with pytest.raises(ValueError, match="domainName"):
        callback_url_from_event({"requestContext": {}})


def test_posting_under_moto_and_reading_frames_back() -> None:
    from moto import mock_aws
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends
    from moto.core import DEFAULT_ACCOUNT_ID

    step = [*events(300, size=1000), {"type": "agent_message", "seq": 301, "content": "w" * 200_000}]
    with mock_aws():
        poster = ManagementApiPoster(ENDPOINT)
        outcome = poster.post("conn-1", step)
        buffer = apigatewaymanagementapi_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].connections["conn-1"].data
    documents = split_posts(buffer)
    # 300 events of ~1 KB fill three posts (130 + 130 + 40); the 200 KB event needs two chunks.
    assert len(documents) == outcome.posts == poster.total_posts == 5
    assert [d["type"] for d in documents] == ["batch", "batch", "batch", "chunk", "chunk"]
    reassembler = Reassembler()
    assert [m for d in documents for m in reassembler.feed(d)] == step
