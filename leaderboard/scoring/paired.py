"""Paired comparisons on the suite's own worlds: the board's score interval, P(>next) and tiers.

Every entry plays the same worlds on the same seeds, so its runs pair with every other entry's.
The board asks "how sure are we, on *these* worlds?", not "would the order hold on other worlds?"
(a question about the suite, shown apart as the across-worlds interval): the bootstrap keeps the
worlds as the suite defines them and resamples seeds within each world, with the same draws for
every entry (:func:`~ceaseless.leaderboard.scoring.stats.bootstrap_samples` with
``resample_worlds=False``), so ``samples[a] - samples[b]`` is the distribution of the *paired*
difference. Runs on one (world, seed) share its difficulty, and pairing cancels it.

**Few seeds.** With ``n`` seeds per world the bootstrap variance is ``(n - 1) / n`` of the usual
unbiased one (exactly so for a mean), and it is itself estimated from ``n`` seeds. So standard
errors are the bootstrap standard deviation times ``sqrt(n / (n - 1))``, referred to Student's t
with the degrees of freedom of :func:`effective_df`. In simulations with 7 worlds x 3 seeds (the
v1 suites) plain 95% percentile intervals of the IQM covered 83-89% of the time, these 92-95%.
The limit: when one world carries nearly all the seed noise (15 times the others' spread), 3
seeds cannot tell, and boards of 5 identically distributed entries split 7% of the time.

**Extreme z.** The aggregate is the IQM over all runs, each world holding its own seeds' runs. It
drops the best and the worst quarter of runs, so a world with fewer than a quarter of them (any
world, from 4 worlds up) cannot decide it: random's z of about -23 on PredictionStream (3 of 21
runs) is trimmed, and sets neither its score nor its interval. Resampling worlds breaks that (a
resample may hold PredictionStream twice), which is one more reason the ranking keeps them fixed.

**Multiple comparisons.** Tiers walk down the ranking: each entry is compared with its tier's
leader and starts (and leads) a new tier when the interval of the paired difference excludes 0.
The pairs compared are picked by sorting the same data, so the error rate is controlled over all
``K (K - 1) / 2`` pairs (Bonferroni): every interval is at level ``1 - alpha / pairs``, which
holds whichever pairs the walk reads, and then the chance that *any* split on the board is wrong
is at most ``alpha`` (5%). Only the pairs read need computing, so the cost stays O(entries). For
10 entries the critical value is 3.26 standard errors (normal limit), 3% above Tukey's range
statistic (the exact answer when every entry is equally noisy, but it needs every pair). Without
the correction, 55% of boards of 10 identically distributed entries on 7 worlds x 3 seeds showed a
spurious tier boundary; with it, 3% (1,000 boards; ``tests/leaderboard/scoring/test_paired.py``
checks it). ``P(>next)`` is one comparison and is not corrected: evidence about that pair alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from ceaseless.leaderboard.scoring import stats
from ceaseless.leaderboard.scoring.student import t_cdf, t_quantile

__all__ = ["PairedComparisons", "Ranking", "compare_ranked", "effective_df", "influence", "paired_difference",
           "rank", "score_intervals", "standard_errors", "tiers"]


# ----------------------------------------------------------------------------------------------
# Standard errors and their degrees of freedom
# ----------------------------------------------------------------------------------------------


def influence(scores: npt.ArrayLike, statistic: str = "iqm") -> np.ndarray:
    """Per-run values whose seed-to-seed spread is the statistic's, to first order: shape of ``scores``.

    ``scores`` is ``(..., worlds, seeds)``. For the mean they are the scores. For the IQM they are
    the scores clipped to the entry's trimming window (the ``n // 4``-th smallest and largest of
    its runs) and divided by the share of runs it keeps (the trimmed mean's influence function,
    up to a constant): runs far outside the window have no spread, as the IQM ignores them. The
    difference of two entries' values is the paired difference of their statistics, run by run.
    """
    x = np.asarray(scores, dtype=float)
    if statistic == "mean":
        return x.copy()
    if statistic != "iqm":
        raise ValueError(f"influence: statistic must be 'iqm' or 'mean'; got {statistic!r}")
    if x.size == 0:
        return x.copy()
    flat = x.reshape(x.shape[:-2] + (-1,))
    n = flat.shape[-1]
    cut = n // 4
    part = np.partition(flat, (cut, n - cut - 1), axis=-1)
    low, high = part[..., cut, None, None], part[..., n - cut - 1, None, None]
    return np.clip(x, low, high) * (n / (n - 2 * cut))


def effective_df(contributions: npt.ArrayLike) -> np.ndarray:
    """Degrees of freedom of a standard error built from ``contributions`` ``(..., worlds, seeds)``.

    Satterthwaite over worlds: with ``v_w`` the variance over seeds of world ``w`` and
    ``R = (sum v)^2 / sum v^2`` the effective number of worlds (1 when one world carries all the
    variance, ``worlds`` when all carry the same), ``df = (n - 1) + (n + 1) (R - 1)``, at most
    ``worlds * (n - 1)``. Satterthwaite's own ``(n - 1) R`` takes equal worlds measured on few
    seeds for a few dominant ones (``R`` from 3 seeds is biased low); the ``(n + 1) / (n - 1)``
    factor on ``R - 1`` corrects that, and keeps ``n - 1`` for one world. No variance at all (a
    constant difference) gives the maximum. Integers; 0 for one seed (no spread to measure).
    """
    c = np.asarray(contributions, dtype=float)
    worlds, seeds = c.shape[-2:]
    if seeds < 2:
        return np.zeros(c.shape[:-2], dtype=int)
    v = c.var(axis=-1, ddof=1)
    total, square = v.sum(axis=-1), (v**2).sum(axis=-1)
    r = np.divide(total**2, square, out=np.full(np.shape(total), float(worlds)), where=square > 0)
    df = (seeds - 1) + (seeds + 1) * (r - 1.0)
    return np.floor(np.clip(df, seeds - 1, worlds * (seeds - 1)) + 1e-9).astype(int)


def standard_errors(samples: npt.ArrayLike, seeds: int) -> np.ndarray:
    """Bootstrap standard deviation along the last axis, times ``sqrt(seeds / (seeds - 1))``."""
    if seeds < 2:
        raise ValueError(f"standard errors need at least 2 seeds per world; got {seeds}")
    return np.asarray(samples, dtype=float).std(axis=-1) * math.sqrt(seeds / (seeds - 1))


@lru_cache(maxsize=4096)
def _t(p: float, df: int) -> float:
    return t_quantile(p, df)


def _quantiles(p: float, df: np.ndarray) -> np.ndarray:
    """The ``p`` quantile of t for each (whole, positive) entry of ``df``."""
    df = np.asarray(df, dtype=int)
    return np.array([_t(p, int(d)) for d in df.ravel()]).reshape(df.shape)


def _probabilities(diff: np.ndarray, se: np.ndarray, df: np.ndarray) -> np.ndarray:
    """P(difference > 0) from the t approximation: 1 or 0 (0.5 for a tie) when there is no spread."""
    out = np.where(diff > 0, 1.0, np.where(diff < 0, 0.0, 0.5))
    spread = se > 0
    for d in np.unique(df[spread]):
        chosen = spread & (df == d)
        out[chosen] = t_cdf(diff[chosen] / se[chosen], int(d))
    return out


def score_intervals(points: npt.ArrayLike, samples: npt.ArrayLike, contributions: npt.ArrayLike,
                    confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """``point -/+ t * standard error`` for each entry: the board's Score@beta0 interval.

    ``samples`` ``(entries, reps)`` come from the worlds-fixed bootstrap, ``contributions``
    ``(entries, worlds, seeds)`` from :func:`influence`. NaN with one seed per world.
    """
    stats._check_confidence(confidence)
    points = np.asarray(points, dtype=float)
    c = np.asarray(contributions, dtype=float)
    if c.shape[-1] < 2:
        return np.full(points.shape, np.nan), np.full(points.shape, np.nan)
    half = _quantiles(0.5 + confidence / 2, effective_df(c)) * standard_errors(samples, c.shape[-1])
    return points - half, points + half


# ----------------------------------------------------------------------------------------------
# Comparisons in rank order
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PairedComparisons:
    """The board's comparisons, one value per entry in rank order (best first).

    ``p_next``, ``diff_next`` and its 95% interval ``next_low .. next_high`` compare each entry
    with the next one down (one comparison each, not corrected; NaN for the last entry).
    ``tier`` numbers the tiers from 1; ``leader`` is the index of the tier leader the entry was
    compared with (the leader of the tier above, for an entry that leads a tier; -1 for the first
    entry), ``diff_leader`` the difference and ``leader_low .. leader_high`` its simultaneous
    interval, at level ``1 - alpha / pairs``: an entry leads a new tier when ``leader_low > 0``.
    """

    p_next: np.ndarray
    diff_next: np.ndarray
    next_low: np.ndarray
    next_high: np.ndarray
    tier: np.ndarray
    leader: np.ndarray
    diff_leader: np.ndarray
    leader_low: np.ndarray
    leader_high: np.ndarray
    pairs: int


def compare_ranked(points: npt.ArrayLike, samples: npt.ArrayLike, contributions: npt.ArrayLike,
                   confidence: float = 0.95) -> PairedComparisons:
    """P(>next) and tiers for entries already in rank order.

    ``points`` (non-increasing) are the entries' statistics, ``samples`` ``(entries, reps)`` their
    worlds-fixed bootstrap with common draws, ``contributions`` ``(entries, worlds, seeds)`` their
    :func:`influence` values. The tier walk, one entry at a time: O(entries) paired differences,
    each vectorised over the reps. With one seed per world nothing can be told apart: one tier,
    NaN elsewhere.
    """
    stats._check_confidence(confidence)
    points = np.asarray(points, dtype=float)
    samples = np.asarray(samples, dtype=float)
    c = np.asarray(contributions, dtype=float)
    entries = points.shape[0]
    if samples.shape[0] != entries or c.shape[0] != entries or samples.ndim != 2 or c.ndim != 3:
        raise ValueError(f"compare_ranked: points {points.shape}, samples {samples.shape} (entries, reps) and "
                         f"contributions {c.shape} (entries, worlds, seeds) must describe the same entries")
    if (np.diff(points) > 0).any():
        i = int(np.argmax(np.diff(points) > 0))
        raise ValueError(f"points must be in rank order (non-increasing); entry {i + 1} ({points[i + 1]}) is above "
                         f"entry {i} ({points[i]})")
    seeds = c.shape[-1]
    pairs = entries * (entries - 1) // 2
    nan = np.full(entries, np.nan)
    out = {name: nan.copy() for name in ("p_next", "diff_next", "next_low", "next_high", "diff_leader",
                                         "leader_low", "leader_high")}
    tier, leader = np.ones(entries, dtype=int), np.full(entries, -1)
    if entries < 2 or seeds < 2:
        return PairedComparisons(tier=tier, leader=leader, pairs=pairs, **out)
    # Each entry against the next one down, all at once.
    diff = points[:-1] - points[1:]
    se = standard_errors(samples[:-1] - samples[1:], seeds)
    df = effective_df(c[:-1] - c[1:])
    half = _quantiles(0.5 + confidence / 2, df) * se
    out["diff_next"][:-1], out["next_low"][:-1], out["next_high"][:-1] = diff, diff - half, diff + half
    out["p_next"][:-1] = _probabilities(diff, se, df)
    # The tier walk: each entry against its tier's leader, at the Bonferroni level over all pairs.
    level = 1.0 - (1.0 - confidence) / (2 * pairs)
    factor = math.sqrt(seeds / (seeds - 1))
    current, number = 0, 1
    for i in range(1, entries):
        d = points[current] - points[i]
        half = _t(level, int(effective_df(c[current] - c[i]))) * factor * float((samples[current] - samples[i]).std())
        leader[i] = current
        out["diff_leader"][i], out["leader_low"][i], out["leader_high"][i] = d, d - half, d + half
        if d - half > 0:
            current, number = i, number + 1
        tier[i] = number
    return PairedComparisons(tier=tier, leader=leader, pairs=pairs, **out)


# ----------------------------------------------------------------------------------------------
# From scores: one pair, or a whole board
# ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Ranking:
    """A board's worlds-fixed analysis: ``order`` (indices into the input, best first) and, in rank
    order, each entry's ``point`` and interval ``low .. high`` and the :class:`PairedComparisons`."""

    order: np.ndarray
    point: np.ndarray
    low: np.ndarray
    high: np.ndarray
    comparisons: PairedComparisons

    @property
    def tier(self) -> np.ndarray:
        return self.comparisons.tier


