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


class CreditReplay:
    """The credit an agent would have had on finite budgets, replayed from an unlimited run's costs.

    On the unlimited track every step is a call. Fed each call's charged CPU, this replays
    :class:`ComputeClock` at each budget in ``betas`` (the same start credit, start-up charge and
    cap) and keeps the lowest credit reached. If it never goes below 0 at ``beta``, a run on that
    budget with the same costs would have made every call: the same transcript. The recursion
    ``x_t = min(x_(t-1) + beta, cap) - c_t`` is a Lindley recursion in the distance below the cap,
    so a block of costs is replayed with two cumulative sums, not a Python loop per step.
    """

    def __init__(self, betas: dict[str, float], start_credit: float, cap_steps: int) -> None:
        self.betas = dict(betas)
        self.cap_steps = cap_steps
        self.credit = {label: float(start_credit) for label in self.betas}
        self.lowest = {label: float("inf") for label in self.betas}

    def charge(self, seconds: float) -> None:
        """A charge outside a call (the agent's start-up), as ComputeClock.charge."""
        for label in self.credit:
            self.credit[label] -= seconds

    def feed(self, costs: np.ndarray) -> None:
        """Replay consecutive calls that cost ``costs`` CPU-seconds each."""
        costs = np.asarray(costs, dtype=np.float64)
        if costs.size == 0:
            return
        for label, beta in self.betas.items():
            cap = beta * self.cap_steps
            below_cap = max(cap - self.credit[label] - beta, 0.0)  # W_0: how far below the cap, after earning
            walk = np.concatenate(([0.0], np.cumsum(costs[:-1] - beta)))
            floor = walk.copy()
            floor[0] = -below_cap
            below = walk - np.minimum.accumulate(floor)  # W_t = S_t - min(-W_0, S_1..S_t)
            credit = cap - below - costs
            self.lowest[label] = min(self.lowest[label], float(credit.min()))
            self.credit[label] = float(credit[-1])

    def state(self) -> dict[str, dict[str, float]]:
        return {"credit": dict(self.credit), "lowest": dict(self.lowest)}

    def load(self, state: dict[str, dict[str, float]]) -> None:
        self.credit.update(state["credit"])
        self.lowest.update(state["lowest"])


_OVERHEAD: dict[str, float] = {}


def protocol_overhead(world) -> float:
    """Per-call CPU of the protocol for this world's spaces (measured once per process)."""
    key = json.dumps([str(world.observation_space), str(world.action_space)])
    if key not in _OVERHEAD:
        _OVERHEAD[key] = measure_overhead(world.observation_space, world.action_space)
    return _OVERHEAD[key]
