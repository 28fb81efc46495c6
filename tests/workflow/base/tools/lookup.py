"""Tools of the test base workflow."""


def lookup(query: str) -> str:
    return f"found {query}"


def pick_date(prompt: str) -> dict:
    return {"component": "date_picker", "prompt": prompt}
