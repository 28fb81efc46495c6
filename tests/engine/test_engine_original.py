"""A workflow written in the original MozaiksAI dialect runs like any other, and resumes exactly.

HelpDesk (tests/workflow/original/HelpDesk) uses the dialect's own files unchanged: a name -> agent mapping
with prompt sections, handoff_rules with rules from the user (an after-work and a model-judged one) and a
conditional after-work, a bare tool file name, ``definitions`` with config, computed and file sources and the
variables shown in the Resolver's prompt, lifecycle tools and hooks, a structured-output registry and
``visual_agents`` that hide the Classifier. Escalation adds the UserDriven greeting, a model-judged handoff, a
tool changing the context in place and a data_reference; Planner an auto_tool_mode agent. Each runs one step
per JSON round trip and one step per fresh process exactly as uninterrupted.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from engine_kit import agent, comparable, events_of, play, run_on_script, speakers, write_workflow

from runtime_core.engine.driver import Carry, drive, scripted_inputs
from runtime_core.llm.script import load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionStatus
from runtime_core.workflow import load_workflow

ORIGINAL = Path(__file__).resolve().parents[1] / "workflow" / "original"
HELPDESK = ORIGINAL / "HelpDesk"
RUNNABLE = ["HelpDesk", "Escalation", "Planner"]


def _run(carry: Carry, name: str = "HelpDesk") -> Any:
    return run_on_script(load_workflow(ORIGINAL / name), ORIGINAL / name / "script.yaml", carry)


@pytest.mark.usefixtures("engine_mode")
def test_helpdesk_runs_to_the_end_with_the_original_meaning() -> None:
    run = _run(Carry.memory)

    assert run.state.status == SessionStatus.completed
    # The rule from the user sends the user's message to the Classifier; the Classifier's conditional
    # after-work (ticket_open set by its tool) wins over its plain after-work back to the user.
    assert speakers(run) == [
        "user",
        "Greeter",
        "user",
        "Classifier",
        "_Group_Tool_Executor",
        "Classifier",
        "Resolver",
    ]
    assert run.state.context_variables["ticket_open"] is True
    assert run.state.context_variables["support_tier"] == "basic"
    # source: file, read from data/refund_policy.yaml when the session started and persisted with it.
    assert run.state.context_variables["refund_policy"] == {"max_refund": 50, "currency": "EUR"}
    # Prompt sections became the system message, in order, under their headings.
    first_request = json.loads(run.model_requests[0].body)
    assert first_request["messages"][0]["content"].startswith("[ROLE]\nYou greet customers")


def _system_messages(run: Any, agent_name: str) -> list[str]:
    return [
        json.loads(r.body)["messages"][0]["content"]
        for r in run.model_requests
        if r.agent == agent_name and r.purpose != "speaker_selection"
    ]


@pytest.mark.usefixtures("engine_mode")
def test_an_agents_variables_are_shown_in_its_prompt_with_their_current_values() -> None:
    run = _run(Carry.memory)

    # context_variables.yaml's agents list shows support_tier and ticket_id to the Resolver only, read when
    # it replies: ticket_id was set by the Classifier's tool two turns earlier.
    (resolver,) = _system_messages(run, "Resolver")
    assert resolver == (
        "You fix the problem described in the ticket and say so in one sentence.\n\n"
        "Context Variables\nSUPPORT_TIER: basic\nTICKET_ID: T-020\n"
        'REFUND_POLICY: {"max_refund":50,"currency":"EUR"}'
    )
    assert all("Context Variables" not in m for m in _system_messages(run, "Classifier"))


@pytest.mark.parametrize("carry", [Carry.memory, Carry.process])
def test_lifecycle_tools_and_hooks_run_once_each_where_the_original_ran_them(carry: Carry) -> None:
    run = _run(carry)
    context = run.state.context_variables

    # before_chat once per session (not once per step), with the runtime's keys; after_chat once at the end.
    assert run.steps >= 4
    assert (context["desk_opened"], context["desk_app"], context["desk_closed"]) == (1, "local", True)
    # before_agent of the Resolver before its one reply; after_agent after each of the 4 agent replies; a
    # failing lifecycle tool (the Greeter's) is logged and the chat goes on.
    assert (context["resolver_turns"], context["replies_seen"]) == (1, 4)
    # update_agent_state before each of the Classifier's 2 replies; the Greeter's send hook signed its one
    # message once, though every later step replays it.
    assert (context["classifier_wakeups"], context["signed"]) == (2, 1)
    greeting = next(e for e in events_of(run, "agent_message") if e.agent == "Greeter")
    assert greeting.content == "Hello! What went wrong with your order? -- HelpDesk"
    # process_last_received_message: the Resolver's model reads the last message through the hook.
    resolver = [json.loads(r.body) for r in run.model_requests if r.agent == "Resolver"]
    assert resolver[0]["messages"][-1]["content"].startswith("[customer case] ")


@pytest.mark.usefixtures("engine_mode")
def test_an_auto_tool_agents_structured_output_invokes_its_tool() -> None:
    run = _run(Carry.memory, "Planner")
    context = run.state.context_variables

    # The Planner's model sees no tools; its validated output called save_plan with the fields matched to
    # the parameters (stepList -> step_list), chat_id from the runtime, the context changed in place.
    planner_request = json.loads(run.model_requests[0].body)
    assert "tools" not in planner_request
    assert (context["plan_saved"], context["plan_steps"], context["saved_in"]) == (True, 3, "local-session")
    (call,) = events_of(run, "tool_call")
    assert (call.agent, call.call.name) == ("Planner", "save_plan")
    assert json.loads(call.call.arguments) == {
        "title": "Shop launch",
        "step_list": ["stock", "site", "ads"],
        "chat_id": "local-session",
    }
    (result,) = events_of(run, "tool_result")
    assert (result.content, result.is_error) == ("saved 'Shop launch' with 3 steps", False)
    # Outside AG2's transcript: the Planner's reply, then the Reviewer, who reads the saved size.
    assert speakers(run) == ["user", "Planner", "Reviewer"]
    (reviewer,) = _system_messages(run, "Reviewer")
    assert reviewer.endswith("PLAN_STEPS: 3")


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        ('{"title": "Shop launch"}', "structured_output_invalid"),  # no stepList: nothing is invoked
    ],
)
def test_an_invalid_structured_output_invokes_nothing(tmp_path: Path, reply: str, says: str) -> None:
    import shutil

    folder = tmp_path / "Planner"
    shutil.copytree(ORIGINAL / "Planner", folder)
    (folder / "script.yaml").write_text(
        json.dumps({"replies": {"Planner": [reply], "Reviewer": ["Nothing was saved."]}})
    )
    workflow = load_workflow(folder)
    script = load_script(folder / "script.yaml")

    run = drive(workflow, ScriptedModel(script), scripted_inputs([]))

    assert run.state.context_variables["plan_saved"] is False
    assert events_of(run, "tool_call") == []
    assert [e.code for e in events_of(run, "error")] == [says]


def test_an_auto_tool_that_raises_gives_an_error_result_and_the_chat_goes_on(tmp_path: Path) -> None:
    import shutil

    folder = tmp_path / "Planner"
    shutil.copytree(ORIGINAL / "Planner", folder)
    plans = folder / "tools" / "plans.py"
    plans.write_text(plans.read_text().replace('    context_variables["plan_saved"] = True', "    1 / 0"))
    workflow = load_workflow(folder)
    script = load_script(folder / "script.yaml")

    run = drive(workflow, ScriptedModel(script), scripted_inputs([]))

    (result,) = events_of(run, "tool_result")
    assert result.is_error and result.content.startswith("ZeroDivisionError")
    assert run.state.status == SessionStatus.completed and speakers(run)[-1] == "Reviewer"


@pytest.mark.usefixtures("engine_mode")
def test_the_userdriven_greeting_opens_the_chat_without_a_model_call() -> None:
    run = _run(Carry.memory, "Escalation")

    first = [e for e in run.events if e.type in ("agent_message", "user_message", "input_request")][:3]
    assert [(e.type, getattr(e, "agent", None)) for e in first] == [
        ("agent_message", "Frontline"),
        ("input_request", None),
        ("user_message", None),
    ]
    assert first[0].content == "Hello, this is the phone company. How can I help?"
    # The Frontline's first model call is its reply to the user's message: it read the greeting on record.
    frontline = [json.loads(r.body) for r in run.model_requests if r.agent == "Frontline"]
    assert "phone company" in json.dumps(frontline[0]["messages"])
    assert run.messages[1].content == "Hello, this is the phone company. How can I help?"


def test_a_first_step_that_brings_the_users_message_greets_first() -> None:
    from runtime_core.engine.step import run_step
    from runtime_core.session import UserInput, new_session

    workflow = load_workflow(ORIGINAL / "Escalation")
    script = load_script(ORIGINAL / "Escalation" / "script.yaml")
    state = new_session(workflow, "s-greet")
    text = "My bill doubled and I want to talk to a manager."

    result = run_step(
        state, workflow, ScriptedModel(script), UserInput(input_id="i1", kind="message", text=text)
    )

    # As the worker runs it (a user-driven session's first step carries the user's message).
    assert [(m.speaker, m.content) for m in result.state.messages[:3]] == [
        ("user", "Hello, this is the phone company. How can I help?"),
        ("Frontline", "Hello, this is the phone company. How can I help?"),
        ("user", text),
    ]


def test_the_greeting_of_an_agent_with_a_structured_output_is_shown_as_text() -> None:
    from runtime_core.engine.step import run_step
    from runtime_core.llm.script import Script
    from runtime_core.session import new_session

    workflow = load_workflow(ORIGINAL / "Intake")  # its Interviewer answers with a Summary model
    result = run_step(new_session(workflow, "s-intake"), workflow, ScriptedModel(Script()))

    # The greeting is the workflow's text, not the agent's output: shown, never checked against the model.
    said = [(e.type, getattr(e, "agent", None)) for e in result.events]
    assert ("agent_message", "Interviewer") in said and not events_of(result, "error")
    assert events_of(result, "agent_message")[0].content == "Tell me about the app you want."
    assert said[-1] == ("input_request", None)


def _helpdesk_saying_goodbye(tmp_path: Path) -> Path:
    import shutil

    folder = tmp_path / "HelpDesk"
    shutil.copytree(HELPDESK, folder)
    (folder / "script.yaml").write_text(
        json.dumps(
            {
                "user_inputs": ["All good now, thanks. Bye!"],
                "replies": {"Greeter": ["Hello! What went wrong?"], "user": [{"handoff": "terminate"}]},
            }
        )
    )
    return folder


@pytest.mark.usefixtures("engine_mode")
def test_a_model_judged_rule_from_the_user_is_asked_once_per_user_message() -> None:
    run = _run(Carry.memory)

    # HelpDesk's string_llm rule from the user (goodbye -> terminate): the model is asked after the user's
    # message with the rule as AG2 names it; it calls nothing, so the after-work to the Classifier stands.
    (judge,) = [json.loads(r.body) for r in run.model_requests if r.agent == "user"]
    assert [t["function"]["name"] for t in judge["tools"]] == ["transfer_to_terminate_1"]
    assert judge["messages"][-1]["content"] == "My invoice shows the wrong amount."
    assert speakers(run)[3] == "Classifier"


@pytest.mark.parametrize("carry", [Carry.memory, Carry.process])
def test_a_model_judged_rule_from_the_user_hands_off(tmp_path: Path, carry: Carry) -> None:
    folder = _helpdesk_saying_goodbye(tmp_path)
    workflow = load_workflow(folder)
    script = load_script(folder / "script.yaml")

    run = drive(
        workflow,
        ScriptedModel(script),
        scripted_inputs(list(script.user_inputs)),
        carry=carry,
        script_path=folder / "script.yaml",
    )

    assert run.state.status == SessionStatus.completed
    assert speakers(run) == ["user", "Greeter", "user"]
    assert [(e.from_agent, e.to, e.reason) for e in events_of(run, "handoff")][-1] == (
        "user",
        "terminate",
        "llm: transfer_to_terminate_1",
    )
    assert run.state.context_variables["desk_closed"] is True  # after_chat ran at the end


def test_a_required_config_variable_that_is_unset_stops_the_session_from_starting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    folder = tmp_path / "HelpDesk"
    shutil.copytree(HELPDESK, folder)
    variables = folder / "context_variables.yaml"
    variables.write_text(
        variables.read_text().replace(
            "env_var: HELPDESK_SUPPORT_TIER", "env_var: HELPDESK_SUPPORT_TIER\n      required: true"
        )
    )
    workflow = load_workflow(folder)
    script = load_script(folder / "script.yaml")
    monkeypatch.delenv("HELPDESK_SUPPORT_TIER", raising=False)

    refused = drive(workflow, ScriptedModel(script), scripted_inputs(list(script.user_inputs)))

    (error,) = events_of(refused, "error")
    assert (error.code, error.recoverable) == ("workflow_error", False)
    assert "HELPDESK_SUPPORT_TIER (required), which is not set" in error.message
    assert refused.state.messages == []

    monkeypatch.setenv("HELPDESK_SUPPORT_TIER", "gold")
    run = drive(workflow, ScriptedModel(script), scripted_inputs(list(script.user_inputs)))
    assert run.state.context_variables["support_tier"] == "gold"


class _Customers:
    """A ReferenceReader over one tenant's documents; records every lookup it answers."""

    def __init__(self) -> None:
        self.lookups: list[Any] = []

    def read_reference(self, tenant: Any, lookup: Any) -> dict[str, Any] | None:
        self.lookups.append((tenant, lookup))
        if lookup.filter == {"app_id": "shop-1", "user_id": "u-7", "active": True}:
            return {"_id": "c1", "plan": "family"}
        return None


