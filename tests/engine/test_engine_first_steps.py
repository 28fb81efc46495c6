"""A fresh process whose first steps start together (``mozaiks serve`` after a restart re-arms every session
at once) runs them all: AG2 and the workflows' tool modules are imported once, on one thread at a time.

Before this was so, Python's per-module import locks found a deadlock between the threads in about one run
in three, and the sessions failed with a non-recoverable ``workflow_error``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

RACE = """
import json, os, sys, threading
os.environ["MOZAIKS_MODEL"] = "scripted"
from pathlib import Path
from runtime_core.workflow import load_workflow
from runtime_core.session import new_session
from runtime_core.worker.models import provider_for

names = ["CustomerSupport", "TripPlanner", "ContentReview"] * 2
workflows = [load_workflow(Path("workflows") / name) for name in names]
barrier = threading.Barrier(len(workflows))
errors = []

def first_step(index, workflow):
    barrier.wait()
    from runtime_core.engine.step import run_step
    result = run_step(new_session(workflow, f"s-{index}"), workflow, provider_for(workflow))
    errors.extend(f"{e.code}: {e.message}" for e in result.events if e.type == "error")

threads = [threading.Thread(target=first_step, args=item) for item in enumerate(workflows)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(json.dumps(errors))
"""


def _fresh_process() -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", RACE], capture_output=True, text=True, cwd=ROOT, check=True, timeout=120
    )
    return list(json.loads(result.stdout.strip().splitlines()[-1]))


def test_first_steps_started_together_in_a_fresh_process_all_run() -> None:
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(pool.map(lambda _: _fresh_process(), range(4)))
    assert runs == [[]] * 4
