"""The Digest workflow's tool: totals per region from a fixed week of orders (no database)."""

from __future__ import annotations

_ORDERS = [("north", 120), ("south", 80), ("north", 30)]


def tally_orders(region: str) -> str:
    total = sum(amount for where, amount in _ORDERS if where == region)
    return f"{region}: {total}"
