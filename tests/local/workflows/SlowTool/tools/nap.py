"""The slow tool of the SlowTool test workflow: it sleeps, holding its step (and the session's lease) open.

How long comes from the server's environment (``SLOW_TOOL_SECONDS``), so each test picks the duration it
needs without a workflow per duration. It prints when it starts and when it wakes, to the server's output:
the tests read those lines to know a slow step is running, and whether any has finished.
"""

import os
import time


def nap() -> str:
    """Sleep for SLOW_TOOL_SECONDS seconds (default 3), then return."""
    seconds = float(os.environ.get("SLOW_TOOL_SECONDS", "3"))
    print(f"nap: sleeping {seconds:g} s", flush=True)
    time.sleep(seconds)
    print(f"nap: woke after {seconds:g} s", flush=True)
    return f"slept {seconds:g} s"
