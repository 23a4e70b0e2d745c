"""Scoring: normalisation, Score@beta0 and its intervals, compute-AUC, the compute multiplier, ranks and tiers."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ceaseless.leaderboard.scoring.ranking import BoardOptions, board, compute_multiplier, normalise, per_world

BUDGETS = ["x0.125", "x0.25", "x0.5", "x1", "x2", "x4", "unlimited"]


def synthetic(levels: dict[str, list[float]], worlds: int = 3, seeds: int = 4, noise: float = 0.0,
              seed: int = 0) -> pd.DataFrame:
    """Runs whose z is ``levels[entry][budget index]`` (+ noise), with fallback 1 and oracle 3."""
    rng = np.random.default_rng(seed)
    rows = []
    for entry, zs in levels.items():
        for w in range(worlds):
            for s in range(seeds):
                for budget, z in zip(BUDGETS, zs):
                    value = z + noise * rng.normal()
                    rows.append({"entry": entry, "world_id": f"w{w}", "seed": s, "budget": budget,
                                 "G": 1.0 + 2.0 * value, "G_fallback": 1.0, "G_oracle": 3.0})
    return pd.DataFrame(rows)


def test_z_is_the_fraction_of_the_achievable_reward():
    runs = pd.DataFrame({"G": [1.0, 3.0, 2.0, 0.0], "G_fallback": 1.0, "G_oracle": 3.0,
                         "world_id": "w", "seed": 0})
    assert normalise(runs).tolist() == [0.0, 1.0, 0.5, -0.5]
    broken = runs.assign(G_oracle=1.0)
    with pytest.raises(ValueError, match="oracle does not beat fallback"):
        normalise(broken)


def test_compute_multiplier_reads_the_reference_curve():
    log2 = np.arange(-3, 3, dtype=float)
    curve = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])  # reaches 0.4 at beta0
    assert compute_multiplier(0.4, curve, log2)[0] == pytest.approx(1.0)
    assert compute_multiplier(0.5, curve, log2)[0] == pytest.approx(2.0)
    assert compute_multiplier(0.45, curve, log2)[0] == pytest.approx(2**0.5)
    assert compute_multiplier(0.9, curve, log2) == (float("inf"), "> 4x")
    assert compute_multiplier(0.05, curve, log2)[1] == "<= 0.125x"
    # A reference that gets worse with more budget is made monotone first.
    dipping = np.array([0.1, 0.5, 0.3, 0.4, 0.5, 0.6])
    # Monotone: [0.1, 0.5, 0.5, ...]; 0.45 lies 0.35 / 0.4 of the way from k=-3 to k=-2.
    assert compute_multiplier(0.45, dipping, log2)[0] == pytest.approx(2 ** (-3 + 0.35 / 0.4))


def test_board_ranks_by_score_at_beta0_and_reports_auc_and_multiplier():
    levels = {
        "strong": [0.3, 0.4, 0.5, 0.8, 0.9, 0.95, 1.0],
        "reference": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7],
        "weak": [0.0, 0.0, 0.1, 0.1, 0.1, 0.1, 0.1],
    }
    rows = board(synthetic(levels), BoardOptions(reference="reference", reps=500)).set_index("entry")
    assert rows.index.tolist() == ["strong", "reference", "weak"]
    assert rows.loc["strong", "score"] == pytest.approx(0.8)
    assert rows.loc["reference", "compute_multiplier"] == pytest.approx(1.0)
    assert rows.loc["strong", "compute_multiplier"] == float("inf")  # beyond the reference's ladder
    # compute-AUC: trapezoids of the ladder curve on the log2 axis, divided by its width (5).
    ladder = np.array(levels["reference"][:6])
    assert rows.loc["reference", "compute_auc"] == pytest.approx(((ladder[1:] + ladder[:-1]) / 2).sum() / 5)
    assert rows["rank"].tolist() == [1, 2, 3]
    assert rows.loc["strong", "p_improvement_next"] == 1.0


def test_entries_told_apart_by_paired_differences_get_tiers_and_incomplete_entries_are_left_out():
    levels = {"a": [0.5] * 7, "b": [0.49] * 7, "c": [0.1] * 7}
    runs = synthetic(levels, noise=0.05)
    partial = synthetic({"partial": [0.9] * 7})
    partial = partial[~((partial["world_id"] == "w2") & (partial["seed"] == 3))]
    rows = board(pd.concat([runs, partial]), BoardOptions(reps=500)).set_index("entry")
    assert "partial" not in rows.index
    assert rows.loc["a", "tier"] == rows.loc["b", "tier"] != rows.loc["c", "tier"]
    # The second of a and b was compared with the first, its tier's leader (not significant); c
    # with that leader too (significant).
    first, second, last = rows.index
    assert last == "c" and rows.loc[second, "compared_with"] == rows.loc["c", "compared_with"] == first
    assert rows.loc[second, "diff_leader_low"] <= 0 < rows.loc["c", "diff_leader_low"]
    assert 0.5 <= rows.loc[first, "p_improvement_next"] < 0.99 and rows.loc[second, "p_improvement_next"] > 0.99


def test_the_score_interval_keeps_the_worlds_and_the_across_worlds_one_is_shown_beside_it():
    # Worlds that differ a lot (z 0.1 to 0.9), seeds that hardly do; B is A minus 0.05 on every run.
    rows = []
    for w, level in enumerate(np.linspace(0.1, 0.9, 7)):
        for s in range(3):
            for entry, shift in (("A", 0.0), ("B", -0.05)):
                z = level + shift + 0.01 * ((s * 7 + w) % 3 - 1)
                rows.append({"entry": entry, "world_id": f"w{w}", "seed": s, "budget": "x1", "G": 1.0 + 2.0 * z,
                             "G_fallback": 1.0, "G_oracle": 3.0})
    result = board(pd.DataFrame(rows), BoardOptions(reps=1000)).set_index("entry")
    a = result.loc["A"]
    assert a["ci_high"] - a["ci_low"] < 0.05  # on these worlds: seed noise only
    assert a["ci_worlds_high"] - a["ci_worlds_low"] > 0.3  # across worlds: which worlds were drawn
    # Overlapping intervals, yet the paired runs tell A and B apart.
    assert result.loc["B", "ci_worlds_high"] > a["ci_worlds_low"]
    assert result["tier"].tolist() == [1, 2]
    assert a["diff_next"] == pytest.approx(0.05) and a["p_improvement_next"] == 1.0


def test_per_world_heatmap():
    table = per_world(synthetic({"a": [0.5] * 7}, worlds=2))
    assert table.shape == (1, 2) and np.allclose(table.to_numpy(), 0.5)
