"""Tabular Q-learning with a constant step size (Sutton & Barto, 2nd ed., section 6.5).

The agent keeps one action value ``Q[s, a]`` per observation key ``s`` (``common.ObservationKeys``:
exact values for discrete observations, a rounded grid for Box observations, hashed into a
bounded table) and action index ``a`` (``common.ActionSet``: every action of a Discrete space, a
grid of values for a 1-d Box). After each transition ``(s, a, r, s')`` it moves ``Q[s, a]`` a
constant fraction ``step_size`` towards the one-step target::

    Q[s, a] += step_size * (r + gamma * max_b Q[s', b] - Q[s, a])

and acts epsilon-greedily on ``Q[s']`` (ties broken at random). A constant step size, rather
than a decaying one, keeps the estimates tracking a world that never stops changing: old
experience fades geometrically (weight ``(1 - step_size)^k`` after ``k`` more visits).

Missed steps (``elapsed > 1``): the harness played its fallback action for ``elapsed - 1`` steps
after the agent's action and hands over the summed reward. The agent treats the whole gap as one
transition of its last action, like an option that lasted ``elapsed`` steps (Sutton, Precup &
Singh 1999): ``Q[s, a] += step_size * (R + gamma**elapsed * max_b Q[s', b] - Q[s, a])``, where
``R`` is the (undiscounted) sum it received. This credits the agent's action with the fallback
steps' reward; with a bounded compute clock such gaps are rare and short.

Online prediction (PredictionStream: the action is a prediction of the target, revealed as the
last ``k`` values of the next observation; recognised at run time by ``common.PredictionDetector``
within its first steps): the agent becomes a tabular regressor. A table ``P[s]`` of ``k`` values
per key of the observation's input part (the observation without its last ``k`` values, which
only reveal the previous target), on a grid of ``regression_resolution`` cells per dimension, is
moved towards each revealed target with the constant step size ``regression_step_size``::

    P[s_prev] += regression_step_size * (y - P[s_prev])

and its entry for the current observation, clipped to the action box, is the prediction. Until
the detector has decided (and from the very first step, on any world where the protocol is
possible) the agent predicts with this table; if the detector rules the protocol out, it falls
back to Q-learning over the ``ActionSet`` grid. After missed steps the revealed target belongs
to an observation the agent never saw, so that update is skipped.

Hyper-parameters (values chosen):

- ``step_size`` = 0.5: constant step size of the Q update.
- ``epsilon`` = 0.01: chance of a uniformly random action.
- ``gamma`` = 0.9: discount of the continuing return.
- ``initial_value`` = 1.0: every Q entry starts here (optimistic for the maze and Forager, whose
  rewards are sparse: untried actions look good until tried).
- ``view`` = 3: an egocentric picture (a 3-d Box, height x width x channels, e.g. Forager's 5x5
  view) is keyed on its central 3x3 window only; the full window is rarely seen twice (Forager:
  ~1,500 distinct 5x5 views in 5,000 random steps, ~180 distinct 3x3 ones). ``None``: the whole
  observation.
- ``table_size`` = 2**16 keys; ``resolution`` = 4 grid cells per unit of a Box observation's range
  (common.ObservationKeys); Box actions: 5 levels per dimension (common.ActionSet).
- ``regression_step_size`` = 0.1, ``regression_resolution`` = 1 (prediction protocol only). With
  one cell per dimension the table has a single entry: an exponential running mean of the target,
  which tracks its slow cyclic and drifting parts; finer grids have too many cells to be visited
  often enough in the tuning window.

How they were chosen: a small grid on the tuning seeds (ceaseless.worlds.suites.TUNING_SEEDS = 1000, 1001,
1002), first 2,000 steps only, scored by the mean over ShiftingMaze-v0 and Forager-v0 of
(sum over the seeds of the mean reward) / (sum over the seeds of the oracle's): step_size in
{0.1, 0.3, 0.5} x epsilon in {0.01, 0.05, 0.1} x gamma in {0.9, 0.95, 0.99} x initial_value in
{0, 0.5, 1, 2}; best 0.475 (maze 0.59, Forager 0.36), the runners-up within 0.05. ``view`` = 3
against 5 (the whole view) and 1 on Forager's tuning seeds, first 2,000 steps (0.21 vs -0.02 and
0.04 of the oracle, at step_size 0.3, epsilon 0.05, gamma 0.9, initial_value 0.5; with the full
view the whole sweep stayed under 0.06 on Forager). The regression values on PredictionStream-v0's
tuning seeds, first 2,000 steps: regression_step_size in {0.03, 0.05, 0.1, 0.15, 0.2, 0.3} x
regression_resolution in {1, 2, 3}; best z = 0.52 (resolution 2: 0.25 at best, 3: ~0). The other
values are the common.py defaults.

Spaces: observations Discrete, MultiDiscrete or Box (any shape); actions Discrete or a 1-d Box
with finite bounds (at most 125 grid actions). Anything else raises ``UnsupportedSpace``. Every
world of the suite fits: the bandit is a single state, the maze's (row, col, goal row, goal col)
is keyed exactly, Forager's binary view by its centre, and the continuous worlds
(DriftingControl, CraftingEconomy, Commons) on the coarse grid -- a generic, weak, but honest
tabular baseline there.

Frozen twin (``freeze_after``): after that many world steps neither table changes again; the agent
keeps acting epsilon-greedily (or predicting) from what it learned. The prediction detector keeps
checking the protocol after freezing: it recognises the world, it does not learn from it.

Randomness: one ``np.random.default_rng(seed)`` (uniforms drawn in blocks); ``checkpoint()`` /
``restore()`` save the tables, the generator's state and the pending transition, so an
interrupted run resumes exactly.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from gymnasium import spaces

from ceaseless.baselines.common import ActionSet, Lifetime, ObservationKeys, PredictionDetector, UnsupportedSpace

BLOCK = 1024  # uniforms drawn per call of the generator


class QLearning:
    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, seed: int,
                 step_size: float = 0.5, epsilon: float = 0.01, gamma: float = 0.9, initial_value: float = 1.0,
                 table_size: int = 1 << 16, resolution: int = 4, regression_step_size: float = 0.1,
                 regression_resolution: int = 1, view: int | None = 3, freeze_after: int | None = None) -> None:
        self.actions = ActionSet(action_space)
        # An egocentric picture (a 3-d Box, height x width x channels) is keyed on its central
        # view x view window only: the full window is almost never seen twice.
        self.window, key_space = None, observation_space
        if (view is not None and isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 3
                and view < min(observation_space.shape[:2])):
            top, left = (observation_space.shape[0] - view) // 2, (observation_space.shape[1] - view) // 2
            self.window = (slice(top, top + view), slice(left, left + view))
            key_space = spaces.Box(observation_space.low[self.window], observation_space.high[self.window],
                                   dtype=observation_space.dtype)
        self.keys = ObservationKeys(key_space, table_size, resolution)
        self.step_size, self.epsilon, self.gamma = step_size, epsilon, gamma
        self.regression_step_size = regression_step_size
        self.lifetime = Lifetime(freeze_after)
        self.rng = np.random.default_rng(seed)
        self.uniforms, self.drawn = [], 0
        self.q = np.full((table_size, self.actions.n), float(initial_value))

        # The online-prediction protocol: a regressor on the observation's input part.
        self.detector = PredictionDetector(observation_space, action_space)
        self.k = self.detector.k
        if self.detector.possible:
            low, high = np.asarray(observation_space.low), np.asarray(observation_space.high)
            inputs = spaces.Box(low.ravel()[:-self.k], high.ravel()[:-self.k], dtype=observation_space.dtype)
            self.input_keys = ObservationKeys(inputs, table_size, regression_resolution)
            self.table = np.zeros((table_size, self.k))
            self.action_low = np.asarray(action_space.low, np.float64)
            self.action_high = np.asarray(action_space.high, np.float64)
            self.action_dtype, self.action_shape = action_space.dtype, action_space.shape
        else:
            self.table = np.zeros((0, 0))

        # The pending transition: key of the last observation, index of the action taken there
        # (None when the last action was a prediction), the last prediction's input key and the
        # last action itself (for the detector).
        self.state, self.index, self.input_key, self.last_action = 0, None, None, None

    # -- randomness --------------------------------------------------------------------------------------
    def _uniform(self) -> float:
        if self.drawn == len(self.uniforms):
            self.uniforms, self.drawn = self.rng.random(BLOCK).tolist(), 0
        self.drawn += 1
        return self.uniforms[self.drawn - 1]

    # -- acting ---------------------------------------------------------------------------------------------
    def _regressing(self) -> bool:
        """Predict while the protocol is possible and not ruled out (undecided or confirmed)."""
        return not self.detector.failed

    def _predict(self, observation: Any) -> Any:
        self.input_key = self.input_keys(np.asarray(observation).ravel()[:-self.k])
        guess = np.clip(self.table[self.input_key], self.action_low, self.action_high)
        self.index = None
        self.last_action = guess.astype(self.action_dtype).reshape(self.action_shape)
        return self.last_action

    def _choose(self, state: int) -> Any:
        """Epsilon-greedy on Q[state], ties broken uniformly at random."""
        n = self.actions.n
        if self._uniform() < self.epsilon:
            index = int(self._uniform() * n)
        else:
            row = self.q[state].tolist()
            best = max(row)
            ties = [i for i in range(n) if row[i] == best]
            index = ties[int(self._uniform() * len(ties))] if len(ties) > 1 else ties[0]
        self.state, self.index = state, index
        self.last_action = self.actions[index]
        return self.last_action

    # -- the protocol ----------------------------------------------------------------------------------------
    def start(self, observation: Any) -> Any:
        self.index, self.input_key = None, None
        if self._regressing():
            return self._predict(observation)
        return self._choose(self._key(observation))

    def _key(self, observation: Any) -> int:
        return self.keys(observation if self.window is None else np.asarray(observation)[self.window])

    def step(self, reward: float, observation: Any, elapsed: int = 1) -> Any:
        if elapsed == 1 and self.last_action is not None:
            self.detector.update(self.last_action, reward, observation)
        learning = self.lifetime.tick(elapsed)
        if self._regressing():
            if learning and elapsed == 1 and self.input_key is not None:
                target = np.asarray(observation, np.float64).ravel()[-self.k:]
                self.table[self.input_key] += self.regression_step_size * (target - self.table[self.input_key])
            return self._predict(observation)
        state = self._key(observation)
        if learning and self.index is not None:
            q = self.q
            discount = self.gamma if elapsed == 1 else self.gamma ** elapsed
            target = reward + discount * max(q[state].tolist())
            q[self.state, self.index] += self.step_size * (target - q[self.state, self.index])
        return self._choose(state)

    # -- exact resume -----------------------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        meta = {
            "rng": self.rng.bit_generator.state, "drawn": self.drawn, "steps": self.lifetime.steps,
            "agreed": self.detector.agreed, "failed": self.detector.failed,
            "state": self.state, "index": self.index, "input_key": self.input_key,
            "last_action": None if self.last_action is None else np.asarray(self.last_action).tolist(),
        }
        buffer = io.BytesIO()
        np.savez(buffer, q=self.q, table=self.table, uniforms=np.array(self.uniforms, dtype=np.float64),
                 meta=np.array(json.dumps(meta)))
        return buffer.getvalue()

    def restore(self, data: bytes) -> None:
        with np.load(io.BytesIO(data)) as saved:
            self.q, self.table = saved["q"].copy(), saved["table"].copy()
            self.uniforms = saved["uniforms"].tolist()
            meta = json.loads(str(saved["meta"]))
        self.rng.bit_generator.state = meta["rng"]
        self.drawn, self.lifetime.steps = meta["drawn"], meta["steps"]
        self.detector.agreed, self.detector.failed = meta["agreed"], meta["failed"]
        self.state, self.index, self.input_key = meta["state"], meta["index"], meta["input_key"]
        last = meta["last_action"]
        if last is None:
            self.last_action = None
        elif self.index is not None:
            self.last_action = self.actions[self.index]
        else:
            self.last_action = np.asarray(last, dtype=self.action_dtype).reshape(self.action_shape)


def make_agent(observation_space: spaces.Space, action_space: spaces.Space, seed: int, **options: Any) -> QLearning:
    if not isinstance(observation_space, (spaces.Discrete, spaces.MultiDiscrete, spaces.Box)):
        raise UnsupportedSpace(f"q_learning needs a Discrete, MultiDiscrete or Box observation space, "
                               f"got {observation_space}")
    return QLearning(observation_space, action_space, seed, **options)