@pytest.mark.parametrize("carry", [Carry.memory, Carry.json, Carry.process])
def test_a_data_reference_read_before_the_first_step_is_what_every_step_sees(carry: Carry) -> None:
    from runtime_core.data_references import resolve_references
    from runtime_core.session import new_session

    workflow = load_workflow(ORIGINAL / "Escalation")
    script_path = ORIGINAL / "Escalation" / "script.yaml"
    script = load_script(script_path)
    state = new_session(workflow, "s-ref", app_id="shop-1", user_id="u-7")
    customers = _Customers()
    resolve_references(workflow, state, customers)

    run = drive(
        workflow,
        ScriptedModel(script),
        scripted_inputs(list(script.user_inputs)),
        carry=carry,
        state=state,
        script_path=script_path,
    )

    # One lookup, scoped to the session's tenant; the value persisted with the context, so a fresh process
    # per step shows the Supervisor the same plan as an uninterrupted run.
    ((tenant, lookup),) = customers.lookups
    assert (tenant.app_id, tenant.user_id) == ("shop-1", "u-7")
    assert (lookup.database, lookup.collection, lookup.fields) == ("phoneco", "Customers", ["plan"])
    assert run.state.context_variables["customer_plan"] == "family"
    supervisor = _system_messages(run, "Supervisor")
    assert supervisor and all("CUSTOMER_PLAN: family" in m for m in supervisor)
    assert run.state.status == SessionStatus.completed


