"""A step's time budget: model calls never run past the deadline, and retries are the engine's, not the SDK's.

Most tests run on a fake clock (``llm.retry.now``/``pause``): a "hung" endpoint advances it by the timeout the
attempt was given, as a real socket would wait. One test hangs a real loopback socket to show the clamped
timeout reaches the network.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from engine_kit import agent, write_workflow

from runtime_core.engine.step import StepResult, run_step
from runtime_core.llm import retry
from runtime_core.llm.provider import ModelProvider, OpenAIModel
from runtime_core.llm.script import Script
from runtime_core.llm.scripted import SCRIPTED_KEY, ScriptedModel
from runtime_core.session import SessionStatus, new_session
from runtime_core.workflow import Workflow

KEY = "sk-" + "k" * 48


class FakeClock:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def now(self) -> float:
        return self.t

    def pause(self, seconds: float) -> None:
        assert seconds >= 0
        self.slept.append(seconds)
        self.t += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(retry, "now", fake.now)
    monkeypatch.setattr(retry, "pause", fake.pause)
    return fake


class Attempt:
    def __init__(self, at: float, timeout: dict[str, float | None], body: bytes) -> None:
        self.at, self.timeout, self.body = at, timeout, body


class FlakyModel(ModelProvider):
    """The scripted model behind an endpoint that first misbehaves as told, one behaviour per attempt:
    ``"hang"`` (waits out the attempt's read timeout), ``"refused"`` (connection error), an HTTP status, or
    ``(status, headers)``. Then (and for ``"ok"``) the script answers."""

    name = "flaky"

    def __init__(self, clock: FakeClock | None, behaviours: list[Any], max_retries: int = 4) -> None:
        self.clock = clock
        self.behaviours = list(behaviours)
        self.max_retries = max_retries
        self.scripted = ScriptedModel(Script.model_validate({"replies": {"A": ["a"]}}))
        self.attempts: list[Attempt] = []

    def transport(self) -> httpx.BaseTransport:
        return httpx.MockTransport(self._handle)

    def api_key(self, key_env: str | None) -> str:
        return SCRIPTED_KEY

    def _handle(self, request: httpx.Request) -> httpx.Response:
        now = self.clock.now() if self.clock else time.monotonic()
        self.attempts.append(Attempt(now, dict(request.extensions.get("timeout") or {}), request.read()))
        behaviour = self.behaviours.pop(0) if self.behaviours else "ok"
        if behaviour == "ok":
            return self.scripted._handle(request)
        if behaviour == "hang":
            assert self.clock is not None
            self.clock.t += request.extensions["timeout"]["read"]
            raise httpx.ReadTimeout("timed out", request=request)
        if behaviour == "refused":
            raise httpx.ConnectError("connection refused", request=request)
        status, headers = behaviour if isinstance(behaviour, tuple) else (behaviour, {})
        return httpx.Response(status, headers=headers, json={"error": {"message": f"status {status}"}})


def _one_agent(root: Path, **llm: Any) -> Workflow:
    return write_workflow(
        root,
        agents=[agent("A")],
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
        llm_config={"model": "gpt-4o-mini", **llm},
    )


def _step(workflow: Workflow, model: ModelProvider, deadline: float | None) -> StepResult:
    return run_step(new_session(workflow, "s"), workflow, model, deadline=deadline)


def test_a_hung_model_with_a_10s_deadline_fails_in_10s_not_60s_times_5(
    tmp_path: Path, clock: FakeClock
) -> None:
    workflow = _one_agent(tmp_path)  # the default timeout: 60 s per attempt
    model = FlakyModel(clock, ["hang"] * 10)
    start = clock.t

    result = _step(workflow, model, deadline=start + 10)

    assert result.error_code == "model_timeout"
    [error] = [e for e in result.events if e.type == "error"]
    assert error.recoverable and "deadline" in error.message
    assert clock.t - start == pytest.approx(10)
    assert len(model.attempts) == 1 and model.attempts[0].timeout["read"] == pytest.approx(10)
    assert result.state.messages == [] and result.state.status == SessionStatus.running


def test_an_attempt_gets_the_configured_timeout_when_it_is_shorter_and_is_retried(
    tmp_path: Path, clock: FakeClock
) -> None:
    workflow = _one_agent(tmp_path, timeout=5)
    model = FlakyModel(clock, ["hang", "hang"])
    start = clock.t

    result = _step(workflow, model, deadline=start + 60)

    assert result.error_code is None and result.state.messages[-1].content == "a"
    assert [a.timeout["read"] for a in model.attempts] == [5, 5, 5]
    assert len(clock.slept) == 2 and clock.t - start < 60


def test_server_errors_are_retried_with_jittered_backoff_and_the_same_bytes(
    tmp_path: Path, clock: FakeClock
) -> None:
    workflow = _one_agent(tmp_path)
    model = FlakyModel(clock, [500, 503, 408, 409])
    calls: list[Any] = []

    result = run_step(
        new_session(workflow, "s"), workflow, model, deadline=clock.t + 60, on_model_call=calls.append
    )

    assert result.error_code is None and result.state.status == SessionStatus.completed
    assert len(model.attempts) == 5
    assert [0.5 * 0.75 <= clock.slept[0] <= 0.5, 0.75 <= clock.slept[1] <= 1.0] == [True, True]
    assert 1.5 <= clock.slept[2] <= 2.0 and 3.0 <= clock.slept[3] <= 4.0
    # Retries re-send the request the scripted model answered, byte for byte, and only that one is metered.
    assert {a.body for a in model.attempts} == {model.scripted.requests[0].body.encode()}
    assert len(calls) == 1 and result.usage == calls


def test_a_429_waits_what_the_server_asks(tmp_path: Path, clock: FakeClock) -> None:
    model = FlakyModel(clock, [(429, {"retry-after": "3"}), (429, {"retry-after-ms": "1500"})])

    result = _step(_one_agent(tmp_path), model, deadline=clock.t + 30)

    assert result.error_code is None
    assert clock.slept == [3.0, 1.5]


def test_a_wait_that_does_not_fit_before_the_deadline_is_not_started(
    tmp_path: Path, clock: FakeClock
) -> None:
    model = FlakyModel(clock, [(429, {"retry-after": "30"})])
    start = clock.t

    result = _step(_one_agent(tmp_path), model, deadline=start + 10)

    assert result.error_code == "model_timeout" and "HTTP 429" in result.state.error
    assert clock.slept == [] and clock.t == start and len(model.attempts) == 1


def test_retries_never_sleep_or_start_an_attempt_past_the_deadline(tmp_path: Path, clock: FakeClock) -> None:
    model = FlakyModel(clock, ["refused", 502, "refused", 503, 500], max_retries=10)
    start = clock.t
    deadline = start + 4.0

    result = _step(_one_agent(tmp_path), model, deadline=deadline)

    assert result.error_code == "model_timeout"
    # Attempts fail at once here: any time spent is sleep, and none went into a window too short to use.
    assert deadline - clock.t >= retry.MIN_ATTEMPT_SECONDS
    assert all(deadline - a.at >= retry.MIN_ATTEMPT_SECONDS for a in model.attempts)
    assert 1 < len(model.attempts) < 6


def test_no_attempt_starts_when_the_deadline_is_too_close(tmp_path: Path, clock: FakeClock) -> None:
    model = FlakyModel(clock, [])

    result = _step(_one_agent(tmp_path), model, deadline=clock.t + retry.MIN_ATTEMPT_SECONDS / 2)

    assert result.error_code == "model_timeout" and model.attempts == []


def test_retries_are_bounded_and_the_sdk_adds_none(tmp_path: Path, clock: FakeClock) -> None:
    model = FlakyModel(clock, [500] * 50)  # the real model's default: 4 retries

    result = _step(_one_agent(tmp_path), model, deadline=None)

    assert len(model.attempts) == 5
    assert result.error_code == "model_error" and "500" in result.state.error


@pytest.mark.parametrize(
    "behaviour", [400, (503, {"x-should-retry": "false"}), (429, {"retry-after": "600"})]
)
def test_what_must_not_be_retried_is_not(tmp_path: Path, clock: FakeClock, behaviour: Any) -> None:
    model = FlakyModel(clock, [behaviour])

    result = _step(_one_agent(tmp_path), model, deadline=clock.t + 60)

    assert len(model.attempts) == 1 and result.error_code == "model_error"


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A loopback server that accepts connections and never answers: a hung model endpoint."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in held:
        conn.close()
    server.close()


def test_a_real_hung_socket_is_cut_at_the_deadline(
    tmp_path: Path, silent_server: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retry, "MIN_ATTEMPT_SECONDS", 0.2)
    # 5 s per attempt as configured, 4 retries: without the deadline this step would wait 25 s or more.
    workflow = _one_agent(tmp_path, timeout=5, base_url=f"http://127.0.0.1:{silent_server}/v1")
    pool = httpx.HTTPTransport()
    provider = OpenAIModel(environ={"OPENAI_API_KEY": KEY})
    provider._pool = pool
    start = time.monotonic()

    result = _step(workflow, provider, deadline=start + 1.0)

    elapsed = time.monotonic() - start
    pool.close()
    assert result.error_code == "model_timeout"
    assert 0.9 <= elapsed < 2.5


def test_request_bytes_do_not_depend_on_the_deadline(tmp_path: Path, clock: FakeClock) -> None:
    workflow = _one_agent(tmp_path)
    bodies = []
    for deadline in (None, clock.t + 7, clock.t + 300):
        model = FlakyModel(clock, [])
        _step(workflow, model, deadline=deadline)
        bodies.append([(a.body, json.loads(a.body)["model"]) for a in model.attempts])
    assert bodies[0] == bodies[1] == bodies[2] and len(bodies[0]) == 1
