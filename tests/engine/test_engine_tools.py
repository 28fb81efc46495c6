"""Tools: context updates, failures, UI tools (input mid-run) and structured outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from engine_kit import agent, events_of, example, play, write_workflow
from pydantic import ValidationError

from runtime_core.engine.outputs import build_output_models
from runtime_core.engine.step import run_step
from runtime_core.engine.toolbox import ToolLoadError, load_tools
from runtime_core.llm.script import load_script
from runtime_core.llm.scripted import ScriptedModel
from runtime_core.session import SessionStatus, UserInput, new_session
from runtime_core.workflow.spec import OutputField, OutputModel

BROKEN_TOOL = '''
def lookup(order_id: str) -> str:
    """Look an order up."""
    raise ValueError(f"order service is down for {order_id}")
'''


def test_agent_tool_updates_context_through_reply_result() -> None:
    workflow, script_path = example("CustomerSupport")
    run, model = play(workflow, load_script(script_path))

    assert run.state.context_variables["orders_checked"] == 1
    result = events_of(run, "tool_result")[0]
    assert (result.name, result.content, result.is_error) == (
        "check_status",
        "Order A100: shipped, arriving Thursday",
        False,
    )
    # The tool's schema reached the model without the injected context_variables parameter.
    tools = json.loads(model.requests[0].body)["tools"]
    check = next(t for t in tools if t["function"]["name"] == "check_status")
    assert list(check["function"]["parameters"]["properties"]) == ["order_id"]


def test_a_tool_that_raises_is_an_error_result_and_the_run_goes_on(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", tools=["lookup"])],
        tools=[{"name": "lookup", "file": "tools/kit.py", "function": "lookup"}],
        tool_source=BROKEN_TOOL,
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )
    script = {
        "replies": {"A": [{"tool_calls": [{"name": "lookup", "arguments": {"order_id": "Z9"}}]}, "Sorry."]}
    }
    run, _ = play(workflow, script)

    result = events_of(run, "tool_result")[0]
    assert result.is_error and "order service is down for Z9" in result.content
    errors = events_of(run, "error")
    assert [(e.code, e.recoverable) for e in errors] == [("tool_error", True)]
    assert "ValueError: order service is down for Z9" in errors[0].message
    assert run.messages[-1].content == "Sorry."
    assert run.state.status == SessionStatus.completed


def test_ui_tool_asks_the_client_mid_run_and_its_answer_is_the_result() -> None:
    workflow, script_path = example("TripPlanner")
    model = ScriptedModel(load_script(script_path))
    state = new_session(workflow, "trip")
    state = run_step(state, workflow, model).state
    first = UserInput(input_id="m1", kind="message", text="A weekend in Lisbon please")
    asked = run_step(state, workflow, model, first)

    request = asked.state.pending_input
    assert asked.state.status == SessionStatus.awaiting_input and not asked.enqueue_next
    assert request is not None and request.kind == "ui_tool" and request.tool_name == "choose_dates"
    assert request.arguments == {"destination": "Lisbon"}
    assert request.ui == {
        "component": "date_range_picker",
        "title": "When do you want to travel to Lisbon?",
        "min_nights": 1,
    }
    assert asked.events[-1].type == "input_request" and asked.events[-1].request == request
    assert [e.ui for e in asked.events if e.type == "tool_call"] == [True]

    wrong = UserInput(input_id="a0", kind="answer", request_id="not-it", data={"start": "x"})
    refused = run_step(asked.state, workflow, model, wrong)
    assert [(e.code, e.recoverable) for e in refused.events] == [("invalid_input", True)]
    assert refused.state.messages == asked.state.messages and refused.state.pending_input == request

    answer = UserInput(
        input_id="a1",
        kind="answer",
        request_id=request.request_id,
        data={"start": "2026-06-05", "end": "2026-06-08"},
    )
    answered = run_step(refused.state, workflow, model, answer)
    tool_message = answered.new_messages[0]
    assert (tool_message.role, tool_message.tool_call_id) == ("tool", request.tool_call_id)
    assert tool_message.content == "The user chose 2026-06-05 to 2026-06-08."
    assert answered.state.context_variables["dates_chosen"] is True
    assert [e.seq for e in answered.events] == list(
        range(refused.state.last_event_seq + 1, refused.state.last_event_seq + 1 + len(answered.events))
    )


def test_structured_output_is_validated_and_reported() -> None:
    workflow, script_path = example("ContentReview")
    run, model = play(workflow, load_script(script_path))

    [output] = events_of(run, "structured_output")
    assert output.agent == "Editor" and output.model == "ReviewVerdict"
    assert output.data["decision"] == "revise" and output.data["score"] == 7
    editor_request = json.loads(model.requests[-1].body)
    assert editor_request["response_format"]["type"] == "json_schema"
    assert editor_request["response_format"]["json_schema"]["name"] == "ReviewVerdict"
    assert [r.purpose for r in model.requests] == ["reply", "reply", "structured_output"]
    assert not any(e.type == "agent_message" and e.agent == "Editor" for e in run.events)


def test_structured_output_that_does_not_match_is_an_error_event(tmp_path: Path) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", structured_output="Verdict")],
        outputs=[
            {"name": "Verdict", "fields": [{"name": "ok", "type": "bool"}, {"name": "note", "type": "str"}]}
        ],
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )
    run, _ = play(workflow, {"replies": {"A": [{"output": {"ok": "maybe"}}]}})

    assert [e.code for e in events_of(run, "error")] == ["structured_output_invalid"]
    assert events_of(run, "structured_output") == []


def test_output_models_support_nesting_enums_lists_and_optional_fields() -> None:
    specs = [
        OutputModel(
            name="Review",
            fields=[
                OutputField(name="verdict", type="str", enum=["yes", "no"]),
                OutputField(name="points", type="list[Point]"),
                OutputField(name="note", type="str", required=False),
            ],
        ),
        OutputModel(
            name="Point",
            fields=[OutputField(name="text", type="str"), OutputField(name="weight", type="int")],
        ),
    ]
    models = build_output_models(specs)

    review = models["Review"].model_validate({"verdict": "yes", "points": [{"text": "clear", "weight": 2}]})
    assert review.model_dump() == {"verdict": "yes", "points": [{"text": "clear", "weight": 2}], "note": None}
    with pytest.raises(ValidationError):
        models["Review"].model_validate({"verdict": "maybe", "points": []})


POSTPONED_TOOL = """
from __future__ import annotations

