"""World-model scores: known answers, the reference predictors, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest

from ceaseless.leaderboard.scoring.world_model import ranking_agreement, world_model_scores


def _truth(probes: int = 60, plans: int = 8, horizon: int = 16, seed: int = 0) -> np.ndarray:
    """Rewards where actions matter: each plan has its own level, plus noise per step."""
    rng = np.random.default_rng(seed)
    return rng.normal(size=(probes, plans, 1)) + 0.3 * rng.normal(size=(probes, plans, horizon))


def test_knowing_the_future_scores_one_on_both():
    actual = _truth()
    result = world_model_scores(actual, actual, actual.mean(axis=(1, 2)) + 0.5)
    assert result["score"] == pytest.approx(1.0) and result["ranking"] == pytest.approx(1.0)
    assert result["by_horizon"] == pytest.approx([0.0] * 16) and result["probes"] == 60


def test_the_naive_prediction_scores_zero_and_a_constant_no_better():
    actual = _truth()
    naive = actual.mean(axis=(1, 2)) + 0.2
    as_naive = np.broadcast_to(naive[:, None, None], actual.shape)
    result = world_model_scores(as_naive, actual, naive)
    assert result["score"] == pytest.approx(0.0) and result["ranking"] == pytest.approx(0.5)
    constant = world_model_scores(np.full(actual.shape, 3.0), actual, naive)
    assert constant["score"] <= 0.0


def test_ignoring_the_actions_ranks_at_chance_even_when_its_error_is_small():
    """The action-blind reference: the true mean over plans, the same for every plan."""
    actual = _truth()
    blind = np.broadcast_to(actual.mean(axis=1, keepdims=True), actual.shape)
    result = world_model_scores(blind, actual, actual.mean(axis=(1, 2)) + 1.0)
    assert result["ranking"] == pytest.approx(0.5)
    assert result["score"] > 0.3  # it beats a poor naive predictor on error, yet knows nothing of actions


def test_ranking_agreement_by_hand():
    # Three plans, true returns 1 < 2 < 3 (3 ordered pairs); predictions 1, 3, 3: the pair (0, 1)
    # right, (0, 2) right, (1, 2) predicted equal: half. True ties are not counted.
    agreed, pairs = ranking_agreement([[1.0, 3.0, 3.0], [0.0, 0.0, 1.0]], [[1.0, 2.0, 3.0], [5.0, 5.0, 1.0]])
    assert agreed.tolist() == [2.5, 0.0] and pairs.tolist() == [3.0, 2.0]


def test_intervals_are_reproducible_from_the_seed_and_cover_the_point():
    actual = _truth(seed=1)
    noisy = actual + np.random.default_rng(2).normal(scale=0.5, size=actual.shape)
    naive = actual.mean(axis=(1, 2))
    a, b = (world_model_scores(noisy, actual, naive, seed=7) for _ in range(2))
    assert a == b
    for name in ("score", "ranking"):
        low, high = a[f"{name}_interval"]
        assert low <= a[name] <= high and high - low < 0.5
    assert world_model_scores(noisy, actual, naive, seed=8)["score_interval"] != a["score_interval"]


@pytest.mark.parametrize("change, message", [
    (lambda p, a, n: (p[:, :, :2], a, n), "must both be"),
    (lambda p, a, n: (p, a, n[:3]), "naive must be"),
    (lambda p, a, n: (np.where(p > 1, np.nan, p), a, n), "NaN"),
])
def test_bad_input_is_refused_with_a_reason(change, message):
    actual = _truth(probes=5)
    with pytest.raises(ValueError, match=message):
        world_model_scores(*change(actual.copy(), actual, actual.mean(axis=(1, 2))))


def test_summaries_give_the_same_scores_as_the_full_arrays():
    from ceaseless.leaderboard.scoring.world_model import as_naive, probe_summary, scores_from_summaries

    rng = np.random.default_rng(3)
    actual = rng.normal(size=(12, 8, 16))
    predicted = actual + rng.normal(scale=0.5, size=actual.shape)
    naive = rng.normal(size=12)
    full = world_model_scores(predicted, actual, naive, seed=1)
    summaries = [probe_summary(p, a, n) for p, a, n in zip(predicted, actual, naive, strict=True)]
    compact = scores_from_summaries(summaries, plans=8, seed=1)
    for key in ("score", "ranking", "score_interval", "ranking_interval", "by_horizon"):
        assert np.allclose(compact[key], full[key]), key
    blind = compact["reference"]["action_blind"]
    assert blind["ranking"] == 0.5 and 0.0 < blind["score"] <= 1.0
    as_naive_everywhere = scores_from_summaries([as_naive(s) for s in summaries], plans=8)
    assert as_naive_everywhere["score"] == 0.0 and as_naive_everywhere["ranking"] == 0.5
