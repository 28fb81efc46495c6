"""Lifecycle tools and hooks of the HelpDesk test workflow (original dialect): each leaves a trace in the
context, so a test can count how often it ran."""

from __future__ import annotations

from typing import Any


def _bump(context: Any, key: str) -> None:
    context[key] = (context.get(key) or 0) + 1


def open_desk(context_variables: Any) -> None:
    """before_chat: once per session."""
    _bump(context_variables, "desk_opened")
    context_variables["desk_app"] = context_variables.get("app_id")


def count_resolver(context_variables: Any) -> None:
    """before_agent of the Resolver."""
    _bump(context_variables, "resolver_turns")


def note_reply(context_variables: Any) -> None:
    """after_agent of every agent."""
    _bump(context_variables, "replies_seen")


def close_desk(context_variables: Any) -> None:
    """after_chat."""
    context_variables["desk_closed"] = True


def broken(context_variables: Any) -> None:
    """before_agent of the Greeter: fails; the chat goes on."""
    raise RuntimeError("the label printer is out of paper")


def sign(sender: Any, message: Any, recipient: Any, silent: bool) -> Any:
    """process_message_before_send of the Greeter: signs each message it sends."""
    _bump(sender.context_variables, "signed")
    if isinstance(message, str):
        return message + " -- HelpDesk"
    if isinstance(message, dict) and isinstance(message.get("content"), str):
        return {**message, "content": message["content"] + " -- HelpDesk"}
    return message


def wake(agent: Any, messages: list[dict[str, Any]]) -> None:
    """update_agent_state of the Classifier: before each of its replies."""
    _bump(agent.context_variables, "classifier_wakeups")


def quote(content: Any) -> Any:
    """process_last_received_message of the Resolver: what it reads of the last message."""
    return f"[customer case] {content}" if isinstance(content, str) else content
