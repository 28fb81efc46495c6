"""The ``mozaiks`` command.

Each subcommand lives in ``runtime_core/commands/<name>.py`` and exposes ``add_parser(subparsers)`` and
``run(args) -> int``; heavy imports (AG2, pymongo) stay inside ``run`` so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from runtime_core import __version__

COMMANDS = ("serve", "chat", "run", "validate", "schema", "usage")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mozaiks", description="MozaiksAI Runtime: declarative multi-agent workflows."
    )
    parser.add_argument("--version", action="version", version=f"mozaiks {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module = importlib.import_module(f"runtime_core.commands.{name}")
        command = module.add_parser(sub)
        command.set_defaults(handler=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
