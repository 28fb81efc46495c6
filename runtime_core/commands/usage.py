"""``mozaiks usage``: read the usage the HTTP API serves (``/usage``, ``/sessions/{id}/usage``) from the store
directly, as an operator: one app (every user, or one), one session, or rebuild the daily rollups from the
ledger (``--rebuild``) after a crash between a step's commit and its rollup.

The store is ``MONGODB_URI`` when set, else the local server's embedded one (``DATA_DIR/store.sqlite3``; stop
``mozaiks serve`` first, or point ``MONGODB_URI`` at the URI it prints).

Exit status: 0, or 2 for a bad range.
"""

from __future__ import annotations

import argparse
import os
from datetime import date
from pathlib import Path
from typing import Any

from runtime_core.local.credentials import DEV_APP_ID, DEV_USER_ID
from runtime_core.local.data_dir import DATA_DIR_VARIABLE, default_data_dir


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "usage",
        help="model calls, tokens, cost and steps per day, model, workflow or agent",
        description="Usage from the daily rollups (per UTC day, and per model, workflow or agent), a "
        "session's usage from the ledger, or --rebuild the rollups from the ledger.",
    )
    parser.add_argument(
        "--app", default=DEV_APP_ID, help=f"app id (default: {DEV_APP_ID}, the local server's)"
    )
    parser.add_argument("--user", default=None, help="one user of the app (default: every user)")
    parser.add_argument("--since", type=date.fromisoformat, default=None, help="first UTC day, YYYY-MM-DD")
    parser.add_argument(
        "--until", type=date.fromisoformat, default=None, help="last UTC day (default: today)"
    )
    parser.add_argument("--by", choices=["day", "model", "workflow", "agent"], default="day")
    parser.add_argument("--session", default=None, metavar="ID", help="one session's usage (from the ledger)")
    parser.add_argument("--json", action="store_true", help="print JSON (the HTTP API's shape)")
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="recompute the range's rollups from the ledger first (idempotent; docs/observability.md)",
    )
    parser.add_argument(
        "--all-apps",
        action="store_true",
        help="with --rebuild: rebuild every app's rollups, not only --app's",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"the local server's data dir without MONGODB_URI (default: ${DATA_DIR_VARIABLE} or ./.mozaiks)",
    )
    return parser


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from runtime_core.usage import UsageRange

    try:
        span = UsageRange.of(args.since, args.until)
    except ValidationError as exc:
        print(f"error: {exc.errors()[0]['msg']}")
        return 2
    if args.session is not None and args.user is None and args.app != DEV_APP_ID:
        # Sessions are tenant-scoped (app and user), as in the HTTP API.
        print("error: --session needs --user (the session's user)")
        return 2
    store = _open_store(args.data_dir or default_data_dir())
    try:
        if args.session is not None:
            return _session(store, args)
        if args.rebuild:
            scope = None if args.all_apps else args.app
            written = store.rebuild_usage_rollups(span, app_id=scope)
            if not args.json:
                which = "every app" if scope is None else f"app {scope}"
                print(f"rebuilt {written} rollup documents for {span.since}..{span.until} ({which})")
        report = store.usage_report(args.app, args.user, span, args.by)
        if args.json:
            print(report.model_dump_json(indent=2))
        else:
            print(format_report(report))
        return 0
    finally:
        store.close()


def _session(store: Any, args: argparse.Namespace) -> int:
    from runtime_core.session import Tenant

    usage = store.session_usage(Tenant(app_id=args.app, user_id=args.user or DEV_USER_ID), args.session)
    if args.json:
        print(usage.model_dump_json(indent=2))
        return 0
    print(f"session {usage.session_id}: {_amounts(usage.total.model_dump())}")
    for title, table in (("model", usage.by_model), ("agent", usage.by_agent)):
        for key, amounts in sorted(table.items()):
            print(f"  {title} {key or '-'}: {_amounts(amounts.model_dump())}")
    if usage.unfinished_calls:
        print(f"  {usage.unfinished_calls} call(s) went out and never answered (tokens unknown)")
    return 0


def format_report(report: Any) -> str:
    head = (
        f"{'day':<10}  {'key':<24} {'calls':>6} {'steps':>6} {'prompt':>9} {'completion':>10} {'cost $':>10}"
    )
    lines = [
        f"usage of app {report.app_id} (user {report.user_id or 'all'}), {report.since}..{report.until}",
        head,
    ]
    for row in report.rows:
        lines.append(_line(row.day, row.key, row.model_dump()))
    lines.append(_line("total", "", report.total.model_dump()))
    return "\n".join(lines)


def _line(day: str, key: str, a: dict[str, Any]) -> str:
    return (
        f"{day:<10}  {(key or '-')[:24]:<24} {a['calls']:>6} {a['steps']:>6} {a['prompt_tokens']:>9} "
        f"{a['completion_tokens']:>10} {a['cost']:>10.4f}"
    )


def _amounts(a: dict[str, Any]) -> str:
    return (
        f"{a['calls']} calls, {a['steps']} steps, {a['prompt_tokens']} prompt + {a['completion_tokens']} "
        f"completion tokens, ${a['cost']:.4f}"
    )


def _open_store(data_dir: Path) -> Any:
    from runtime_core.local.environment import STORE_FILE
    from runtime_core.store.embedded import store_from_env

    env = dict(os.environ)
    if not env.get("MONGODB_URI", "").strip():
        env["MOZAIKS_STORE_PATH"] = str(data_dir / STORE_FILE)
    return store_from_env(env)
