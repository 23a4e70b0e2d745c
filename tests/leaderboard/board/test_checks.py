"""The invariants of honest results hold on every committed bundle and catch edited numbers."""

from __future__ import annotations

import copy
import json
import tarfile

import pytest

from ceaseless.leaderboard.board import checks, shipped


@pytest.fixture(scope="module")
def honest(tmp_path_factory):
    """The committed q-learning bundle on quick-v1 (partial last bucket, legacy curve) and on
    core-v1 (whole buckets): all of their runs."""
    found = {}
    for suite in ("quick-v1", "core-v1"):
        target = tmp_path_factory.mktemp(suite)
        with tarfile.open(shipped.committed_bundles(suite)["q-learning"]) as tar:
            tar.extractall(target, filter="data")
        found[suite] = [json.loads(p.read_text()) for p in sorted((target / "runs").glob("*.json"))]
    return found


@pytest.mark.parametrize("suite", ["quick-v1", "core-v1"])
def test_honest_results_break_no_invariant(honest, suite):
    assert checks.problems(honest[suite]) == []


def test_an_edited_g_disagrees_with_its_curve(honest):
    runs = copy.deepcopy(honest["core-v1"])
    victim = next(r for r in runs if r["spec"]["budget"] == "x0.125" and r["steps_skipped"] > 0)
    victim["G"] += 1e-4
    (problem,) = checks.problems(runs)
    assert problem.startswith(victim["run_id"]) and "learning curve" in problem


def test_an_edited_saturated_rung_disagrees_with_the_unlimited_run(honest):
    """Even where the curve cannot say (a legacy curve over a partial last bucket), a rung that
    skipped nothing must earn the unlimited G exactly."""
    runs = copy.deepcopy(honest["quick-v1"])
    victim = next(r for r in runs if r["spec"]["budget"] == "x4" and r["steps_skipped"] == 0)
    victim["G"] *= 1.01
    assert any(p.startswith(victim["run_id"]) and "skipped no step" in p for p in checks.problems(runs))
    # Editing the unlimited run instead flags every saturated rung of its (world, seed).
    runs = copy.deepcopy(honest["quick-v1"])
    unlimited = next(r for r in runs if r["spec"]["budget"] == "unlimited")
    unlimited["G"] *= 1.01
    assert len(checks.problems(runs)) >= 3


def test_exact_curves_are_checked_exactly():
    """New results carry exact chunk means ("exact": true): their step-weighted mean is G."""
    steps, points = 50_000, [0.1] * 499 + [0.4]  # 500 chunks over 16,667 buckets of 3 (the last holds 2)
    result = {"run_id": "r", "G": 0.0, "steps": steps, "curve": {"points": points, "steps": steps, "exact": True}}
    import numpy as np

    edges = np.linspace(0, 16_667, 501).astype(np.int64)
    counts = np.full(16_667, 3.0)
    counts[-1] = 2
    result["G"] = float(np.dot(points, np.add.reduceat(counts, edges[:-1]))) / steps
    assert checks.curve_problem(result) is None
    result["G"] += 1e-6
    assert "learning curve" in checks.curve_problem(result)


def test_bookkeeping_must_add_up(honest):
    run = copy.deepcopy(honest["core-v1"][0])
    assert checks.bookkeeping_problem(run) is None
    run["cpu_us_per_call"] /= 3
    assert "not the CPU over" in checks.bookkeeping_problem(run)
    run = copy.deepcopy(honest["core-v1"][0])
    run["steps_skipped"] = run["steps"] + 1
    assert "impossible" in checks.bookkeeping_problem(run)


def test_the_runner_writes_results_that_keep_the_invariants(tmp_path):
    """A stream of 20,003 steps: buckets of 2 steps, the last of 1; the curve is exact."""
    from pathlib import Path

    from ceaseless.leaderboard.harness.protocol import AgentSpec
    from ceaseless.leaderboard.harness.runner import run
    from ceaseless.leaderboard.harness.runspec import RunSpec

    agent = AgentSpec.parse(str(Path(__file__).parents[1] / "agents" / "qlearner.py"))
    results = [run(RunSpec(agent=agent, world_id="ceaseless/DriftingBandit-v0", seed=0, steps=20_003, budget=budget,
                           beta=beta, in_process=True), tmp_path) for budget, beta in (("unlimited", float("inf")),
                                                                                        ("x4", 1.0))]
    assert results[0]["curve"]["exact"] and results[1]["steps_skipped"] == 0
    assert checks.problems(results) == []
