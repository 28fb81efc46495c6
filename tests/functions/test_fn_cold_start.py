"""Route handlers stay light: importing them (and what a start frame loads) never imports AG2."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _modules_after(imports: str) -> set[str]:
    code = (
        f"import json, sys\n{imports}\nprint(json.dumps(sorted({{m.split('.')[0] for m in sys.modules}})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT
    )
    return set(json.loads(result.stdout.strip().splitlines()[-1]))


def test_route_handlers_do_not_import_autogen() -> None:
    loaded = _modules_after(
        "import functions.connect, functions.default, functions.disconnect, functions.http_api\n"
        # What the handlers import on first use: the workflow loader (start frames) and the store.
        "import runtime_core.workflow, runtime_core.store.protocol, runtime_core.store.mongo"
    )
    assert {"functions", "fastapi", "mangum", "pymongo"} <= loaded
    assert not loaded & {"autogen", "ag2", "openai"}


def test_even_the_worker_loads_the_engine_only_for_its_first_step() -> None:
    assert not _modules_after("import functions.worker") & {"autogen", "openai"}


def test_a_retried_start_finds_its_session_again() -> None:
    from runtime_core.routes.session_frames import session_id_for
    from runtime_core.session import Tenant

    tenant = Tenant(app_id="a", user_id="u")
    session_id = session_id_for(tenant, "m-1")
    # A retried start finds its session again; another user's start with the same msg_id does not.
    assert (
        session_id == session_id_for(tenant, "m-1") != session_id_for(Tenant(app_id="a", user_id="v"), "m-1")
    )
