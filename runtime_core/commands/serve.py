"""``mozaiks serve``: the local dev server, the same Lambda handlers behind ws://localhost:8000/ws.

It serves the WebSocket routes at ``/ws``, the HTTP API at ``/api`` and a chat page at ``/``. Without
configuration it runs on embedded defaults (store, model, auth) and says which at start; each is replaced by
the variable AWS uses (``MONGODB_URI``, the workflow's API key variable, ``MOZAIKS_JWT_*``).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from runtime_core.local.data_dir import DATA_DIR_VARIABLE, default_data_dir

if TYPE_CHECKING:
    from runtime_core.local.launcher import ServeOptions


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run the local dev server (WebSocket API, HTTP API, chat page)",
        description="Serve the Lambda handlers locally: ws://HOST:PORT/ws, http://HOST:PORT/api and a chat "
        "page at http://HOST:PORT/.",
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--workflows", type=Path, default=Path("workflows"), metavar="DIR", help="default: ./workflows"
    )
    parser.add_argument("--port", type=int, default=8000, help="default: 8000 (0 picks a free port)")
    parser.add_argument("--host", default="127.0.0.1", help="default: 127.0.0.1 (this machine only)")
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"embedded store, dev secret and token (default: ${DATA_DIR_VARIABLE} or ./.mozaiks)",
    )
    parser.add_argument(
        "--store",
        choices=["sqlite", "memory"],
        default="sqlite",
        help="embedded store when MONGODB_URI is unset: a SQLite file in the data dir (default) or memory",
    )
    parser.add_argument(
        "--step-workers",
        type=int,
        default=None,
        metavar="N",
        help="sessions whose steps may run at the same time, a thread each (default: 64)",
    )
    parser.add_argument(
        "--shutdown-grace",
        type=float,
        default=None,
        metavar="SECONDS",
        help="on Ctrl-C/SIGTERM, how long running steps get to finish before the server exits (default: 10)",
    )
    parser.add_argument(
        "--trace",
        action="store_true",
        help="print each step's spans as a timing tree (OTEL_EXPORTER_OTLP_ENDPOINT also exports them)",
    )
    parser.add_argument(
        "--log-level",
        choices=["debug", "info", "warning", "error"],
        default="warning",
        help="server and handler logs (default: warning)",
    )


def options_from(args: argparse.Namespace, **overrides: Any) -> ServeOptions:
    """The server's options from these flags; ``overrides`` (test harnesses) win over the flags."""
    from runtime_core.local.launcher import ServeOptions

    # Unset flags keep ServeOptions' defaults (one place for them).
    tuning = {
        name: value
        for name, value in (("step_workers", args.step_workers), ("shutdown_grace", args.shutdown_grace))
        if value is not None
    }
    flags = {
        "host": args.host,
        "port": args.port,
        "workflows_dir": args.workflows,
        "data_dir": args.data_dir or default_data_dir(),
        "store": args.store,
        "log_level": args.log_level,
        "trace": args.trace,
        **tuning,
    }
    return ServeOptions(**{**flags, **overrides})


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from runtime_core.local.launcher import serve

    try:
        options = options_from(args)
    except ValidationError as exc:
        flags = ("--" + "-".join(str(part) for part in e["loc"]).replace("_", "-") for e in exc.errors())
        problems = "; ".join(f"{flag}: {e['msg']}" for flag, e in zip(flags, exc.errors(), strict=True))
        print(f"error: {problems}")
        return 2
    return serve(options)
