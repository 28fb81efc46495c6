"""``python -m runtime_core.local``: ``mozaiks serve`` without the CLI (same options)."""

import argparse
import sys

from runtime_core.commands import serve

parser = argparse.ArgumentParser(prog="python -m runtime_core.local", description=serve.__doc__)
serve.add_arguments(parser)
sys.exit(serve.run(parser.parse_args()))
