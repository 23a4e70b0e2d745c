"""Invariants every honest set of run results keeps, checked on all runs (no re-running needed).

A results bundle is hashed, but whoever made it can re-hash it. These checks cost milliseconds and
catch an edited number without running anything, before :func:`verify` re-runs a sample:

- **curve and G agree.** ``G`` is the mean reward per step; the learning curve holds means of
  consecutive chunks of the same rewards. Their step-weighted mean is ``G`` up to the last
  (partial) bucket, whose share is bounded: an edited ``G`` without a matching curve is caught.
- **a saturated rung is the unlimited run.** A run on a budget in which the agent was never short
  of credit (no step skipped, no fault) saw exactly what the unlimited run saw, so a deterministic
  agent (as the protocol asks agents to be) earned exactly the same ``G``, bit for bit.
- **the bookkeeping adds up.** ``steps_skipped / steps`` is ``skipped_fraction``, the CPU per call
  is the CPU over the calls made, and no count is negative.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import Any

import numpy as np

from ceaseless.leaderboard.scoring.metrics import bucket_size
from ceaseless.worlds.suites import UNLIMITED


def curve_problem(result: dict[str, Any]) -> str | None:
    """Why this run's curve and G disagree, or None."""
    curve = result.get("curve") or {}
    points = curve.get("points") if isinstance(curve, dict) else curve
    steps = int(result.get("steps") or 0)
    if not points or steps <= 0:
        return None if steps > 0 and not points else "no steps"
    buckets = -(-steps // bucket_size(steps))
    if len(points) > buckets:
        return f"the curve has {len(points)} points for {buckets} buckets"
    # The chunks of metrics.downsample: fine buckets edges[i]..edges[i + 1] make point i.
    edges = np.linspace(0, buckets, len(points) + 1).astype(np.int64) if len(points) < buckets \
        else np.arange(buckets + 1)
    bucket = bucket_size(steps)
    counts = np.full(buckets, bucket, dtype=np.float64)
    counts[-1] = steps - bucket * (buckets - 1)
    exact = isinstance(curve, dict) and curve.get("exact")
    if not exact and counts[-1] != bucket:
        # Older results averaged bucket means, so a partial last bucket weighs an unknown reward:
        # no exact statement is possible (the other checks and the re-runs still apply).
        return None
    weights = np.add.reduceat(counts, edges[:-1]) if exact else np.diff(edges) * float(bucket)
    implied = float(np.dot(np.asarray(points, dtype=np.float64), weights)) / steps
    scale = max(1.0, abs(result["G"]), max(abs(p) for p in points))
    if abs(implied - result["G"]) > 1e-9 * scale:
        return f"G = {result['G']:.6g} but its learning curve averages {implied:.6g}"
    return None


def bookkeeping_problem(result: dict[str, Any]) -> str | None:
    """Why this run's counts do not add up, or None."""
    steps, skipped = int(result["steps"]), int(result["steps_skipped"])
    if not (0 <= skipped <= steps) or result["cpu_seconds"] < 0:
        return f"impossible counts: {skipped} of {steps} steps skipped, {result['cpu_seconds']} s of CPU"
    if not math.isclose(result["skipped_fraction"], skipped / steps, rel_tol=1e-9, abs_tol=1e-12):
        return f"skipped_fraction {result['skipped_fraction']} is not {skipped}/{steps}"
    calls = max(1, steps - skipped)
    if not math.isclose(result["cpu_us_per_call"], 1e6 * result["cpu_seconds"] / calls, rel_tol=1e-6, abs_tol=1e-9):
        return f"cpu_us_per_call {result['cpu_us_per_call']} is not the CPU over {calls} calls"
    return None


def saturated_problems(results: list[dict[str, Any]]) -> list[str]:
    """Runs on a budget that never ran short of credit but whose G is not the unlimited run's."""
    by_cell: dict[tuple, dict[str, dict[str, Any]]] = defaultdict(dict)
    for result in results:
        spec = result["spec"]
        cell = (spec["world_id"], spec["seed"], repr(sorted((spec.get("config") or {}).items())))
        by_cell[cell][spec["budget"]] = result
    problems = []
    for _, runs in sorted(by_cell.items()):
        unlimited = runs.get(UNLIMITED)
        if unlimited is None or unlimited["faults"] or unlimited.get("restarts"):
            continue
        for budget, result in sorted(runs.items()):
            saturated = budget != UNLIMITED and result["steps_skipped"] == 0 and not result["faults"]
            if saturated and result["G"] != unlimited["G"]:
                problems.append(f"{result['run_id']}: skipped no step, so it must earn the G of "
                                f"{unlimited['run_id']} ({unlimited['G']!r}), but records {result['G']!r}")
    return problems


def problems(results: list[dict[str, Any]]) -> list[str]:
    """Every invariant broken by ``results`` (one entry's runs), each naming its run."""
    found = []
    for result in results:
        for check in (curve_problem, bookkeeping_problem):
            problem = check(result)
            if problem:
                found.append(f"{result['run_id']}: {problem}")
    return found + saturated_problems(results)
