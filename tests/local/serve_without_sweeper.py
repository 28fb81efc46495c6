"""``mozaiks serve`` without its background sweeper: what closes a socket at its token's expiry is then the
server's own timer alone (tests/local/test_local_token_expiry.py)."""

from __future__ import annotations

import argparse
import sys

from runtime_core.commands import serve as serve_command
from runtime_core.local.data_dir import default_data_dir
from runtime_core.local.launcher import ServeOptions, serve


def main() -> int:
    parser = argparse.ArgumentParser()
    serve_command.add_arguments(parser)
    args = parser.parse_args()
    options = ServeOptions(
        port=args.port,
        workflows_dir=args.workflows,
        data_dir=args.data_dir or default_data_dir(),
        shutdown_grace=args.shutdown_grace if args.shutdown_grace is not None else 10.0,
        sweep_every=0,
    )
    return serve(options)


if __name__ == "__main__":
    sys.exit(main())
