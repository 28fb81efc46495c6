"""Ticket tool of the HelpDesk test workflow (original dialect)."""

from autogen.agentchat.group import ContextVariables, ReplyResult


def open_ticket(summary: str, context_variables: ContextVariables) -> ReplyResult:
    """Open a ticket and remember it in the context."""
    context_variables["ticket_open"] = True
    context_variables["ticket_id"] = f"T-{len(summary):03d}"
    return ReplyResult(message=f"Ticket T-{len(summary):03d} opened.", context_variables=context_variables)
