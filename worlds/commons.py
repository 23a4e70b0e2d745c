"""Commons: foragers share patches of a regrowing resource; over-harvest depletes it for all.

Three views of one world:

- :class:`CommonsCore`, the batched multi-agent core: ``(num_envs, num_agents)`` actions in,
  ``(num_envs, num_agents)`` rewards out, numpy all the way.
- :func:`parallel_env` (PettingZoo ``ParallelEnv``, a batch of one of the core) and :func:`env`
  (its AEC form, through PettingZoo's ``parallel_to_aec``).
- :class:`Commons`, the single-agent gymnasium view ``ceaseless/Commons-v0``: the agent is slot 0,
  the other slots are built-in adaptive learners.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.utils import seeding
from pettingzoo import AECEnv, ParallelEnv
from pettingzoo.utils.conversions import parallel_to_aec

from ceaseless.worlds import render, rng
from ceaseless.worlds.change import RandomWalk, Season, Switch
from ceaseless.worlds.core import RENDER_MODES, World, WorldConfig, _check_render_mode, param

REST = 0  # action 0: harvest nothing; action 1 + patch * num_efforts + level: harvest a patch
EFFORT_RATIO = 3  # each effort level requests three times the fraction of the level below
# Effort fractions are multiples of QUANTUM: any sum of up to 16 of them is exact in float64, so
# the demand on a patch does not depend on the order in which the agents' requests are added.
QUANTUM = 2.0**-20
ORACLE_HORIZON = 10  # steps the oracle plans ahead


@dataclasses.dataclass(frozen=True)
class CommonsConfig(WorldConfig):
    num_agents: int = param(4, 2, 16, "foragers sharing the patches")
    num_patches: int = param(4, 1, 16, "patches of the shared resource")
    num_efforts: int = param(3, 1, 8, "effort levels of a harvest (each requests 3x the one below)")
    max_effort: float = param(0.1, 0.01, 1.0, "fraction of a patch's stock the heaviest effort requests")
    growth_low: float = param(0.02, 0.0, 1.0, "lowest base regrowth rate per step")
    growth_high: float = param(0.25, 0.0, 1.0, "highest base regrowth rate per step")
    growth_drift: float = param(0.001, 0.0, 0.1, "random-walk step size of each patch's base regrowth rate")
    blight_rate: float = param(1 / 4000, 0.0, 1.0, "Poisson rate per step of one patch's regrowth factor jumping")
    season_period: int = param(10_000, 1, None, "steps per season of the item values")
    num_seasons: int = param(4, 1, 100, "seasons in the cycle (they recur)")
    value_drift: float = param(0.001, 0.0, 0.1, "random-walk step size of each patch's item value")
    weather: float = param(0.1, 0.0, 0.25, "relative noise of the regrowth rate, drawn afresh each step")
    immigration: float = param(0.001, 0.0, 0.1, "regrowth of an empty patch per step (collapse is slow to heal)")
    effort_cost: float = param(0.5, 0.0, 10.0, "cost of the heaviest effort per unit of fraction requested (quadratic)")

    def check(self) -> None:
        if not self.growth_low < self.growth_high:
            raise ValueError(
                f"Commons: growth_low={self.growth_low!r} must be below growth_high={self.growth_high!r} "
                f"(allowed range of growth_low: [0.0, {self.growth_high!r}))"
            )


@dataclasses.dataclass(frozen=True)
class CommonsViewConfig(CommonsConfig):
    learner_epsilon: float = param(0.1, 0.0, 1.0, "exploration rate of the built-in learners")
    learner_step_size: float = param(0.05, 0.0, 1.0, "constant step size of the built-in learners' value updates")
    learner_optimism: float = param(0.5, 0.0, 10.0, "initial harvest values of the built-in learners: U[0, optimism)")


class _CommonsBase(World):
    """The shared physics: patches, stocks, harvests and their change processes."""

    Config = CommonsConfig
    streams = ("weather", "start")
    state_fields = ("stock", "last_action")
    render_fps = 10

    def __init__(self, num_envs: int = 1, **config: Any) -> None:
        super().__init__(num_envs, **config)
        c = self.config
        n, p, e = c.num_agents, c.num_patches, c.num_efforts
        self.num_actions = 1 + p * e
        levels = c.max_effort / float(EFFORT_RATIO) ** np.arange(e - 1, -1, -1)
        #: The fraction of a patch's stock each effort level requests, lightest first.
        self.efforts = np.maximum(np.round(levels / QUANTUM), 1.0) * QUANTUM
        #: Per action: the patch it harvests (-1 for rest), the fraction of its stock it requests
        #: and its cost, quadratic in the effort: ``effort_cost * fraction**2 / max_effort``.
        self.action_patch = np.concatenate([[-1], np.repeat(np.arange(p), e)]).astype(np.int64)
        self.action_fraction = np.concatenate([[0.0], np.tile(self.efforts, p)])
        self.action_cost = c.effort_cost * self.action_fraction**2 / float(self.efforts[-1])
        # Per action, the fraction it requests of every patch: (actions, patches), one entry per row.
        self._demand_rows = np.zeros((self.num_actions, p))
        self._demand_rows[np.arange(1, self.num_actions), self.action_patch[1:]] = self.action_fraction[1:]
        # Summing N agents' demand rows with a matmul: every partial sum is an exact multiple of
        # QUANTUM, so the result does not depend on the order BLAS adds them in.
        self._sum_agents = np.tile(np.eye(p), (n, 1))
        self._others_scale = 1.0 / ((n - 1) * float(self.efforts[-1]))
        # Flat indices into a (B, P + 1) table whose last column (the slot of "rest") is 0.
        self._patch_slot = np.where(self.action_patch < 0, p, self.action_patch)
        self._slot_base = (self._rows * (p + 1))[:, None]
        self._per_unit = np.zeros((self.num_envs, p + 1))
        self.stock = np.zeros((self.num_envs, p))
        self.last_action = np.zeros((self.num_envs, n), dtype=np.int64)
        self._stock_counters = np.arange(p, dtype=np.uint64)
        # Plain-Python tables for the fast paths of a batch of one.
        self._patch_list = self.action_patch.tolist()
        self._fraction_list = self.action_fraction.tolist()
        self._cost_list = self.action_cost.tolist()

    def make_processes(self):
        c = self.config
        p = c.num_patches
        return {
            "season": Season(p, c.num_seasons, c.season_period, 0.2, 1.0),
            "blight": Switch(p, 0.25, 1.0, rate=c.blight_rate, update="resample", scope="one"),
            "growth": RandomWalk(p, c.growth_drift, c.growth_low, c.growth_high, interval=16),
            "value_drift": RandomWalk(p, c.value_drift, -0.2, 0.2, interval=16),
        }

    # -- per-block tables ------------------------------------------------------------------------
    def _new_block(self) -> None:
        e, c = self.engine, self.config
        p = c.num_patches
        steps = np.arange(e.block_start, e.block_start + e.block_length, dtype=np.uint64)
        counters = rng.counter2(steps[:, None], np.arange(p), p)  # (L, P)
        noise = rng.standard_noise(self.keys["weather"][:, None, None], counters[None])
        self._base_rate = e.block("growth") * e.block("blight")  # (B, L, P)
        self._rate = np.maximum(self._base_rate * (1.0 + c.weather * noise), 0.0)
        self._value = e.block("season") + e.block("value_drift")  # in [0, 1.2]
        if self.num_envs == 1:
            self._rate_list, self._value_list = self._rate[0].tolist(), self._value[0].tolist()

    # -- dynamics ------------------------------------------------------------------------------------
    def _start(self) -> None:
        draws = rng.uniform(self.keys["start"][:, None], self._stock_counters[None])
        self.stock[:] = 0.5 + 0.5 * draws
        self.last_action[:] = REST

    def _demand(self, actions: np.ndarray) -> np.ndarray:
        """The fraction of every patch that each action requests ``(*actions.shape, P)``."""
        return np.take(self._demand_rows, actions, axis=0)

    def _total(self, actions: np.ndarray) -> np.ndarray:
        """The total fraction of every patch that ``(B, N)`` actions request ``(B, P)`` (exact)."""
        rows = actions.shape[1] * self.config.num_patches
        return self._demand(actions).reshape(len(actions), rows) @ self._sum_agents[:rows]

    def _harvest(self, actions: np.ndarray) -> np.ndarray:
        """Every agent's harvest at step t: ``actions`` ``(B, N)`` valid, rewards ``(B, N)``.

        The agents on a patch share what they request; if together they request more than the
        whole stock, each gets its share of the whole. What is left regrows logistically."""
        k, p = self.engine.offset, self.config.num_patches
        total = self._total(actions)
        per_unit = self._per_unit[:, :p]  # reward per unit of requested fraction
        np.divide(self.stock, np.maximum(total, 1.0), out=per_unit)
        per_unit *= self._value[:, k]
        taken = np.take(self._per_unit, self._slot_base + np.take(self._patch_slot, actions))
        rewards = np.take(self.action_fraction, actions) * taken - np.take(self.action_cost, actions)
        left = self.stock * (1.0 - np.minimum(total, 1.0))
        rate, m = self._rate[:, k], self.config.immigration
        np.minimum(left + rate * left * (1.0 - left) + m * (1.0 - left), 1.0, out=self.stock)
        self.last_action[:] = actions
        return rewards

    def _harvest_one(self, actions: list[int]) -> list[float]:
        """:meth:`_harvest` for a batch of one, in plain Python (the same numbers), then the
        step's time advance; keeps the new stock and the demand totals for the observations."""
        k = self.t - self.engine.block_start
        patch_of, fraction_of, cost_of = self._patch_list, self._fraction_list, self._cost_list
        total = [0.0] * self.config.num_patches
        for a in actions:
            if a:
                total[patch_of[a]] += fraction_of[a]
        stock = self.stock[0].tolist()
        per_unit = [s / (t if t > 1.0 else 1.0) * v for s, t, v in zip(stock, total, self._value_list[k])]
        rewards = [fraction_of[a] * per_unit[patch_of[a]] - cost_of[a] if a else 0.0 for a in actions]
        m, grown = self.config.immigration, []
        for s, t, r in zip(stock, total, self._rate_list[k]):
            left = s * (1.0 - (t if t < 1.0 else 1.0))
            g = left + r * left * (1.0 - left) + m * (1.0 - left)
            grown.append(g if g < 1.0 else 1.0)
        self.stock[0] = grown
        self.last_action[0] = actions
        self.t += 1
        if self.engine.advance():
            self._new_block()
        self._grown, self._total_one = grown, total
        return rewards

    def _others_rows_one(self, actions: list[int]) -> list[list[float]]:
        """After :meth:`_harvest_one`: for each of these agents' actions, the others' demand
        that agent sees (what :meth:`_others_demand` computes, in plain Python)."""
        scale, total = self._others_scale, self._total_one
        everyone = [t * scale for t in total]
        everyone = [x if x < 1.0 else 1.0 for x in everyone]
        rows = []
        for a in actions:
            row = everyone[:]
            if a:
                p = self._patch_list[a]
                x = (total[p] - self._fraction_list[a]) * scale
                row[p] = x if x < 1.0 else 1.0
            rows.append(row)
        return rows

    def _others_demand(self, slot: int | None = None) -> np.ndarray:
        """Last step's requested fractions of the agents other than each one, scaled to [0, 1]:
        ``(B, N, P)``, or ``(B, P)`` for one ``slot``."""
        total = self._total(self.last_action)
        if slot is None:
            others = total[:, None, :] - self._demand(self.last_action)  # exact (multiples of QUANTUM)
        else:
            others = total - self._demand(self.last_action[:, slot])
        return np.minimum(others * self._others_scale, 1.0)

    # -- diagnostics ---------------------------------------------------------------------------------
    def rate(self) -> np.ndarray:
        """Current regrowth rate of each patch, weather included ``(B, P)``."""
        return self._rate[:, self.engine.offset]

    def value(self) -> np.ndarray:
        """Current item value of each patch ``(B, P)``: reward per unit of stock taken."""
        return self._value[:, self.engine.offset]

    def hidden(self):
        k = self.engine.offset
        return {"rate": self._base_rate[:, k], "value": self._value[:, k], "stock": self.stock}

    # -- rendering ---------------------------------------------------------------------------------
    def render_rgb(self, index):
        chosen = int(self.action_patch[self.last_action[index, 0]])
        best = int(np.argmax(self.value()[index] * self._base_rate[index, self.engine.offset]))
        return render.bar_image(self.stock[index], 0.0, 1.0, best=best, chosen=chosen if chosen >= 0 else None)

    def render_ansi(self, index):
        e, k = self.config.num_efforts, self.engine.offset
        lines = [f"t={self.t} season={int(self.engine.regime()[index])}"]
        for p, stock in enumerate(self.stock[index]):
            harvesters = [f"{i}:{(int(a) - 1) % e}" for i, a in enumerate(self.last_action[index])
                          if self.action_patch[a] == p]
            lines.append(f"patch {p:2d} {stock:.3f} |{'#' * round(stock * 20):<20}| "
                         f"rate {self._base_rate[index, k, p]:.3f} value {self._value[index, k, p]:.3f} "
                         f"agent:effort {' '.join(harvesters) or '-'}")
        return "\n".join(lines) + "\n"


