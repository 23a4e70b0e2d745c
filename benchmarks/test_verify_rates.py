"""verify_rates.py at a tiny size: the 1-us agent evaluated, verified and forged (the rates
themselves come from the script at full size; here the code path runs and the forgeries fail)."""

from __future__ import annotations

from benchmarks.verify_rates import AGENTS, measure, short_suite
from ceaseless.leaderboard.harness.protocol import AgentSpec


def test_verify_rates_at_a_tiny_size(benchmark, tmp_path):
    suite_path = short_suite(tmp_path, steps=400, seeds=1)
    row = benchmark.pedantic(measure, args=("one_us", AgentSpec.parse(str(AGENTS / "one_us.py")), suite_path,
                                            tmp_path / "work", 1, 2, 1, 2), rounds=1, iterations=1)
    assert row["re-runs"] >= 1
    assert row["detected (G only)"] == 1.0 and row["detected (careful)"] == 1.0
