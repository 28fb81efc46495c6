"""How a step stops to wait for the client, and how the client's answer resumes it.

A turn ends awaiting input in three ways: the user's turn (``_await_user``); a UI tool of the reply, whose
function built what the client renders (``_await_ui``; a reply may call several: they are asked one after
the other); and a tool that waits for the UI in the middle of its body (``_await_tool_wait``; see
``runtime_core.tools.ask_ui``). Answers to the last two are recorded in ``state.engine[UI_ANSWERS]`` by tool
call id, in the order asked, and replayed every time the reply's tools run, until they complete: a step that
runs the tools again from the start returns the same answers at the same points, in any process.

``Finished`` stops a turn; ``engine.step`` turns the closing event it left into the step's last event.
"""

from __future__ import annotations

import copy
import json
from typing import TYPE_CHECKING, Any

from runtime_core.engine.auto_tools import AUTO_PENDING, resume_auto_tool
from runtime_core.engine.failures import UIToolFailed
from runtime_core.engine.humanio import asks_human
from runtime_core.engine.toolbox import ui_payload
from runtime_core.engine.triggers import ui_response_updates
from runtime_core.events import InputRequested
from runtime_core.session import USER_SPEAKER, ChatMessage, InputRequest, SessionStatus, ToolCall

if TYPE_CHECKING:
    from runtime_core.engine.turn import Turn
    from runtime_core.tools import UIWait

# state.engine key: the reply whose (non-UI) tool calls the next step executes.
TOOLS_PENDING = "tools_pending"
# state.engine key: the client's answers for the reply whose tools are being executed, by tool call id, in
# the order asked (UI tools, and tools that wait for the UI mid-body); replayed until its tools complete.
UI_ANSWERS = "ui_answers"


class Finished(Exception):
    """The turn stops (the session finished, or waits for input); ``final`` holds the closing event."""


