"""The harness: isolation, the compute clock and its meter, faults, checkpoints and resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from ceaseless.leaderboard.harness.clock import ComputeClock
from ceaseless.leaderboard.harness.protocol import AgentSpec
from ceaseless.leaderboard.harness.runner import Run, run
from ceaseless.leaderboard.harness.runspec import RunSpec
from tests.conftest import scaled

AGENTS = Path(__file__).parents[1] / "agents"
BANDIT = "ceaseless/DriftingBandit-v0"
FORAGER = "ceaseless/Forager-v0"


def spec(agent: str = "qlearner.py", world: str = BANDIT, steps: int = 3000, beta: float = float("inf"),
         budget: str = "unlimited", **options) -> RunSpec:
    extra = {k: options.pop(k) for k in list(options) if k in RunSpec.__dataclass_fields__}
    return RunSpec(agent=AgentSpec.parse(str(AGENTS / agent), **options), world_id=world, seed=1, steps=steps,
                   budget=budget, beta=beta, **extra)


# -- the compute clock ----------------------------------------------------------------------------------
def test_clock_earns_spends_and_caps():
    clock = ComputeClock(beta=1e-3, start_credit=5.0, cap_steps=20)
    assert clock.cap == 0.02
    clock.charge(0.5)  # start-up, paid from the start credit
    clock.earn()
    assert clock.credit == pytest.approx(0.02), "unused start credit is not kept beyond the cap"
    for _ in range(100):
        clock.earn()
    assert clock.credit == pytest.approx(0.02)
    clock.charge(0.05)
    assert not clock.can_act
    for _ in range(30):
        clock.earn()
    assert clock.can_act
    unlimited = ComputeClock(float("inf"), 1.0, 10)
    unlimited.charge(1e9)
    assert unlimited.can_act


def test_a_busy_agent_spending_four_times_its_budget_skips_three_quarters(tmp_path):
    # The agent burns 2 ms of CPU per call on a 0.5 ms/step budget: it can act on about one step
    # in four, once its start-up (charged beyond the 10 ms start credit) is paid off by skipped
    # steps. Tolerance: CPU readings jitter by some tens of microseconds per call.
    result = run(spec("misbehave.py", FORAGER, steps=2000, beta=0.5e-3, budget="x1", cpu=2e-3,
                      start_credit=0.01), tmp_path)
    paying_off = max(0.0, result["startup_cpu_seconds"] - 0.01) / 0.5e-3  # steps skipped for the start-up
    expected = (paying_off + 0.75 * (2000 - paying_off)) / 2000
    assert expected - 0.05 <= result["skipped_fraction"] <= expected + 0.03, (result["skipped_fraction"], expected)
    calls = result["steps"] - result["steps_skipped"]
    assert result["cpu_seconds"] / calls == pytest.approx(2e-3, rel=0.2)


def test_patching_time_inside_the_agent_does_not_fool_the_meter(tmp_path):
    result = run(spec("misbehave.py", BANDIT, steps=300, cpu=2e-3, patch_time=True), tmp_path)
    assert not result["faults"]
    assert result["cpu_us_per_call"] == pytest.approx(2000, rel=0.2)


def test_skipped_steps_reach_the_agent_as_summed_reward_and_elapsed(tmp_path):
    """On a budget the agent misses steps; every world step's reward is still counted in G."""
    slow = run(spec("misbehave.py", BANDIT, steps=2000, beta=0.25e-3, budget="x1", cpu=1e-3,
                    start_credit=0.002), tmp_path / "slow")
    assert slow["steps_skipped"] > 1000
    fast = run(spec("misbehave.py", BANDIT, steps=2000), tmp_path / "fast")
    # The misbehaving agent always pulls arm 0, the bandit's fallback arm: skipping changes nothing
    # but the transcript's skipped flags, so G must be identical.
    assert slow["G"] == fast["G"]
    assert slow["transcript_hash"] != fast["transcript_hash"]


# -- faults ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "how, kind",
    [("raise", "raised"), ("crash", "crashed"), ("out_of_range", "bad_action"), ("nan", "bad_action"),
     ("sleep", "timeout")],
)
def test_faults_are_recorded_and_the_agent_restarted(tmp_path, how, kind):
    result = run(spec("misbehave.py", BANDIT, steps=1500, how=how, at=100, call_timeout=1.0), tmp_path)
    # The agent fails at its 100th call after every (re)start: 3 faults, then fallback to the end.
    assert [fault["kind"] for fault in result["faults"]] == [kind] * 3, result["faults"]
    assert result["restarts"] == 2
    steps = [fault["step"] for fault in result["faults"]]
    assert steps[0] == 99 and steps[1] > steps[0] and steps[2] > steps[1]
    assert result["steps_skipped"] >= 1500 - steps[2] - 1
    assert result["steps"] == 1500 and np.isfinite(result["G"])
    if how == "raise":
        assert "deliberate failure" in result["faults"][0]["message"]


