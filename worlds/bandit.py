"""DriftingBandit: a k-armed bandit whose arm means never hold still."""

from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium import spaces

from ceaseless.worlds import render, rng
from ceaseless.worlds.change import RandomWalk, Season, Switch
from ceaseless.worlds.core import World, WorldConfig, param


@dataclasses.dataclass(frozen=True)
class BanditConfig(WorldConfig):
    num_arms: int = param(10, 2, 1000, "number of arms")
    noise: float = param(1.0, 0.0, 10.0, "standard deviation of the reward noise")
    drift: float = param(0.01, 0.0, 1.0, "random-walk step size of each arm's drift per step")
    switch_rate: float = param(1 / 2000, 0.0, 1.0, "Poisson rate per step of one arm's level jumping")
    season_period: int = param(5000, 1, None, "steps per season")
    num_seasons: int = param(3, 1, 100, "seasons in the cycle (they recur)")
    fallback_arm: int = param(0, 0, 999, "the arm pulled when the agent is absent or too slow")

    def check(self) -> None:
        if self.fallback_arm >= self.num_arms:
            raise ValueError(
                f"DriftingBandit: fallback_arm={self.fallback_arm} is outside the allowed range "
                f"[0, {self.num_arms - 1}] for num_arms={self.num_arms}"
            )


class DriftingBandit(World):
    """A k-armed bandit whose arm means drift, jump and follow seasons, forever.

    ## Observation
    ``Discrete(1)``: always 0. The bandit has no state to observe; everything the agent learns
    comes from its rewards.

    ## Actions
    ``Discrete(num_arms)``: the arm to pull.

    ## Reward
    ``mean[arm](t) + noise * e`` where ``e`` is unit-variance, approximately Gaussian noise.
    ``mean[arm](t) = season[arm] + level[arm] + drift[arm]``, each term in ``[-1, 1]``.

    ## Non-stationarity
    - **drift**: each arm's ``drift`` term is a random walk (step ``drift``), reflected in [-1, 1].
    - **switch**: at Poisson times (``switch_rate`` per step) one arm's ``level`` jumps to a fresh
      uniform value in [-1, 1].
    - **season**: ``num_seasons`` seasonal offset vectors, ``season_period`` steps each, in a cycle
      that recurs: what was learned about a season pays again when it returns.

    ## Reference policies
    Oracle: the arm with the highest current mean. Fallback: always ``fallback_arm``.

    ## Diagnostics (harness only)
    ``hidden["means"]``: the current arm means; regime: the season index.
    """

    id = "ceaseless/DriftingBandit-v0"
    changes = "arm means drift (random walk), jump (Poisson switches) and cycle through recurring seasons"
    Config = BanditConfig
    streams = ("noise",)
    state_fields = ("last_action",)

    def __init__(self, num_envs: int = 1, **config) -> None:
        super().__init__(num_envs, **config)
        self.observation_space = spaces.Discrete(1)
        self.action_space = spaces.Discrete(self.config.num_arms)
        self.last_action = np.full(self.num_envs, -1, dtype=np.int64)

    def make_processes(self):
        c = self.config
        return {
            "season": Season(c.num_arms, c.num_seasons, c.season_period, -1.0, 1.0),
            "level": Switch(c.num_arms, -1.0, 1.0, rate=c.switch_rate, update="resample", scope="one"),
            "drift": RandomWalk(c.num_arms, c.drift, -1.0, 1.0),
        }

    def _new_block(self) -> None:
        engine = self.engine
        self._means = engine.block("season") + engine.block("level") + engine.block("drift")
        steps = np.arange(engine.block_start, engine.block_start + engine.block_length, dtype=np.uint64)
        self._noise = self.config.noise * rng.standard_noise(self.keys["noise"][:, None], steps[None])

    def _start(self) -> None:
        self.last_action = np.full(self.num_envs, -1, dtype=np.int64)

    def _act(self, actions):
        k = self.engine.offset
        self.last_action[:] = actions
        return self._means[self._rows, k, actions] + self._noise[:, k]

    def _observe(self):
        return np.zeros(self.num_envs, dtype=np.int64)

    def step_one(self, action):
        """Fast path for a batch of one (held equal to :meth:`step` by a parity test)."""
        if not self._reset_done:
            raise RuntimeError(f"{self.id}: call reset(seeds) before step()")
        if type(action) is not int and not isinstance(action, np.integer):
            return super().step_one(action)
        arm = int(action)
        if not 0 <= arm < self.config.num_arms:
            return super().step_one(action)  # raises the standard ValueError
        k = self.t - self.engine.block_start
        reward = float(self._means[0, k, arm] + self._noise[0, k])
        self.last_action[0] = arm
        self.t += 1
        if self.engine.advance():
            self._new_block()
        return np.int64(0), reward

    def means(self) -> np.ndarray:
        """Current arm means ``(num_envs, num_arms)``."""
        return self._means[:, self.engine.offset]

    def hidden(self):
        return {"means": self.means()}

    def fallback_action(self):
        return np.full(self.num_envs, self.config.fallback_arm, dtype=np.int64)

    def oracle_action(self):
        return np.argmax(self.means(), axis=1)

    def render_rgb(self, index):
        means = self.means()[index]
        last = int(self.last_action[index])
        return render.bar_image(means, -3.0, 3.0, best=int(np.argmax(means)),
                                chosen=last if last >= 0 else None)

    def render_ansi(self, index):
        means = self.means()[index]
        best, last = int(np.argmax(means)), int(self.last_action[index])
        lines = [f"t={self.t} season={int(self.engine.regime()[index])}"]
        for arm, mean in enumerate(means):
            bar = "#" * round((mean + 3.0) / 6.0 * 20)
            mark = ("*" if arm == best else " ") + ("<" if arm == last else " ")
            lines.append(f"arm {arm:3d} {mean:+.3f} |{bar:<20}|{mark}")
        return "\n".join(lines) + "\n"
