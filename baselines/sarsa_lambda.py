"""Linear Sarsa(lambda) with tile coding, and linear TD(lambda) prediction on online-prediction worlds.

Algorithm (Sutton & Barto 2018, section 12.7, "Sarsa(lambda) with binary features and linear
function approximation"; tile coding 9.5.4; step size 9.6; semi-gradient TD(lambda) 12.2):

    q(s, a) = sum_{i in F(s)} w[i, a]                 F(s): the active binary features of s
    z       <- gamma * lambda * z + 1[F(s_t), a_t]       (accumulating; replacing sets those entries to 1)
    a_{t+1} =  epsilon-greedy on q(s_{t+1}, .)          (ties broken at random)
    delta   =  R_{t+1} + gamma * q(s_{t+1}, a_{t+1}) - q(s_t, a_t)     (both under the current w)
    w       <- w + (alpha / |F(s_t)|) * delta * z

The step size is the constant ``alpha`` divided by the number of active features (S&B 9.6):
nothing anneals, so a drifting, flipping world is tracked forever.

Continuing tasks: discounted, ``gamma < 1``. Every world is one endless stream, so the return is
either discounted or differential (average reward, S&B 10.3). Both are implemented
(``differential=True``: ``delta = R - avg_reward + q' - q`` and ``avg_reward += eta * delta``);
the discounted form is the default because on the tuning runs it was better (DriftingControl,
2,000 steps: z 0.30 against 0.18-0.25 for eta in {0.001, 0.01}), it needs one step size fewer,
and its values stay bounded (``|q| <= max|R| / (1 - gamma)``) without an offset that must itself
track the drift.

Features (``common.TileCoder``):
- Box observations: ``tilings`` offset grids of ``tiles`` per dimension over the space's bounds,
  hashed into ``size`` features, plus one bias feature (always on; within noise on
  DriftingControl, +0.02 z on PredictionStream);
- Discrete / MultiDiscrete observations: one-hot per component (the maze's row, column, goal row,
  goal column are coded separately, so q is additive in them: a deliberately plain generic choice
  that cannot represent a maze's values well);
- binary Box observations (Forager's colour channels): one feature per set bit, plus a bias.
One weight vector per action. Actions come from ``common.ActionSet``: all of a Discrete space,
or a grid of ``levels`` values per dimension of a Box (DriftingControl's torque: -1, 0, 1).

Traces are sparse and kept only over recently active features: the weight rows visited in the
last ``K`` world steps, ``K`` the smallest horizon with ``(gamma lambda)^K <= trace_cutoff``
(K = 6 for gamma lambda = 0.45), so truncation changes a trace by at most ``trace_cutoff``. A
replacing trace of a row is ``(gamma lambda)^(t - latest visit)``; accumulating traces sum that
over every visit in the window (``np.add.at``). A test holds both equal to dense traces.

Missed steps (``elapsed = n > 1``): the summed reward is one transition of ``n`` steps,
discounted by ``gamma^n`` (differential: ``n * avg_reward`` subtracted), and traces decay by
``(gamma lambda)^n`` because ages are counted in world steps. The missed steps were played by the
world's fallback, not by ``a_t``: an approximation.

Online-prediction worlds (PredictionStream), recognised at run time by
``common.PredictionDetector``: the agent becomes linear TD(lambda) prediction of the revealed
target, with the cumulant the target vector ``y_t`` revealed in the next observation, one weight
vector per output (``V[:, j]``), and features of the observation the prediction was made from
(a tile coder of its own, ``prediction_tilings`` x ``prediction_tiles``):

    delta_j = y_t[j] + gamma_p * v_j(o_{t+1}) - v_j(o_t),     V <- V + (alpha_p / |F(o_t)|) z delta^T

With ``gamma_p = 0`` (the default: the world scores the prediction of this step's target, not a
discounted sum of future ones) the trace is just the current feature vector, lambda drops out,
and this is exactly least-mean-squares regression of ``y_t`` on the tile-coded features of the
previous observation ``o_t``. The action is ``v(o_{t+1})``, computed after the update and clipped
to the action box. Until the detector has decided (5 steps) the agent already predicts (zero at
first, like the fallback; far cheaper than a grid action of the Box); if the detector rejects
the world, the control learner starts from that step. A step with ``elapsed > 1`` teaches
nothing in prediction mode (its target belongs to an observation the agent never saw).

Frozen twin: after ``freeze_after`` world steps (``common.Lifetime``, counting ``elapsed``) no
weight, trace or average reward changes; the agent keeps acting epsilon-greedily (same epsilon)
on its frozen q, or predicting with its frozen V.

Cost: a control step is about 30 small numpy calls (a third of them the tile coder), each
costing more in call overhead than in arithmetic: in-process (``benchmarks/agent_cost.py``)
10-13 us per step on the bandit and the maze, 16-19 us on the tile-coded worlds. One-step traces
(prediction with ``gamma_p = 0``) skip the trace bookkeeping.

Supported spaces: observations Discrete, MultiDiscrete or Box (``TileCoder``); actions Discrete
or a 1-d Box with finite bounds (``ActionSet``, at most 125 grid actions). Anything else raises
``UnsupportedSpace``.

Hyper-parameters (defaults = the chosen values):
    alpha = 0.5          step size, divided by the number of active features
    lam = 0.5            trace decay lambda
    gamma = 0.9          discount of the continuing return
    epsilon = 0.1        exploration rate (also of the frozen twin)
    traces = "replacing" or "accumulating"
    tilings = 16, tiles = 3, size = 2**16, bias = True      control features
    levels = 3           grid levels per Box action dimension
    trace_cutoff = 0.01  smallest trace kept
    differential = False, eta = 0.001                         average-reward variant (off)
    prediction_alpha = 0.8, prediction_tilings = 16, prediction_tiles = 1, prediction_gamma = 0.0

How they were chosen (worlds/suites.py TUNING_SEEDS 1000-1002, first 2,000 steps only; score =
mean z = (G - G_fallback) / (G_oracle - G_fallback) over the three seeds):
- Control, on DriftingControl-v0, with 3-8 agent seeds per world seed (the agent's exploration
  makes single runs very noisy): one-at-a-time checks around a first guess, a random search of
  70 configurations over alpha {0.05..0.4}, lambda {0, 0.5, 0.8, 0.9}, gamma {0.8..0.98}, epsilon
  {0.02, 0.05, 0.1}, tiles {3, 4, 6, 8}, tilings {4, 8, 16}, levels {3, 5, 7}, a second random
  search of 30 around the best (alpha up to 0.8, epsilon up to 0.15), then re-checks of the top
  few with fresh agent seeds, including accumulating traces, the differential form and no bias.
  Large steps, epsilon 0.1, coarse tiles (3-4) with many tilings and few torque levels won
  (z about 0.3); alpha 0.3-0.8, lambda 0.5-0.8, gamma 0.8-0.9 were all within noise of it.
  Lambda 0.5 keeps the trace window short (cheaper).
- Prediction, on PredictionStream-v0 (deterministic given the seed): a grid over
  prediction_tiles {1, 2, 3} x prediction_tilings {8, 16, 32} x prediction_alpha {0.05..1.0}.
  One tile per dimension (each tiling: 2 cells per input at its own offset, a conjunction of
  half-spaces) beat finer grids by far (z 0.78 against 0.54); 32 tilings gained 0.02 more at
  twice the coder's cost, so 16.
Tile coding, actions and exploration for the other worlds are the same values, untuned.
"""

