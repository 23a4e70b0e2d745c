"""Stable-Baselines3's PPO and DQN, submitted as users write them: ``run(env)`` hands the world
to ``model.learn``, and the harness charges whatever the loop spends between two ``env.step``
calls, batch updates included (``pip install -e ".[deep]"``).

Reference: Raffin et al., "Stable-Baselines3: Reliable Reinforcement Learning Implementations",
JMLR 22(268), 2021; https://github.com/DLR-RM/stable-baselines3.

Hyper-parameters: SB3's defaults (``MlpPolicy``; PPO: 2,048-step rollouts, 10 epochs of batches
of 64, Adam 3e-4; DQN: replay of 10^6, batches of 32 every 4 steps after 100, target network
every 10,000 steps, Adam 1e-4), with two exceptions that a never-ending stream forces:

- ``total_timesteps``. ``learn`` needs one; the stream has no end the agent is told, so it is
  10^9 and the stream's end (``StreamEnd``) stops the loop first. Nothing else in PPO's defaults
  depends on it (its learning rate and clip range are constants).
- DQN's exploration. SB3 anneals epsilon from 1 to 0.05 over ``exploration_fraction`` (0.1) of
  ``total_timesteps``: over 10^8 steps here, so it would act at random on every stream we have.
  ``exploration_fraction`` is set so that the annealing takes 10,000 steps, SB3's own
  ``target_update_interval``, and epsilon stays at the default 0.05 after that: in a world that
  keeps changing some exploration must remain.

Spaces. PPO takes every world's spaces as they are. DQN needs Discrete actions: on a Box action
space (DriftingControl, PredictionStream) it chooses among a grid of 5 values per dimension
(``ceaseless.baselines.common.ActionSet``, as the numpy value-based baselines do).

``elapsed > 1`` (the loop was over its credit and the world stepped on the fallback): SB3 sees one
transition with the summed reward, as a library written for episodic simulators would; it has no
notion of missed steps. That is the point of evaluating it unchanged.

Start-up. ``import torch`` and ``stable_baselines3`` are at the top of the module: start-up, paid
from the start credit, not from the first step's budget. ``torch.set_num_threads(1)``: the agent
runs on the one CPU the harness gives it. Seeds: SB3's ``seed`` is the agent's seed
(``env.agent_seed``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import stable_baselines3
import torch

from ceaseless.baselines.common import ActionSet

torch.set_num_threads(1)

TOTAL_TIMESTEPS = 10**9  # the stream ends first (StreamEnd)
DQN_EXPLORATION_STEPS = 10_000


class GridActions(gym.ActionWrapper):
    """A Box action space seen as Discrete: a grid of ``levels`` values per dimension."""

    def __init__(self, env: gym.Env, levels: int = 5) -> None:
        super().__init__(env)
        self.grid = ActionSet(env.action_space, levels=levels)
        self.action_space = gym.spaces.Discrete(self.grid.n)

    def action(self, action: Any) -> Any:
        return self.grid[int(action)]


def run(env: gym.Env, algorithm: str = "PPO") -> None:
    """Learn with SB3's ``algorithm`` ("PPO" or "DQN") until the stream ends."""
    if algorithm == "PPO":
        model = stable_baselines3.PPO("MlpPolicy", env, seed=env.agent_seed, device="cpu", verbose=0)
    elif algorithm == "DQN":
        learner_env = env if isinstance(env.action_space, gym.spaces.Discrete) else GridActions(env)
        model = stable_baselines3.DQN("MlpPolicy", learner_env, seed=env.agent_seed, device="cpu", verbose=0,
                                      exploration_fraction=DQN_EXPLORATION_STEPS / TOTAL_TIMESTEPS)
    else:
        raise ValueError(f"algorithm={algorithm!r} is not PPO or DQN")
    model.learn(total_timesteps=TOTAL_TIMESTEPS)
