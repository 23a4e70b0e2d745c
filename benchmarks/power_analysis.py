"""How many seeds per world does the board need? A power analysis from the committed results.

    python benchmarks/power_analysis.py [--suite quick-v1 --suite core-v1] [--delta 0.05] [--power 0.8]
                                        [--simulate 400]

The board separates two entries when the paired difference of their Score@beta0 (IQM of z, worlds
fixed, seeds resampled within each world: :mod:`ceaseless.leaderboard.scoring.paired`) excludes 0
at the Bonferroni level over all pairs of entries. Its standard error with ``n`` seeds per world is
``sigma / sqrt(n)``, where ``sigma^2 = sum_w s_w^2 / worlds^2`` and ``s_w`` is the *per-world
paired-difference spread*: the standard deviation over seeds of the two entries' influence values
(z clipped to each entry's IQM window: the run-by-run paired difference of the IQMs). The smallest
``n`` with ``delta >= sigma / sqrt(n) * (t_crit + t_power)`` gives 80% power to separate entries
whose paired difference is ``delta``, with Student's t on the board's degrees of freedom.

For every pair of the shipped baselines (at beta0, from the suite's committed bundles) it prints
the per-world spreads of the ranking's neighbours, the distribution of ``sigma`` over all pairs,
and the seeds needed for one comparison (a developer against a baseline: public seeds) and on a
board of 10 entries (the Bonferroni level of 45 pairs: hidden seeds, official boards). With
``--simulate`` it checks the figure by Monte Carlo, running the board's own test on boards drawn
from the median pair (each world's paired residuals resampled). It also recomputes the issue's
table of paired differences (mean z, worlds fixed, plain percentile interval) as a sanity check.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time

import numpy as np
import pandas as pd

from ceaseless.leaderboard.scoring import paired, ranking, stats
from ceaseless.leaderboard.scoring.student import t_quantile

ISSUE_PAIRS = (("sarsa-lambda", "mlp-cbp"), ("sarsa-lambda", "q-learning"), ("sarsa-lambda", "dyna-q+"),
               ("mlp-dqn", "ucb-discounted"))
BOARD_ENTRIES = 10  # the shipped baselines: the board the hidden seeds are sized for


# ----------------------------------------------------------------------------------------------
# The core: spreads and seeds
# ----------------------------------------------------------------------------------------------


def paired_spreads(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-world spread of the paired difference of two entries' IQMs: ``(worlds,)``.

    ``a`` and ``b`` are the entries' z ``(worlds, seeds)`` on the same runs; the spread of world
    ``w`` is the standard deviation (ddof 1) over its seeds of the difference of their influence
    values (:func:`ceaseless.leaderboard.scoring.paired.influence`).
    """
    d = paired.influence(np.asarray(a, dtype=float)) - paired.influence(np.asarray(b, dtype=float))
    return d.std(axis=-1, ddof=1)


def sigma(spreads: np.ndarray) -> float:
    """Per-seed standard deviation of the paired difference over all worlds: the standard error times sqrt(n)."""
    s = np.asarray(spreads, dtype=float)
    return float(np.sqrt((s**2).sum()) / s.size)


def effective_worlds(spreads: np.ndarray, measured_seeds: int = 3) -> float:
    """How many worlds carry the variance, ``(sum s^2)^2 / sum s^4``, corrected for spreads measured on few seeds
    (as :func:`ceaseless.leaderboard.scoring.paired.effective_df` does); 1 to ``worlds``."""
    v = np.asarray(spreads, dtype=float) ** 2
    if not (v**2).sum() > 0:
        return float(v.size)
    r = v.sum() ** 2 / (v**2).sum()
    return float(min(v.size, 1.0 + (r - 1.0) * (measured_seeds + 1) / (measured_seeds - 1)))


def seeds_needed(spreads: np.ndarray, delta: float = 0.05, power: float = 0.8, alpha: float = 0.05, pairs: int = 1,
                 measured_seeds: int = 3, most: int = 10_000) -> int:
    """The fewest seeds per world with which the board separates a paired difference of ``delta`` with ``power``.

    The test: difference > ``t(1 - alpha / (2 pairs), df) * sigma / sqrt(n)``, with
    ``df = (n - 1) * effective_worlds``; its power is about ``P(T_df > t_crit - delta sqrt(n) / sigma)``.
    ``pairs`` is the Bonferroni family: 1 for one comparison, ``K (K - 1) / 2`` on a board of K.
    """
    s, worlds = sigma(spreads), len(spreads)
    if s == 0:
        return 2
    r = effective_worlds(spreads, measured_seeds)
    for n in range(2, most + 1):
        df = max(1, min(worlds * (n - 1), math.floor((n - 1) * r)))
        if delta * math.sqrt(n) / s >= t_quantile(1 - alpha / (2 * pairs), df) + t_quantile(power, df):
            return n
    raise ValueError(f"more than {most} seeds per world would be needed (sigma {s:.3f}, delta {delta})")