def test_a_child_process_is_a_fault(tmp_path):
    result = run(spec("misbehave.py", BANDIT, steps=3 * 4096, how="child", at=10), tmp_path)
    assert result["faults"] and result["faults"][0]["kind"] == "child_process"
    assert result["faults"][0]["step"] == 9, "refused at the call that tried (see test_confine.py)"


def test_a_fault_in_one_run_leaves_other_runs_alone(tmp_path):
    from ceaseless.leaderboard.harness.backends import LocalBackend

    good = spec("qlearner.py", BANDIT, steps=1000)
    bad = spec("misbehave.py", FORAGER, steps=1000, how="crash", at=5)
    jobs = [{"kind": "run", "spec": s.to_json(), "directory": str(tmp_path)} for s in (good, bad)]
    outcomes = {o["run_id"]: o for o in LocalBackend(2).map(jobs)}
    assert not outcomes[good.run_id]["result"]["faults"]
    assert len(outcomes[bad.run_id]["result"]["faults"]) == 3
    alone = run(good, tmp_path / "alone")
    assert outcomes[good.run_id]["result"]["transcript_hash"] == alone["transcript_hash"]


# -- isolation ------------------------------------------------------------------------------------------
def test_the_agent_cannot_reach_the_world(tmp_path):
    result = run(spec("spy.py", FORAGER, steps=200), tmp_path)
    log = (tmp_path / "logs" / f"{result['run_id']}.log").read_text()
    assert "SPY live World objects: 0" in log
    assert "SPY live Run objects: 0" in log
    assert "SPY registered worlds" in log  # it could import the package: that gives it nothing


# -- checkpoints and resume -----------------------------------------------------------------------------
def test_checkpoint_and_resume_give_the_uninterrupted_result(tmp_path):
    whole = run(spec(steps=3 * 4096 + 500, checkpoint_every=4096), tmp_path / "whole")
    partial_spec = spec(steps=3 * 4096 + 500, checkpoint_every=4096)
    state = Run(partial_spec, tmp_path / "partial")
    # Run until the first checkpoint, then abandon the process state (as a kill would).
    state.observation = state.world.reset([partial_spec.seed])[0]
    state.overhead = 0.0
    state._start_agent()
    state._stream(4096)
    state.save()
    state._stop_agent()
    resumed = run(partial_spec, tmp_path / "partial", resume=True)
    assert resumed["resumes"] == 1 and resumed["fresh_agent_resumes"] == 0
    for key in ("transcript_hash", "G", "change_points", "curve", "steps_skipped"):
        assert resumed[key] == whole[key], key


def test_kill_minus_nine_then_resume_is_identical(tmp_path):
    steps = scaled(200_000, 40_000)
    command = [sys.executable, "-m", "ceaseless.leaderboard.cli", "evaluate", str(AGENTS / "qlearner.py"),
               "--world", "DriftingBandit-v0", "--seeds", "1", "--budget", "unlimited", "--workers", "1",
               "--steps", str(steps)]
    reference = subprocess.run(command + ["--out", str(tmp_path / "whole")], capture_output=True, text=True)
    assert reference.returncode == 0, reference.stderr
    process = subprocess.Popen(command + ["--out", str(tmp_path / "killed")], start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    checkpoints = tmp_path / "killed" / "checkpoints"
    deadline = time.time() + 120
    while time.time() < deadline and not (checkpoints.exists() and any(checkpoints.glob("*.npz"))):
        time.sleep(0.05)
    assert any(checkpoints.glob("*.npz")), "no checkpoint appeared"
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "manifest.json").exists()
    resumed = subprocess.run(command + ["--out", str(tmp_path / "killed"), "--resume"], capture_output=True,
                             text=True)
    assert resumed.returncode == 0, resumed.stderr
    name = "DriftingBandit-v0-seed0-unlimited.json"
    whole = json.loads((tmp_path / "whole" / "runs" / name).read_text())
    again = json.loads((tmp_path / "killed" / "runs" / name).read_text())
    assert again["resumes"] == 1
    for key in ("transcript_hash", "G", "change_points", "curve"):
        assert again[key] == whole[key], key


def test_in_process_mode_is_marked_unofficial_and_matches_isolated(tmp_path):
    isolated = run(spec(steps=2000), tmp_path / "isolated")
    debug = run(spec(steps=2000, in_process=True), tmp_path / "debug")
    assert isolated["official"] and not debug["official"]
    assert debug["transcript_hash"] == isolated["transcript_hash"]