class CommonsCore(_CommonsBase):
    """The batched multi-agent core of Commons: every slot is an external agent.

    ``step(actions)`` takes ``(num_envs, num_agents)`` actions and returns observations
    ``(num_envs, num_agents, 2 * num_patches)`` and rewards ``(num_envs, num_agents)``;
    ``observation_space`` and ``action_space`` are one agent's (see :class:`Commons` for their
    meaning; agent ``i`` sees the demand of the agents other than ``i``). :func:`parallel_env`
    wraps a batch of one for PettingZoo. The fallback of every agent is to rest; there is no oracle.
    """

    id = "ceaseless/CommonsCore-v0"
    changes = "regrowth rates drift and jump, item values drift and cycle through seasons; agents deplete stocks"
    has_oracle = False

    def __init__(self, num_envs: int = 1, **config: Any) -> None:
        super().__init__(num_envs, **config)
        p = self.config.num_patches
        self.observation_space = spaces.Box(0.0, 1.0, (2 * p,), np.float32)
        self.action_space = spaces.Discrete(self.num_actions)

    def check_actions(self, actions: Any) -> np.ndarray:
        """``(num_envs, num_agents)`` int64 actions, or ``ValueError`` naming the bad value."""
        array = np.asarray(actions)
        expected = (self.num_envs, self.config.num_agents)
        if array.shape != expected:
            raise ValueError(f"actions must have shape {expected}, got {array.shape}")
        high = self.num_actions - 1
        integral = array.dtype.kind in "iu" or (array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0))
        if not integral:
            raise ValueError(f"action {array.ravel()[0]!r} is not an integer; allowed: integers in [0, {high}]")
        array = array.astype(np.int64, copy=False)
        invalid = (array < 0) | (array > high)
        if invalid.any():
            i, j = (int(x) for x in np.argwhere(invalid)[0])
            raise ValueError(
                f"action {array[i, j]!r} (instance {i}, agent {j}) is outside the allowed range [0, {high}]"
            )
        return array

    def _act(self, actions):
        return self._harvest(actions)

    def _observe(self):
        b, n, p = self.num_envs, self.config.num_agents, self.config.num_patches
        observations = np.empty((b, n, 2 * p), dtype=np.float32)
        observations[:, :, :p] = self.stock[:, None, :]
        observations[:, :, p:] = self._others_demand()
        return observations

    def step_one(self, actions: Any) -> tuple[np.ndarray, list[float]]:
        """Step a batch of one: ``actions`` one per agent; returns observations ``(N, 2P)`` and a
        list of rewards. Plain Python for valid int actions (the same numbers as :meth:`step`)."""
        n, high = self.config.num_agents, self.num_actions
        if (not self._reset_done or len(actions) != n
                or not all(type(a) is int and 0 <= a < high for a in actions)):
            observations, rewards = self.step(np.asarray(actions)[None])
            return observations[0], rewards[0].tolist()
        rewards = self._harvest_one(actions)
        stock = self._grown
        return np.array([stock + row for row in self._others_rows_one(actions)], dtype=np.float32), rewards

    def fallback_action(self):
        return np.full((self.num_envs, self.config.num_agents), REST, dtype=np.int64)