def test_an_unresolved_data_reference_keeps_its_default() -> None:
    run = _run(Carry.memory, "Escalation")

    assert run.state.context_variables["customer_plan"] == "unknown"


@pytest.mark.usefixtures("engine_mode")
def test_visual_agents_hide_every_event_of_a_hidden_agent() -> None:
    run = _run(Carry.memory)

    by_agent = {(e.type, getattr(e, "agent", None)) for e in run.events}
    assert ("agent_message", "Greeter") in by_agent and ("agent_message", "Resolver") in by_agent
    # The Classifier is not in visual_agents: no message, tool call, tool result or structured output; who
    # speaks (speaker_selected) and handoffs stay visible, so the client can follow the run.
    assert {kind for kind, who in by_agent if who == "Classifier"} == {"speaker_selected"}
    assert events_of(run, "structured_output") == []
    assert events_of(run, "tool_call") == [] and events_of(run, "tool_result") == []


@pytest.mark.usefixtures("engine_mode")
def test_escalation_runs_with_the_original_meaning() -> None:
    run = _run(Carry.memory, "Escalation")

    # UserDriven: the customer opens; the model-judged rule hands Frontline's turn to the Supervisor; the
    # tool changes the context in place (no ReplyResult, postponed annotations, as the original's tools);
    # the pre-reply expression then ends the chat before the Supervisor speaks again.
    assert run.state.status == SessionStatus.completed
    executor = "_Group_Tool_Executor"
    # UserDriven with initial_message_to_user: the seed and the Frontline's greeting (no model call) open.
    assert speakers(run) == [
        "user",
        "Frontline",
        "user",
        "Frontline",
        executor,
        "Supervisor",
        executor,
        "Supervisor",
    ]
    assert run.messages[-1].content == "[Handing off to Terminate]"  # AG2's own pre-reply handoff
    assert run.state.context_variables["case_closed"] is True
    assert run.state.context_variables["resolution"] == "refund of the extra charge"
    assert [(e.from_agent, e.to) for e in events_of(run, "handoff")][-1] == ("Supervisor", "Terminate")