def rank(scores: npt.ArrayLike, statistic: str = "iqm", reps: int = 2000, confidence: float = 0.95,
         seed: stats.SeedLike = 0) -> Ranking:
    """Rank entries ``(entries, worlds, seeds)`` by ``statistic`` ('iqm' or 'mean'), with intervals and tiers.

    One worlds-fixed bootstrap (:func:`~ceaseless.leaderboard.scoring.stats.bootstrap_samples`,
    ``reps`` draws from ``seed``: the same seed gives the same board) serves the intervals
    (:func:`score_intervals`) and the comparisons (:func:`compare_ranked`). Ties in the statistic
    keep the input order.
    """
    data, _ = stats._entries(scores)
    contributions = influence(data, statistic)  # also checks the statistic
    samples = stats.bootstrap_samples(data, statistic, reps=reps, seed=seed, resample_worlds=False)
    points = stats._point_statistic(data, statistic)
    order = np.argsort(-points, kind="stable")
    points, samples, contributions = points[order], samples[order], contributions[order]
    low, high = score_intervals(points, samples, contributions, confidence)
    return Ranking(order=order, point=points, low=low, high=high,
                   comparisons=compare_ranked(points, samples, contributions, confidence))


def tiers(scores: npt.ArrayLike, statistic: str = "iqm", reps: int = 2000, confidence: float = 0.95,
          seed: stats.SeedLike = 0) -> np.ndarray:
    """The tier of each entry of ``scores`` ``(entries, worlds, seeds)``, in the input's order."""
    ranking = rank(scores, statistic, reps, confidence, seed)
    out = np.empty_like(ranking.tier)
    out[ranking.order] = ranking.tier
    return out


def paired_difference(x: npt.ArrayLike, y: npt.ArrayLike, statistic: str = "iqm", reps: int = 2000,
                      confidence: float = 0.95, seed: stats.SeedLike = 0) -> stats.Interval:
    """``statistic(x) - statistic(y)`` with its interval, for two entries ``(worlds, seeds)`` on the same runs.

    Seeds resampled within each world with the same draws for both (worlds fixed), the standard
    error corrected for few seeds and referred to t (one comparison: no multiplicity correction).
    """
    a, b = (np.asarray(v, dtype=float) for v in (x, y))
    if a.shape != b.shape:
        raise ValueError(f"x and y must be paired runs of the same shape (worlds, seeds); got {a.shape} and {b.shape}")
    data, _ = stats._entries(np.stack([a, b]))
    samples = stats.bootstrap_samples(data, statistic, reps=reps, seed=seed, resample_worlds=False)
    points = stats._point_statistic(data, statistic)
    contributions = influence(data, statistic)
    diff = float(points[0] - points[1])
    low, high = score_intervals([diff], (samples[0] - samples[1])[None], (contributions[0] - contributions[1])[None],
                                confidence)
    return stats.Interval(diff, float(low[0]), float(high[0]))