from __future__ import annotations

import io
import json
import math
from collections import deque
from typing import Any

import numpy as np
from gymnasium import spaces

from ceaseless.baselines.common import ActionSet, Lifetime, PredictionDetector, TileCoder, UnsupportedSpace

_sum_rows = np.add.reduce  # sum over the first axis; ``ndarray.sum`` costs a Python wrapper more per call


# -- sparse recent traces ----------------------------------------------------------------------------
class RecentTraces:
    """Eligibility traces over the weight rows touched in the last ``horizon`` world steps.

    ``rows`` lists the rows visited in the window, step by step (``steps``: the (time, count) of
    each step still in it). A replacing trace of a row is ``decay ** (t - stamp[row])``, its
    latest visit: a row listed twice gets the same change twice, which fancy ``+=`` applies once,
    exactly as a replacing trace should. Accumulating traces sum ``decay ** age`` over every
    visit (``times`` keeps each visit's time; ``np.add.at`` adds duplicates)."""

    def __init__(self, size: int, decay: float, cutoff: float, replacing: bool) -> None:
        self.decay, self.replacing = decay, replacing
        self.horizon = 1 if decay <= 0.0 else max(1, math.ceil(math.log(cutoff) / math.log(decay)))
        self.powers = decay ** np.arange(self.horizon)
        self.rows = np.zeros(0, dtype=np.int64)
        self.times = np.zeros(0, dtype=np.int64)  # accumulating only
        self.steps: deque[tuple[int, int]] = deque()
        self.stamp = np.full(size, -1, dtype=np.int64)  # replacing only: latest visit of each row
        self.latest = -1  # one-step traces only: the time of the visit held

    def clear(self) -> None:
        self.rows, self.times = self.rows[:0], self.times[:0]
        self.steps.clear()

    def visit(self, rows: np.ndarray, t: int) -> None:
        """``rows`` are active at world step ``t``; visits ``horizon`` or more steps old are dropped."""
        if self.horizon == 1:  # one-step traces (lambda or gamma 0): just this visit, nothing to age
            self.rows, self.latest = rows, t
            return
        drop = 0
        while self.steps and self.steps[0][0] <= t - self.horizon:
            drop += self.steps.popleft()[1]
        self.steps.append((t, len(rows)))
        self.rows = np.concatenate((self.rows[drop:], rows))
        if self.replacing:
            self.stamp[rows] = t
        else:
            now = np.empty(len(rows), dtype=np.int64)
            now.fill(t)
            self.times = np.concatenate((self.times[drop:], now))

    def add_to(self, weights: np.ndarray, step: Any, t: int, vector: bool = False) -> None:
        """``weights[rows] += step * trace(rows)`` at the time ``t`` of the latest visit;
        ``step`` is a scalar, or (``vector``) one value per weight column."""
        if self.horizon == 1:  # every trace is 1 (the latest visit is at ``t``)
            if self.replacing:
                weights[self.rows] += step
            else:
                np.add.at(weights, self.rows, step)
            return
        ages = t - (self.stamp[self.rows] if self.replacing else self.times)
        values = self.powers[ages]
        change = np.multiply.outer(values, step) if vector else values * step
        if self.replacing:
            weights[self.rows] += change
        else:
            np.add.at(weights, self.rows, change)

    def state(self) -> dict[str, np.ndarray]:
        if self.horizon == 1:
            times = np.full(len(self.rows), self.latest, dtype=np.int64)
            steps = np.array([[self.latest, len(self.rows)]] if len(self.rows) else [], dtype=np.int64)
            return {"rows": self.rows, "times": times, "steps": steps.reshape(-1, 2)}
        steps = np.array(self.steps, dtype=np.int64).reshape(-1, 2)
        times = self.stamp[self.rows] if self.replacing else self.times
        return {"rows": self.rows, "times": times, "steps": steps}

    def set_state(self, saved: dict[str, np.ndarray]) -> None:
        self.rows, self.times = saved["rows"].copy(), saved["times"].copy()
        self.steps = deque((int(t), int(n)) for t, n in saved["steps"])
        self.latest = int(saved["steps"][-1][0]) if len(saved["steps"]) else -1
        self.stamp.fill(-1)
        if self.replacing:
            self.stamp[self.rows] = self.times  # a row listed twice carries its latest time twice
            self.times = self.times[:0]


