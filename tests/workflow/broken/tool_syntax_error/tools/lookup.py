def lookup(query: str) -> str:
    return query


def pick_date(prompt: str) -> dict
    return {}
