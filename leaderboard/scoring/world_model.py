"""World-model scores: how well an agent predicts what its actions will do.

At each probe the harness offers ``K`` action plans of ``H`` steps, asks the agent for the rewards
it expects at each step of each plan, and plays every plan out on a copy of the world (the same
exogenous randomness for all plans). This module scores the answers against that ground truth;
it sees only arrays, never the world. Shapes: ``predicted`` and ``actual`` are ``(probes, K, H)``;
``naive`` is ``(probes,)``, the reference prediction for every step of every plan at a probe (the
agent's recent mean reward, as the harness computes it from the stream).

- ``score`` = 1 - MSE(agent) / MSE(naive): 1 is perfect, 0 no better than the naive predictor,
  below 0 worse.
- ``ranking``: the fraction of plan pairs whose predicted returns (sums over the horizon) are
  ordered as the true returns are; a pair the agent predicts as equal counts half, and pairs whose
  true returns are equal are left out (no order to get right). 0.5 is chance.
- ``by_horizon``: the agent's mean squared error at each step h = 1..H (does the model compound?).

Both scores have percentile-bootstrap intervals over probes, drawn from
``numpy.random.default_rng(seed)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from ceaseless.leaderboard.scoring.stats import percentile_interval

__all__ = ["as_naive", "probe_summary", "ranking_agreement", "scores_from_summaries", "world_model_scores"]


def _check(predicted: np.ndarray, actual: np.ndarray, naive: np.ndarray) -> None:
    if predicted.ndim != 3 or predicted.shape != actual.shape:
        raise ValueError(f"predicted {predicted.shape} and actual {actual.shape} must both be (probes, K, H)")
    if naive.shape != predicted.shape[:1]:
        raise ValueError(f"naive must be (probes,) = {predicted.shape[:1]}, got {naive.shape}")
    if predicted.shape[0] == 0:
        raise ValueError("no probes to score")
    for name, values in (("predicted", predicted), ("actual", actual), ("naive", naive)):
        if not np.isfinite(values).all():
            raise ValueError(f"{name} holds NaN or infinity (the harness replaces bad answers by the naive one)")


def ranking_agreement(predicted_returns: npt.ArrayLike, true_returns: npt.ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """Per probe: (agreement summed over the ordered pairs, number of pairs counted). Inputs are
    ``(probes, K)`` returns; a predicted tie scores half, a true tie is not counted."""
    p = np.asarray(predicted_returns, dtype=float)
    t = np.asarray(true_returns, dtype=float)
    upper = np.triu(np.ones((p.shape[1], p.shape[1]), dtype=bool), k=1)
    dp = np.sign(p[:, :, None] - p[:, None, :])[:, upper]
    dt = np.sign(t[:, :, None] - t[:, None, :])[:, upper]
    counted = dt != 0
    agreement = np.where(dp == 0, 0.5, (dp == dt).astype(float))
    return (agreement * counted).sum(axis=1), counted.sum(axis=1).astype(float)


def world_model_scores(predicted: npt.ArrayLike, actual: npt.ArrayLike, naive: npt.ArrayLike, *,
                       reps: int = 2000, confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """``score``, ``ranking`` (each with ``[low, high]``), ``by_horizon`` and ``probes``."""
    predicted = np.asarray(predicted, dtype=float)
    actual = np.asarray(actual, dtype=float)
    naive = np.asarray(naive, dtype=float)
    _check(predicted, actual, naive)
    probes = predicted.shape[0]
    agent_error = ((predicted - actual) ** 2).mean(axis=(1, 2))  # (probes,)
    naive_error = ((naive[:, None, None] - actual) ** 2).mean(axis=(1, 2))
    agreed, pairs = ranking_agreement(predicted.sum(axis=2), actual.sum(axis=2))

    def score_of(index: np.ndarray) -> np.ndarray:
        naive_mse = naive_error[index].mean(axis=-1)
        return 1.0 - agent_error[index].mean(axis=-1) / np.where(naive_mse > 0, naive_mse, np.nan)

    def ranking_of(index: np.ndarray) -> np.ndarray:
        total = pairs[index].sum(axis=-1)
        return agreed[index].sum(axis=-1) / np.where(total > 0, total, np.nan)

    everything = np.arange(probes)
    draws = np.random.default_rng(seed).integers(0, probes, size=(reps, probes))
    result: dict[str, Any] = {"probes": int(probes)}
    for name, statistic in (("score", score_of), ("ranking", ranking_of)):
        point = float(statistic(everything))
        samples = statistic(draws)
        samples = samples[np.isfinite(samples)]
        low, high = percentile_interval(samples, confidence) if len(samples) else (np.nan, np.nan)
        result[name] = point
        result[f"{name}_interval"] = [float(low), float(high)]
    result["by_horizon"] = ((predicted - actual) ** 2).mean(axis=(0, 1)).tolist()
    return result


# -- compact per-probe summaries (what a run record keeps instead of the K x H arrays) -------------------
def probe_summary(predicted: npt.ArrayLike, actual: npt.ArrayLike, naive: float) -> dict[str, Any]:
    """One probe's sufficient statistics: squared errors (summed, and per horizon step) of the
    agent, the naive prediction and the action-blind reference (the true mean over plans at each
    step), and the agent's ranking agreements. ``predicted`` and ``actual`` are ``(K, H)``."""
    predicted = np.asarray(predicted, dtype=float)
    actual = np.asarray(actual, dtype=float)
    blind = actual.mean(axis=0, keepdims=True)
    agreed, pairs = ranking_agreement(predicted.sum(axis=1)[None], actual.sum(axis=1)[None])
    h_agent = ((predicted - actual) ** 2).sum(axis=0)
    h_naive = ((naive - actual) ** 2).sum(axis=0)
    h_blind = ((blind - actual) ** 2).sum(axis=0)
    return {"naive": float(naive), "agent_sq": float(h_agent.sum()), "naive_sq": float(h_naive.sum()),
            "blind_sq": float(h_blind.sum()), "agreed": float(agreed[0]), "pairs": float(pairs[0]),
            "h_agent": h_agent.tolist(), "h_naive": h_naive.tolist(), "h_blind": h_blind.tolist()}


