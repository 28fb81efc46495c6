"""The price table: one table, overridable by MOZAIKS_PRICES; an unknown model costs 0 (and is logged)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime_core.llm.prices import Price, build_table, parse_overrides


def test_defaults_and_dated_variants() -> None:
    table = build_table()
    assert table.cost("gpt-4o-mini", 1_000_000, 1_000_000) == pytest.approx(0.15 + 0.60)
    # A dated variant is priced as its family, the longest name first (not as "gpt-4o").
    assert table.cost("gpt-4o-mini-2024-07-18", 1_000_000, 0) == pytest.approx(0.15)
    assert table.cost("gpt-4o-2024-08-06", 0, 1_000_000) == pytest.approx(10.0)
    assert table.cost("gpt-4ox", 1000, 1000) == 0.0  # not a dated variant
    assert table.cost("no-such-model", 1000, 1000) == 0.0


def test_overrides_inline_or_from_a_file(tmp_path: Path) -> None:
    inline = build_table('{"gpt-4o": [1, 2], "my-llama": {"input": 0.5, "output": 0.5}, "gpt-4o-mini": null}')
    assert inline.cost("gpt-4o", 1_000_000, 1_000_000) == pytest.approx(3.0)
    assert inline.cost("my-llama", 2_000_000, 0) == pytest.approx(1.0)
    assert inline.price_of("gpt-4o-mini") is None and inline.price_of("gpt-4.1") is not None
    path = tmp_path / "prices.json"
    path.write_text(json.dumps({"gpt-4.1": [0, 1]}))
    assert build_table(str(path)).price_of("gpt-4.1") == Price(input=0, output=1)


@pytest.mark.parametrize(
    "bad", ["{not json", "[1, 2]", '{"m": [1]}', '{"m": [-1, 1]}', '{"m": "cheap"}', "/no/such/file.json"]
)
def test_bad_overrides_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        parse_overrides(bad)


def test_the_meter_prices_with_the_table(monkeypatch: pytest.MonkeyPatch) -> None:
    from runtime_core.llm import meter, prices

    monkeypatch.setenv("MOZAIKS_PRICES", '{"house-model": [3, 6]}')
    prices.price_table.cache_clear()
    try:
        assert meter.price("house-model", 1_000_000, 1_000_000) == pytest.approx(9.0)
    finally:
        monkeypatch.delenv("MOZAIKS_PRICES")
        prices.price_table.cache_clear()
