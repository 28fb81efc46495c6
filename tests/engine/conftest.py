"""``engine_mode``: run a test with the engine as it was (``before``), with every step building its own agents
(``cold``, what a fresh process does) and with one process reusing built agents across steps and sessions
(``warm``). The resume-equivalence tests use it: each proves the same thing three times."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from runtime_core.engine import tuning

MODES = {
    "before": tuning.ALL_OFF,
    "cold": tuning.Tuning(reuse_groups=False),
    "warm": tuning.ALL_ON,
}


@pytest.fixture(params=sorted(MODES))
def engine_mode(request: pytest.FixtureRequest) -> Iterator[str]:
    with tuning.tuned(MODES[request.param]):
        yield request.param
