"""The world as a gymnasium ``Env``, for submissions that own their loop: ``run(env)``.

Code people already have -- ``PPO("MlpPolicy", env).learn(...)``, a cleanrl script -- calls
``env.step`` itself. :class:`StreamEnv` lives in the agent's process and turns each ``env.step``
into one round trip of the agent protocol: the action goes to the harness as the answer to the
pending call, and ``env.step`` returns when the harness sends the next observation. So the CPU
the loop spends between two ``env.step`` calls (a batch update included) is what the meter charges
for that step, exactly as for a ``make_agent`` agent, and while the loop is in debt the world steps
on the fallback action: the next ``env.step`` returns the summed reward of the missed steps with
``info["elapsed"]``.

- ``reset(seed=...)`` returns the stream's first observation the first time; afterwards (a
  ``TimeLimit`` wrapper, an SB3 episode end) it returns the current observation and leaves the
  world alone, with ``info["reset_ignored"] = True``: the stream never restarts.
- ``step`` never reports an episode end (``terminated`` and ``truncated`` are False); at the end
  of the stream it raises :class:`~ceaseless.leaderboard.harness.protocol.StreamEnd`.
- If ``run`` returns before the stream ends, the rest of the stream is the fallback and the run's
  result says when that happened.
- ``env.predict_fn = callable`` enters the world-model track (``callable(plans) -> (K, H)``, as
  ``agent.predict``): the harness asks only right after it received an action, when the loop is
  waiting inside ``env.step``, so the agent host answers there, before ``env.step`` returns. Until
  it is set, the answer is "no predictor" (a loop that never sets it has no ``world_model`` entry).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from ceaseless.leaderboard.harness.protocol import StreamEnd, WireFormat

__all__ = ["StreamEnd", "StreamEnv"]


class StreamEnv(gym.Env):
    """One never-ending stream, stepped through the harness. ``channel`` is the agent host's side
    of the protocol: ``next_message() -> (kind, reward, elapsed, observation)`` and
    ``send_action(action)`` (see :mod:`~ceaseless.leaderboard.harness.agent_host`)."""

    metadata = {"render_modes": []}

    def __init__(self, observation_space: gym.Space, action_space: gym.Space, channel: Any, seed: int = 0) -> None:
        self.observation_space = observation_space
        self.action_space = action_space
        self.agent_seed = int(seed)  # the agent's seed, as make_agent gets it: seed your learner from it
        self._np_random = np.random.default_rng(self.agent_seed)
        self._channel = channel
        self._action_wire = WireFormat.of(action_space)
        self._observation = None
        self._started = False
        self.predict_fn = None  # a run(env) agent may set a predictor here (the world-model track)

    def _begin(self) -> None:
        kind, _, _, observation = self._channel.next_message()
        if kind != "start":
            raise StreamEnd("the stream ended before it began")
        self._observation, self._started = observation, True

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[Any, dict]:
        """The first observation of the stream; later, the current one (the world is not reset)."""
        if not self._started:
            self._begin()
            return self._observation, {}
        return self._observation, {"reset_ignored": True}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        """Act for the current observation; returns the next one, the reward (summed over any steps
        the world took on the fallback while the loop was over budget) and ``info["elapsed"]``."""
        if not self._started:  # a loop that steps without a reset acts on the first observation
            self._begin()
        self._channel.send_action(action)
        kind, reward, elapsed, observation = self._channel.next_message()
        if kind != "step":
            raise StreamEnd("the stream is over")
        self._observation = observation
        return observation, reward, False, False, {"elapsed": elapsed}
