"""A helper module the tool imports as workflows.KeyDesk.tools.naming."""


def display_name(service: str) -> str:
    return service.replace("_", " ").title()
