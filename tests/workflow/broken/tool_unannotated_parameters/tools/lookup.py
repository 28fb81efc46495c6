"""Tools."""


def lookup(query, scope, limit=5, *, context_variables=None) -> str:
    return query


def pick_date(prompt: str, *, day, hint="") -> dict:
    return {"prompt": prompt}