def detectable(spreads: np.ndarray, seeds: int, power: float = 0.8, alpha: float = 0.05, pairs: int = 1,
               measured_seeds: int = 3) -> float:
    """The smallest paired difference separated with ``power`` at ``seeds`` seeds per world."""
    r = effective_worlds(spreads, measured_seeds)
    df = max(1, min(len(spreads) * (seeds - 1), math.floor((seeds - 1) * r)))
    return sigma(spreads) / math.sqrt(seeds) * (t_quantile(1 - alpha / (2 * pairs), df) + t_quantile(power, df))


def simulate_power(a: np.ndarray, b: np.ndarray, seeds: int, delta: float = 0.05, pairs: int = 1,
                   trials: int = 400, reps: int = 500, seed: int = 0, alpha: float = 0.05) -> float:
    """The share of simulated boards on which the board's test separates ``a`` from a copy of ``b`` shifted so that
    the true paired difference is ``delta``.

    Runs of ``seeds`` seeds per world are drawn by resampling each world's paired residuals
    (``a`` and ``b`` together, around their world means, scaled by ``sqrt(k / (k - 1))`` for the
    ``k`` measured seeds); ``b`` is shifted so that the expected paired difference of the IQMs
    *at ``seeds`` seeds* (what the board measures; the IQM of few runs is slightly biased) is
    ``delta``, averaged over 2,000 draws. Each board is then tested as the board does it: the
    difference against ``t(1 - alpha / (2 pairs), df)`` corrected bootstrap standard errors.
    """
    rng = np.random.default_rng(seed)
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    worlds, measured = a.shape
    means = np.stack([a.mean(axis=1), b.mean(axis=1)])[:, :, None]  # (2, worlds, 1)
    residuals = (np.stack([a, b]) - means) * math.sqrt(measured / (measured - 1))

    def draw(n: int) -> np.ndarray:
        pick = rng.integers(0, measured, size=(worlds, n))
        return means + np.take_along_axis(residuals, np.broadcast_to(pick, (2, worlds, n)), axis=2)

    expected = np.mean([stats.iqm(s[0]) - stats.iqm(s[1]) for s in (draw(seeds) for _ in range(2000))])
    shift = float(expected) - delta
    level = 1.0 - alpha / (2 * pairs)
    hits = 0
    for trial in range(trials):
        scores = draw(seeds)
        scores[1] += shift
        samples = stats.bootstrap_samples(scores, reps=reps, seed=trial, resample_worlds=False)
        points = stats.iqm(scores.reshape(2, -1), axis=1)
        contributions = paired.influence(scores)
        se = paired.standard_errors(samples[0] - samples[1], seeds)
        df = int(paired.effective_df(contributions[0] - contributions[1]))
        hits += bool(points[0] - points[1] > t_quantile(level, df) * se)
    return hits / trials


# ----------------------------------------------------------------------------------------------
# The committed results
# ----------------------------------------------------------------------------------------------


def committed_runs(suite_name: str) -> pd.DataFrame:
    """Every run of the shipped baselines on ``suite_name`` (committed bundles, via the board's cached store)."""
    from ceaseless.leaderboard.board.shipped import baseline_store
    from ceaseless.leaderboard.board.store import load
    from ceaseless.worlds.suites import get_suite

    path, _ = baseline_store(get_suite(suite_name))
    return load(path)


def at_beta0(runs: pd.DataFrame) -> tuple[list[str], np.ndarray, list[str]]:
    """Entries, their z ``(entries, worlds, seeds)`` at beta0, and the worlds."""
    return ranking.rectangles(runs.assign(z=ranking.normalise(runs)) if "z" not in runs else runs, ranking.X1)


def pair_table(entries: list[str], scores: np.ndarray, delta: float, power: float, board: int) -> pd.DataFrame:
    """One row per pair of entries: sigma, its bootstrap check, and the seeds needed."""
    samples = stats.bootstrap_samples(scores, reps=4000, seed=0, resample_worlds=False)
    seeds = scores.shape[2]
    rows = []
    for i, j in itertools.combinations(range(len(entries)), 2):
        spreads = paired_spreads(scores[i], scores[j])
        bootstrap = float(paired.standard_errors(samples[i] - samples[j], seeds)) * math.sqrt(seeds)
        rows.append({"a": entries[i], "b": entries[j], "sigma": sigma(spreads), "sigma_bootstrap": bootstrap,
                     "worlds_effective": effective_worlds(spreads, seeds),
                     "seeds_one": seeds_needed(spreads, delta, power, measured_seeds=seeds),
                     "seeds_board": seeds_needed(spreads, delta, power, pairs=board * (board - 1) // 2,
                                                 measured_seeds=seeds)})
    return pd.DataFrame(rows)