@pytest.mark.usefixtures("engine_mode")
@pytest.mark.parametrize("name", RUNNABLE)
def test_one_step_per_json_round_trip_equals_uninterrupted(name: str) -> None:
    in_memory = _run(Carry.memory, name)
    through_json = _run(Carry.json, name)

    assert in_memory.steps >= (2 if name == "Planner" else 4)
    assert comparable(through_json) == comparable(in_memory)


@pytest.mark.parametrize("name", RUNNABLE)
def test_one_step_per_fresh_process_equals_uninterrupted(name: str) -> None:
    in_memory = _run(Carry.memory, name)
    fresh = _run(Carry.process, name)

    assert fresh.steps == in_memory.steps
    assert comparable(fresh) == comparable(in_memory)


def test_a_visible_agents_tool_events_still_reach_the_client(tmp_path: Path) -> None:
    tool_source = "def look(q: str) -> str:\n    return 'found ' + q\n"
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", tools=["look"]), agent("B", tools=["look"])],
        tools=[{"name": "look", "file": "tools/kit.py", "function": "look"}],
        tool_source=tool_source,
        handoffs=[
            {"from_agent": "A", "to_agent": "B", "condition_type": "after_work"},
            {"from_agent": "B", "to_agent": "terminate", "condition_type": "after_work"},
        ],
        startup_mode="agent_first",
        visible_agents=["B"],
    )
    call: dict[str, Any] = {"tool_calls": [{"name": "look", "arguments": {"q": "x"}}]}
    run, _ = play(workflow, {"replies": {"A": [call, "a done"], "B": [call, "b done"]}})

    assert [
        (e.type, e.agent) for e in run.events if e.type in ("tool_call", "tool_result", "agent_message")
    ] == [
        ("tool_call", "B"),
        ("tool_result", "B"),
        ("agent_message", "B"),
    ]


