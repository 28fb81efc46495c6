"""Tools."""

from __future__ import annotations


def lookup(query: str) -> str:
    return query


def pick_date(prompt: str) -> dict:
    return {"prompt": prompt}
