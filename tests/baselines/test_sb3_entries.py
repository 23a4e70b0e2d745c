"""The shipped Stable-Baselines3 entries (sb3-ppo, sb3-dqn; the `deep` extra) under the harness:
run(env) with SB3's defaults, on a Discrete and on a Box action space (DQN through its grid)."""

from __future__ import annotations

import os

import pytest

if os.environ.get("CEASELESS_REQUIRE_DEEP") != "1":  # CI installs the deep extra and requires these
    pytest.importorskip("stable_baselines3", reason="the deep extra is not installed (pip install -e '.[deep]')")

from ceaseless.baselines.deep import BOARD
from ceaseless.leaderboard.harness.protocol import AgentSpec
from ceaseless.leaderboard.harness.runner import run
from ceaseless.leaderboard.harness.runspec import RunSpec

STEPS = 1500


@pytest.mark.parametrize("name, world_id", [("sb3-ppo", "ceaseless/Forager-v0"),
                                            ("sb3-ppo", "ceaseless/DriftingControl-v0"),
                                            ("sb3-dqn", "ceaseless/CraftingEconomy-v0"),
                                            ("sb3-dqn", "ceaseless/DriftingControl-v0")])
def test_the_entry_runs_a_stream_to_its_end(tmp_path, name, world_id):
    _, module, options = next(entry for entry in BOARD if entry[0] == name)
    spec = RunSpec(agent=AgentSpec.parse(module, **options), world_id=world_id, seed=0, steps=STEPS,
                   budget="unlimited", beta=float("inf"))
    result = run(spec, tmp_path)
    assert result["faults"] == [] and result["loop_returned_at"] is None
    assert result["steps_skipped"] == 0 and result["official"]
    assert result["cpu_seconds"] > 0


def test_an_unknown_algorithm_is_a_clear_error():
    from ceaseless.baselines.deep import sb3

    with pytest.raises(ValueError, match="not PPO or DQN"):
        sb3.run(object(), algorithm="A2C")
