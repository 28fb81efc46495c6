"""``mozaiks run WORKFLOW``: run a workflow locally, step by step, and print what happens.

WORKFLOW is a folder name under ./workflows or a path. The model is, in order: ``--script FILE`` replayed
offline; the model ``--model`` (or ``MOZAIKS_MODEL``) names, ``echo`` or ``scripted``; the real model when the
workflow's API key variable (default ``OPENAI_API_KEY``) is set; the workflow's ``script.yaml``; else the
offline echo model (``runtime_core.llm.echo``), so any valid workflow runs without a key. User inputs
come from ``--message`` (in order), then the script's ``user_inputs``, then stdin when it is a terminal. A UI
tool's answer is typed as JSON.

Exit status: 0 when the run completed (or waits for input nobody gave), 1 on an error, 2 when the workflow
or script is not found.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from runtime_core.console import describe

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_NOT_FOUND = 2


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="run a workflow locally",
        description="Run a workflow step by step on the scripted model (offline) or a real one.",
    )
    parser.add_argument("workflow", metavar="WORKFLOW", help="a name under ./workflows, or a path")
    parser.add_argument(
        "--message", action="append", default=[], metavar="TEXT", help="a user input (repeatable)"
    )
    parser.add_argument(
        "--script", type=Path, metavar="FILE", help="replay this script (default: script.yaml)"
    )
    parser.add_argument(
        "--model",
        choices=["echo", "scripted"],
        help="run offline on this model: echo (no key, no script needed) or scripted (script.yaml); "
        "default: MOZAIKS_MODEL, else a real model when its key is set, else script.yaml, else echo",
    )
    parser.add_argument(
        "--fresh-process-per-step",
        action="store_true",
        help="run every step in a new Python process, the state passed as JSON",
    )
    parser.add_argument("--transcript", type=Path, metavar="OUT.json", help="write the transcript as JSON")
    return parser


def resolve_workflow(name: str) -> Path | None:
    for candidate in (Path(name), Path("workflows") / name):
        if (candidate / "orchestrator.yaml").is_file():
            return candidate
    return None


def run(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    folder = resolve_workflow(args.workflow)
    if folder is None:
        print(
            f"error: no workflow {args.workflow!r} (looked for it as a path and under ./workflows)", file=out
        )
        return EXIT_NOT_FOUND

    from runtime_core.engine.driver import Carry, drive, scripted_inputs
    from runtime_core.llm.choice import SCRIPT_FILE, choose_provider, describe_choice
    from runtime_core.llm.echo import EchoModel
    from runtime_core.llm.provider import ModelConfigError
    from runtime_core.llm.script import Script, ScriptedUserInput
    from runtime_core.llm.scripted import ScriptedModel
    from runtime_core.workflow import WorkflowValidationError
    from runtime_core.workflow.loader import check_workflow_report

    try:
        checked = check_workflow_report(folder)
    except ValueError as exc:
        print(f"error: {exc}", file=out)
        return EXIT_ERROR
    if checked.workflow is None:
        print(f"error: {WorkflowValidationError(checked.errors)}", file=out)
        return EXIT_ERROR
    workflow = checked.workflow
    # What the runtime loads but does not run yet (hooks, state triggers...): said before the run, not after.
    for warning in checked.warnings:
        print(f"warning: {warning}", file=out)

    try:
        provider = choose_provider(workflow, args.script, model=getattr(args, "model", None))
    except (ModelConfigError, OSError) as exc:
        print(f"error: {exc}", file=out)
        return EXIT_NOT_FOUND
    script = provider.script if isinstance(provider, ScriptedModel) else Script()
    script_path = None
    if isinstance(provider, ScriptedModel) and not isinstance(provider, EchoModel):
        script_path = args.script or workflow.root / SCRIPT_FILE

    queue = [ScriptedUserInput(text=m) for m in args.message] + list(script.user_inputs)
    from_list = scripted_inputs(queue)
    interactive = sys.stdin.isatty()

    def next_input(request: Any) -> Any:
        given = from_list(request)
        if given is not None or not interactive:
            return given
        line = input(f"{request.prompt or 'You'}> ").strip()
        return scripted_inputs([ScriptedUserInput(text=line)])(request) if line else None

    print(f"▶ {workflow.name} on {describe_choice(provider, workflow, script_path)}", file=out)
    run_result = drive(
        workflow,
        provider,
        next_input,
        carry=Carry.process if args.fresh_process_per_step else Carry.memory,
        script_path=script_path,
        on_step=lambda result: _print_events(result.events, out),
    )
    state = run_result.state
    usage = state.usage
    print(
        f"■ {state.status.value} after {run_result.steps} steps, {len(state.messages)} messages; "
        f"usage: {usage.calls} calls, {usage.prompt_tokens} prompt + {usage.completion_tokens} completion "
        f"tokens, ${usage.cost:.6f} ({provider.name} model)",
        file=out,
    )
    if args.transcript:
        args.transcript.write_text(
            json.dumps(
                {
                    "workflow": workflow.name,
                    "status": state.status.value,
                    "context_variables": state.context_variables,
                    "messages": [m.model_dump(mode="json", exclude={"created_at"}) for m in state.messages],
                    "events": [e.model_dump(mode="json", exclude={"ts"}) for e in run_result.events],
                    "usage": usage.model_dump(mode="json"),
                },
                indent=2,
            )
        )
    failed = any(e.type == "error" and e.code not in ("tool_error",) for e in run_result.events[-3:])
    return EXIT_ERROR if failed and not state.status.is_final else EXIT_OK


def _print_events(events: list[Any], out: TextIO) -> None:
    for event in events:
        line = describe(event)
        if line:
            print(line, file=out)
