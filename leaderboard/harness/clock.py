"""The compute clock: credit in CPU seconds, earned per world step and spent by the agent.

Every world step adds ``beta`` CPU-seconds of credit. The run starts with ``start_credit`` to pay
for the agent's start-up (imports, building its model); from the first step on, credit is capped
at ``credit_cap_steps`` steps of budget, so neither unused start credit nor idle steps can be
hoarded for later. After each call the harness charges the CPU the agent's process used (read from
outside it, protocol overhead subtracted). While credit is negative the world does not wait: it
steps with the fallback action and the agent misses those steps.
"""

from __future__ import annotations

import json

import numpy as np

from ceaseless.leaderboard.harness.sandbox import measure_overhead


class ComputeClock:
    """Credit in CPU seconds: earned per world step, spent by the agent's calls. The start credit
    pays for start-up only: the cap of ``cap_steps`` steps of budget applies from the first step."""

    def __init__(self, beta: float, start_credit: float, cap_steps: int) -> None:
        self.beta = beta
        self.unlimited = not np.isfinite(beta)
        self.cap = beta * cap_steps if not self.unlimited else float("inf")
        self.credit = float("inf") if self.unlimited else float(start_credit)

    def earn(self) -> None:
        if not self.unlimited:
            self.credit = min(self.credit + self.beta, self.cap)

    def charge(self, seconds: float) -> None:
        if not self.unlimited:
            self.credit -= seconds

    @property
    def can_act(self) -> bool:
        return self.credit >= 0.0


_OVERHEAD: dict[str, float] = {}


def protocol_overhead(world) -> float:
    """Per-call CPU of the protocol for this world's spaces (measured once per process)."""
    key = json.dumps([str(world.observation_space), str(world.action_space)])
    if key not in _OVERHEAD:
        _OVERHEAD[key] = measure_overhead(world.observation_space, world.action_space)
    return _OVERHEAD[key]
