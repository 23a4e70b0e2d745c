"""Probability of improvement between two entries, as in rliable: how often a run of one beats a run of the other.

It is an effect size (how *often* X wins, not by how much), kept for analyses. The board's
P(>next) and tiers are paired comparisons of the score itself, in
:mod:`~ceaseless.leaderboard.scoring.paired`.

Random draws come from a ``numpy.random.Generator`` built from the ``seed`` argument, as in
:mod:`~ceaseless.leaderboard.scoring.stats`; the global ``np.random`` state is never used.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from ceaseless.leaderboard.scoring.stats import (
    Interval,
    SeedLike,
    _check_confidence,
    _check_reps,
    _rectangle,
    percentile_interval,
)

__all__ = ["probability_of_improvement", "probability_of_improvement_ci"]


# ----------------------------------------------------------------------------------------------
# Probability of improvement
# ----------------------------------------------------------------------------------------------


def probability_of_improvement(x: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """P(X > Y): the chance that a run of X beats a run of Y on the same, randomly chosen world.

    As in rliable: for each world, the Mann-Whitney probability ``P(x > y) + 0.5 P(x == y)`` over
    all ``seeds_x * seeds_y`` pairs of that world's scores, averaged over worlds (each world
    weighs the same). ``x`` is ``(worlds, seeds_x)``, ``y`` is ``(worlds, seeds_y)``, world ``i``
    of both being the same world. 0.5 means no evidence either way; identical scores give exactly
    0.5 and X always above Y gives 1.0. Unlike a difference of means, it says how *often* X wins,
    not by how much.
    """
    wins = _pairwise_wins(x, y)
    return float(wins.mean(axis=(1, 2)).mean())


def probability_of_improvement_ci(
    x: npt.ArrayLike,
    y: npt.ArrayLike,
    reps: int = 2000,
    confidence: float = 0.95,
    seed: SeedLike = 0,
    resample_worlds: bool = True,
) -> Interval:
    """:func:`probability_of_improvement` with a stratified percentile-bootstrap interval.

    Each rep resamples, within each world slot, the seeds of X and the seeds of Y independently
    with replacement (X and Y are independent runs). With ``resample_worlds`` the world slots are
    first filled by drawing worlds with replacement, the *same* world for X and Y in a slot (the
    comparison stays within a world). Draws from ``numpy.random.default_rng(seed)``, in order:
    worlds ``(reps, worlds)`` (made even when not used), X's seeds ``(reps, worlds, seeds_x)``,
    Y's seeds ``(reps, worlds, seeds_y)``. Returns :class:`Interval` of floats.
    """
    _check_reps(reps)
    _check_confidence(confidence)
    wins = _pairwise_wins(x, y)  # (worlds, seeds_x, seeds_y)
    worlds, seeds_x, seeds_y = wins.shape
    rng = np.random.default_rng(seed)
    world_draws = rng.integers(0, worlds, size=(reps, worlds))
    draws_x = rng.integers(0, seeds_x, size=(reps, worlds, seeds_x))
    draws_y = rng.integers(0, seeds_y, size=(reps, worlds, seeds_y))
    slots = world_draws if resample_worlds else np.broadcast_to(np.arange(worlds), (reps, worlds))
    counts_x = _slot_counts(draws_x, seeds_x)  # (reps, worlds, seeds_x)
    counts_y = _slot_counts(draws_y, seeds_y)
    # Each slot's estimate is counts_x @ wins[world] @ counts_y / (seeds_x * seeds_y); grouping the
    # slots by world keeps memory at O(reps * worlds * seeds).
    slot_value = np.empty((reps, worlds))
    for world in range(worlds):
        chosen = slots == world
        if chosen.any():
            slot_value[chosen] = ((counts_x[chosen] @ wins[world]) * counts_y[chosen]).sum(axis=1)
    samples = slot_value.mean(axis=1) / (seeds_x * seeds_y)
    low, high = percentile_interval(samples, confidence)
    return Interval(float(wins.mean(axis=(1, 2)).mean()), low, high)


def _pairwise_wins(x: npt.ArrayLike, y: npt.ArrayLike) -> np.ndarray:
    """``[x > y] + 0.5 [x == y]`` for every pair of seeds in every world: ``(worlds, seeds_x, seeds_y)``."""
    a = _rectangle(x, "x", (2,), "(worlds, seeds_x)")
    b = _rectangle(y, "y", (2,), "(worlds, seeds_y)")
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"x and y must cover the same worlds: x has {a.shape[0]} worlds, y has {b.shape[0]}")
    for name, values in (("x", a), ("y", b)):
        if np.isnan(values).any():
            raise ValueError(f"{name} contains NaN; a NaN score cannot be compared")
    a3, b3 = a[:, :, None], b[:, None, :]
    return (a3 > b3) + 0.5 * (a3 == b3)


def _slot_counts(draws: np.ndarray, size: int) -> np.ndarray:
    """Multiplicities of ``draws`` ``(reps, slots, k)`` with values in ``[0, size)``: ``(reps, slots, size)``."""
    reps, slots, _ = draws.shape
    offsets = (np.arange(reps * slots) * size).reshape(reps, slots, 1)
    counts = np.bincount((draws + offsets).ravel(), minlength=reps * slots * size)
    return counts.reshape(reps, slots, size).astype(float)
