"""Shared pieces of the spec models: the strict base, identifiers, the model settings (``LLMConfig``) of the
orchestrator and the agents, and the settings the original MozaiksAI dialect brings (hooks, lifecycle tools,
state triggers, data references, UI settings, runtime extensions).

Those original settings are kept in the spec with their full content; what the engine does not run is listed
once in ``runtime_core.workflow.pending``, which turns each occurrence into a warning naming file, line and
field: never a silently ignored setting.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", max_length=64)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Dialect(StrEnum):
    """Which file dialect a workflow folder was written in."""

    mozaiks = "mozaiks"
    original = "original"


class UIMode(StrEnum):
    inline = "inline"
    artifact = "artifact"


class ToolUI(Strict):
    """How the client shows a UI tool: a named component, inline in the chat or as an artifact panel."""

    component: str | None = None
    """Name of the client component that renders the tool's payload."""
    mode: UIMode | None = None
    """inline (in the chat) or artifact (a side panel)."""


class LifecycleTrigger(StrEnum):
    before_chat = "before_chat"
    after_chat = "after_chat"
    before_agent = "before_agent"
    after_agent = "after_agent"


class LifecycleTool(Strict):
    """A function run at a point of the chat's life rather than called by a model (engine.lifecycle)."""

    trigger: LifecycleTrigger
    """before_chat, after_chat, before_agent or after_agent."""
    agent: Identifier | None = None
    """The agent for before_agent / after_agent."""
    file: str
    """Python file inside tools/."""
    function: Identifier
    """Top-level function of that file."""
    description: str = ""
    """What it does."""
    ui: ToolUI | None = None
    """Component shown when the lifecycle tool asks the user something."""


class HookType(StrEnum):
    update_agent_state = "update_agent_state"
    process_message_before_send = "process_message_before_send"
    process_last_received_message = "process_last_received_message"
    process_all_messages_before_reply = "process_all_messages_before_reply"


class Hook(Strict):
    """An AG2 agent hook (hooks.yaml), registered with ConversableAgent.register_hook."""

    type: HookType
    """The AG2 hook point."""
    agent: str = "all"
    """Agent name, or all."""
    file: str
    """Python file inside tools/."""
    function: Identifier
    """Top-level function of that file."""


class HooksFile(Strict):
    """hooks.yaml: functions AG2 calls at fixed points of an agent's reply."""

    hooks: list[Hook] = Field(default_factory=list)
    """The hooks."""


class DataReference(Strict):
    """A read-only database lookup, scoped to the session's tenant, that fills a context variable when the
    session starts."""

    db_type: str = "mongodb"
    """Database kind; mongodb."""
    database_name: str | None = None
    """Database to read."""
    collection: str
    """Collection to read."""
    query_template: dict[str, Any] = Field(default_factory=dict)
    """Filter; ``{{runtime.app_id}}``-style placeholders name the session's tenant."""
    fields: list[str] = Field(default_factory=list)
    """Fields of the found document to take."""


class TriggerMatch(Strict):
    equals: str | None = None
    """The agent's text (stripped) equals this."""
    contains: str | None = None
    """The agent's text contains this."""
    regex: str | None = None
    """The agent's text matches this regular expression."""


class StateTrigger(Strict):
    """What sets a state variable: an agent's text, or a key of a UI tool's answer (engine.triggers)."""

    type: str
    """agent_text or ui_response."""
    agent: str | None = None
    """agent_text: the agent whose text is watched."""
    match: TriggerMatch | None = None
    """agent_text: how the text must match."""
    ui_hidden: bool = False
    """agent_text: hide the matching text from the user."""
    tool: str | None = None
    """ui_response: the UI tool whose answer is read."""
    response_key: str | None = None
    """ui_response: the key of the answer whose value is taken."""


class RuntimeExtension(Strict):
    """An entry of orchestrator.yaml ``runtime_extensions`` (original dialect): kept, not supported."""

    kind: str | None = None
    """What it adds, e.g. api_router, startup_service, lifecycle_hooks."""
    entrypoint: str | None = None
    """module:attribute of the original platform that provides it."""
    config: dict[str, Any] | None = None
    """Its settings."""


class LLMConfig(Strict):
    """Model settings. The API key itself never appears in YAML: only the name of the variable holding it."""

    model: str | None = None
    """Model name, e.g. gpt-4o-mini. An agent's value overrides the orchestrator's."""
    api_type: Literal["openai"] | None = None
    """Client protocol; only OpenAI-compatible APIs are supported."""
    base_url: str | None = None
    """Base URL of an OpenAI-compatible API; the OpenAI API when unset."""
    api_key_env: Annotated[str, StringConstraints(pattern=r"^[A-Z_][A-Z0-9_]*$")] | None = None
    """Name of the environment variable holding the API key (never the key itself)."""
    temperature: Annotated[float, Field(ge=0.0, le=2.0)] | None = None
    """Sampling temperature, 0 to 2."""
    max_tokens: Annotated[int, Field(gt=0)] | None = None
    """Upper bound on tokens per model reply."""
    timeout: Annotated[float, Field(gt=0)] | None = None
    """Seconds to wait for one model call."""
