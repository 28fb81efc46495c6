"""The script a scripted model replays: ``workflows/<Name>/script.yaml``.

A script lists, per agent, the replies its model gives, in the order the agent calls the model (its n-th call
gets the n-th reply), and the user's inputs for offline demo runs. The key ``speaker_selection`` holds the
replies of the group manager's speaker-selection model (``auto`` strategy). Example::

    user_inputs:
      - "Where is my order A100?"
      - answer: {start: "2026-06-01", end: "2026-06-07"}   # answers a UI tool
    replies:
      SupportAgent:
        - tool_calls: [{name: check_status, arguments: {order_id: A100}}]
        - content: "Order A100 has shipped."
        - handoff: EscalationAgent   # calls AG2's transfer function; ``user``/``terminate`` too
      Editor:
        - output: {approved: true, summary: "Ready"}   # a structured output, sent as JSON text
    fallback: echo   # optional: calls past these replies get the echo model's reply instead of failing
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

SPEAKER_SELECTION_KEY = "speaker_selection"


class ScriptedToolCall(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)

    def arguments_json(self) -> str:
        return self.arguments if isinstance(self.arguments, str) else json.dumps(self.arguments)


class ScriptedReply(BaseModel):
    """One model response: content and/or tool_calls, or a handoff, or a structured output."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    content: str | None = None
    tool_calls: list[ScriptedToolCall] = Field(default_factory=list)
    handoff: str | None = None
    output: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ScriptedReply:
        kinds = [
            self.content is not None or bool(self.tool_calls),
            self.handoff is not None,
            self.output is not None,
        ]
        if sum(kinds) != 1:
            raise ValueError("a reply needs exactly one of: content/tool_calls, handoff, output")
        return self


class ScriptedUserInput(BaseModel):
    """A user's message (``text``) or the answer to a UI tool (``answer``: the data the client sends)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = ""
    answer: dict[str, Any] | None = None


class Script(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    replies: dict[str, list[ScriptedReply]] = Field(default_factory=dict)
    user_inputs: list[ScriptedUserInput] = Field(default_factory=list)
    # A script need only hold the replies that matter (a tool call, a handoff, a state trigger's text).
    fallback: Literal["echo"] | None = Field(
        default=None,
        description="echo: a call the script has no reply for gets the echo model's reply instead of failing",
    )

    @model_validator(mode="before")
    @classmethod
    def _plain_strings(cls, data: Any) -> Any:
        # A bare string is shorthand: a text reply, or a user's text message.
        if isinstance(data, dict):
            data = dict(data)
            replies = data.get("replies") or {}
            data["replies"] = {
                agent: [{"content": r} if isinstance(r, str) else r for r in (items or [])]
                for agent, items in replies.items()
            }
            data["user_inputs"] = [
                {"text": u} if isinstance(u, str) else u for u in (data.get("user_inputs") or [])
            ]
        return data

    def reply(self, agent: str, call: int) -> ScriptedReply | None:
        replies = self.replies.get(agent, [])
        return replies[call] if call < len(replies) else None


def load_script(path: Path) -> Script:
    data = yaml.safe_load(Path(path).read_text()) or {}
    return Script.model_validate(data)
