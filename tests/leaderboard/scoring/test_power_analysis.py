"""benchmarks/power_analysis.py: per-world paired-difference spreads and the seeds the board needs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from benchmarks.power_analysis import detectable, effective_worlds, paired_spreads, seeds_needed, sigma, simulate_power
from ceaseless.leaderboard.scoring.student import t_quantile


def test_spreads_are_those_of_the_paired_iqm_difference():
    rng = np.random.default_rng(0)
    b = rng.normal(0.4, 0.3, (7, 3))
    np.testing.assert_allclose(paired_spreads(b + 0.1, b), 0.0, atol=1e-12)  # a constant margin: no spread
    # 8 runs per entry, window of the middle four: clipped values times 2, then the SD per world.
    a = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])
    zero = np.zeros((2, 4))  # its window is [0, 0]: influence 0 everywhere
    expected = [np.std([6.0, 6.0, 6.0, 8.0], ddof=1), np.std([10.0, 12.0, 12.0, 12.0], ddof=1)]
    np.testing.assert_allclose(paired_spreads(a, zero), expected)
    assert sigma([0.1, 0.1, 0.1, 0.1]) == pytest.approx(0.05)  # sqrt(4 * 0.01) / 4


def test_seeds_needed_known_answer():
    # 7 equally noisy worlds (spread 0.1 each): sigma = 0.1 / sqrt(7), df = 7 (n - 1). By hand:
    # 4 seeds give 0.05 sqrt(4) / sigma = 2.65 < t(0.975, 21) + t(0.8, 21) = 2.94; 5 seeds give
    # 2.96 >= t(0.975, 28) + t(0.8, 28) = 2.90.
    spreads = np.full(7, 0.1)
    s = 0.1 / math.sqrt(7)
    assert 0.05 * 2 / s < t_quantile(0.975, 21) + t_quantile(0.8, 21)
    assert 0.05 * math.sqrt(5) / s >= t_quantile(0.975, 28) + t_quantile(0.8, 28)
    assert effective_worlds(spreads) == 7.0
    assert seeds_needed(spreads) == 5
    assert detectable(spreads, 5) <= 0.05 < detectable(spreads, 4)


def test_seeds_needed_grows_with_noise_multiplicity_and_precision():
    spreads = np.array([0.0, 0.05, 0.1, 0.2, 0.1, 0.02, 0.3])
    one, board = seeds_needed(spreads), seeds_needed(spreads, pairs=45)
    assert board > one
    assert seeds_needed(spreads, delta=0.1) < one
    assert seeds_needed(spreads, power=0.9) > one
    doubled = seeds_needed(2 * spreads)  # about four times the seeds (t's tails shrink a little too)
    assert 3.5 * one <= doubled <= 4.5 * one
    n = seeds_needed(spreads, pairs=45)
    assert detectable(spreads, n, pairs=45) <= 0.05 < detectable(spreads, n - 1, pairs=45)
    assert seeds_needed(np.zeros(7)) == 2
    assert effective_worlds([0.3, 0.0, 0.0]) == 1.0  # one world carries all the variance


def test_the_simulated_power_follows_the_difference():
    rng = np.random.default_rng(1)
    a = rng.normal(0.5, 0.2, (7, 3))
    b = a - 0.1 + rng.normal(0.0, 0.05, (7, 3))
    assert simulate_power(a, b, seeds=10, delta=0.3, trials=40, reps=200) == 1.0
    assert simulate_power(a, b, seeds=10, delta=0.0, trials=80, reps=200) <= 0.15  # a two-sided 5% test's one side
