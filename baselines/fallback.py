"""Fallback agent: the world's fallback policy, expressed as an agent.

By convention in Ceaseless a world's fallback -- what the world does when the agent is absent or
too slow for the compute clock -- is its *zero action*, and this agent plays exactly that, at
every step, forever:
- ``Discrete(n, start)``: ``start`` (action 0 for the usual ``start = 0``): the bandit's arm 0,
  Forager's and ShiftingMaze's "stay", CraftingEconomy's "wait", Commons' "rest";
- ``MultiDiscrete``: ``start`` in every component;
- ``Box``: zeros, clipped into the bounds (DriftingControl's zero torque, PredictionStream's
  prediction of zero).
It scores the world's ``G_fallback`` by construction (z = 0): the anchor that z is measured from,
and the policy an agent gets whenever it falls behind the clock. Anything else (Dict, Tuple, ...)
raises ``UnsupportedSpace``; observations of any space are accepted (and ignored).

Hyper-parameters: none. ``freeze_after`` is accepted and ignored (nothing is learned), so that
every baseline takes the same options. There is no randomness; ``checkpoint()`` returns empty
bytes and ``restore()`` accepts them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces

from ceaseless.baselines.common import UnsupportedSpace


def zero_action(space: spaces.Space) -> Any:
    """The space's zero action (the Ceaseless fallback convention)."""
    if isinstance(space, spaces.Discrete):
        return int(space.start)
    if isinstance(space, spaces.MultiDiscrete):
        return np.asarray(space.start).astype(space.dtype)
    if isinstance(space, spaces.Box):
        return np.clip(np.zeros(space.shape), space.low, space.high).astype(space.dtype)
    raise UnsupportedSpace(f"fallback: actions must be Discrete, MultiDiscrete or Box, got {space}")


class FallbackAgent:
    def __init__(self, action_space: spaces.Space) -> None:
        self.action = zero_action(action_space)

    def _act(self) -> Any:
        return self.action.copy() if isinstance(self.action, np.ndarray) else self.action  # callers may mutate

    def start(self, observation: Any) -> Any:
        return self._act()

    def step(self, reward: float, observation: Any, elapsed: int = 1) -> Any:
        return self._act()

    def checkpoint(self) -> bytes:
        return b""

    def restore(self, data: bytes) -> None:
        pass


def make_agent(observation_space: spaces.Space, action_space: spaces.Space, seed: int,
               freeze_after: int | None = None) -> FallbackAgent:
    """The zero-action agent; ``seed`` and ``freeze_after`` are ignored (nothing is random or learned)."""
    return FallbackAgent(action_space)
