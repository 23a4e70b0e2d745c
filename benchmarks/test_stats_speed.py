"""pytest-benchmark suite for ceaseless.leaderboard.scoring.stats and .paired: the board's bootstrap at full size.

The board scores 1,000 entries x 10 worlds x 10 seeds and needs 95% intervals from 2,000
bootstrap resamples; the whole board must score and render in under 10 s, so this bootstrap
should take well under ~3 s on one core. The board runs two: the worlds-fixed one of
:func:`~ceaseless.leaderboard.scoring.paired.rank` (score intervals, P(>next) and tiers: about
0.45 s, of which the paired comparisons, O(entries), take 0.07 s) and the across-worlds interval
(about 0.35 s).

Run: ``pytest benchmarks/test_stats_speed.py --benchmark-only`` (CI runs it once with
``--benchmark-disable`` to keep it working; timing goals are checked by reading the figures,
never by asserts).
"""

from __future__ import annotations

import numpy as np
import pytest

from ceaseless.leaderboard.scoring.paired import rank
from ceaseless.leaderboard.scoring.stats import bootstrap_ci

ENTRIES, WORLDS, SEEDS, REPS = 1000, 10, 10, 2000


@pytest.mark.parametrize("resample_worlds", [True, False])
def test_bootstrap_ci_of_the_whole_board(benchmark, resample_worlds):
    scores = np.random.default_rng(0).exponential(size=(ENTRIES, WORLDS, SEEDS))

    def run():
        return bootstrap_ci(scores, reps=REPS, seed=0, resample_worlds=resample_worlds)

    benchmark.extra_info["shape"] = f"{ENTRIES} entries x {WORLDS} worlds x {SEEDS} seeds, {REPS} reps"
    result = benchmark(run)
    assert result.point.shape == (ENTRIES,)


def test_paired_ranking_of_the_whole_board(benchmark):
    """Worlds-fixed bootstrap, score intervals, P(>next) and the tier walk of 1,000 entries."""
    skill = np.linspace(0.0, 1.0, ENTRIES)[:, None, None]
    scores = skill + np.random.default_rng(0).exponential(size=(ENTRIES, WORLDS, SEEDS))

    def run():
        return rank(scores, reps=REPS, seed=0)

    benchmark.extra_info["shape"] = f"{ENTRIES} entries x {WORLDS} worlds x {SEEDS} seeds, {REPS} reps"
    result = benchmark(run)
    assert result.tier.shape == (ENTRIES,) and result.tier[0] == 1
