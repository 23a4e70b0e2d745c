"""From runs to a ranking: normalisation, the budget ladder, Score@beta0, compute-AUC, the
compute multiplier, P(>next) and tiers.

- Per run, ``z = (G - G_fallback) / (G_oracle - G_fallback)`` on the same seed: the fraction of
  the achievable reward (0: no better than the fallback; 1: as good as the privileged oracle).
  Every world of the current suites has an oracle; a world without one would need frozen
  reference constants per suite version (its z is undefined until then, and the board says so).
  Scores are never normalised by the best submission.
- **Score@beta0** (the rank): IQM of z over every (world, seed) at budget beta0. Its interval
  keeps the suite's worlds fixed and resamples seeds within each world, corrected for few seeds
  (:mod:`~ceaseless.leaderboard.scoring.paired`); the interval that also resamples worlds ("would
  the order hold on other worlds?", a question about the suite) is a separate robustness column,
  ``ci_worlds_low`` .. ``ci_worlds_high``.
- **compute-AUC**: the mean IQM over the budget ladder beta0 * 2**k, on a log2(beta) axis
  (trapezoids): how good an agent is across compute budgets.
- **compute multiplier**: how much more budget the reference baseline needs to reach this
  entry's Score@beta0, read off the reference's ladder curve (log-linear interpolation, its curve
  made monotone: with more budget an agent can always do what it did with less). Below 1: the
  entry is more compute-hungry than the reference; censored at the ends of the ladder.
- **P(>next)** and **tiers** come from paired differences of Score@beta0 on the same runs
  (:func:`ceaseless.leaderboard.scoring.paired.compare_ranked`): P(>next) is the confidence that
  an entry's score is above the next one's; a new tier starts at the first entry whose paired
  difference from its tier's leader is significant, with a Bonferroni correction over all pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ceaseless.leaderboard.scoring import paired, stats
from ceaseless.worlds.suites import UNLIMITED, budget_label

X1 = budget_label(0)


def normalise(runs: pd.DataFrame) -> pd.Series:
    """z of every run (columns G, G_fallback, G_oracle)."""
    span = runs["G_oracle"] - runs["G_fallback"]
    if (span <= 0).any():
        bad = runs.loc[span <= 0, ["world_id", "seed"]].drop_duplicates().to_records(index=False).tolist()
        raise ValueError(f"oracle does not beat fallback on {bad}: the world is broken for normalisation")
    return (runs["G"] - runs["G_fallback"]) / span


def rectangles(runs: pd.DataFrame, budget: str) -> tuple[list[str], np.ndarray, list[str]]:
    """Entries, their z arrays ``(entries, worlds, seeds)`` at one budget, and the worlds.
    Entries missing any (world, seed) cell are left out (they cannot be compared fairly)."""
    at = runs[runs["budget"] == budget]
    if at.empty:
        return [], np.zeros((0, 0, 0)), []
    table = at.pivot_table(index="entry", columns=["world_id", "seed"], values="z", aggfunc="first")
    table = table.dropna(axis=0, how="any")
    worlds = list(dict.fromkeys(table.columns.get_level_values(0)))
    seeds_per_world = table.columns.to_frame().groupby(level=0).size()
    if len(set(seeds_per_world)) != 1:
        # Different seed counts per world: keep the smallest common number, in order.
        keep = min(seeds_per_world)
        columns = [c for w in worlds for c in [c for c in table.columns if c[0] == w][:keep]]
        table = table[columns]
    seeds = table.shape[1] // max(1, len(worlds))
    values = table.to_numpy().reshape(len(table), len(worlds), seeds)
    return list(table.index), values, worlds


@dataclass
class BoardOptions:
    """How the board is scored: bootstrap reps and seed (the same seed gives the same board), and
    ``confidence``, the level of every interval and the family-wise level of the tiers."""

    reps: int = 2000
    confidence: float = 0.95
    seed: int = 0
    reference: str | None = None  # the entry that defines the compute multiplier


def ladder_points(runs: pd.DataFrame) -> list[tuple[str, float]]:
    """The ladder's budgets present in the runs, as (label, log2 multiple of beta0), ascending."""
    labels = [b for b in runs["budget"].unique() if b != UNLIMITED]
    points = sorted((label, float(np.log2(float(label[1:])))) for label in labels)
    return sorted(points, key=lambda p: p[1])


def compute_multiplier(score: float, reference_curve: np.ndarray, log2_budgets: np.ndarray) -> tuple[float, str]:
    """(multiplier, display) of the budget the reference needs for ``score``, relative to beta0."""
    curve = np.maximum.accumulate(np.asarray(reference_curve, dtype=np.float64))
    if np.isnan(curve).any() or len(curve) == 0:
        return float("nan"), "n/a"
    if score <= curve[0]:
        return float(2.0 ** log2_budgets[0]), f"<= {2.0 ** log2_budgets[0]:g}x"
    if score > curve[-1]:
        return float("inf"), f"> {2.0 ** log2_budgets[-1]:g}x"
    above = int(np.argmax(curve >= score))
    x0, x1, y0, y1 = log2_budgets[above - 1], log2_budgets[above], curve[above - 1], curve[above]
    k = x1 if y1 == y0 else x0 + (score - y0) / (y1 - y0) * (x1 - x0)
    return float(2.0**k), f"{2.0**k:.2f}x"