class Asking:
    """The waits of a ``Turn`` (a mixin: ``self`` is the turn)."""

    def _consume_ui_answer(self: Turn) -> None:
        """The client's answer to a UI request: recorded for the call it answers, then the next UI request of
        the same reply, or its tools (run again from the start when one of them waited mid-body)."""
        pending = self.state.pending_input
        assert pending is not None and self.user_input is not None
        self.state.pending_input = None
        data = self.user_input.data or {"text": self.user_input.text}
        answers = self.state.engine.setdefault(UI_ANSWERS, {})
        answers.setdefault(pending.tool_call_id or "", []).append(
            {"request_id": pending.request_id, "data": data}
        )
        self.tool_run.interactions.answers = answers
        self._set_context(ui_response_updates(self.workflow, pending.tool_name, data))
        self._user_message_event(self.user_input.text or json.dumps(data))
        if AUTO_PENDING in self.state.engine:
            # The answer to an auto-invoked tool's wait: the tool again, then the rest of its reply's turn.
            reply = resume_auto_tool(self)
            self._report_context()
            self._reply_done(reply.speaker, reply)
            return
        caller = pending.agent or ""
        unanswered = [c for c in self._ui_calls(self._caller_reply()) if c.id not in answers]
        if unanswered:
            self._await_ui(caller, unanswered[0])
            return
        pending_tools = self.state.engine.get(TOOLS_PENDING)
        if pending_tools is not None and not pending_tools.get("ui"):
            self._run_pending_tools()
            return
        if pending_tools is not None:
            # A reply with UI tools whose tools stopped at a wait: they go on as that reply's tools do.
            del self.state.engine[TOOLS_PENDING]
            self.handoff_reported = bool(pending_tools.get("handoff_reported", False))
        self._execute_tools(caller)
        self._after_reply(caller)
        self._hand_on(self._select(self.chat.executor))

    def _ui_calls(self: Turn, reply: ChatMessage) -> list[ToolCall]:
        tools = self.compiled.tools
        return [c for c in reply.tool_calls if c.name in tools and tools[c.name].is_ui]

    def _await_user(self: Turn, agent: str | None) -> None:
        request = InputRequest(
            request_id=f"req-{len(self.state.messages)}",
            kind="user_turn",
            prompt="Your message" if agent is None else "Your reply",
            agent=self._last_agent(),
        )
        self._await(request, agent or USER_SPEAKER)

    def _await(self: Turn, request: InputRequest, answered_by: str) -> None:
        """The step ends waiting for ``request``; ``answered_by`` (the user, an agent, the tool executor)
        takes the answer in the next step."""
        self.state.pending_input = request
        self.state.next_speaker = answered_by
        self.state.status = SessionStatus.awaiting_input
        self.final = (InputRequested, {"request": request})

    def _tool_wait_request(
        self: Turn, tool: str, agent: str, call_id: str, arguments: dict[str, Any], wait: UIWait
    ) -> InputRequest:
        """What the client is asked when a tool's body waits for the UI (``use_ui_tool`` / ``ask_ui``)."""
        return InputRequest(
            request_id=self._request_id(),
            kind="ui_tool",
            prompt=self.compiled.tools[tool].spec.description,
            agent=agent,
            tool_name=tool,
            tool_call_id=call_id,
            arguments=arguments,
            ui=wait.payload,
            component=wait.component,
            display=wait.display,
        )

    def _asks_user_first(self: Turn, agent: str) -> bool:
        """AG2 reads the user's input in this reply (human_input_mode ALWAYS: before each; TERMINATE: at the
        agent's reply limit or on a termination message; ``engine.humanio.asks_human``). The step ends with
        that question, before any hook or lifecycle tool of the reply runs; the answer's step replays to this
        point and supplies it, and AG2 makes of it what it makes of a human's input (a text is the agent's
        reply; empty: the agent replies itself, or on a termination message the chat ends; ``exit``: it
        ends)."""
        if self.io.supplied or not self._human_mode(agent):
            return False
        why = asks_human(self.chat.participant(agent), self.chat.manager)
        if why is None:
            return False
        if why == "always":
            empty = f"send an empty message to let {agent} reply itself"
        elif why == "limit":
            empty = f"{agent} reached its limit of replies in a row; send an empty message to let it go on"
        else:
            empty = f"{agent} received a termination message; an empty message ends the conversation too"
        request = InputRequest(
            request_id=f"req-{len(self.state.messages)}",
            kind="user_turn",
            prompt=f"Replying as {agent}: your message is {agent}'s reply; {empty}, or exit to end the "
            "conversation",
            agent=agent,
        )
        self._await(request, agent)
        return True

    def _human_mode(self: Turn, agent: str | None) -> bool:
        """The agent's human_input_mode lets AG2 ask the user (ALWAYS or TERMINATE)."""
        return any(a.name == agent and a.human_input_mode != "NEVER" for a in self.compiled.agents)

    def _agent_asked(self: Turn, pending: InputRequest) -> bool:
        """The pending user turn is an agent's question (ALWAYS / TERMINATE), not the user's own turn."""
        return pending.agent == self.state.next_speaker and self._human_mode(pending.agent)

    def _consume_agent_input(self: Turn) -> Any:
        assert self.user_input is not None
        self.state.pending_input = None
        self.io.supply(self.user_input.text)
        self.answered_exit = self.user_input.text == "exit"
        return self.chat.participant(self.state.next_speaker or "")

    # Set when the user answered an agent's question (ALWAYS / TERMINATE) with AG2's "exit".
    answered_exit = False

    def _no_reply_reason(self: Turn, agent: str) -> str:
        """Why a reply that AG2 did not give ends the chat."""
        if self.answered_exit:
            return f"the user ended the conversation (exit) when asked as {agent}"
        return f"{agent} gave no reply"

    def _request_id(self: Turn) -> str:
        """Unique within the session: a reply's tools may ask several times at one transcript length."""
        asked = sum(len(a) for a in self.state.engine.get(UI_ANSWERS, {}).values())
        return f"req-{len(self.state.messages)}" + (f".{asked}" if asked else "")

    def _await_tool_wait(self: Turn, caller: str, calls: ChatMessage) -> None:
        """A tool waits for the user mid-body: nothing of this run of the tools is kept (the executor's reply
        is dropped, the context is the stored one); the next step runs them again with the answer."""
        waiting = self.tool_run.waiting
        assert waiting is not None
        call = next((c for c in calls.tool_calls if c.id == waiting.call_id), None)
        try:
            arguments = json.loads(call.arguments or "{}") if call is not None else {}
        except ValueError:
            arguments = {}
        self.state.engine[TOOLS_PENDING] = {
            "caller": caller,
            "handoff_reported": self.handoff_reported,
            # Which way the tools go on after the answer: as a reply with UI tools does, or as others do.
            "ui": bool(self._ui_calls(calls)),
        }
        arguments = arguments if isinstance(arguments, dict) else {}
        request = self._tool_wait_request(waiting.tool_name, caller, waiting.call_id, arguments, waiting.wait)
        self._await(request, self.chat.executor.name)
        raise Finished

    def _await_ui(self: Turn, agent: str, call: ToolCall) -> None:
        from autogen.agentchat.group import ContextVariables

        tool = self.compiled.tools[call.name]
        context = ContextVariables(data=copy.deepcopy(self.chat.context.to_dict()))
        self.tool_run.caller, self.tool_run.caller_seq = agent, self._caller_reply().seq
        try:
            arguments = json.loads(call.arguments or "{}")
            payload = ui_payload(tool, arguments, context, self.tool_run.info(call.name, call.id))
        except Exception as exc:
            raise UIToolFailed(f"UI tool {call.name} could not build what the client shows: {exc}") from exc
        ui = tool.spec.ui
        component = ui.component if ui is not None and ui.component else payload.get("component")
        request = InputRequest(
            request_id=self._request_id(),
            kind="ui_tool",
            prompt=tool.spec.description,
            agent=agent,
            tool_name=call.name,
            tool_call_id=call.id,
            arguments=arguments,
            ui=payload,
            component=component if isinstance(component, str) else None,
            display=str(ui.mode) if ui is not None and ui.mode else "inline",  # type: ignore[arg-type]
        )
        self._await(request, self.chat.executor.name)

    def _last_agent(self: Turn) -> str | None:
        """The agent who spoke last (the one a user turn answers)."""
        agents = {a.name for a in self.compiled.agents}
        for message in reversed(self.state.messages):
            if message.speaker in agents:
                return message.speaker
        return None
