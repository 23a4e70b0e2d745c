"""Dyna-Q+: tabular Q-learning plus planning from a learned model, with an exploration bonus for
long-untried actions (Sutton & Barto, 2nd ed., section 8.3; Dyna-Q in 8.2).

Three things happen at every real step of experience ``(s, a, r, s')``:

1. Direct RL: one-step Q-learning with a constant step size,
   ``Q[s, a] += step_size * (r + gamma * max_b Q[s', b] - Q[s, a])``.
2. Model learning: a deterministic tabular model remembers the last outcome of each pair,
   ``model[s, a] = (r, s')``, and the world step ``last_tried[s, a]`` at which ``a`` was last
   taken in ``s``.
3. Planning: ``planning_steps`` simulated Q-learning updates per real step, each on a state drawn
   uniformly from the store of seen states and an action drawn uniformly from all actions, with
   the Dyna-Q+ bonus ``kappa * sqrt(tau)`` added to the modelled reward, ``tau`` being the world
   steps since the action was last tried there:
   ``Q[s, a] += step_size * (r + kappa * sqrt(tau) + gamma * max_b Q[s', b] - Q[s, a])``.
   As in the book's footnote, actions never tried from a seen state are planned too, modelled as
   leading back to the same state with reward 0 (their ``tau`` counts from the state's arrival in
   the store). The bonus makes the planner go back to actions whose outcome may have changed:
   that is how Dyna-Q+ finds the detour of the blocking maze and the opening of the shortcut maze,
   both of which ShiftingMaze-v0 keeps producing.

Bounded cost: observations are keyed into a fixed table (``common.ObservationKeys``), and every
array (Q, the model, ``last_tried``, the store of seen states) is preallocated, so memory does not
grow over 10^6 steps. The store is a ring of the last ``memory`` distinct states that entered it
(the oldest is evicted, and re-enters when seen again). For CPU, planning is vectorised with numpy
and done in batches: every ``plan_every`` real steps, one batch of ``planning_steps * plan_every``
updates, all of whose targets are computed from Q before the batch (a synchronous sweep over a
random sample; duplicate pairs in a batch: the last one counts). On average that is
``planning_steps`` planning updates per real step.

Observation keys and actions as in q_learning.py: exact keys for Discrete / MultiDiscrete (the
maze's (row, col, goal row, goal col) are exact states), a grid of ``resolution`` cells per unit of
range for Box observations, and for an egocentric picture (a 3-d Box such as Forager's view) only
the central ``view x view`` window; Box actions through ``common.ActionSet`` (5 levels per
dimension). Acting is epsilon-greedy on Q with random tie-breaking (the bonus is not used to act).

Missed steps (``elapsed > 1``): the summed reward is one transition of the agent's last action
discounted by ``gamma**elapsed`` (an option that lasted ``elapsed`` steps) in the direct update;
the model is not changed (the outcome is not that of the action alone). ``tau`` counts world
steps, missed ones included.

Online prediction (PredictionStream, recognised by ``common.PredictionDetector``): the same small
tabular regressor as q_learning.py (kept local: one file per agent). A table ``P[s]`` of ``k``
values per key of the observation's input part (without its last ``k`` values, the revealed
previous target) on a grid of ``regression_resolution`` cells per dimension moves towards each
revealed target, ``P[s_prev] += regression_step_size * (y - P[s_prev])``; its entry for the
current observation, clipped to the action box, is the prediction. It predicts from the first
step on any world where the protocol is possible, and falls back to Dyna-Q+ over the
``ActionSet`` grid once the detector rules the protocol out; after missed steps the update is
skipped (the revealed target belongs to an unseen observation).

Hyper-parameters (values chosen):

- ``planning_steps`` (n) = 20 planning updates per real step, done as one batch of 80 every
  ``plan_every`` = 4 real steps. CPU: about 11-16 us per step on every world (planning every
  step instead costs ~25 us: over the ~20 us aimed at for tabular agents).
- ``kappa`` = 1e-3: weight of the exploration bonus ``kappa * sqrt(tau)``.
- ``step_size`` = 0.5, ``epsilon`` = 0.01, ``gamma`` = 0.9, ``initial_value`` = 1.0 (optimistic).
- ``table_size`` = 2**14 keys (the model's arrays are ``table_size x actions``: smaller than
  q_learning's so that a checkpoint stays under ~12 MB), ``memory`` = 4096 stored states,
  ``resolution`` = 4, ``view`` = 3 (as in q_learning.py).
- ``regression_step_size`` = 0.1, ``regression_resolution`` = 1 (prediction protocol only, taken
  from q_learning.py's tuning: with one cell per dimension the table is a single running mean).

How they were chosen: a small grid on the tuning seeds (ceaseless.worlds.suites.TUNING_SEEDS = 1000, 1001,
1002), first 2,000 steps of ShiftingMaze-v0 and Forager-v0 only, scored by the mean over the two
worlds of (sum over the seeds of the mean reward) / (sum over the seeds of the oracle's). First
planning_steps in {5, 10, 20} x kappa in {1e-4, 1e-3, 1e-2} x epsilon in {0.01, 0.05} x gamma in
{0.9, 0.95} x initial_value in {0, 1} (step_size 0.5, plan_every 4): best 0.457 (maze 0.75,
Forager 0.17) at the values above; kappa = 1e-2 was clearly worse (<= 0.33), the rest within
~0.05 (noise of three seeds). Then step_size in {0.3, 0.5, 1} x planning_steps in {5, 20, 40} x
plan_every in {1, 4}: plan_every 1 scored up to 0.51 but costs ~25 us per step; within the cost
aim, step_size 0.5 with n = 20 or 40 tied (0.457), and n = 20 is the cheaper. The first 2,000
steps hold few maze changes, so the bonus is hardly tested by this window; on the full 20,000
steps of the tuning seeds (a check, not used to choose) Dyna-Q+ reaches z = 0.68 on the maze
against 0.63 with kappa = 0 (Dyna-Q) and 0.48 without planning.

Spaces: observations Discrete, MultiDiscrete or Box; actions Discrete or a 1-d Box with finite
bounds (at most 125 grid actions). Anything else raises ``UnsupportedSpace``.

Frozen twin (``freeze_after``): after that many world steps, no direct, model or planning update
happens again; the agent keeps acting epsilon-greedily on its Q (or predicting from its table).
The prediction detector keeps checking the protocol (recognition, not learning).

Randomness: one ``np.random.default_rng(seed)``; ``checkpoint()`` / ``restore()`` save every
array, the generator's state and the pending transition, so an interrupted run resumes exactly.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from gymnasium import spaces

from ceaseless.baselines.common import ActionSet, Lifetime, ObservationKeys, PredictionDetector, UnsupportedSpace

BLOCK = 1024  # uniforms drawn per call of the generator (acting)


class DynaQPlus:
    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, seed: int,
                 planning_steps: int = 20, plan_every: int = 4, kappa: float = 1e-3,
                 step_size: float = 0.5, epsilon: float = 0.01, gamma: float = 0.9, initial_value: float = 1.0,
                 table_size: int = 1 << 14, memory: int = 4096, resolution: int = 4, view: int | None = 3,
                 regression_step_size: float = 0.1, regression_resolution: int = 1,
                 freeze_after: int | None = None) -> None:
        self.actions = ActionSet(action_space)
        n = self.actions.n
        # An egocentric picture (height x width x channels) is keyed on its central window only.
        self.window, key_space = None, observation_space
        if (view is not None and isinstance(observation_space, spaces.Box) and len(observation_space.shape) == 3
                and view < min(observation_space.shape[:2])):
            top, left = (observation_space.shape[0] - view) // 2, (observation_space.shape[1] - view) // 2
            self.window = (slice(top, top + view), slice(left, left + view))
            key_space = spaces.Box(observation_space.low[self.window], observation_space.high[self.window],
                                   dtype=observation_space.dtype)
        self.keys = ObservationKeys(key_space, table_size, resolution)
        self.step_size, self.epsilon, self.gamma, self.kappa = step_size, epsilon, gamma, kappa
        self.batch = max(1, planning_steps * plan_every) if planning_steps > 0 else 0
        self.plan_every = plan_every
        self.regression_step_size = regression_step_size
        self.lifetime = Lifetime(freeze_after)
        self.rng = np.random.default_rng(seed)
        self.uniforms, self.drawn = [], 0
        self.calls = 0  # real steps since the last planning batch

        # Value table and model: all preallocated, indexed by (state key, action index).
        self.q = np.full((table_size, n), float(initial_value))
        self.model_reward = np.zeros((table_size, n))
        self.model_next = np.full((table_size, n), -1, dtype=np.int32)  # -1: never tried
        self.last_tried = np.zeros((table_size, n), dtype=np.int64)  # world step of the last try
        # The store of seen states: a ring of distinct keys, and which keys are in it.
        self.store = np.zeros(memory, dtype=np.int64)
        self.stored = np.zeros(table_size, dtype=bool)
        self.count, self.head = 0, 0

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

        # The pending transition (see q_learning.py).
        self.state, self.index, self.input_key, self.last_action = 0, None, None, None

    # -- randomness --------------------------------------------------------------------------------------
    def _uniform(self) -> float:
        if self.drawn == len(self.uniforms):
            self.uniforms, self.drawn = self.rng.random(BLOCK).tolist(), 0
        self.drawn += 1
        return self.uniforms[self.drawn - 1]

    # -- keys and the store ------------------------------------------------------------------------------
    def _key(self, observation: Any) -> int:
        return self.keys(observation if self.window is None else np.asarray(observation)[self.window])

    def _remember(self, state: int) -> None:
        """Put a state in the ring of seen states (evicting the oldest when full); its untried
        actions start counting ``tau`` now."""
        if self.stored[state]:
            return
        if self.count == len(self.store):
            self.stored[self.store[self.head]] = False
        else:
            self.count += 1
        self.store[self.head] = state
        self.head = (self.head + 1) % len(self.store)
        self.stored[state] = True
        untried = self.model_next[state] < 0
        self.last_tried[state, untried] = self.lifetime.steps

    # -- learning ------------------------------------------------------------------------------------------
    def _plan(self) -> None:
        """One batch of simulated Q-learning updates from the model, with the Dyna-Q+ bonus."""
        draws = self.rng.random((2, self.batch))
        states = self.store[(draws[0] * self.count).astype(np.int64)]
        actions = (draws[1] * self.actions.n).astype(np.int64)
        following = self.model_next[states, actions].astype(np.int64)
        following = np.where(following < 0, states, following)  # untried: back to the same state
        tau = self.lifetime.steps - self.last_tried[states, actions]
        target = self.model_reward[states, actions] + self.kappa * np.sqrt(tau) \
            + self.gamma * self.q[following].max(axis=1)
        current = self.q[states, actions]
        self.q[states, actions] = current + self.step_size * (target - current)

    def _learn(self, reward: float, state: int, elapsed: int) -> None:
        q, s, a = self.q, self.state, self.index
        discount = self.gamma if elapsed == 1 else self.gamma ** elapsed
        q[s, a] += self.step_size * (reward + discount * max(q[state].tolist()) - q[s, a])
        if elapsed == 1:
            self.model_reward[s, a] = reward
            self.model_next[s, a] = state
            self.last_tried[s, a] = self.lifetime.steps
        self._remember(state)
        self.calls += 1
        if self.batch and self.calls >= self.plan_every:
            self.calls = 0
            self._plan()

    # -- acting ---------------------------------------------------------------------------------------------
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
        if not self.detector.failed:
            return self._predict(observation)
        state = self._key(observation)
        if self.lifetime.learning:
            self._remember(state)
        return self._choose(state)

    def step(self, reward: float, observation: Any, elapsed: int = 1) -> Any:
        if elapsed == 1 and self.last_action is not None:
            self.detector.update(self.last_action, reward, observation)
        learning = self.lifetime.tick(elapsed)
        if not self.detector.failed:  # predicting: the protocol is confirmed or still undecided
            if learning and elapsed == 1 and self.input_key is not None:
                target = np.asarray(observation, np.float64).ravel()[-self.k:]
                self.table[self.input_key] += self.regression_step_size * (target - self.table[self.input_key])
            return self._predict(observation)
        state = self._key(observation)
        if learning:
            if self.index is not None:
                self._learn(reward, state, elapsed)
            else:
                self._remember(state)
        return self._choose(state)

    # -- exact resume -----------------------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        meta = {
            "rng": self.rng.bit_generator.state, "drawn": self.drawn, "steps": self.lifetime.steps,
            "calls": self.calls, "count": self.count, "head": self.head,
            "agreed": self.detector.agreed, "failed": self.detector.failed,
            "state": self.state, "index": self.index, "input_key": self.input_key,
            "last_action": None if self.last_action is None else np.asarray(self.last_action).tolist(),
        }
        buffer = io.BytesIO()
        np.savez(buffer, q=self.q, model_reward=self.model_reward, model_next=self.model_next,
                 last_tried=self.last_tried, store=self.store, stored=self.stored, table=self.table,
                 uniforms=np.array(self.uniforms, dtype=np.float64), meta=np.array(json.dumps(meta)))
        return buffer.getvalue()

    def restore(self, data: bytes) -> None:
        with np.load(io.BytesIO(data)) as saved:
            for name in ("q", "model_reward", "model_next", "last_tried", "store", "stored", "table"):
                setattr(self, name, saved[name].copy())
            self.uniforms = saved["uniforms"].tolist()
            meta = json.loads(str(saved["meta"]))
        self.rng.bit_generator.state = meta["rng"]
        self.drawn, self.lifetime.steps, self.calls = meta["drawn"], meta["steps"], meta["calls"]
        self.count, self.head = meta["count"], meta["head"]
        self.detector.agreed, self.detector.failed = meta["agreed"], meta["failed"]
        self.state, self.index, self.input_key = meta["state"], meta["index"], meta["input_key"]
        last = meta["last_action"]
        if last is None:
            self.last_action = None
        elif self.index is not None:
            self.last_action = self.actions[self.index]
        else:
            self.last_action = np.asarray(last, dtype=self.action_dtype).reshape(self.action_shape)


def make_agent(observation_space: spaces.Space, action_space: spaces.Space, seed: int, **options: Any) -> DynaQPlus:
    if not isinstance(observation_space, (spaces.Discrete, spaces.MultiDiscrete, spaces.Box)):
        raise UnsupportedSpace(f"dyna_q_plus needs a Discrete, MultiDiscrete or Box observation space, "
                               f"got {observation_space}")
    return DynaQPlus(observation_space, action_space, seed, **options)
