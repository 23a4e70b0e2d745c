"""Non-stationary UCB: sliding-window UCB and discounted UCB (Garivier & Moulines, 2011).

Algorithm (A. Garivier and E. Moulines, "On Upper-Confidence Bound Policies for Switching Bandit
Problems", ALT 2011; UCB itself: Auer, Cesa-Bianchi & Fischer 2002, Sutton & Barto section 2.7):
play the action with the highest upper confidence bound

    index[a] = mean[a] + c * scale * sqrt(log(n) / N[a])

where the statistics forget the past, so that the bound keeps re-opening for actions whose value
may have changed:
- ``variant="sliding"`` (SW-UCB): ``N[a]`` and ``mean[a]`` count only the last ``window`` pulls,
  ``n = min(t, window)`` is the number of pulls in the window.
- ``variant="discounted"`` (D-UCB): every step, every count and reward sum is multiplied by
  ``gamma`` before the new pull is added: ``N[a] = sum_s gamma^(t-s) 1[a_s = a]``,
  ``mean[a] = sum_s gamma^(t-s) r_s 1[a_s = a] / N[a]``, ``n = sum_a N[a]``.
An action with ``N[a] = 0`` (never tried, or fallen out of the window) is played first (ties at
random). Garivier & Moulines assume rewards in ``[0, B]`` and scale the bonus by ``B``; the worlds'
rewards have very different, unknown ranges, so ``scale`` is the standard deviation of the
rewards in the window (discounted likewise for D-UCB), measured as the agent goes: ``c`` is then
in units of the observed reward spread and one value serves every world.

Cost: O(actions) per step. SW-UCB keeps the window in a ring buffer (the action and reward of
each of the last ``window`` pulls) with running per-action counts and sums: a new pull adds itself
and subtracts the pull that leaves the window, with no O(window) work. D-UCB multiplies its
O(actions) counts and sums by ``gamma`` each step.

The learner is context-free (like ``sample_average``): it ignores observations and learns which
action pays on average. On DriftingBandit that is the method's home; elsewhere it is a simple
reference.

Hyper-parameters (chosen values):
- ``variant`` = "sliding".
- ``window`` = 500 (sliding): pulls remembered.
- ``gamma`` = 0.995 (discounted): discount per step (effective memory ``1 / (1 - gamma)`` = 200 steps).
- ``c``: exploration constant, in units of the reward standard deviation; ``None`` (the default)
  takes the variant's tuned value: 0.5 for sliding, 0.1 for discounted (``TUNED_C``).
- ``freeze_after`` = None: see "Frozen twin".

How they were chosen: on DriftingBandit-v0 only, on the tuning seeds (1000, 1001, 1002) and the
first 2,000 steps (10% of the 20,000-step streams quick-v1 had then; 4% of today's); each
setting ran with 5 agent seeds per
world seed and was scored by its mean reward per step over those 2,000 steps (the mean over steps
1,000-2,000, after the start-up, was also checked). Grids: ``window`` in {50, 100, 200, 300,
500, 1000, 2000} and ``gamma`` in {0.98, 0.99, 0.995, 0.998, 0.999, 0.9995}, each with ``c`` in
{0.05, 0.1, 0.25, 0.5, 1, 2}. The bandit's regime changes are slow: on all three tuning seeds the
stretch holds no level switch and no season change (the world's documented rates give one switch
per ~2,000 steps and a new season every 5,000), only the drift. There the longest memories win
(window 2,000, i.e. the whole stretch, forgetting nothing: 1.163; gamma 0.9995: 1.147), which
only says the stretch has no abrupt change to forget. So memory was capped, from the world's
description and not from the scores, at 500 steps (``window <= 500``, ``1 / (1 - gamma) <= 500``),
about a third of the documented mean time between abrupt changes, 1 / (1/2000 + 1/5000) = 1,430
steps, and the best setting under the cap taken: sliding ``window = 500, c = 0.5`` (1.128;
standard error over agent seeds ~0.013; window 300 with c 0.1: 1.115) and discounted ``gamma =
0.995, c = 0.1`` (1.132; gamma 0.998 with c 0.5: 1.127). The two variants are within noise of
each other; sliding is the default. ``c >= 1`` with short memories costs 0.1-0.7: the counts of a
short memory are small, so its bonus is already wide. For scale: oracle 1.211, random -0.031,
fallback -0.418 on the same stretch (mean of the three seeds).

Spaces:
- Actions ``Discrete``: one arm per action. Actions ``Box`` (1-d, finite bounds): a grid of 5
  values per dimension through ``common.ActionSet``, each grid point an arm. Anything else raises
  ``UnsupportedSpace``.
- Observations: any (ignored), except for the check below.
- Online prediction (PredictionStream; recognised at run time by ``common.PredictionDetector``
  from the first 5 steps): the feedback is the full truth ``y`` (the last ``k`` values of the next
  observation), so nothing needs exploring: the agent regresses, predicting the windowed mean of
  the revealed targets (SW: the last ``window`` targets; D: the gamma-discounted mean). Until the
  world is recognised it plays the action grid as elsewhere.

``elapsed > 1`` (the agent missed steps; the reward is their sum, mostly earned by the world's
fallback action): the reward is not the pulled action's, so no pull is recorded; D-UCB still
discounts by ``gamma ** elapsed`` (that much time passed). A revealed prediction target is still
learned from.

Frozen twin (``freeze_after=N``): after ``N`` world steps (``elapsed`` counted) no statistic ever
changes again (no new pulls, no discounting, no window sliding, no prediction-detector update), so
the index is frozen too: the twin plays the arm with the highest frozen index (ties at random)
forever, or keeps predicting its frozen mean.

``checkpoint()``/``restore()`` save the arrays and the generator's state: a resumed run continues
exactly. All randomness (ties) comes from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import io
import json
import math
from typing import Any

import numpy as np
from gymnasium import spaces

from ceaseless.baselines.common import ActionSet, Lifetime, PredictionDetector

VARIANTS = ("sliding", "discounted")


class UCB:
    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, seed: int, variant: str,
                 window: int, gamma: float, c: float, freeze_after: int | None) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r} must be one of {', '.join(VARIANTS)}")
        if int(window) != window or window < 1:
            raise ValueError(f"window={window} must be a positive integer")
        if not 0.0 < gamma < 1.0:
            raise ValueError(f"gamma={gamma} must be in (0, 1)")
        if c < 0.0:
            raise ValueError(f"c={c} must be >= 0")
        self.rng = np.random.default_rng(seed)
        self.actions = ActionSet(action_space)  # raises UnsupportedSpace for other spaces
        self.sliding = variant == "sliding"
        self.window, self.gamma, self.c = int(window), float(gamma), float(c)
        self.lifetime = Lifetime(freeze_after)
        self.detector = PredictionDetector(observation_space, action_space)
        k = self.detector.k
        if isinstance(action_space, spaces.Box):
            self._low, self._high = np.asarray(action_space.low, np.float64), np.asarray(action_space.high, np.float64)
            self._dtype = action_space.dtype
        # Per-action statistics over the window (SW) or discounted (D); both as floats.
        self.counts = np.zeros(self.actions.n)
        self.sums = np.zeros(self.actions.n)
        self.untried = self.actions.n  # actions with N[a] = 0 (SW: none in the window; D: never pulled)
        self._index, self._floored = np.empty(self.actions.n), np.empty(self.actions.n)  # scratch buffers
        # Totals over all actions (window or discounted): pulls, sum of rewards, sum of squared rewards.
        self.pulls, self.total, self.total_sq = 0.0, 0.0, 0.0
        # Prediction targets: [weight, sum of targets...] (SW: over the window; D: discounted).
        self.target_stats = np.zeros(1 + k)
        if self.sliding:  # ring buffers of the last `window` pulls and targets; -1: empty slot
            self.ring_arm = np.full(self.window, -1, dtype=np.int64)
            self.ring_reward = np.zeros(self.window)
            self.ring_target = np.zeros((self.window, k))
        self.positions = np.zeros(2, dtype=np.int64)  # next ring slot: [pulls, targets]
        self.index = 0  # the index of the last action taken
        self.action: Any = None  # the last action sent

    # -- acting -------------------------------------------------------------------------------------
    def _choose(self) -> Any:
        if self.detector.prediction:
            weight, sums = self.target_stats[0], self.target_stats[1:]
            mean = sums / weight if weight > 0 else sums
            self.action = np.minimum(np.maximum(mean, self._low), self._high).astype(self._dtype)
            return self.action
        candidates = np.flatnonzero(self.counts == 0.0) if self.untried else ()
        if len(candidates):  # actions without a pull in the statistics come first
            self.index = int(candidates[self.rng.integers(len(candidates))])
        else:
            n = self.pulls
            mean = self.total / n
            width = self.c * math.sqrt(max(self.total_sq / n - mean * mean, 0.0))  # c * reward standard deviation
            # D-UCB: a count that underflowed to 0 after ~10^5 unpulled steps must not divide by zero.
            counts = self.counts if self.sliding else np.maximum(self.counts, 1e-300, out=self._floored)
            # index = sums / N + width * sqrt(log(n) / N), computed as (sums + width * sqrt(log(n) N)) / N in place
            index = np.multiply(counts, math.log(max(n, 1.0)), out=self._index)
            np.sqrt(index, out=index)
            index *= width
            index += self.sums
            index /= counts
            self.index = int(index.argmax())
            if np.count_nonzero(index == index[self.index]) > 1:  # ties at random
                candidates = np.flatnonzero(index == index[self.index])
                self.index = int(candidates[self.rng.integers(len(candidates))])
        self.action = self.actions[self.index]
        return self.action

    def start(self, observation: Any) -> Any:
        return self._choose()

    # -- learning -----------------------------------------------------------------------------------
    def _record_pull(self, arm: int, reward: float, elapsed: int) -> None:
        if not self.sliding:
            decay = self.gamma ** elapsed
            self.counts *= decay
            self.sums *= decay
            self.pulls, self.total, self.total_sq = decay * self.pulls, decay * self.total, decay * self.total_sq
            if elapsed == 1:
                if self.counts[arm] == 0.0 and self.untried:  # (a count can underflow to 0 only after ~10^5
                    self.untried -= 1                          # unpulled steps; it is then no longer "untried")
                self.counts[arm] += 1.0
                self.sums[arm] += reward
                self.pulls, self.total, self.total_sq = self.pulls + 1.0, self.total + reward, self.total_sq + reward**2
            return
        if elapsed != 1:
            return
        slot = int(self.positions[0])
        old = int(self.ring_arm[slot])
        if old >= 0:  # the pull leaving the window
            leaving = float(self.ring_reward[slot])
            self.counts[old] -= 1.0
            if self.counts[old] == 0.0:
                self.sums[old] = 0.0  # no rounding residue
                self.untried += 1
            else:
                self.sums[old] -= leaving
            self.pulls, self.total, self.total_sq = self.pulls - 1.0, self.total - leaving, self.total_sq - leaving**2
        self.ring_arm[slot], self.ring_reward[slot] = arm, reward
        if self.counts[arm] == 0.0:
            self.untried -= 1
        self.counts[arm] += 1.0
        self.sums[arm] += reward
        self.pulls, self.total, self.total_sq = self.pulls + 1.0, self.total + reward, self.total_sq + reward**2
        self.positions[0] = (slot + 1) % self.window

    def _record_target(self, revealed: np.ndarray, elapsed: int) -> None:
        stats = self.target_stats
        if not self.sliding:
            stats *= self.gamma ** elapsed
            stats[0] += 1.0
            stats[1:] += revealed
            return
        slot = int(self.positions[1])
        if stats[0] >= self.window:  # the target leaving the window
            stats[0] -= 1.0
            stats[1:] -= self.ring_target[slot]
        self.ring_target[slot] = revealed
        stats[0] += 1.0
        stats[1:] += revealed
        self.positions[1] = (slot + 1) % self.window

    def step(self, reward: float, observation: Any, elapsed: int = 1) -> Any:
        if self.lifetime.tick(elapsed):
            if elapsed == 1:
                self.detector.update(self.action, reward, observation)
            if not self.detector.failed:  # possibly (or surely) the prediction protocol: learn the target
                self._record_target(np.asarray(observation, np.float64).ravel()[-self.detector.k:], elapsed)
            if not self.detector.prediction:
                self._record_pull(self.index, float(reward), elapsed)
        return self._choose()

    # -- checkpoints --------------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        meta = {"rng": self.rng.bit_generator.state, "index": self.index, "steps": self.lifetime.steps,
                "agreed": self.detector.agreed, "failed": self.detector.failed, "started": self.action is not None,
                "totals": [self.pulls, self.total, self.total_sq],  # floats survive JSON exactly
                "untried": self.untried}
        arrays = {"counts": self.counts, "sums": self.sums,
                  "target_stats": self.target_stats, "positions": self.positions,
                  "action": np.asarray(0 if self.action is None else self.action)}
        if self.sliding:
            arrays.update(ring_arm=self.ring_arm, ring_reward=self.ring_reward, ring_target=self.ring_target)
        buffer = io.BytesIO()
        np.savez(buffer, meta=np.array(json.dumps(meta)), **arrays)
        return buffer.getvalue()

    def restore(self, data: bytes) -> None:
        names = ["counts", "sums", "target_stats", "positions"]
        if self.sliding:
            names += ["ring_arm", "ring_reward", "ring_target"]
        with np.load(io.BytesIO(data)) as saved:
            for name in names:
                setattr(self, name, saved[name].copy())
            action = saved["action"]
            meta = json.loads(str(saved["meta"]))
        self.rng.bit_generator.state = meta["rng"]
        self.index, self.lifetime.steps = meta["index"], meta["steps"]
        self.pulls, self.total, self.total_sq = meta["totals"]
        self.untried = meta["untried"]
        self.detector.agreed, self.detector.failed = meta["agreed"], meta["failed"]
        self.action = None if not meta["started"] else action.copy() if action.ndim else action.item()


#: The exploration constant tuned for each variant (used when ``c`` is not given).
TUNED_C = {"sliding": 0.5, "discounted": 0.1}


def make_agent(observation_space: spaces.Space, action_space: spaces.Space, seed: int,
               variant: str = "sliding", window: int = 500, gamma: float = 0.995, c: float | None = None,
               freeze_after: int | None = None) -> UCB:
    """Sliding-window (default) or discounted UCB; ``c=None`` takes the variant's tuned value."""
    if c is None:
        if variant not in TUNED_C:
            raise ValueError(f"variant={variant!r} must be one of {', '.join(VARIANTS)}")
        c = TUNED_C[variant]
    return UCB(observation_space, action_space, seed, variant, window, gamma, c, freeze_after)
