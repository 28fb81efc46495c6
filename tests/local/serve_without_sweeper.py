"""``mozaiks serve`` without its background sweeper: what closes a socket at its token's expiry is then the
server's own timer alone (tests/local/test_local_token_expiry.py)."""

from __future__ import annotations

import argparse
import sys

from runtime_core.commands import serve as serve_command
from runtime_core.local.launcher import serve


def main() -> int:
    parser = argparse.ArgumentParser()
    serve_command.add_arguments(parser)
    args = parser.parse_args()
    return serve(serve_command.options_from(args, sweep_every=0))


if __name__ == "__main__":
    sys.exit(main())