from typing import Annotated, Any, Literal

Size = Literal["small", "large"]


def pack(count: Annotated[int, "How many boxes"], size: Size = "small", context_variables: Any = None) -> str:
    \"\"\"Pack boxes.\"\"\"
    assert isinstance(count, int), type(count)
    return f"packed {count} {size} boxes"
"""


def test_tool_module_with_postponed_annotations_gets_a_typed_schema_and_runs(tmp_path: Path) -> None:
    # Six of seven published MozaiksAI workflows write their tools like this: the annotations are strings
    # until resolved in the tool module's own namespace.
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", tools=["pack"])],
        tools=[{"name": "pack", "file": "tools/kit.py", "function": "pack"}],
        tool_source=POSTPONED_TOOL,
        handoffs=[{"from_agent": "A", "to_agent": "terminate", "condition_type": "after_work"}],
        startup_mode="agent_first",
    )
    script = {"replies": {"A": [{"tool_calls": [{"name": "pack", "arguments": {"count": "3"}}]}, "Done."]}}
    run, model = play(workflow, script)

    tools = json.loads(model.requests[0].body)["tools"]
    parameters = tools[0]["function"]["parameters"]
    assert parameters["properties"]["count"] == {"type": "integer", "description": "How many boxes"}
    assert parameters["properties"]["size"]["enum"] == ["small", "large"]
    assert parameters["required"] == ["count"]
    assert "context_variables" not in parameters["properties"]
    result = events_of(run, "tool_result")[0]
    assert (result.content, result.is_error) == ("packed 3 small boxes", False)


def test_an_annotation_that_names_nothing_is_refused_naming_file_and_function(
    tmp_path: Path,
) -> None:
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", tools=["lookup"])],
        tools=[{"name": "lookup", "file": "tools/kit.py", "function": "lookup"}],
        tool_source=BROKEN_TOOL,
    )
    source = "from __future__ import annotations\n\ndef lookup(order: Order) -> str:\n    return ''\n"
    (tmp_path / "tools" / "kit.py").write_text(source)

    with pytest.raises(ToolLoadError, match=r"tools/kit\.py: function 'lookup'.*name 'Order' is not defined"):
        load_tools(workflow.model_copy(update={"content_hash": "1" * 64}))


def test_two_tool_files_with_one_name_in_two_subfolders_are_two_modules(tmp_path: Path) -> None:
    for folder, word in (("orders", "order"), ("refunds", "refund")):
        (tmp_path / "tools" / folder).mkdir(parents=True)
        (tmp_path / "tools" / folder / "kit.py").write_text(f"def {word}() -> str:\n    return '{word}'\n")
    workflow = write_workflow(
        tmp_path,
        agents=[agent("A", tools=["order", "refund"])],
        tools=[
            {"name": "order", "file": "tools/orders/kit.py", "function": "order"},
            {"name": "refund", "file": "tools/refunds/kit.py", "function": "refund"},
        ],
    )

    loaded = load_tools(workflow)

    assert loaded["order"].function() == "order" and loaded["refund"].function() == "refund"