class Commons(_CommonsBase):
    """Forage a shared, regrowing resource beside built-in learners that adapt to you and the world.

    ``num_patches`` patches each hold a stock in [0, 1]. ``num_agents`` foragers harvest them at
    every step: the agent is slot 0; slots 1..N-1 are built-in epsilon-greedy learners with a
    constant step size (one action value per action, no state), whose learning makes them a source
    of change of their own: they crowd onto what pays, deplete it, and move on. After the harvest,
    what is left regrows logistically: ``left += rate * left * (1 - left) + immigration * (1 - left)``.

    ## Observation
    ``Box(0, 1, (2 * num_patches,), float32)``: the stock of every patch, then the fraction of
    every patch's stock that the other agents requested at the last step (summed, divided by
    ``(num_agents - 1) * max_effort``). Regrowth rates and item values are hidden.

    ## Actions
    ``Discrete(1 + num_patches * num_efforts)``: 0 rests; ``1 + patch * num_efforts + level``
    harvests ``patch`` at effort ``level`` (0 lightest), which requests the fraction
    ``max_effort / 3**(num_efforts - 1 - level)`` of its stock (0.011, 0.033, 0.1 by default: even the
    heaviest is a rate a rich patch can sustain, so a good fixed policy exists when nothing changes).

    ## Reward
    ``value[patch] * stock[patch] * fraction / max(1, total fraction requested of the patch)
    - effort_cost * fraction**2 / max_effort``: the item value of what was taken (when everyone
    on a patch together requests more than all of it, they share all of it) minus a cost that grows
    with the square of the effort, so the best effort grows with the stock and a poor patch is not
    worth harvesting at all. Rest pays 0. A patch harvested faster than it regrows is depleted for
    everyone (a tragedy of the commons); the learners, like an open-access fishery, keep harvesting
    while it pays, so stocks boom and bust.

    ## Non-stationarity
    - **drift**: each patch's base regrowth rate is a random walk (step ``growth_drift``) in
      ``[growth_low, growth_high]``; each patch's item value drifts (step ``value_drift``).
    - **switch**: at Poisson times (``blight_rate``) one patch's regrowth factor jumps to a fresh
      value in [0.25, 1] (a blight or a recovery).
    - **season**: item values cycle through ``num_seasons`` seasons of ``season_period`` steps.
    - **other learners**: the built-in learners keep learning (constant step size), so the
      pressure on each patch shifts as they chase what pays; their values are world state.
    ``stationary=True`` freezes the change processes and the learners' values (they still explore).
    The regrowth rate also carries fresh i.i.d. weather noise every step (``weather``).

    ## Reference policies
    Oracle: knows the regrowth rates, item values and what every learner does this step; for
    every harvest it simulates repeating it for 10 steps with the others' demand held fixed, and
    takes the most profitable one, or rests when none is profitable. Fallback: rest (reward 0).

    ## Diagnostics (harness only)
    ``hidden["rate"]`` (base regrowth rate per patch, without the weather), ``hidden["value"]``,
    ``hidden["stock"]``; regime: the season index.
    """

    id = "ceaseless/Commons-v0"
    changes = ("patch regrowth drifts and jumps, item values drift and cycle through seasons, "
               "and the built-in learners keep adapting")
    Config = CommonsViewConfig
    streams = ("weather", "start", "learners")
    state_fields = ("stock", "last_action", "q")

    def __init__(self, num_envs: int = 1, **config: Any) -> None:
        super().__init__(num_envs, **config)
        c = self.config
        learners = c.num_agents - 1
        self.observation_space = spaces.Box(0.0, 1.0, (2 * c.num_patches,), np.float32)
        self.action_space = spaces.Discrete(self.num_actions)
        self.q = np.zeros((self.num_envs, learners, self.num_actions))
        self._q_base = (self._rows[:, None] * learners + np.arange(learners)) * self.num_actions
        self._explore_below = np.uint64(min(2**32, int(c.learner_epsilon * 2**32)))
        self._learns = not c.stationary and c.learner_step_size > 0.0

    # -- the built-in learners -------------------------------------------------------------------
    def _new_block(self) -> None:
        super()._new_block()
        e, learners = self.engine, self.config.num_agents - 1
        steps = np.arange(e.block_start, e.block_start + e.block_length, dtype=np.uint64)
        counters = rng.counter2(steps[:, None], np.arange(learners), learners)  # (L, N - 1)
        bits = rng.random_bits(self.keys["learners"][:, None, None], counters[None])
        self._explore = (bits >> np.uint64(32)) < self._explore_below
        self._random_action = (((bits & np.uint64(0xFFFFFFFF)) * np.uint64(self.num_actions))
                               >> np.uint64(32)).astype(np.int64)
        if self.num_envs == 1:
            self._explore_list, self._random_list = self._explore[0].tolist(), self._random_action[0].tolist()

    def _start(self) -> None:
        super()._start()
        p, size = self.config.num_patches, self.q[0].size
        counters = np.arange(p, p + size, dtype=np.uint64)
        draws = rng.uniform(self.keys["start"][:, None], counters[None]).reshape(self.q.shape)
        self.q[:] = self.config.learner_optimism * draws
        self.q[:, :, REST] = 0.0

    def learner_actions(self) -> np.ndarray:
        """What the built-in learners do at this step ``(B, N - 1)``: greedy on their values,
        or a uniformly random action when they explore."""
        k = self.engine.offset
        return np.where(self._explore[:, k], self._random_action[:, k], np.argmax(self.q, axis=2))

    # -- dynamics ------------------------------------------------------------------------------------
    def _act(self, actions):
        others = self.learner_actions()
        rewards = self._harvest(np.concatenate([actions[:, None], others], axis=1))
        if self._learns:
            flat = self._q_base + others
            values = np.take(self.q, flat)
            np.put(self.q, flat, values + self.config.learner_step_size * (rewards[:, 1:] - values))
        return rewards[:, 0]

    def _observe(self):
        p = self.config.num_patches
        observations = np.empty((self.num_envs, 2 * p), dtype=np.float32)
        observations[:, :p] = self.stock
        observations[:, p:] = self._others_demand(0)
        return observations

    def step_one(self, action):
        """Fast path for a batch of one (held equal to :meth:`step` by a parity test)."""
        if (not self._reset_done or (type(action) is not int and not isinstance(action, np.integer))
                or not 0 <= action < self.num_actions):
            return super().step_one(action)
        k = self.t - self.engine.block_start
        explore, random_action = self._explore_list[k], self._random_list[k]
        q = self.q[0]
        values = q.tolist()
        others = [random_action[j] if explore[j] else row.index(max(row)) for j, row in enumerate(values)]
        action = int(action)
        rewards = self._harvest_one([action, *others])
        if self._learns:
            alpha = self.config.learner_step_size
            for j, a in enumerate(others):
                v = values[j][a]
                q[j, a] = v + alpha * (rewards[j + 1] - v)
        return np.array(self._grown + self._others_rows_one([action])[0], dtype=np.float32), rewards[0]

    # -- reference policies ------------------------------------------------------------------------
    def fallback_action(self):
        return np.full(self.num_envs, REST, dtype=np.int64)

    def oracle_action(self):
        """Plan ahead with privileged knowledge: for every harvest, the profit of repeating it for
        ``ORACLE_HORIZON`` steps, given the true regrowth rates, values and stocks and what every
        learner requests this step (held fixed); take the best, or rest if none is profitable."""
        k = self.engine.offset
        others = self._total(self.learner_actions())  # (B, P)
        patch, fraction, cost = self.action_patch[1:], self.action_fraction[1:], self.action_cost[1:]
        total = others[:, patch] + fraction  # (B, A - 1)
        rate = self._base_rate[:, k, patch]
        share = self._value[:, k, patch] * fraction / np.maximum(total, 1.0)
        kept = 1.0 - np.minimum(total, 1.0)
        stock = self.stock[:, patch]
        m = self.config.immigration
        profit = np.zeros_like(stock)
        for _ in range(ORACLE_HORIZON):
            profit += share * stock - cost
            left = stock * kept
            stock = np.minimum(left + rate * left * (1.0 - left) + m * (1.0 - left), 1.0)
        best = np.argmax(profit, axis=1)
        return np.where(profit[self._rows, best] > 0.0, 1 + best, REST)


