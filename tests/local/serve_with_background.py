"""``mozaiks serve`` with a background task, for the test of the ``background`` hook: the task prints a line
when a run starts and when it ends (each run takes a moment, so a stop can find one in progress)."""

from __future__ import annotations

import argparse
import sys
import time

from runtime_core.commands import serve as serve_command
from runtime_core.local.launcher import BackgroundTask, serve
from runtime_core.services import Services

RUN_SECONDS = 0.4
EVERY_SECONDS = 0.2


class Tick:
    def __init__(self) -> None:
        self.runs = 0

    def __call__(self, services: Services) -> None:
        self.runs += 1
        # The services are the server's: the task sees the workflows (and the store, the queue) it serves.
        print(f"tick {self.runs} start: {','.join(services.workflow_names())}", flush=True)
        time.sleep(RUN_SECONDS)
        print(f"tick {self.runs} end", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser()
    serve_command.add_arguments(parser)
    args = parser.parse_args()
    options = serve_command.options_from(args)
    return serve(options, background=[BackgroundTask("tick", Tick(), EVERY_SECONDS)])


if __name__ == "__main__":
    sys.exit(main())
