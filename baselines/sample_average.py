"""Constant-step-size action values, epsilon-greedy: Sutton & Barto's bandit method for
non-stationary problems.

Algorithm (Sutton & Barto, *Reinforcement Learning: An Introduction*, 2nd ed., sections 2.4-2.6):
one value ``Q[a]`` per action, updated after each pull of ``a`` by

    Q[a] <- Q[a] + alpha * (R - Q[a])

with a CONSTANT step size ``alpha`` (section 2.5, "Tracking a Nonstationary Problem"): an
exponential recency-weighted average, in which a reward ``n`` pulls old weighs ``alpha (1 -
alpha)^n``, so the estimate keeps following a drifting arm instead of settling like a true sample
average (step ``1/n``) would. Actions are epsilon-greedy (section 2.2; ties broken at random);
``Q`` may start optimistic (section 2.6) to make every action tried early.

The learner is context-free: it ignores observations and learns which action pays on average.
On DriftingBandit (observation always 0) that is the textbook method; on the other worlds it is
a deliberately simple reference: the best single action, re-estimated forever.

Hyper-parameters (chosen values):
- ``alpha`` = 0.3: the constant step size (memory of about ``1 / alpha`` pulls of an action).
- ``epsilon`` = 0.01: probability of a uniformly random action.
- ``initial`` = 0.0: initial value of every ``Q[a]`` (above the rewards it is optimistic).
- ``freeze_after`` = None: see "Frozen twin".

How they were chosen: on DriftingBandit-v0 only, on the tuning seeds (1000, 1001, 1002) and the
first 2,000 steps (10% of the 20,000-step streams quick-v1 had then; 4% of today's); each
setting ran with 5 agent seeds per
world seed and was scored by its mean reward per step over those 2,000 steps (the mean over steps
1,000-2,000, after the start-up, ranks the leading settings alike). Grid: ``alpha`` in {0.01,
0.03, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7}, ``epsilon`` in {0, 0.01, 0.03, 0.05, 0.1}, ``initial`` in
{0, 3} (not every combination above 0.3). The bandit's regime changes are slow: on all three
tuning seeds the stretch holds no level switch and no season change (the world's documented
rates give one switch per ~2,000 steps and a new season every 5,000), only the drift. So the
stretch ranks how fast to forget under drift, but cannot punish an agent that stops exploring and
would miss an abrupt change: the stretch's best setting, ``epsilon = 0`` (mean 1.108; it re-checks
stale actions only when noise pulls the greedy value below them), was excluded for that reason
(a rule from the world's description, not from the scores), and the best with ``epsilon > 0``
taken: ``alpha = 0.3, epsilon = 0.01, initial = 0`` (1.102; standard error over agent seeds
~0.013). Nearby settings are close: ``alpha`` 0.2-0.5 with ``epsilon = 0.01`` lie within 0.02,
``epsilon = 0.1`` costs ~0.1, ``alpha <= 0.03`` costs >= 0.12; optimistic ``initial = 3`` lowers
the spread over agent seeds but not the mean. For scale: oracle 1.211, random -0.031, fallback
-0.418 on the same stretch (mean of the three seeds).

Spaces:
- Actions ``Discrete``: one value per action. Actions ``Box`` (1-d, finite bounds): a grid of 5
  values per dimension through ``common.ActionSet`` (DriftingControl: torques -1, -0.5, 0, 0.5,
  1), each grid point an arm. Anything else raises ``UnsupportedSpace``.
- Observations: any (ignored), except for the check below.
- Online prediction (PredictionStream; recognised at run time by ``common.PredictionDetector``
  from the first 5 steps): the feedback is the full truth ``y`` (revealed as the last ``k``
  values of the next observation), so the context-free learner regresses instead of choosing
  among grid predictions: it predicts ``m``, the same constant-step average of the revealed
  targets, ``m <- m + alpha (y - m)`` (the context-free prediction with the least squared error
  on a drifting target). Until the world is recognised it acts on the action grid as elsewhere.

``elapsed > 1`` (the agent missed steps; the reward is their sum, mostly earned by the world's
fallback action): the reward is not the pulled action's, so no action value learns from it;
a revealed prediction target is still learned from.

Frozen twin (``freeze_after=N``): after ``N`` world steps (``elapsed`` counted) ``Q`` and ``m``
never change again (nor does the prediction detector); the twin keeps acting epsilon-greedily on
its frozen ``Q`` (or predicting its frozen ``m``).

``checkpoint()``/``restore()`` save the arrays and the generator's state: a resumed run continues
exactly. All randomness comes from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from gymnasium import spaces

from ceaseless.baselines.common import ActionSet, Lifetime, PredictionDetector


class SampleAverage:
    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, seed: int,
                 alpha: float, epsilon: float, initial: float, freeze_after: int | None) -> None:
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha={alpha} must be in (0, 1]")
        if not 0.0 <= epsilon <= 1.0:
            raise ValueError(f"epsilon={epsilon} must be in [0, 1]")
        self.rng = np.random.default_rng(seed)
        self.actions = ActionSet(action_space)  # raises UnsupportedSpace for other spaces
        self.alpha, self.epsilon = float(alpha), float(epsilon)
        self.lifetime = Lifetime(freeze_after)
        self.detector = PredictionDetector(observation_space, action_space)
        self.q = np.full(self.actions.n, float(initial))  # action values
        self.target = np.zeros(self.detector.k)  # constant-step average of the revealed prediction target
        if isinstance(action_space, spaces.Box):
            self._low, self._high = np.asarray(action_space.low, np.float64), np.asarray(action_space.high, np.float64)
            self._dtype = action_space.dtype
        self.index = 0  # the index of the last action taken
        self.action: Any = None  # the last action sent

    # -- acting -------------------------------------------------------------------------------------
    def _choose(self) -> Any:
        if self.detector.prediction:
            self.action = np.minimum(np.maximum(self.target, self._low), self._high).astype(self._dtype)
            return self.action
        if self.rng.random() < self.epsilon:
            self.index = int(self.rng.integers(self.actions.n))
        else:
            best = np.flatnonzero(self.q == self.q.max())
            self.index = int(best[0] if len(best) == 1 else best[self.rng.integers(len(best))])
        self.action = self.actions[self.index]
        return self.action

    def start(self, observation: Any) -> Any:
        return self._choose()

    # -- learning -----------------------------------------------------------------------------------
    def step(self, reward: float, observation: Any, elapsed: int = 1) -> Any:
        if self.lifetime.tick(elapsed):
            if elapsed == 1:
                self.detector.update(self.action, reward, observation)
            if not self.detector.failed:  # possibly (or surely) the prediction protocol: learn the target
                revealed = np.asarray(observation, np.float64).ravel()[-self.detector.k:]
                self.target += self.alpha * (revealed - self.target)
            if elapsed == 1 and not self.detector.prediction:
                self.q[self.index] += self.alpha * (reward - self.q[self.index])
        return self._choose()

    # -- checkpoints --------------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        meta = {"rng": self.rng.bit_generator.state, "index": self.index, "steps": self.lifetime.steps,
                "agreed": self.detector.agreed, "failed": self.detector.failed, "started": self.action is not None}
        buffer = io.BytesIO()
        np.savez(buffer, q=self.q, target=self.target, action=np.asarray(0 if self.action is None else self.action),
                 meta=np.array(json.dumps(meta)))
        return buffer.getvalue()

    def restore(self, data: bytes) -> None:
        with np.load(io.BytesIO(data)) as saved:
            self.q, self.target = saved["q"].copy(), saved["target"].copy()
            action = saved["action"]
            meta = json.loads(str(saved["meta"]))
        self.rng.bit_generator.state = meta["rng"]
        self.index, self.lifetime.steps = meta["index"], meta["steps"]
        self.detector.agreed, self.detector.failed = meta["agreed"], meta["failed"]
        self.action = None if not meta["started"] else action.copy() if action.ndim else action.item()


def make_agent(observation_space: spaces.Space, action_space: spaces.Space, seed: int,
               alpha: float = 0.3, epsilon: float = 0.01, initial: float = 0.0,
               freeze_after: int | None = None) -> SampleAverage:
    return SampleAverage(observation_space, action_space, seed, alpha, epsilon, initial, freeze_after)
