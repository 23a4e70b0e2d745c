"""scoring.paired and scoring.student: paired comparisons on fixed worlds, the score interval, tiers, Student's t."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest

from ceaseless.leaderboard.scoring import paired
from ceaseless.leaderboard.scoring.paired import (
    compare_ranked,
    effective_df,
    influence,
    paired_difference,
    rank,
    score_intervals,
    tiers,
)
from ceaseless.leaderboard.scoring.stats import bootstrap_samples, iqm
from ceaseless.leaderboard.scoring.student import t_cdf, t_quantile
from tests.conftest import scaled


def null_board(rng: np.random.Generator, entries: int, worlds: int = 7, seeds: int = 3,
               world_noise: np.ndarray | float = 0.1) -> np.ndarray:
    """Entries drawn i.i.d. from one distribution: worlds differ a lot, a (world, seed) shifts every
    entry alike (what pairing cancels), and each run has its own noise."""
    world = rng.normal(0.0, 0.3, (worlds, 1))
    seed = rng.normal(0.0, 0.1, (worlds, seeds))
    noise = np.broadcast_to(np.asarray(world_noise, dtype=float).reshape(-1, 1), (worlds, 1))
    return world + seed + rng.normal(0.0, 1.0, (entries, worlds, seeds)) * noise


# ----------------------------------------------------------------------------------------------
# Student's t
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("p, df, expected", [
    (0.975, 1, 12.706204736), (0.975, 2, 4.302652730), (0.975, 3, 3.182446305), (0.975, 14, 2.144786688),
    (0.995, 5, 4.032142984), (0.95, 10, 1.812461123), (0.99, 20, 2.527977003), (0.975, 60, 2.000297822),
])
def test_t_quantiles_match_the_tables(p, df, expected):
    assert t_quantile(p, df) == pytest.approx(expected, rel=1e-6)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, rel=1e-6)
    assert t_cdf(expected, df) == pytest.approx(p, abs=1e-8)


def test_t_tends_to_the_normal_and_is_symmetric():
    normal = statistics.NormalDist()
    assert t_quantile(0.975, 100_000) == pytest.approx(normal.inv_cdf(0.975), rel=1e-4)
    assert t_quantile(1 - 1e-7, 5000) == pytest.approx(normal.inv_cdf(1 - 1e-7), rel=3e-3)
    x = np.linspace(-6, 6, 25)
    for df in (1, 2, 7, 40):
        np.testing.assert_allclose(t_cdf(x, df) + t_cdf(-x, df), 1.0, atol=1e-14)
        assert t_cdf(0.0, df) == 0.5 and t_quantile(0.5, df) == 0.0
    assert t_cdf(np.inf, 3) == 1.0 and t_cdf(-np.inf, 3) == 0.0
    assert t_cdf(1.0, 1) == pytest.approx(0.75)  # Cauchy: 1/2 + arctan(1)/pi


def test_t_rejects_bad_arguments():
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="degrees of freedom"):
            t_quantile(0.9, bad)
    with pytest.raises(ValueError, match="strictly between"):
        t_quantile(1.0, 3)
    with pytest.raises(ValueError, match="NaN"):
        t_cdf(float("nan"), 3)


# ----------------------------------------------------------------------------------------------
# Standard errors: influence values and degrees of freedom
# ----------------------------------------------------------------------------------------------


def test_iqm_influence_is_the_clipped_score_over_the_share_kept():
    scores = np.array([[1.0, 2.0, 3.0, 4.0], [5.0, 6.0, 7.0, 8.0]])  # 8 runs: the IQM keeps 3..6
    np.testing.assert_array_equal(influence(scores), [[6.0, 6.0, 6.0, 8.0], [10.0, 12.0, 12.0, 12.0]])
    np.testing.assert_array_equal(influence(scores, "mean"), scores)
    many = influence(np.stack([scores, scores + 10.0]))  # per entry: each its own window
    np.testing.assert_array_equal(many[1], influence(scores) + 20.0)
    with pytest.raises(ValueError, match="'iqm' or 'mean'"):
        influence(scores, "median")


def test_effective_degrees_of_freedom_known_answers():
    spread = np.array([-1.0, 0.0, 1.0])  # variance 1 over 3 seeds
    equal = np.stack([spread, 2 * spread, -spread])  # variances 1, 4, 1: R = 36 / 18 = 2
    assert effective_df(equal) == 2 + 4 * (2 - 1)  # (n - 1) + (n + 1)(R - 1) = 6 = worlds * (n - 1)
    two = np.stack([spread, math.sqrt(3) * spread, np.zeros(3)])  # variances 1, 3, 0: R = 16 / 10
    assert effective_df(two) == 4  # floor(2 + 4 * 0.6), below the cap of 6
    assert effective_df(two[:2]) == 4  # two worlds: the cap, 2 * (3 - 1)
    one = np.stack([spread, np.zeros(3), np.zeros(3)])  # one world carries everything: n - 1
    assert effective_df(one) == 2
    assert effective_df(np.ones((7, 3))) == 14  # no spread: the maximum
    assert effective_df(np.stack([np.tile(spread, (7, 1))] * 2)).tolist() == [14, 14]  # capped at worlds * (n - 1)
    assert effective_df(np.ones((7, 1))) == 0  # one seed: nothing to measure


def test_paired_difference_matches_the_resampling_written_out():
    """A hand-computed case: the documented draws, every resample built by a loop, the t interval by hand."""
    x = np.array([[0.2, 0.5, 0.4], [0.9, 0.7, 0.8], [0.3, 0.3, 0.6]])
    y = np.array([[0.1, 0.5, 0.1], [0.6, 0.5, 0.9], [0.2, 0.2, 0.5]])
    reps, seed = 6, 4
    rng = np.random.default_rng(seed)
    rng.integers(0, 3, size=(reps, 3))  # world draws: made, then ignored (worlds are fixed)
    draws = rng.integers(0, 3, size=(reps, 3, 3))
    diffs = [sum(x[w, s] - y[w, s] for w in range(3) for s in draws[r, w]) / 9 for r in range(reps)]
    d = x - y  # the mean's influence values are the scores: world variances of the paired runs
    v = [statistics.variance(row) for row in d]
    df = min(6, math.floor(2 + 4 * (sum(v) ** 2 / sum(u * u for u in v) - 1)))
    assert df == 5  # R = 1.84 (the third world is a constant 0.1): below the cap
    half = t_quantile(0.975, df) * statistics.pstdev(diffs) * math.sqrt(3 / 2)
    point = float(d.mean())
    result = paired_difference(x, y, "mean", reps=reps, seed=seed)
    assert result.point == pytest.approx(point, abs=1e-15)
    assert (result.low, result.high) == pytest.approx((point - half, point + half), abs=1e-12)


def test_a_constant_paired_difference_is_certain():
    rng = np.random.default_rng(1)
    y = rng.normal(0.4, 0.3, (7, 3))
    for statistic in ("iqm", "mean"):
        result = paired_difference(y + 0.05, y, statistic, reps=300)
        assert result.point == pytest.approx(0.05, abs=1e-12)
        assert result.high - result.low < 1e-12
    same = paired_difference(y, y, reps=300)
    assert (same.point, same.low, same.high) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="same shape"):
        paired_difference(y, y[:, :2])


def test_the_score_interval_is_point_plus_minus_t_standard_errors():
    scores = np.random.default_rng(2).normal(size=(4, 5, 3))
    samples = bootstrap_samples(scores, reps=500, seed=0, resample_worlds=False)
    points = iqm(scores.reshape(4, -1), axis=1)
    low, high = score_intervals(points, samples, influence(scores))
    df = effective_df(influence(scores))
    expected = np.array([t_quantile(0.975, int(k)) for k in df]) * samples.std(axis=1) * math.sqrt(1.5)
    np.testing.assert_allclose(high - points, expected)
    np.testing.assert_allclose(points - low, expected)
    one_seed = score_intervals(points, samples, influence(scores)[..., :1])
    assert np.isnan(one_seed[0]).all() and np.isnan(one_seed[1]).all()


@pytest.mark.slow
def test_the_score_interval_covers_the_true_iqm_at_three_seeds():
    # Plain percentile intervals cover 83-89% here; the few-seed correction brings them to ~95%.
    rng = np.random.default_rng(3)
    world = rng.normal(0.0, 0.3, (7, 1))
    truth = iqm(world + rng.normal(0.0, 0.1, (7, 200_000)))
    trials = scaled(2000, 300)
    hits = 0
    for trial in range(trials):
        scores = world + rng.normal(0.0, 0.1, (1, 7, 3))
        result = rank(scores, reps=1000, seed=trial)
        hits += bool(result.low[0] <= truth <= result.high[0])
    assert hits / trials >= 0.91


# ----------------------------------------------------------------------------------------------
# Tiers and P(>next)
# ----------------------------------------------------------------------------------------------


def test_a_fixed_margin_on_every_seed_separates_the_tiers():
    rng = np.random.default_rng(4)
    b = rng.normal(0.3, 0.4, (7, 3))  # very different worlds and seeds
    a = b + 0.05  # A beats B by 0.05 on every (world, seed)
    result = rank(np.stack([b, a]), reps=500)
    assert result.order.tolist() == [1, 0]
    assert result.tier.tolist() == [1, 2]
    assert result.comparisons.p_next[0] == 1.0 and np.isnan(result.comparisons.p_next[1])
    assert result.comparisons.leader_low[1] == pytest.approx(0.05)
    # The same margin between unpaired runs (B's seeds shuffled) is lost in the noise.
    shuffled = np.stack([rng.permuted(b, axis=1), a])
    assert tiers(shuffled, reps=500).tolist() == [1, 1]


def test_entries_are_compared_with_their_tiers_leader():
    # sd of the paired differences: |a_i - a_j| for samples point + a * u (u has sd 1).
    u = np.random.default_rng(5).normal(size=400)
    u = (u - u.mean()) / u.std()
    points = np.array([1.0, 0.9, 0.8])
    a = np.array([0.0, 0.04, -0.01])
    samples = points[:, None] + a[:, None] * u
    contributions = np.tile(np.array([-1.0, 0.0, 1.0]), (3, 7, 1))  # equal worlds: df = 14
    result = compare_ranked(points, samples, contributions)
    factor = math.sqrt(1.5) * t_quantile(1 - 0.05 / 6, 14)  # three pairs
    assert factor * 0.04 > 0.1  # 1 vs 0: not significant, so 1 joins tier 1
    assert factor * 0.01 < 0.2  # 2 vs the leader 0: significant (vs 1 it would not be: 0.1 < factor * 0.05)
    assert result.tier.tolist() == [1, 1, 2]
    assert result.leader.tolist() == [-1, 0, 0]
    np.testing.assert_allclose(result.leader_low[1:], [0.1 - factor * 0.04, 0.2 - factor * 0.01])
    assert result.pairs == 3
    # P(>next) is one uncorrected comparison, from the same standard errors.
    np.testing.assert_allclose(result.p_next[:2], [t_cdf(0.1 / (math.sqrt(1.5) * s), 14) for s in (0.04, 0.05)])


def test_identically_distributed_entries_share_one_tier():
    """Calibration: boards of 10 entries from one distribution, each with its own bootstrap seed."""
    rng = np.random.default_rng(6)
    trials = 200
    one_tier = sum(rank(null_board(rng, 10), reps=500, seed=trial).tier.max() == 1 for trial in range(trials))
    assert one_tier / trials >= 0.95


@pytest.mark.slow
@pytest.mark.parametrize("entries, worlds, seeds, uneven", [(10, 7, 3, True), (10, 10, 10, False), (30, 7, 3, False)])
def test_identically_distributed_entries_share_one_tier_at_scale(entries, worlds, seeds, uneven):
    rng = np.random.default_rng(7)
    noise = 0.1 * np.exp(rng.normal(0.0, 1.0, worlds)) if uneven else 0.1  # some worlds far noisier
    trials = scaled(2000, 200)
    one_tier = sum(rank(null_board(rng, entries, worlds, seeds, noise), reps=500, seed=trial).tier.max() == 1
                   for trial in range(trials))
    assert one_tier / trials >= 0.95


@pytest.mark.slow
def test_two_identically_distributed_entries_split_about_five_percent_of_the_time():
    # With two entries there is one pair and no correction: a split is a 5%-level test, so the
    # one-tier rate is 95% itself (95.4% over 2,000 boards), within binomial noise.
    rng = np.random.default_rng(7)
    trials = scaled(2000, 300)
    split = sum(rank(null_board(rng, 2), reps=500, seed=trial).tier.max() > 1 for trial in range(trials))
    assert split / trials <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / trials)


def test_the_same_bootstrap_seed_gives_the_same_board():
    scores = null_board(np.random.default_rng(8), 6) + np.linspace(0.0, 0.5, 6)[:, None, None]
    state = np.random.get_state()
    first, again, other = rank(scores, seed=11), rank(scores, seed=11), rank(scores, seed=12)
    for name in ("order", "point", "low", "high"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    for name in ("p_next", "tier", "leader", "leader_low", "next_low"):
        np.testing.assert_array_equal(getattr(first.comparisons, name), getattr(again.comparisons, name))
    assert not np.array_equal(first.low, other.low)  # another seed, other resamples
    np.testing.assert_array_equal(first.point, other.point)
    assert all(np.array_equal(a, b) for a, b in zip(state, np.random.get_state()))  # global RNG untouched


def test_one_extreme_world_cannot_decide_the_score():
    # Like random on PredictionStream: z of about -23 on one world of seven. The IQM trims those
    # runs, on the original data and in every worlds-fixed resample: score, interval and tiers do
    # not depend on how extreme that world is.
    rng = np.random.default_rng(9)
    scores = rng.normal(0.3, 0.2, (3, 7, 3))
    scores[0, 5] = [-24.2, -21.0, -22.1]
    extreme = scores.copy()
    extreme[0, 5] = -1e6
    base, worse = rank(scores, reps=500), rank(extreme, reps=500)
    for name in ("order", "point", "low", "high", "tier"):
        np.testing.assert_array_equal(getattr(base, name), getattr(worse, name))
    assert base.low.min() > -1.0
    # Two extreme worlds (6 of 21 runs, more than the quarter trimmed) do move the score.
    extreme[0, 4] = -1e6
    assert rank(extreme, reps=500).point.min() < -1000


def test_edge_cases_and_bad_input():
    nobody = rank(np.zeros((0, 3, 3)), reps=10)
    assert nobody.order.shape == nobody.tier.shape == (0,)
    solo = rank(np.full((1, 2, 3), 0.5), reps=10)
    assert solo.tier.tolist() == [1] and np.isnan(solo.comparisons.p_next).all()
    one_seed = rank(np.arange(8.0).reshape(4, 2, 1), reps=10)  # one seed per world: nothing to tell apart
    assert one_seed.tier.tolist() == [1, 1, 1, 1] and np.isnan(one_seed.low).all()
    empty = compare_ranked(np.empty(0), np.empty((0, 5)), np.empty((0, 2, 3)))
    assert empty.tier.shape == (0,) and empty.pairs == 0
    with pytest.raises(ValueError, match="rank order"):
        compare_ranked(np.array([0.1, 0.2]), np.zeros((2, 5)), np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="same entries"):
        compare_ranked(np.array([0.2, 0.1]), np.zeros((3, 5)), np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="confidence"):
        compare_ranked(np.array([0.2]), np.zeros((1, 5)), np.zeros((1, 2, 3)), confidence=1.0)
    assert paired.__all__  # the public names exist
    for name in paired.__all__:
        assert hasattr(paired, name), name