def as_naive(summary: dict[str, Any]) -> dict[str, Any]:
    """The summary of a probe whose answer is replaced by the naive prediction (every plan equal:
    every counted pair is a predicted tie, worth half)."""
    return {**summary, "agent_sq": summary["naive_sq"], "h_agent": list(summary["h_naive"]),
            "agreed": 0.5 * summary["pairs"]}


def scores_from_summaries(summaries: list[dict[str, Any]], plans: int, *, reps: int = 2000,
                          confidence: float = 0.95, seed: int = 0) -> dict[str, Any]:
    """``score``, ``ranking`` (with intervals over probes), ``by_horizon`` and ``probes`` from
    :func:`probe_summary` records: the same numbers :func:`world_model_scores` gives from the full
    arrays; ``reference.action_blind`` scores the true mean over plans (ranking 0.5 by construction)."""
    if not summaries:
        raise ValueError("no probes to score")
    column = {name: np.array([s[name] for s in summaries], dtype=float)
              for name in ("agent_sq", "naive_sq", "blind_sq", "agreed", "pairs")}
    probes = len(summaries)
    draws = np.random.default_rng(seed).integers(0, probes, size=(reps, probes))
    everything = np.arange(probes)

    def interval(statistic) -> tuple[float, list[float]]:
        samples = statistic(draws)
        samples = samples[np.isfinite(samples)]
        low, high = percentile_interval(samples, confidence) if len(samples) else (np.nan, np.nan)
        return float(statistic(everything)), [float(low), float(high)]

    def scored(errors: np.ndarray, agreed: np.ndarray, horizon: str) -> dict[str, Any]:
        def score_of(index: np.ndarray) -> np.ndarray:
            naive = column["naive_sq"][index].sum(axis=-1)
            return 1.0 - errors[index].sum(axis=-1) / np.where(naive > 0, naive, np.nan)

        def ranking_of(index: np.ndarray) -> np.ndarray:
            total = column["pairs"][index].sum(axis=-1)
            return agreed[index].sum(axis=-1) / np.where(total > 0, total, np.nan)

        result: dict[str, Any] = {"probes": probes}
        result["score"], result["score_interval"] = interval(score_of)
        result["ranking"], result["ranking_interval"] = interval(ranking_of)
        by_horizon = np.array([s[horizon] for s in summaries], dtype=float).sum(axis=0) / (probes * plans)
        result["by_horizon"] = by_horizon.tolist()
        return result

    result = scored(column["agent_sq"], column["agreed"], "h_agent")
    result["reference"] = {"action_blind": scored(column["blind_sq"], 0.5 * column["pairs"], "h_blind")}
    return result