def board(runs: pd.DataFrame, options: BoardOptions | None = None) -> pd.DataFrame:
    """The board: one row per entry, ranked by Score@beta0.

    ``runs`` needs columns entry, world_id, seed, budget, G, G_fallback, G_oracle (z is added if
    missing) and, optionally, the diagnostics columns cpu_us_per_call, skipped_fraction,
    peak_memory, faults, recovery_steps, retention_gain, plasticity_trend, final_window.

    Columns: ``score`` with ``ci_low`` .. ``ci_high`` (worlds fixed) and ``ci_worlds_low`` ..
    ``ci_worlds_high`` (worlds resampled), ``iqm@<budget>``, ``compute_auc``,
    ``compute_multiplier`` (and its text), ``rank``, ``tier``, ``p_improvement_next`` (P(>next)),
    ``diff_next`` with its 95% interval ``diff_next_low`` .. ``diff_next_high`` (one comparison),
    ``compared_with`` (the tier leader an entry was tested against), ``diff_leader`` with its
    Bonferroni-level interval ``diff_leader_low`` .. ``diff_leader_high`` (a new tier starts where
    ``diff_leader_low > 0``), ``worlds``, ``seeds`` and the diagnostics averaged at beta0.
    """
    options = options or BoardOptions()
    runs = runs.copy()
    if "z" not in runs:
        runs["z"] = normalise(runs)
    ladder = ladder_points(runs)
    entries, at_beta0, worlds = rectangles(runs, X1)
    if not entries:
        raise ValueError("no entry has a complete set of runs at budget beta0 (x1)")
    ranked = paired.rank(at_beta0, reps=options.reps, confidence=options.confidence, seed=options.seed)
    across = stats.bootstrap_ci(at_beta0, reps=options.reps, confidence=options.confidence, seed=options.seed,
                                resample_worlds=True)
    best_first = [entries[i] for i in ranked.order]
    rows = pd.DataFrame({"entry": best_first, "score": ranked.point, "ci_low": ranked.low, "ci_high": ranked.high,
                         "ci_worlds_low": across.low[ranked.order], "ci_worlds_high": across.high[ranked.order]}
                        ).set_index("entry")
    # IQM at every budget of the ladder (and unlimited), points only.
    for label, _ in [*ladder, (UNLIMITED, np.inf)]:
        names, values, _ = rectangles(runs, label)
        keep = [i for i, name in enumerate(names) if name in rows.index]  # ranked entries only
        if keep:
            rows.loc[[names[i] for i in keep], f"iqm@{label}"] = stats.iqm(
                values[keep].reshape(len(keep), -1), axis=1)
    curve_columns = [f"iqm@{label}" for label, _ in ladder if f"iqm@{label}" in rows]
    log2_budgets = np.array([k for label, k in ladder if f"iqm@{label}" in rows])
    if len(curve_columns) >= 2:
        curves = rows[curve_columns].to_numpy()
        width = log2_budgets[-1] - log2_budgets[0]
        areas = (curves[:, 1:] + curves[:, :-1]) / 2.0 * np.diff(log2_budgets)
        rows["compute_auc"] = areas.sum(axis=1) / width
    else:
        rows["compute_auc"] = np.nan
    reference = options.reference if options.reference in rows.index else None
    if reference is not None and curve_columns:
        reference_curve = rows.loc[reference, curve_columns].to_numpy(dtype=np.float64)
        found = [compute_multiplier(s, reference_curve, log2_budgets) for s in rows["score"]]
        rows["compute_multiplier"] = [value for value, _ in found]
        rows["compute_multiplier_text"] = [text for _, text in found]
    else:
        rows["compute_multiplier"] = np.nan
        rows["compute_multiplier_text"] = "n/a"
    # Rank, P(>next) and tiers from the paired comparisons.
    comparisons = ranked.comparisons
    rows["rank"] = np.arange(1, len(rows) + 1)
    rows["tier"] = comparisons.tier
    rows["p_improvement_next"] = comparisons.p_next
    rows["diff_next"] = comparisons.diff_next
    rows["diff_next_low"] = comparisons.next_low
    rows["diff_next_high"] = comparisons.next_high
    rows["compared_with"] = [best_first[j] if j >= 0 else None for j in comparisons.leader]
    rows["diff_leader"] = comparisons.diff_leader
    rows["diff_leader_low"] = comparisons.leader_low
    rows["diff_leader_high"] = comparisons.leader_high
    rows["worlds"] = len(worlds)
    rows["seeds"] = at_beta0.shape[2]
    # Diagnostics at beta0 (not ranked). Reward-valued ones are divided by the world's span
    # (oracle - fallback) so that they can be averaged over worlds, like z.
    span = runs["G_oracle"] - runs["G_fallback"]
    if "final_window" in runs:
        runs["final_window_z"] = (runs["final_window"] - runs["G_fallback"]) / span
    for column in ("retention_gain", "plasticity_trend"):
        if column in runs:
            runs[f"{column}_z"] = runs[column] / span
    diagnostic_columns = [c for c in ("cpu_us_per_call", "skipped_fraction", "peak_memory", "faults",
                                      "recovery_steps", "retention_gain_z", "plasticity_trend_z", "final_window_z")
                          if c in runs]
    if diagnostic_columns:
        at = runs[runs["budget"] == X1]
        aggregated = at.groupby("entry")[diagnostic_columns].agg(
            {c: ("sum" if c == "faults" else "max" if c == "peak_memory" else "mean") for c in diagnostic_columns})
        rows = rows.join(aggregated)
    return rows.reset_index()


def per_world(runs: pd.DataFrame, budget: str = X1) -> pd.DataFrame:
    """Mean z per (entry, world) at one budget: the board's heatmap."""
    runs = runs.copy()
    if "z" not in runs:
        runs["z"] = normalise(runs)
    at = runs[runs["budget"] == budget]
    return at.pivot_table(index="entry", columns="world_id", values="z", aggfunc="mean")
