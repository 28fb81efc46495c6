"""Model-judged rules from the user (original dialect ``string_llm`` with ``source_agent: user``).

AG2 offers an agent's ``OnCondition`` handoffs to that agent's own model, but the user's reply is human input:
no model runs for it, so such a rule would never fire. The engine asks the model itself, once per user
message, right after the message and before the next speaker is chosen, the way AG2 asks an agent: the
transcript, a system message naming the rules, and one ``transfer_to_<target>_<n>`` function per rule (in
the order written). A call of one of them hands the turn to its target; no call leaves the choice to the
other rules. Rules from the user that test the context come first (as AG2 evaluates context conditions before
the model's functions): when one of them holds, no model call is made. The call is metered like any other
(agent ``user``, purpose ``speaker_selection``); its result lives in the persisted next speaker, so a
resumed step never asks again.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from autogen.agentchat.group import ContextExpression

from runtime_core.engine.blueprint import llm_config
from runtime_core.session import USER_SPEAKER
from runtime_core.workflow.spec import USER_TARGET, ConditionType, Handoff

if TYPE_CHECKING:
    from runtime_core.engine.turn import Turn

# A choice of the next speaker, metered as one (UsageRecord purposes).
PURPOSE = "speaker_selection"
INSTRUCTION = (
    "You route the user's last message. Call the transfer function whose condition the message meets; "
    "call none if no condition is met."
)


def user_llm_rules(turn: Turn) -> list[Handoff]:
    return [
        h for h in turn.workflow.handoffs if h.from_agent == USER_TARGET and h.kind() == ConditionType.llm
    ]


def _context_rule_holds(turn: Turn) -> bool:
    return any(
        h.from_agent == USER_TARGET
        and h.kind() == ConditionType.context
        and h.expression
        and ContextExpression(h.expression).evaluate(turn.chat.context)
        for h in turn.workflow.handoffs
    )


def _function_name(target: str, index: int) -> str:
    normalized = {"user": "revert_to_user", "terminate": "terminate"}.get(target, target)
    return f"transfer_to_{normalized}_{index}"


def judge_user_message(turn: Turn) -> tuple[Handoff, str] | None:
    """The rule the model says the user's last message meets, and the function it called; None for none."""
    rules = user_llm_rules(turn)
    if not rules or _context_rule_holds(turn):
        return None
    from autogen import ConversableAgent

    functions = {_function_name(h.to_agent, i + 1): h for i, h in enumerate(rules)}
    tools = [
        {
            "type": "function",
            "function": {
                "name": name,
                "description": h.condition or h.description,
                "parameters": {"type": "object", "properties": {}},
            },
        }
        for name, h in functions.items()
    ]
    config = llm_config(turn.compiled.manager_llm, turn.model, turn.chat.http_client, USER_SPEAKER, PURPOSE)
    # Built like the agents' clients (engine.blueprint): same provider, metered, headers naming the call.
    judge = ConversableAgent(
        name=USER_SPEAKER, llm_config=config, human_input_mode="NEVER", code_execution_config=False
    )
    client = judge.client
    assert client is not None
    messages = [{"role": "system", "content": INSTRUCTION}]
    for message in turn.state.messages:
        role = "user" if message.role == "user" else "assistant"
        if message.content:
            messages.append({"role": role, "content": message.content})
    response = client.create(messages=messages, tools=tools)
    for choice in response.choices:
        for call in getattr(choice.message, "tool_calls", None) or []:
            name = call.function.name
            if name in functions:
                return functions[name], name
            match = re.match(r"^transfer_to_(.+)_\d+$", name)
            if match:  # a name the model bent: its target decides
                found = next((h for h in rules if h.to_agent == match.group(1)), None)
                if found is not None:
                    return found, name
    return None
