"""Saturated rungs: the credit replay is the compute clock, and a rung is recorded from the
unlimited run only when a real run of it would have made every call."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ceaseless.leaderboard.harness.clock import ComputeClock, CreditReplay
from ceaseless.leaderboard.harness.evaluate import evaluate
from ceaseless.leaderboard.harness.protocol import AgentSpec
from ceaseless.leaderboard.harness.saturation import is_saturated
from ceaseless.worlds.suites import QUICK_V2, UNLIMITED
from tests.leaderboard.tiny import AGENTS


@settings(max_examples=200, deadline=None)
@given(beta=st.floats(1e-6, 1e-3), cap=st.integers(1, 2000), start=st.floats(0.0, 0.05),
       startup=st.floats(0.0, 0.05), load=st.floats(0.1, 2.0), n=st.integers(1, 400),
       split=st.integers(0, 400), seed=st.integers(0, 2**32 - 1))
def test_the_replay_is_the_clock(beta, cap, start, startup, load, n, split, seed):
    """Fed the same costs in any blocks, the replay reaches the clock's credit and its lowest point."""
    costs = np.random.default_rng(seed).exponential(beta * load, size=n)
    clock = ComputeClock(beta, start, cap)
    clock.charge(startup)
    lowest = float("inf")
    for cost in costs:
        clock.earn()
        clock.charge(cost)
        lowest = min(lowest, clock.credit)
    replay = CreditReplay({"b": beta}, start, cap)
    replay.charge(startup)
    replay.feed(costs[:split])
    replay.feed(costs[split:])
    scale = max(1.0, start, startup) * 1e-9
    assert abs(replay.lowest["b"] - lowest) <= scale
    assert abs(replay.credit["b"] - clock.credit) <= scale


def _suite():
    entry = dataclasses.replace(QUICK_V2.entry("DriftingBandit-v0"), steps=3000)
    return dataclasses.replace(QUICK_V2, name="saturation-test", entries=(entry,), public_seeds=(0,),
                               ladder=(-3, -2, -1, 0, 1, 2))


def _runs(out):
    return {path.stem: json.loads(path.read_text()) for path in (out / "runs").glob("*.json")}


def test_a_saturated_rung_is_never_claimed_for_an_agent_that_fell_behind(tmp_path):
    """A bursty agent (20 ms of CPU every 500 calls) on rungs of 12.5 us to 400 us: each rung the
    ladder records as saturated, run for real, skipped no step and has the same transcript."""
    suite = _suite()
    agent = AgentSpec(path=str(AGENTS / "bursty.py"))
    reused = evaluate(agent, suite, tmp_path / "reused", workers=1, progress=False)
    every = evaluate(agent, suite, tmp_path / "every", workers=1, progress=False, reuse_saturated=False)
    assert not reused["errors"] and not every["errors"]
    claimed, real = _runs(tmp_path / "reused"), _runs(tmp_path / "every")
    saturated = {name for name, result in claimed.items() if "saturated" in result}
    assert reused["saturated_runs"] == len(saturated)
    assert every.get("saturated_runs", 0) == 0 and not any("saturated" in r for r in real.values())
    behind = {name for name, result in real.items() if result["steps_skipped"] > 0}
    assert saturated and behind, (saturated, behind)  # the test means something: both kinds occur
    assert not saturated & behind
    for name in saturated:
        assert real[name]["transcript_hash"] == claimed[name]["transcript_hash"]
        assert real[name]["G"] == claimed[name]["G"]
        evidence = claimed[name]["saturated"]
        assert evidence["lowest_credit_seconds"] >= 0 and evidence["from"].endswith(UNLIMITED)
    for name in set(claimed) - saturated:  # the rest were run, not copied
        assert claimed[name]["wall_seconds"] > 0


def test_a_cheap_agent_saturates_every_rung_and_a_fault_ends_the_claim(tmp_path):
    suite = _suite()
    cheap = evaluate(AgentSpec(module="ceaseless.baselines.random_agent"), suite, tmp_path / "cheap",
                     workers=1, progress=False)
    assert cheap["saturated_runs"] == len(suite.ladder)
    unlimited = _runs(tmp_path / "cheap")["DriftingBandit-v0-seed0-unlimited"]
    assert all(is_saturated(unlimited, budget) for budget in unlimited["replay"]["rungs"])
    faulty = dict(unlimited, faults=[{"step": 5, "kind": "exception", "message": "x"}])
    assert not any(is_saturated(faulty, budget) for budget in unlimited["replay"]["rungs"])
    behind = json.loads(json.dumps(unlimited))
    behind["replay"]["rungs"]["x1"]["lowest_credit_seconds"] = -1e-6
    assert not is_saturated(behind, "x1") and is_saturated(behind, "x2")