def test_mozaiks_run_prints_the_errors_of_a_broken_original_workflow(tmp_path: Path) -> None:
    import io
    import shutil

    from runtime_core.cli import build_parser
    from runtime_core.commands.run import EXIT_ERROR, run

    broken = tmp_path / "HelpDesk"
    shutil.copytree(HELPDESK, broken)
    handoffs = broken / "handoffs.yaml"
    handoffs.write_text(handoffs.read_text().replace("target_agent: Resolver", "target_agent: Resolvr"))
    out = io.StringIO()

    code = run(build_parser().parse_args(["run", str(broken)]), out=out)

    assert code == EXIT_ERROR
    text = out.getvalue()
    assert "handoffs.yaml:20: handoff_rules[3].target_agent: unknown agent 'Resolvr'" in text
    assert "Traceback" not in text


def test_mozaiks_run_says_what_it_loads_but_does_not_run(tmp_path: Path) -> None:
    import io
    import shutil

    from runtime_core.cli import build_parser
    from runtime_core.commands.run import EXIT_OK, run

    folder = tmp_path / "HelpDesk"
    shutil.copytree(HELPDESK, folder)
    orchestrator = folder / "orchestrator.yaml"
    orchestrator.write_text(
        orchestrator.read_text()
        + "runtime_extensions:\n  - kind: api_router\n    entrypoint: x.routes:router\n"
    )
    out = io.StringIO()

    code = run(build_parser().parse_args(["run", str(folder)]), out=out)

    assert code == EXIT_OK
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "warning: orchestrator.yaml:14: runtime_extensions[0]: runtime extension api_router "
        "(x.routes:router) is not supported by this runtime; it is not loaded"
    )
    assert lines[1].startswith("▶ HelpDesk on the scripted model")


def test_auto_pattern_with_one_agent_and_no_user_speaks_until_max_turns(tmp_path: Path) -> None:
    folder = tmp_path / "subscription_helper"
    (folder / "tools").mkdir(parents=True)
    (folder / "orchestrator.yaml").write_text(
        "max_turns: 2\nstartup_mode: AgentDriven\norchestration_pattern: AutoPattern\n"
        "human_in_the_loop: false\n"
    )
    (folder / "agents.yaml").write_text(
        "agents:\n  Helper:\n    system_message: Answer plan questions.\n    auto_tool_mode: false\n"
    )
    workflow = load_workflow(folder)
    # AG2's auto selection still asks its model (the pattern's internal agents are candidates too).
    script = {
        "replies": {
            "Helper": ["You are on the pro plan.", "Anything else?"],
            "speaker_selection": ["Helper"] * 2,
        }
    }

    run, _ = play(workflow, script)

    assert workflow.name == "subscription_helper"  # from the folder
    assert speakers(run) == ["_User", "Helper", "Helper"]
    assert run.state.status == SessionStatus.completed
    assert events_of(run, "run_completed")[-1].status == "max_turns"