# -- the agent ---------------------------------------------------------------------------------------
class SarsaLambda:
    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, seed: int, *,
                 alpha: float = 0.5, lam: float = 0.5, gamma: float = 0.9, epsilon: float = 0.1,
                 traces: str = "replacing", tilings: int = 16, tiles: int = 3, size: int = 1 << 16,
                 levels: int = 3, trace_cutoff: float = 0.01, differential: bool = False, eta: float = 0.001,
                 bias: bool = True, prediction_alpha: float = 0.8, prediction_tilings: int = 16,
                 prediction_tiles: int = 1, prediction_gamma: float = 0.0, freeze_after: int | None = None) -> None:
        if traces not in ("replacing", "accumulating"):
            raise ValueError(f"traces={traces!r} must be 'replacing' or 'accumulating'")
        if not (0.0 <= gamma <= 1.0 and 0.0 <= lam <= 1.0 and 0.0 <= epsilon <= 1.0):
            raise ValueError(f"need 0 <= gamma, lam, epsilon <= 1, got {gamma}, {lam}, {epsilon}")
        if not differential and gamma >= 1.0:
            raise ValueError("a continuing task needs gamma < 1 (or differential=True)")
        self.alpha, self.lam, self.gamma, self.epsilon = alpha, lam, gamma, epsilon
        self.differential, self.eta = differential, eta
        self.rng = np.random.default_rng(seed)
        self.lifetime = Lifetime(freeze_after)
        self.features = size + 1  # index ``size`` is the bias feature of tile-coded Box observations

        # Control: q(s, a) = sum of q_weights[F(s), a]; trace rows are flat indices f * n + a.
        self.actions = ActionSet(action_space, levels=levels)
        self.n = self.actions.n
        self.coder = TileCoder(observation_space, tilings=tilings, tiles=tiles, size=size)
        self.bias_buffer = self._bias_buffer(bias, observation_space, self.coder)
        self.q_weights = np.zeros((self.features, self.n))
        self.q_flat = self.q_weights.reshape(-1)  # a view: trace row f * n + a is q_weights[f, a]
        self.q_traces = RecentTraces(self.q_weights.size, gamma * lam, trace_cutoff, traces == "replacing")
        self.avg_reward = 0.0

        # Prediction: v_j(o) = sum of v_weights[F(o), j], one column per output.
        self.detector = PredictionDetector(observation_space, action_space)
        self.deciding = self.detector.possible
        if self.detector.possible:
            self.k = self.detector.k
            self.low = np.asarray(action_space.low, np.float64).ravel()
            self.high = np.asarray(action_space.high, np.float64).ravel()
            self.action_shape, self.action_dtype = action_space.shape, action_space.dtype
            self.pred_coder = TileCoder(observation_space, tilings=prediction_tilings, tiles=prediction_tiles,
                                        size=size)
            self.pred_bias_buffer = self._bias_buffer(bias, observation_space, self.pred_coder)
            self.pred_alpha, self.pred_gamma = prediction_alpha, prediction_gamma
            self.v_weights = np.zeros((self.features, self.k))
            self.v_traces = RecentTraces(self.features, prediction_gamma * lam, trace_cutoff, traces == "replacing")

        self.t = 0  # world steps since start
        self.mode = "predict" if self.deciding else "control"
        self.last_rows = np.zeros(0, dtype=np.int64)  # control: trace rows of (s_t, a_t); predict: F(o_t)
        self.last_action = 0  # control: index into the ActionSet
        self.last_value = np.zeros(self.detector.k)  # predict: v(o_t) under the current weights
        self.last_prediction: Any = None  # the prediction sent (for the detector)

    def _active(self, coder: TileCoder, bias: np.ndarray | None, observation: Any) -> np.ndarray:
        """The active features of ``observation``: the coder's, then the bias feature if ``bias`` is
        given -- the coder's buffer with the bias index last, reused by the next call."""
        if bias is None:
            return coder(observation)
        bias[:-1] = coder(observation)
        return bias

    def _bias_buffer(self, wanted: bool, observation_space: spaces.Space, coder: TileCoder) -> np.ndarray | None:
        """A buffer for ``_active`` if the bias feature is wanted and the coder tile-codes a Box
        (a fixed number of active features), else None."""
        if not (wanted and isinstance(observation_space, spaces.Box) and coder.active is not None):
            return None
        buffer = np.empty(coder.active + 1, dtype=np.int64)
        buffer[-1] = self.features - 1
        return buffer

    # -- control ------------------------------------------------------------------------------
    def _choose(self, observation: Any) -> tuple[int, np.ndarray, float]:
        """Epsilon-greedy action index (ties at random), the trace rows of (s, a) and q(s, a)."""
        active = self._active(self.coder, self.bias_buffer, observation)
        q = _sum_rows(self.q_weights.take(active, axis=0)).tolist()
        # Uniform picks as int(u * n): a third of the cost of rng.integers per call (ties are
        # frequent while the weights are still zero).
        if self.rng.random() < self.epsilon:
            action = int(self.rng.random() * self.n)
        else:
            best = max(q)
            if q.count(best) == 1:
                action = q.index(best)
            else:
                ties = [i for i, value in enumerate(q) if value == best]
                action = ties[int(self.rng.random() * len(ties))]
        return action, active * self.n + action, q[action]

    def _control_start(self, observation: Any) -> Any:
        self.mode = "control"
        self.q_traces.clear()
        self.last_action, self.last_rows, _ = self._choose(observation)
        if self.lifetime.learning:
            self.q_traces.visit(self.last_rows, self.t)
        return self.actions[self.last_action]

    def _control_step(self, reward: float, observation: Any, elapsed: int, learning: bool) -> Any:
        action, rows, value = self._choose(observation)  # a_{t+1} is chosen before the update (S&B 12.7)
        if learning:
            weights = self.q_flat
            previous = float(_sum_rows(weights[self.last_rows]))  # q(s_t, a_t) under the current weights
            if self.differential:
                delta = reward - elapsed * self.avg_reward + value - previous
                self.avg_reward += self.eta * delta
            else:
                delta = reward + self.gamma ** elapsed * value - previous
            self.q_traces.add_to(weights, self.alpha / len(self.last_rows) * delta, self.t - elapsed)
            self.q_traces.visit(rows, self.t)
        self.last_action, self.last_rows = action, rows
        return self.actions[action]

    # -- prediction -----------------------------------------------------------------------------
    def _predict(self, rows: np.ndarray) -> Any:
        """The prediction v(o) (clipped to the action box) from the active features of o."""
        self.last_rows = rows.copy()  # ``rows`` may be the reused bias buffer
        self.last_value = _sum_rows(self.v_weights.take(rows, axis=0))
        prediction = np.minimum(np.maximum(self.last_value, self.low), self.high).astype(self.action_dtype)
        self.last_prediction = prediction.reshape(self.action_shape)
        return self.last_prediction

    def _predict_step(self, observation: Any, elapsed: int, learning: bool) -> Any:
        rows = self._active(self.pred_coder, self.pred_bias_buffer, observation)
        if learning and elapsed == 1:  # learn first, then predict with the updated weights
            cumulant = np.asarray(observation, np.float64).ravel()[-self.k:]  # y_t, revealed now
            delta = cumulant - self.last_value  # v(o_t) was computed with the current weights
            if self.pred_gamma > 0.0:
                delta += self.pred_gamma * _sum_rows(self.v_weights.take(rows, axis=0))
            self.v_traces.visit(self.last_rows, self.t - 1)
            self.v_traces.add_to(self.v_weights, self.pred_alpha / len(self.last_rows) * delta, self.t - 1,
                                 vector=True)
        return self._predict(rows)

    # -- the protocol -----------------------------------------------------------------------------
    def start(self, observation: Any) -> Any:
        self.t = 0
        if self.mode == "predict":
            self.v_traces.clear()
            return self._predict(self._active(self.pred_coder, self.pred_bias_buffer, observation))
        return self._control_start(observation)

    def step(self, reward: float, observation: Any, elapsed: int = 1) -> Any:
        elapsed = max(1, int(elapsed))
        learning = self.lifetime.tick(elapsed)
        self.t += elapsed
        if self.deciding:
            if elapsed == 1:  # after missed steps the reward is not this prediction's: no check
                self.detector.update(self.last_prediction, float(reward), observation)
            if self.detector.prediction or self.detector.failed:
                self.deciding = False
            if self.detector.failed:
                return self._control_start(observation)
        if self.mode == "predict":
            return self._predict_step(observation, elapsed, learning)
        return self._control_step(float(reward), observation, elapsed, learning)

    # -- checkpoints -------------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        arrays = {"q_weights": self.q_weights, "last_rows": self.last_rows,
                  "last_value": np.asarray(self.last_value, np.float64)}
        arrays.update({f"q_{key}": value for key, value in self.q_traces.state().items()})
        if self.detector.possible:
            arrays["v_weights"] = self.v_weights
            arrays.update({f"v_{key}": value for key, value in self.v_traces.state().items()})
            if self.last_prediction is not None:
                arrays["last_prediction"] = self.last_prediction
        state = {"rng": self.rng.bit_generator.state, "t": self.t, "mode": self.mode, "deciding": self.deciding,
                 "last_action": self.last_action, "avg_reward": self.avg_reward,
                 "lifetime_steps": self.lifetime.steps, "detector": [self.detector.agreed, self.detector.failed]}
        buffer = io.BytesIO()
        np.savez(buffer, state=np.frombuffer(json.dumps(state).encode(), dtype=np.uint8), **arrays)
        return buffer.getvalue()

    def restore(self, data: bytes) -> None:
        with np.load(io.BytesIO(data), allow_pickle=False) as saved:
            state = json.loads(saved["state"].tobytes().decode())
            self.q_weights[:] = saved["q_weights"]
            self.q_traces.set_state({key: saved[f"q_{key}"] for key in ("rows", "times", "steps")})
            self.last_rows = saved["last_rows"].copy()
            last_value = saved["last_value"].copy()
            if self.detector.possible:
                self.v_weights[:] = saved["v_weights"]
                self.v_traces.set_state({key: saved[f"v_{key}"] for key in ("rows", "times", "steps")})
                self.last_prediction = saved["last_prediction"].copy() if "last_prediction" in saved else None
        self.rng.bit_generator.state = state["rng"]
        self.t, self.mode, self.deciding = state["t"], state["mode"], state["deciding"]
        self.last_action, self.avg_reward = state["last_action"], state["avg_reward"]
        self.last_value = last_value
        self.lifetime.steps = state["lifetime_steps"]
        self.detector.agreed, self.detector.failed = state["detector"]


def make_agent(observation_space: spaces.Space, action_space: spaces.Space, seed: int, **options: Any) -> SarsaLambda:
    """The protocol's entry point; ``options`` are the hyper-parameters above."""
    if not isinstance(observation_space, (spaces.Discrete, spaces.MultiDiscrete, spaces.Box)):
        raise UnsupportedSpace(f"Sarsa(lambda) needs a Discrete, MultiDiscrete or Box observation space, "
                               f"got {observation_space}")
    return SarsaLambda(observation_space, action_space, seed, **options)
