"""Stable-Baselines3 learners evaluated unchanged through run(env) (the `deep` extra).

PPO and DQN on a Discrete world and SAC on a Box world, each on a short stream: no fault, every
step accounted for, and the CPU charged at least the learner's own cost measured in-process."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from ceaseless.leaderboard.harness.protocol import AgentSpec
from ceaseless.leaderboard.harness.runner import run
from ceaseless.leaderboard.harness.runspec import RunSpec

if os.environ.get("CEASELESS_REQUIRE_DEEP") != "1":  # CI installs the deep extra and requires these
    pytest.importorskip("stable_baselines3", reason="the deep extra is not installed (pip install -e '.[deep]')")

AGENTS = Path(__file__).parents[1] / "agents"
STEPS = 1500


def _in_process_cpu(algorithm: str, world_id: str) -> float:
    """CPU seconds of the same learner on a plain gymnasium env, for the same number of steps."""
    import gymnasium as gym

    import ceaseless  # noqa: F401
    from tests.leaderboard.agents import sb3_loop

    class Stop(Exception):
        pass

    class Counted(gym.Wrapper):
        def __init__(self, env):
            super().__init__(env)
            self.left = STEPS
            self.agent_seed = 0

        def step(self, action):
            self.left -= 1
            if self.left < 0:
                raise Stop
            return self.env.step(action)

    started = time.process_time()
    try:
        sb3_loop.run(Counted(gym.make(world_id)), algorithm=algorithm)
    except Stop:
        pass
    return time.process_time() - started


@pytest.mark.parametrize("algorithm, world_id", [
    ("PPO", "ceaseless/CraftingEconomy-v0"), ("DQN", "ceaseless/CraftingEconomy-v0"),
    ("SAC", "ceaseless/DriftingControl-v0"),
])
def test_an_sb3_learner_is_evaluated_unchanged(tmp_path, algorithm, world_id):
    spec = RunSpec(agent=AgentSpec.parse(str(AGENTS / "sb3_loop.py"), algorithm=algorithm), world_id=world_id,
                   seed=0, steps=STEPS, budget="unlimited", beta=float("inf"))
    result = run(spec, tmp_path)
    assert not result["faults"], result["faults"]
    assert result["steps"] == STEPS and result["steps_skipped"] == 0 and result["loop_returned_at"] is None
    assert result["official"] and result["meter"]["complete"]
    own = _in_process_cpu(algorithm, world_id)
    # The charge covers the learner's work (its start-up is charged separately): at least its own
    # in-process CPU, less the world's steps and the meter's tolerance.
    assert result["cpu_seconds"] >= 0.7 * own, (result["cpu_seconds"], own)
    print(f"{algorithm} on {world_id}: charged {result['cpu_us_per_call']:.0f} us/call, "
          f"in-process {1e6 * own / STEPS:.0f} us/step, start-up {result['startup_cpu_seconds']:.2f} s")
