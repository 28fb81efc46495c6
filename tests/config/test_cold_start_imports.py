"""The route handlers import these modules: they must not pull in AG2 (seconds of import) or boto3."""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_route_handler_modules_do_not_import_autogen_or_boto3() -> None:
    code = (
        "import json, sys\n"
        "import runtime_core.config, runtime_core.auth, runtime_core.protocol\n"
        "import runtime_core.transport, runtime_core.telemetry\n"
        "heavy = {'autogen', 'ag2', 'openai', 'boto3', 'moto', 'fastapi'}\n"
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules} & heavy)))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_tracing_off_never_imports_the_opentelemetry_sdk() -> None:
    # The frame route, the queue, the worker and the engine's traced paths, with no OTEL_* set.
    code = (
        "import json, sys\n"
        "import runtime_core.routes.frames, runtime_core.queue, runtime_core.worker.sweeper\n"
        "import runtime_core.worker.step_worker, runtime_core.llm.meter\n"
        "from runtime_core.queue import StepMessage\n"
        "from runtime_core.session import Tenant\n"
        "from runtime_core.telemetry import tracing\n"
        "m = StepMessage.of(Tenant(app_id='a', user_id='u'), 's', 'start', 'd')\n"
        "with tracing.span('x') as s: s.set_attribute('k', 1)\n"
        "print(json.dumps([m.trace, sorted({n.split('.')[0] for n in sys.modules} & {'opentelemetry'})]))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert json.loads(result.stdout) == [None, []]


def test_route_and_sweeper_modules_leave_local_and_parsing_modules_out() -> None:
    """The $connect, $default, $disconnect and sweeper handlers do not parse YAML, run an embedded store or
    encode AG-UI at import: each of these cost the deployed DefaultFunction 10-30 ms of cold start (measured
    by bench/cold_start.py --why) and is imported where it is used."""
    code = (
        "import json, sys\n"
        "import runtime_core.routes.frames, runtime_core.routes.connect, runtime_core.routes.disconnect\n"
        "import runtime_core.worker.sweeper\n"
        "unused = {'yaml', 'mongoeco', 'ag_ui', 'runtime_core.store.embedded', 'runtime_core.agui',\n"
        "          'runtime_core.workflow.loader', 'runtime_core.workflow.yaml_source'}\n"
        "print(json.dumps(sorted(unused & (set(sys.modules) | {m.split('.')[0] for m in sys.modules}))))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []


def test_importing_the_engine_leaves_ag2_to_load_engine() -> None:
    """AG2 is imported once, under ``load_engine``'s lock (concurrent first steps in ``mozaiks serve``
    deadlocked on AG2's import otherwise), and the worker's SnapStart hook times it there: importing the
    engine or the worker must not import it on the side."""
    code = (
        "import json, sys\n"
        "import runtime_core.engine, runtime_core.worker.step_worker\n"
        "before = 'autogen' in sys.modules\n"
        "from runtime_core.engine.loading import load_engine\n"
        "load_engine()\n"
        "print(json.dumps([before, 'autogen' in sys.modules]))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == [False, True]
