"""Session events: what the server tells a client about a run.

Every event is numbered per session (``seq`` starts at 1, no gaps) and stored, so a client that reconnects
with the last ``seq`` it saw gets exactly the rest. The engine numbers them (it knows ``last_event_seq``);
the store refuses a duplicate ``(session_id, seq)``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from runtime_core.session import InputRequest, ToolCall, utcnow


class EventBase(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: str
    seq: int = Field(ge=1)
    ts: datetime = Field(default_factory=utcnow)


class RunStarted(EventBase):
    type: Literal["run_started"] = "run_started"
    workflow: str
    agents: list[str]


class UserMessage(EventBase):
    type: Literal["user_message"] = "user_message"
    input_id: str
    text: str


class SpeakerSelected(EventBase):
    type: Literal["speaker_selected"] = "speaker_selected"
    agent: str
    turn: int


class AgentMessage(EventBase):
    type: Literal["agent_message"] = "agent_message"
    agent: str
    content: str
    turn: int


class ToolCallEvent(EventBase):
    type: Literal["tool_call"] = "tool_call"
    agent: str
    call: ToolCall
    ui: bool = False


class ToolResult(EventBase):
    type: Literal["tool_result"] = "tool_result"
    agent: str
    tool_call_id: str
    name: str
    content: str
    is_error: bool = False


class Handoff(EventBase):
    type: Literal["handoff"] = "handoff"
    from_agent: str
    to: str
    reason: str = ""


class StructuredOutput(EventBase):
    type: Literal["structured_output"] = "structured_output"
    agent: str
    model: str
    data: dict[str, Any]


class InputRequested(EventBase):
    type: Literal["input_request"] = "input_request"
    request: InputRequest


class Usage(EventBase):
    type: Literal["usage"] = "usage"
    prompt_tokens: int
    completion_tokens: int
    cost: float
    total_prompt_tokens: int
    total_completion_tokens: int
    total_cost: float


class RunCompleted(EventBase):
    type: Literal["run_completed"] = "run_completed"
    status: Literal["completed", "cancelled", "max_turns"]
    reason: str = ""


class ContextUpdated(EventBase):
    """The step changed the context variables the client may see (all but those read from the environment):
    ``changed`` names those set or changed, ``removed`` those gone, ``variables`` holds all of them."""

    type: Literal["context_updated"] = "context_updated"
    changed: list[str]
    removed: list[str] = Field(default_factory=list)
    variables: dict[str, Any]


class ErrorEvent(EventBase):
    type: Literal["error"] = "error"
    code: str
    message: str
    # True when the session can go on (send the input again, or the next delivery retries the step).
    recoverable: bool = True
    # invalid_input, input_not_consumed: the client's msg_id of the input it is about.
    input_id: str | None = None


Event = Annotated[
    RunStarted
    | UserMessage
    | SpeakerSelected
    | AgentMessage
    | ToolCallEvent
    | ToolResult
    | Handoff
    | StructuredOutput
    | InputRequested
    | Usage
    | ContextUpdated
    | RunCompleted
    | ErrorEvent,
    Field(discriminator="type"),
]

EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)


def parse_event(data: dict[str, Any]) -> Event:
    return EVENT_ADAPTER.validate_python(data)
