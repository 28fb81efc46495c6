"""Functions of the Intake test workflow (original dialect)."""


def show_summary(title: str) -> dict:
    """Payload of the summary the client shows."""
    return {"title": title}


def prepare() -> None:
    """Lifecycle tool: runs before the chat (not yet run by this runtime)."""


def add_context(agent: object, messages: list) -> None:
    """Hook: would add context to the agent's state (not yet run by this runtime)."""
