"""``mozaiks schema``: print or write the JSON Schema of each workflow file kind."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from runtime_core.workflow.json_schema import export_kinds, schema_for, schema_text, write_schemas


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of the workflow files",
        description="Print the JSON Schema of each workflow file kind, or write <kind>.schema.json files.",
    )
    parser.add_argument("--kind", choices=export_kinds(), help="only this file kind (default: all)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write <kind>.schema.json files into DIR")
    return parser


def run(args: argparse.Namespace) -> int:
    selected = [args.kind] if args.kind else export_kinds()
    if args.out is not None:
        for path in write_schemas(args.out, selected):
            print(path)
        return 0
    if args.kind:
        print(schema_text(args.kind), end="")
    else:
        # One JSON document on stdout so the output pipes into jq and friends.
        print(json.dumps({kind: schema_for(kind) for kind in selected}, indent=2, sort_keys=True))
    return 0
