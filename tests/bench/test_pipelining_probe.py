"""The auto-pipelining probe on tiny durations, so it cannot rot (figures: never asserted)."""

from __future__ import annotations

import pytest

from bench._pipelining import main

pytestmark = [pytest.mark.bench, pytest.mark.timeout(120)]


def test_every_variant_runs_and_returns_what_raw_redis_py_returns() -> None:
    # main() checks each variant's reply against raw redis-py's before measuring it.
    results = main(["--duration", "0.05", "--rounds", "1"])
    assert {name.split("/")[0] for name in results} == {
        "raw", "auto1", "auto2", "mux", "store", "store+auto1", "store+mux",
    }  # fmt: skip
    assert all(row["ops_per_s"] > 0 and row["cpu_us_per_op"] > 0 for row in results.values())
