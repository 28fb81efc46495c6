"""The price of a model call: one table, in US dollars per million tokens (input, output).

This table is the only source of the ``cost`` written to the usage ledger (each call is priced when its
answer arrives; changing a price changes new calls only, never the ledger). The defaults are the providers'
list prices for common OpenAI models when this table was written; they are a starting point, not a contract:
set ``MOZAIKS_PRICES`` to your own (your negotiated rates, your Azure or self-hosted models).

``MOZAIKS_PRICES``: a JSON object, inline or in a file whose path is given, mapping a model name to
``[input, output]`` or ``{"input": x, "output": y}`` USD per million tokens. Entries are merged over the
defaults (``{"gpt-4o": null}`` removes one). A model is looked up by its exact name, then without a version
suffix (a date, ``-0613``, ``-latest``, ``-preview``: ``gpt-4o-2024-08-06`` is priced as ``gpt-4o``, while
``gpt-4o-mini`` is never priced as ``gpt-4o``); a model the table does not know costs 0 and is logged once,
so a missing price is visible rather than silently billed wrong.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

log = logging.getLogger(__name__)

PRICES_VARIABLE = "MOZAIKS_PRICES"
# Version suffixes providers add to a model family's name, possibly several ("-preview-2024-12-17").
_VERSION = re.compile(r"(-(\d{4}-\d{2}-\d{2}|\d{4}|\d{8}|latest|preview))+$")


class Price(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    input: float = Field(ge=0)  # USD per million prompt tokens
    output: float = Field(ge=0)  # USD per million completion tokens

    def of(self, prompt_tokens: int, completion_tokens: int) -> float:
        return (self.input * prompt_tokens + self.output * completion_tokens) / 1_000_000


# USD per million tokens (input, output).
DEFAULT_PRICES: dict[str, tuple[float, float]] = {
    "gpt-5": (1.25, 10.0),
    "gpt-5-mini": (0.25, 2.0),
    "gpt-5-nano": (0.05, 0.40),
    "gpt-4.1": (2.0, 8.0),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4o": (2.50, 10.0),
    "gpt-4o-mini": (0.15, 0.60),
    "o3": (2.0, 8.0),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "gpt-4-turbo": (10.0, 30.0),
    "gpt-3.5-turbo": (0.50, 1.50),
    # The offline scripted model: free, and named so that a report shows which calls were not real.
    "scripted": (0.0, 0.0),
    # The offline echo model (runtime_core/llm/echo.py), used when a workflow has no key and no script.
    "echo": (0.0, 0.0),
}


class PriceTable:
    def __init__(self, prices: Mapping[str, Price]) -> None:
        self.prices = dict(prices)
        self._unknown: set[str] = set()

    def price_of(self, model: str) -> Price | None:
        found = self.prices.get(model)
        if found is not None:
            return found
        family = _VERSION.sub("", model)
        return self.prices.get(family) if family != model else None

    def cost(self, model: str, prompt_tokens: int, completion_tokens: int) -> float:
        price = self.price_of(model)
        if price is None:
            if model not in self._unknown:
                self._unknown.add(model)
                log.warning("no price for model %r: its calls cost 0 (set %s)", model, PRICES_VARIABLE)
            return 0.0
        return price.of(prompt_tokens, completion_tokens)


def parse_overrides(text: str) -> dict[str, Price | None]:
    """``MOZAIKS_PRICES``'s value: inline JSON, or the path of a JSON file. Raises ValueError when invalid."""
    text = text.strip()
    if not text.startswith("{"):
        path = Path(text)
        if not path.is_file():
            raise ValueError(f"{PRICES_VARIABLE}: {text!r} is neither a JSON object nor a file")
        text = path.read_text()
    try:
        raw = json.loads(text)
    except ValueError as exc:
        raise ValueError(f"{PRICES_VARIABLE}: not valid JSON ({exc})") from None
    if not isinstance(raw, dict):
        raise ValueError(f"{PRICES_VARIABLE}: must be a JSON object of model -> price")
    out: dict[str, Price | None] = {}
    for model, value in raw.items():
        if value is None:
            out[model] = None
        elif isinstance(value, list) and len(value) == 2:
            out[model] = Price(input=value[0], output=value[1])
        elif isinstance(value, dict):
            out[model] = Price.model_validate(value)
        else:
            raise ValueError(f"{PRICES_VARIABLE}: {model!r} needs [input, output] or {{input, output}}")
    return out


def build_table(overrides: str | None = None) -> PriceTable:
    prices: dict[str, Price] = {m: Price(input=i, output=o) for m, (i, o) in DEFAULT_PRICES.items()}
    if overrides:
        for model, price in parse_overrides(overrides).items():
            if price is None:
                prices.pop(model, None)
            else:
                prices[model] = price
    return PriceTable(prices)


@cache
def price_table() -> PriceTable:
    """The process's table: the defaults with ``MOZAIKS_PRICES`` merged over them (read once)."""
    return build_table(os.environ.get(PRICES_VARIABLE))


def cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    return price_table().cost(model, prompt_tokens, completion_tokens)
