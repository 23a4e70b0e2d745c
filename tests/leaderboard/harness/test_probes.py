"""The world-model probes: scores at the known answers, reproducibility, invalid answers scored as
naive, a stream that goes on bit for bit, and who is (not) asked."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from ceaseless.leaderboard.harness.evaluate import plan
from ceaseless.leaderboard.harness.probes import draw_plans, probe_times
from ceaseless.leaderboard.harness.protocol import AgentSpec
from ceaseless.leaderboard.harness.runner import Run, run
from ceaseless.leaderboard.harness.runspec import RunSpec
from ceaseless.leaderboard.harness.saturation import is_saturated, saturated_result
from ceaseless.worlds.suites import QUICK_V1, QUICK_V2, ProbeSettings

AGENTS = Path(__file__).parents[1] / "agents"
BANDIT = "ceaseless/DriftingBandit-v0"
FORAGER = "ceaseless/Forager-v0"
MAZE = "ceaseless/ShiftingMaze-v0"
PROBES = ProbeSettings(count=12, naive_window=500)


def spec(mode: str = "mean", world: str = FORAGER, steps: int = 3000, agent: str = "predictor.py",
         probes: ProbeSettings | None = PROBES, **fields) -> RunSpec:
    options = {"mode": mode} if agent == "predictor.py" else {}
    options.update(fields.pop("options", {}))
    fields.setdefault("beta", float("inf"))
    fields.setdefault("budget", "unlimited" if not np.isfinite(fields["beta"]) else "x1")
    return RunSpec(agent=AgentSpec.parse(str(AGENTS / agent), **options), world_id=world, seed=1, steps=steps,
                   probes=probes, **fields)


def _without_cpu(log):
    return [{k: v for k, v in entry.items() if k != "cpu"} for entry in log]


def test_the_true_future_scores_one_and_ranks_one(tmp_path):
    result = run(spec("oracle", in_process=True), tmp_path)
    model = result["world_model"]
    assert model["probes"] == 12 and not model["invalid"]
    assert model["score"] == pytest.approx(1.0) and model["ranking"] == pytest.approx(1.0)
    assert model["by_horizon"] == pytest.approx([0.0] * 16)
    assert sum(p["pairs"] for p in model["per_probe"]) > 0, "the plans' returns differ on Forager"
    blind = model["reference"]["action_blind"]
    assert blind["ranking"] == 0.5 and 0.0 < blind["score"] < 1.0  # actions matter here


def test_a_constant_scores_below_zero_and_ignoring_the_actions_ranks_one_half(tmp_path):
    constant = run(spec("constant", MAZE, in_process=True), tmp_path / "c")["world_model"]
    assert constant["score"] <= 0.0
    blind = run(spec("mean", MAZE, in_process=True), tmp_path / "m")["world_model"]
    assert blind["ranking"] == pytest.approx(0.5) and blind["score"] < 0.5


def test_probes_are_reproducible_from_the_seed():
    one, other = spec("mean"), spec("constant")
    times = probe_times(one)
    assert np.array_equal(times, probe_times(other)) and len(times) == 12
    assert times.min() >= int(np.ceil(PROBES.skip_fraction * one.steps)) and len(set(np.diff(times))) > 1
    assert not np.array_equal(times, probe_times(dataclasses.replace(one, seed=2)))
    from ceaseless import worlds

    space = worlds.WORLDS[FORAGER](num_envs=1).action_space
    assert np.array_equal(draw_plans(space, 8, 16, 5), draw_plans(space, 8, 16, 5))
    box = worlds.WORLDS["ceaseless/DriftingControl-v0"](num_envs=1).action_space
    plans = draw_plans(box, 8, 16, 5)
    assert plans.shape == (8, 16, 1) and plans.dtype == box.dtype and np.all(np.abs(plans) <= 1.0)


def test_the_same_times_and_truth_for_every_agent(tmp_path):
    a = run(spec("oracle", in_process=True), tmp_path / "a")["world_model"]["per_probe"]
    b = run(spec("oracle", in_process=True), tmp_path / "b")["world_model"]["per_probe"]
    assert _without_cpu(a) == _without_cpu(b)
    constant = run(spec("constant", in_process=True), tmp_path / "c")["world_model"]["per_probe"]
    assert [p["t"] for p in constant] == [p["t"] for p in a]
    # The same deterministic learner acts the same: the same stream, so the same truth at each probe.
    assert [p["blind_sq"] for p in constant] == [p["blind_sq"] for p in a]


@pytest.mark.parametrize("mode, kind", [("nan", "nonfinite"), ("shape", "shape"), ("raise", "raised")])
def test_bad_answers_are_recorded_and_scored_as_naive(tmp_path, mode, kind):
    result = run(spec(mode), tmp_path)
    model = result["world_model"]
    assert model["invalid"] == {kind: 12} and model["score"] == 0.0 and model["ranking"] == 0.5
    assert not result["faults"], "a predict that raises is not a control fault"


def test_a_late_answer_is_naive_on_a_finite_budget(tmp_path):
    # 1e-4 s per step: the probe's budget is 1 x 8 x 16 x 1e-4 = 12.8 ms; this predict takes 30 ms.
    result = run(spec("slow", beta=1e-4, options={"cpu": 0.03}), tmp_path)
    model = result["world_model"]
    assert model["invalid"] == {"late": 12} and model["score"] == 0.0
    assert model["cpu_seconds"] >= 12 * 0.025 and model["budget_seconds_per_probe"] == pytest.approx(12.8e-3)
    assert model["excess_cpu_seconds"] == pytest.approx(model["cpu_seconds"] - 12 * 12.8e-3)
    assert "per_probe" not in model, "only the unlimited track keeps the per-probe records"


def test_cpu_beyond_the_probe_budget_is_charged_to_the_control_clock(tmp_path):
    # 1 ms per step, credit capped at 100 steps (0.1 s): the probe budget is 0.128 s; this predict
    # takes 0.4 s, so each probe charges about 0.27 s to the control clock -- 0.17 s of debt.
    probes = ProbeSettings(count=4, naive_window=500)
    fields = {"beta": 1e-3, "credit_cap_steps": 100, "probes": probes, "in_process": True}
    slow = run(spec("slow", options={"cpu": 0.4}, **fields), tmp_path / "slow")
    cheap = run(spec("mean", **fields), tmp_path / "cheap")
    model = slow["world_model"]
    assert model["invalid"] == {"late": 4} and model["excess_cpu_seconds"] >= 4 * 0.25
    assert model["excess_cpu_seconds"] == pytest.approx(model["cpu_seconds"] - 4 * 0.128)
    assert cheap["world_model"]["excess_cpu_seconds"] == 0.0 and cheap["steps_skipped"] == 0
    # Each probe's debt (excess - the capped credit: >= 0.17 s) is paid by skipped steps, 1 ms each.
    times = probe_times(spec("slow", **fields))
    owed = sum(min(170, 3000 - t) for t in times)
    assert slow["steps_skipped"] >= 0.8 * owed > 0, (slow["steps_skipped"], owed)


def test_a_cheap_predict_costs_no_control_credit(tmp_path):
    fields = {"beta": 1e-3, "in_process": True, "probes": ProbeSettings(count=6, naive_window=500)}
    cheap = run(spec("mean", **fields), tmp_path / "cheap")
    blind = run(spec("none", **fields), tmp_path / "none")  # the same learner without predict
    assert cheap["world_model"]["excess_cpu_seconds"] == 0.0 and not cheap["world_model"]["invalid"]
    assert cheap["steps_skipped"] == blind["steps_skipped"] == 0 and "world_model" not in blind
    assert cheap["transcript_hash"] == blind["transcript_hash"]


def test_a_predict_over_the_call_timeout_is_an_ordinary_fault(tmp_path):
    # The spec's call_timeout (the suite's, through evaluate.plan) bounds predict as every call.
    probes = ProbeSettings(count=1, naive_window=500)
    result = run(spec("slow", steps=2000, probes=probes, call_timeout=0.5, options={"cpu": 5.0}), tmp_path)
    assert [f["kind"] for f in result["faults"]] == ["timeout"] and result["restarts"] == 1
    assert "within 0.5 s" in result["faults"][0]["message"]
    assert result["world_model"]["invalid"] == {"timeout": 1}


def test_a_crash_in_predict_is_an_ordinary_fault(tmp_path):
    result = run(spec("crash", steps=2000), tmp_path)
    assert [f["kind"] for f in result["faults"]] == ["crashed"] * 3
    assert result["world_model"]["invalid"]["crashed"] == 3


def test_the_stream_goes_on_bit_for_bit_under_the_sandbox(tmp_path):
    on = run(spec("mean"), tmp_path / "on")
    off = run(spec("mean", probes=None), tmp_path / "off")
    assert on["official"] and on["world_model"]["probes"] == 12 and "world_model" not in off
    for key in ("transcript_hash", "G", "curve", "change_points", "steps_skipped"):
        assert on[key] == off[key], key


def test_an_agent_without_predict_is_never_asked(tmp_path):
    result = run(spec("none", in_process=True), tmp_path / "a")
    assert "world_model" not in result and not result["faults"]
    assert "world_model" not in run(spec(agent="qlearner.py"), tmp_path / "b")


def test_a_run_env_loop_answers_with_its_predict_fn(tmp_path):
    loop = run(spec(world=BANDIT, agent="own_loop.py", options={"predict": True}), tmp_path / "a")
    assert loop["world_model"]["probes"] == 12 and not loop["world_model"]["invalid"] and not loop["faults"]
    plain = run(spec(world=BANDIT, agent="own_loop.py"), tmp_path / "b")
    assert "world_model" not in plain and not plain["faults"]
    assert loop["transcript_hash"] == plain["transcript_hash"]


def test_a_run_env_predictor_that_raises_is_recorded_and_the_loop_goes_on(tmp_path):
    result = run(spec(world=BANDIT, agent="own_loop.py", options={"predict": "raise"}), tmp_path)
    assert result["world_model"]["invalid"] == {"raised": 12} and not result["faults"]


def test_the_true_future_never_reaches_a_sandboxed_agent(tmp_path):
    result = run(spec("oracle"), tmp_path)  # no hook across the wire: its predict has nothing to call
    assert result["world_model"]["invalid"] == {"raised": 12} and result["world_model"]["score"] == 0.0


def test_v1_suites_never_probe_and_v2_suites_do():
    agent = AgentSpec.parse(str(AGENTS / "predictor.py"))
    v1 = plan(agent, QUICK_V1, seeds=1, budget="beta0", steps=1000).runs
    assert all(s.probes is None and "probes" not in s.to_json() for s in v1)
    v2 = plan(agent, QUICK_V2, seeds=1, budget="beta0", steps=1000).runs
    assert all(s.probes == QUICK_V2.probes for s in v2)
    assert RunSpec.from_json(v2[0].to_json()) == v2[0] and RunSpec.from_json(v1[0].to_json()) == v1[0]


def test_probe_records_survive_checkpoint_and_resume(tmp_path):
    whole_spec = spec("mean", steps=2 * 4096 + 500, checkpoint_every=4096, in_process=True)
    whole = run(whole_spec, tmp_path / "whole")
    state = Run(whole_spec, tmp_path / "partial")
    state.observation = state.world.reset([whole_spec.seed])[0]
    state._start_agent()
    state._stream(4096)
    state.save()
    state._stop_agent()
    resumed = run(whole_spec, tmp_path / "partial", resume=True)
    assert resumed["resumes"] == 1 and resumed["transcript_hash"] == whole["transcript_hash"]
    assert _without_cpu(resumed["world_model"]["per_probe"]) == _without_cpu(whole["world_model"]["per_probe"])


def test_a_rung_is_not_saturated_when_a_probe_went_over_its_budget_over_the_margin(tmp_path):
    # predict takes 0.2 s: over x8's probe budget (128 x 8e-4 = 0.10 s); within x16's (0.20 s) but
    # not within half of it; within half of x64's (0.82 s). The credit replay alone claims all three.
    probes = ProbeSettings(count=4, naive_window=500)
    rungs = (("x8", 8e-4), ("x16", 1.6e-3), ("x64", 6.4e-3))
    unlimited = run(spec("slow", steps=2000, probes=probes, options={"cpu": 0.2}, replay=rungs, in_process=True),
                    tmp_path)
    replay = unlimited["replay"]
    assert not unlimited["world_model"]["invalid"] and replay["max_probe_cpu_seconds"] >= 0.2
    assert all(replay["rungs"][label]["lowest_credit_seconds"] >= 0.0 for label, _ in rungs)
    for label, beta in rungs:
        rung = spec("slow", steps=2000, probes=probes, options={"cpu": 0.2}, beta=beta, budget=label, in_process=True)
        assert replay["rungs"][label]["probe_budget_seconds"] == pytest.approx(128 * beta)
        if label != "x64":
            assert not is_saturated(unlimited, label), label
            with pytest.raises(ValueError):
                saturated_result(unlimited, rung)
            continue
        assert is_saturated(unlimited, label)
        model = saturated_result(unlimited, rung)["world_model"]
        assert model["invalid"] == {} and model["excess_cpu_seconds"] == 0.0 and "per_probe" not in model
        assert model["budget_seconds_per_probe"] == pytest.approx(128 * beta)
        assert model["score"] == unlimited["world_model"]["score"]


@pytest.mark.parametrize("entry", QUICK_V2.entries, ids=lambda e: e.short_name)
def test_plans_played_as_a_batch_equal_plans_played_one_by_one(entry):
    from ceaseless import worlds
    from ceaseless.leaderboard.harness.probes import Probes

    probes = Probes(RunSpec(agent=AgentSpec(module="unused"), world_id=entry.world_id, seed=3, steps=5000,
                            budget="unlimited", beta=float("inf"), config=entry.config, probes=PROBES))
    world = worlds.WORLDS[entry.world_id](num_envs=1, **entry.config_dict)
    world.reset([3])
    rng = np.random.default_rng(0)
    for t in range(1200):
        if t in (0, 255, 256, 700, 1199):  # block boundaries included
            snapshot = world.get_state()
            plans = draw_plans(world.action_space, 8, 16, t)
            assert np.array_equal(probes.play(snapshot, plans), probes._play_each(snapshot, plans)), t
            assert probes._batch is not False, "every world of the suites plays its probes as a batch"
            assert all(np.array_equal(v, world.get_state()[k]) for k, v in snapshot.items()), "main world untouched"
        world.step_one(draw_plans(world.action_space, 1, 1, int(rng.integers(1 << 30)))[0, 0])


def test_the_readme_predictor_ranks_the_plans_of_a_bandit(tmp_path):
    import re

    readme = (Path(__file__).parents[3] / "README.md").read_text()
    example = next(b for b in re.findall(r"```python\n(.*?)```", readme, flags=re.S) if "def predict" in b)
    (tmp_path / "agent.py").write_text(example)
    result = run(RunSpec(agent=AgentSpec.parse(str(tmp_path / "agent.py")), world_id=BANDIT, seed=1, steps=3000,
                         budget="unlimited", beta=float("inf"), probes=PROBES, in_process=True), tmp_path / "out")
    model = result["world_model"]
    assert not result["faults"] and not model["invalid"] and model["ranking"] > 0.6


def test_an_evaluation_on_a_v2_suite_probes_every_rung(tmp_path):
    import json

    from ceaseless.leaderboard.harness.evaluate import evaluate

    entry = dataclasses.replace(QUICK_V2.entry(BANDIT), steps=2000)
    suite = dataclasses.replace(QUICK_V2, name="tiny-v2", entries=(entry,), public_seeds=(0,), ladder=(0, 6),
                                probes=ProbeSettings(count=5, naive_window=500))
    agent = AgentSpec.parse(str(AGENTS / "predictor.py"))
    manifest = evaluate(agent, suite, tmp_path, workers=1, in_process=True, progress=False)
    assert not manifest["errors"] and manifest["saturated_runs"] >= 1
    runs = {r["budget"]: json.loads((tmp_path / r["file"]).read_text()) for r in manifest["runs"]}
    assert set(runs) == {"x1", "x64", "unlimited"}
    assert runs["x64"].get("saturated") and "per_probe" not in runs["x64"]["world_model"]
    assert len(runs["unlimited"]["world_model"]["per_probe"]) == 5
    assert all(r["world_model"]["probes"] == 5 and r["spec"]["probes"]["count"] == 5 for r in runs.values())