# --------------------------------------------------------------------------------------------
# PettingZoo
# --------------------------------------------------------------------------------------------
class CommonsParallelEnv(ParallelEnv):
    """PettingZoo ``ParallelEnv`` of Commons: a batch of one of :class:`CommonsCore`.

    Agents ``forager_0`` ... ``forager_{N-1}`` act at every step and never leave: the
    ``terminations`` and ``truncations`` entries are always False. ``reset(seed=s)`` starts the
    stream of seed ``s``; ``reset()`` draws a seed from the env's own generator (deterministic
    after a seeded reset). Every agent's ``info`` carries the diagnostics of the harness (``t``,
    ``regime``, ``hidden``, ``change_points``), never to be shown to an agent.
    """

    metadata = {"name": "commons_v0", "render_modes": RENDER_MODES, "render_fps": 10, "is_parallelizable": True}

    def __init__(self, render_mode: str | None = None, **config: Any) -> None:
        self.core = CommonsCore(num_envs=1, **config)
        self.possible_agents = [f"forager_{i}" for i in range(self.core.config.num_agents)]
        self.agents: list[str] = []
        self.observation_spaces = {a: spaces.Box(0.0, 1.0, self.core.observation_space.shape, np.float32)
                                   for a in self.possible_agents}
        self.action_spaces = {a: spaces.Discrete(self.core.num_actions) for a in self.possible_agents}
        self.render_mode = _check_render_mode(render_mode)
        self._np_random: np.random.Generator | None = None
        self._terminations = dict.fromkeys(self.possible_agents, False)

    def observation_space(self, agent: str) -> spaces.Space:
        return self.observation_spaces[agent]

    def action_space(self, agent: str) -> spaces.Space:
        return self.action_spaces[agent]

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None):
        if seed is None:
            if self._np_random is None:
                self._np_random, _ = seeding.np_random()
            seed = int(self._np_random.integers(0, 2**63 - 1))
            observations = self.core.reset([seed])[0]
        else:
            observations = self.core.reset([seed])[0]  # a bad seed raises ValueError here
            self._np_random, _ = seeding.np_random(int(seed))
        self.agents = self.possible_agents[:]
        return dict(zip(self.possible_agents, observations)), self._infos()

    def step(self, actions: Mapping[str, Any]):
        if not self.agents:
            raise RuntimeError("Commons: call reset() before step()")
        agents = self.possible_agents
        try:
            chosen = [actions[agent] for agent in agents]
        except KeyError as missing:
            raise ValueError(f"no action for agent {missing}: every agent acts at every step") from None
        if len(actions) != len(chosen):
            unknown = sorted(set(actions) - set(agents), key=str)
            raise ValueError(f"unknown agents {unknown}; agents: {agents}")
        if not all(type(a) is int for a in chosen):
            chosen = [int(a) if isinstance(a, np.integer) else a for a in chosen]
        observations, rewards = self.core.step_one(chosen)  # invalid actions raise ValueError
        return (dict(zip(agents, observations)), dict(zip(agents, rewards)),
                dict(self._terminations), dict(self._terminations), self._infos())

    def _infos(self) -> dict[str, dict[str, Any]]:
        """The diagnostics, one dict shared by every agent (read it, do not modify it)."""
        info = self.core.info(0)
        return dict.fromkeys(self.possible_agents, info)

    def observations(self) -> dict[str, np.ndarray]:
        """The current observation of every agent (e.g. after :meth:`set_state`)."""
        return dict(zip(self.possible_agents, self.core.observe()[0]))

    def render(self):
        if self.render_mode == "rgb_array":
            return self.core.render_rgb(0)
        if self.render_mode == "ansi":
            return self.core.render_ansi(0)
        return None

    def close(self) -> None:
        pass

    def get_state(self) -> dict[str, np.ndarray]:
        """World state plus this env's seed generator: everything needed to resume exactly."""
        state = self.core.get_state()
        if self._np_random is not None:
            state["env.np_random"] = np.array(json.dumps(self._np_random.bit_generator.state))
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.core.set_state(state)
        if "env.np_random" in state:
            if self._np_random is None:
                self._np_random, _ = seeding.np_random(0)
            self._np_random.bit_generator.state = json.loads(str(state["env.np_random"]))
        self.agents = self.possible_agents[:]


def parallel_env(render_mode: str | None = None, **config: Any) -> CommonsParallelEnv:
    """The PettingZoo ``ParallelEnv`` of Commons (config: the fields of :class:`CommonsConfig`)."""
    return CommonsParallelEnv(render_mode=render_mode, **config)


def env(render_mode: str | None = None, **config: Any) -> AECEnv:
    """The PettingZoo AEC form of Commons, through PettingZoo's ``parallel_to_aec``."""
    return parallel_to_aec(parallel_env(render_mode=render_mode, **config))
