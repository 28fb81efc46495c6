"""The route handlers import these modules: they must not pull in AG2 (seconds of import) or boto3."""

from __future__ import annotations

import json
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