def issue_table(entries: list[str], scores: np.ndarray, reps: int = 2000, seed: int = 0) -> list[str]:
    """The issue's sanity check: mean over worlds of per-world mean paired differences in z, worlds fixed,
    seeds resampled (plain 95% percentile interval), beside the board's IQM difference and interval."""
    lines = ["| pair | mean z, plain percentile | IQM (the board's score), few-seed interval |", "|---|---:|---:|"]
    mean = stats.bootstrap_samples(scores, "mean", reps=reps, seed=seed, resample_worlds=False)
    points = scores.reshape(len(entries), -1).mean(axis=1)
    for a, b in ISSUE_PAIRS:
        if a not in entries or b not in entries:
            continue
        i, j = entries.index(a), entries.index(b)
        low, high = stats.percentile_interval(mean[i] - mean[j])
        board = paired.paired_difference(scores[i], scores[j], "iqm", reps=reps, seed=seed)
        lines.append(f"| {a} - {b} | {points[i] - points[j]:+.3f} [{low:+.3f}, {high:+.3f}] | "
                     f"{board.point:+.3f} [{board.low:+.3f}, {board.high:+.3f}] |")
    return lines


def report(suite_name: str, delta: float, power: float, simulate: int) -> dict:
    started = time.time()
    entries, scores, worlds = at_beta0(committed_runs(suite_name))
    names = [w.split("/")[-1] for w in worlds]
    points = stats.iqm(scores.reshape(len(entries), -1), axis=1)
    order = list(np.argsort(-points, kind="stable"))
    print(f"\n## {suite_name}: {len(entries)} baselines x {len(worlds)} worlds x {scores.shape[2]} seeds at beta0\n")
    print("Per-world paired-difference spreads s_w (SD over seeds of the IQM influence difference), "
          "ranking neighbours:\n")
    print("| pair | " + " | ".join(names) + " | sigma |")
    print("|---|" + "---:|" * (len(names) + 1))
    for i, j in itertools.pairwise(order):
        spreads = paired_spreads(scores[i], scores[j])
        cells = " | ".join(f"{s:.3f}" for s in spreads)
        print(f"| {entries[i]} - {entries[j]} | {cells} | {sigma(spreads):.3f} |")
    table = pair_table(entries, scores, delta, power, BOARD_ENTRIES)
    quantiles = table[["sigma", "sigma_bootstrap", "seeds_one", "seeds_board"]].quantile([0.25, 0.5, 0.75, 0.9])
    print(f"\nOver all {len(table)} pairs (sigma: linearised; sigma_bootstrap: the board's corrected bootstrap SE x "
          f"sqrt(n)); seeds per world for {power:.0%} power at a paired difference of {delta} z, one comparison and on "
          f"a board of {BOARD_ENTRIES} (Bonferroni over {BOARD_ENTRIES * (BOARD_ENTRIES - 1) // 2} pairs):\n")
    print(quantiles.rename(index=lambda q: f"{q:.0%} of pairs").round(3).to_string())
    median = table.iloc[(table["sigma"] - table["sigma"].median()).abs().argsort().iloc[0]]
    one, board = int(table["seeds_one"].median()), int(table["seeds_board"].median())
    print(f"\nMedian pair ({median['a']} - {median['b']}, sigma {median['sigma']:.3f}): {one} seeds for one "
          f"comparison, {board} on the board.")
    i, j = entries.index(median["a"]), entries.index(median["b"])
    spreads = paired_spreads(scores[i], scores[j])
    for seeds in sorted({3, one, board}):
        print(f"  at {seeds:>2} seeds: detectable {detectable(spreads, seeds, power):.3f} z (one comparison), "
              f"{detectable(spreads, seeds, power, pairs=BOARD_ENTRIES * (BOARD_ENTRIES - 1) // 2):.3f} z (board)")
    if simulate:
        for seeds, pairs in ((one, 1), (board, BOARD_ENTRIES * (BOARD_ENTRIES - 1) // 2)):
            hit = simulate_power(scores[i], scores[j], seeds, delta, pairs, trials=simulate)
            print(f"  Monte Carlo, {seeds} seeds, {pairs} pair(s): separated in {hit:.0%} of {simulate} boards")
    print("\nThe issue's table (quick check of the paired bootstrap; 2,000 resamples, seed 0):\n")
    print("\n".join(issue_table(entries, scores)))
    print(f"\n({time.time() - started:.1f} s)")
    return {"suite": suite_name, "seeds_one": one, "seeds_board": board, "sigma_median": float(median["sigma"])}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--suite", action="append", help="suite(s) with committed baseline results (default: both v1)")
    parser.add_argument("--delta", type=float, default=0.05, help="paired difference in z to separate (0.05)")
    parser.add_argument("--power", type=float, default=0.8, help="power (0.8)")
    parser.add_argument("--simulate", type=int, default=0, help="Monte Carlo boards to check the figure (0: none)")
    args = parser.parse_args(argv)
    for suite_name in args.suite or ["quick-v1", "core-v1"]:
        report(suite_name, args.delta, args.power, args.simulate)
    return 0


if __name__ == "__main__":
    sys.exit(main())
