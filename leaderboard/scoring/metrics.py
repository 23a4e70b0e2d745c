"""Per-run metrics from the stream log: reward per step, behaviour around change points,
retention on recurring regimes, the plasticity trend, and downsampled curves.

Everything works on the *fine curve*: the mean reward of consecutive buckets of ``bucket`` steps
(``bucket = 1`` for streams up to 20,000 steps), which the runner accumulates as it goes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

FINE_POINTS = 20_000  # buckets in the fine curve
CURVE_POINTS = 500  # points kept in a result's learning curve


def bucket_size(steps: int) -> int:
    """Steps per bucket of the fine curve."""
    return max(1, -(-steps // FINE_POINTS))


@dataclass(frozen=True)
class ChangeResponse:
    """How an agent fared after one change point: ``drop`` is the mean reward per step in the
    window before the change minus that in the window after; ``recovery_steps`` is how long until
    the trailing-window mean is back within ``tolerance`` of the pre-change level (None: it did
    not recover before the next change point or the end of the stream)."""

    step: int
    kind: str
    magnitude: float
    process: str
    regime: int
    drop: float
    recovery_steps: int | None


def downsample(values: np.ndarray, points: int = CURVE_POINTS) -> np.ndarray:
    """Means over ``points`` (nearly) equal consecutive chunks."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) <= points:
        return values.copy()
    edges = np.linspace(0, len(values), points + 1).astype(np.int64)
    sums = np.add.reduceat(values, edges[:-1])
    return sums / np.diff(edges)


def chunk_means(sums: np.ndarray, counts: np.ndarray, points: int = CURVE_POINTS) -> np.ndarray:
    """Mean reward per step over ``points`` (nearly) equal consecutive chunks of fine buckets,
    from the buckets' reward sums and step counts: the chunks are those of :func:`downsample`, but
    each point is its chunk's exact mean per step, so the step-weighted mean of the points is the
    stream's mean reward ``G`` (which verification checks)."""
    sums, counts = np.asarray(sums, dtype=np.float64), np.asarray(counts, dtype=np.float64)
    if len(sums) <= points:
        return sums / counts
    edges = np.linspace(0, len(sums), points + 1).astype(np.int64)
    return np.add.reduceat(sums, edges[:-1]) / np.add.reduceat(counts, edges[:-1])


def change_responses(curve: np.ndarray, bucket: int, steps: int, change_points: list[dict[str, Any]],
                     window: int = 500, tolerance: float = 0.1) -> list[ChangeResponse]:
    """Drop and recovery after each change point (``curve``: curve means per ``bucket`` steps).

    ``before`` is the mean reward over the ``window`` steps before the change, ``after`` over the
    ``window`` steps after it: ``drop = before - after``. The stream after the change is cut into
    consecutive windows; the recovery time is the end of the first window whose mean is back
    within ``tolerance`` (relative to the larger of |before| and the run's mean |reward|) of
    ``before`` -- at least one window -- or None if that does not happen before the next change.
    """
    curve = np.asarray(curve, dtype=np.float64)
    width = max(1, round(window / bucket))
    scale = max(float(np.abs(curve).mean()), 1e-9)
    starts = [int(cp["step"]) for cp in change_points]
    responses = []
    for index, cp in enumerate(change_points):
        at = int(cp["step"]) // bucket
        if at <= 0 or at >= len(curve):
            continue
        before = curve[max(0, at - width): at].mean()
        after = curve[at: at + width].mean()
        horizon = min(len(curve), (starts[index + 1] // bucket) if index + 1 < len(starts) else len(curve))
        level = before - tolerance * max(abs(before), scale)
        windows = (horizon - at) // width  # complete windows before the next change
        recovery = None
        if windows > 0:
            means = curve[at: at + windows * width].reshape(windows, width).mean(axis=1)
            back = np.flatnonzero(means >= level)
            recovery = int((back[0] + 1) * width * bucket) if len(back) else None
        responses.append(ChangeResponse(int(cp["step"]), cp["kind"], float(cp["magnitude"]), cp["process"],
                                        int(cp.get("regime", 0)), float(before - after), recovery))
    return responses


def retention_gain(curve: np.ndarray, bucket: int, change_points: list[dict[str, Any]],
                   window: int = 500) -> float | None:
    """Mean reward early in a season's later visits minus early in its first visit, averaged
    over seasons that recur: positive when what was learned in a season is kept for its return."""
    width = max(1, window // bucket)
    first: dict[int, float] = {}
    gains = []
    for cp in change_points:
        if cp["kind"] != "season":
            continue
        at = int(cp["step"]) // bucket
        if at >= len(curve):
            continue
        early = float(np.mean(curve[at: at + width]))
        regime = int(cp.get("regime", 0))
        if regime in first:
            gains.append(early - first[regime])
        else:
            first[regime] = early
    return float(np.mean(gains)) if gains else None


def plasticity_trend(responses: list[ChangeResponse], steps: int) -> float | None:
    """Slope of the post-change drop against the time of the change (per whole stream): positive
    when the agent suffers more from change late in life, i.e. it is losing plasticity."""
    if len(responses) < 3:
        return None
    times = np.array([r.step for r in responses], dtype=np.float64) / max(steps, 1)
    drops = np.array([r.drop for r in responses])
    if np.ptp(times) == 0:
        return None
    return float(np.polyfit(times, drops, 1)[0])


def final_window(curve: np.ndarray, fraction: float = 0.1) -> float:
    """Mean reward per step over the last ``fraction`` of the stream."""
    n = max(1, round(len(curve) * fraction))
    return float(np.mean(curve[-n:]))


def summarise(curve: np.ndarray, bucket: int, steps: int, change_points: list[dict[str, Any]]) -> dict[str, Any]:
    """The diagnostics of a run (not ranked; see the leaderboard for scores)."""
    responses = change_responses(curve, bucket, steps, change_points)
    recoveries = [r.recovery_steps for r in responses if r.recovery_steps is not None]
    return {
        "change_responses": [r.__dict__ for r in responses],
        "mean_drop": float(np.mean([r.drop for r in responses])) if responses else None,
        "mean_recovery_steps": float(np.mean(recoveries)) if recoveries else None,
        "recovered_fraction": (len(recoveries) / len(responses)) if responses else None,
        "retention_gain": retention_gain(curve, bucket, change_points),
        "plasticity_trend": plasticity_trend(responses, steps),
        "final_window": final_window(curve),
    }
