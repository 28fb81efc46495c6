"""The ``background`` hook of ``mozaiks serve``: a task runs once at start, then periodically, and a stop
waits for a run in progress (it may use the store) and starts no new one."""

from __future__ import annotations

import logging
import re
import signal
import sys
import threading
import time
from pathlib import Path

import pytest
from local_server import WORKFLOWS, server_process

from runtime_core.local.lifecycle import BackgroundRunner, BackgroundTask
from runtime_core.services import Services

SCRIPT = Path(__file__).parent / "serve_with_background.py"


def test_a_background_task_runs_at_start_then_periodically_and_a_stop_waits_for_its_run(
    tmp_path: Path,
) -> None:
    with server_process(tmp_path, command=[sys.executable, str(SCRIPT)]) as started:
        first = started.wait_for_line("tick 1 start", timeout=30)
        started.wait_for_line("tick 3 start", timeout=30)
        # Stop while a run is in progress: it is waited for, and no run starts after the stop.
        started.wait_for_line("tick 4 start", timeout=30)
        started.process.send_signal(signal.SIGTERM)
        code = started.process.wait(timeout=30)
        started.output.done.wait(5)
        log = started.log()

    assert code == 0, log
    assert "CustomerSupport" in first  # the task got the server's services
    lines = log.splitlines()
    stopped = next(i for i, line in enumerate(lines) if line.startswith("stopped after"))
    starts = [int(m[1]) for line in lines if (m := re.match(r"tick (\d+) start", line))]
    ends = [int(m[1]) for line in lines[:stopped] if (m := re.match(r"tick (\d+) end", line))]
    assert starts == ends == list(range(1, len(starts) + 1)), log
    stopping = next(i for i, line in enumerate(lines) if line.startswith("stopping (SIGTERM)"))
    assert not any(line.startswith("tick") and "start" in line for line in lines[stopping:]), log


def test_a_failing_background_run_is_logged_and_the_task_runs_again(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []
    third = threading.Event()

    def flaky(services: Services) -> None:
        runs.append(len(runs) + 1)
        if len(runs) == 2:
            raise RuntimeError("store unreachable")
        if len(runs) == 3:
            third.set()

    runner = BackgroundRunner(BackgroundTask("flaky", flaky, 0.01), Services(workflows_dir=WORKFLOWS))
    with caplog.at_level(logging.ERROR, logger="mozaiks.local"):
        runner.start()
        assert third.wait(10)
        runner.stop()
        assert runner.join(timeout=10)
    count = len(runs)
    time.sleep(0.1)
    assert len(runs) == count  # stopped: no run after stop()
    assert "background task flaky failed; it runs again in 0.01 s" in caplog.text
    assert "store unreachable" in caplog.text


def test_a_background_task_needs_a_positive_period() -> None:
    with pytest.raises(ValueError, match="every_seconds"):
        BackgroundTask("never", lambda services: None, 0)
