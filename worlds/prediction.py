"""PredictionStream: online regression of a target whose hidden function never stops changing."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
from gymnasium import spaces

from ceaseless.worlds import render, rng
from ceaseless.worlds.change import RandomWalk, Season, Switch
from ceaseless.worlds.core import World, WorldConfig, param

BOUND = 10.0  # the action box is [-BOUND, BOUND]; every target lies strictly inside it
NOISE_SUPPORT = 2.0 * math.sqrt(3.0)  # |unit noise| <= 2 sqrt(3) (see ceaseless.worlds.rng.standard_noise)


@dataclasses.dataclass(frozen=True)
class PredictionConfig(WorldConfig):
    num_inputs: int = param(8, 1, 32, "random inputs in the observation (besides the 2 phase features)")
    hidden_units: int = param(16, 1, 64, "hidden units of the target network")
    num_outputs: int = param(2, 1, 8, "dimensions of the target (and of the prediction)")
    amplitude: float = param(2.0, 0.0, 5.0, "the noise-free target lies in (-amplitude, amplitude)")
    noise: float = param(0.2, 0.0, 1.0, "standard deviation of the target noise")
    cycle_period: int = param(500, 2, 100_000, "steps per turn of the cyclic signal")
    cycle_amplitude: float = param(1.0, 0.0, 5.0, "weight of the cyclic signal in the target (before squashing)")
    flip_rate: float = param(1 / 2000, 0.0, 1.0, "Poisson rate per step of one input's sign flipping")
    switch_rate: float = param(1 / 20_000, 0.0, 1.0, "Poisson rate per step of all output weights being redrawn")
    drift: float = param(0.003, 0.0, 1.0, "random-walk step size per step of each output weight")
    season_period: int = param(10_000, 1, None, "steps per season")
    num_seasons: int = param(4, 1, 100, "seasons in the cycle (they recur)")


def squash(z: np.ndarray) -> np.ndarray:
    """``z / sqrt(1 + z^2)``: a tanh-like squashing into (-1, 1) made of correctly rounded
    operations only, so its floats are the same for every array shape and platform."""
    return z / np.sqrt(1.0 + z * z)


def target_function(inputs, phase, input_signs, input_weights, hidden_bias, output_weights, cycle_weights,
                    amplitude: float) -> np.ndarray:
    """The noise-free target ``f(x)``, over broadcastable leading axes ``(...)``.

    ``inputs (..., n)`` and ``phase (..., 2)`` are the observation (as float64), ``input_signs
    (..., n)`` how the network sees each input (+1 or -1); weights go from rows to columns:
    ``input_weights (..., n, H)``, ``hidden_bias (..., H)``, ``output_weights (..., H, m)``,
    ``cycle_weights (..., 2, m)``; returns ``(..., m)``. Sums run in a fixed order, one term at a
    time, so the floats of an element never depend on the shapes around it (batch size, block
    length).
    """
    inputs = input_signs * inputs  # exact
    hidden = hidden_bias + input_weights[..., 0, :] * inputs[..., 0, None]
    for i in range(1, inputs.shape[-1]):
        hidden = hidden + input_weights[..., i, :] * inputs[..., i, None]
    # The output layer with the hidden axis first: every product is one long contiguous loop.
    hidden = np.ascontiguousarray(np.moveaxis(squash(hidden), -1, 0))  # (H, ...)
    weights = np.ascontiguousarray(np.moveaxis(output_weights, (-2, -1), (0, 1)))  # (H, m, ...)
    total = weights[0] * hidden[0]
    for j in range(1, len(hidden)):
        total += weights[j] * hidden[j]
    total = np.moveaxis(total, 0, -1) / math.sqrt(len(hidden))  # (..., m)
    total = total + cycle_weights[..., 0, :] * phase[..., 0, None] + cycle_weights[..., 1, :] * phase[..., 1, None]
    return amplitude * squash(total)


class PredictionStream(World):
    """Predict a target signal whose hidden function of the observation drifts, switches, cycles.

    The world-model track: every step the agent sees inputs ``x_t`` and predicts ``y_t``, in the
    spirit of the slowly-changing regression problem of loss-of-plasticity studies (Dohare et al.),
    with a target network whose inputs flip sign and whose weights drift, get redrawn and cycle
    through seasons.

    ## Observation
    ``Box((num_inputs + 2 + num_outputs,), float32)``: ``[x_t, y_{t-1}]`` where
    ``x_t = [u_t, cos(2 pi t / P), sin(2 pi t / P)]`` (in [-1, 1]) holds fresh i.i.d. uniform inputs
    ``u_t`` and the phase of the cyclic signal (``P = cycle_period``), and ``y_{t-1}`` (in
    [-10, 10]) is the target of the previous step, revealed once it has been scored (zeros at the
    start): the online-prediction protocol -- predict, then see the truth.

    ## Actions
    ``Box(-10, 10, (num_outputs,), float32)``: the prediction of ``y_t``, the target of the
    observation returned at step ``t`` (by ``reset`` for ``t = 0``). Predictions outside the box
    (or NaN) raise ``ValueError``; nothing is clipped.

    ## Reward
    ``-mean_j (a_j - y_j)^2``, the negative mean squared error of the prediction ``a`` against
    ``y_t = f_t(x_t) + noise * e_t`` (``e_t`` unit-variance, approximately Gaussian noise with
    support ``[-2 sqrt(3), 2 sqrt(3)]``). ``f_t`` is a one-hidden-layer network::

        h = squash(bias + (sign * u) W)               H hidden units, squash(z) = z / sqrt(1 + z^2)
        f = amplitude * squash(h V / sqrt(H) + [cos, sin] C)

    so ``|f| < amplitude <= 5`` and ``|y| < 5 + 2 sqrt(3) < 10``: the target always lies inside the
    action box by construction, and the reward is bounded, ``>= -(10 + 5 + 2 sqrt(3))^2``.
    ``W``, ``bias`` and ``C`` (the cyclic signal's weight per output, of norm ``cycle_amplitude``)
    are drawn once per stream; ``W`` and ``bias`` are scaled so that the hidden pre-activations
    have a standard deviation of about 2: the units saturate and ``f`` is clearly nonlinear (an
    online linear regression on ``x`` stays well short of the oracle).

    ## Non-stationarity
    - **flip** (switch): at Poisson times (``flip_rate``) the sign with which the network sees
      one input flips, as the input bits of the slowly-changing regression problem do: what was
      evidence for a high target becomes evidence for a low one.
    - **switch**: at Poisson times (``switch_rate``) the output weights ``V`` are redrawn
      (their ``level`` part, uniform in [-1, 1]): the function changes abruptly and completely.
    - **drift**: each output weight drifts (random walk, step ``drift``, reflected in [-1, 1]).
    - **season**: ``V`` has a seasonal part: ``num_seasons`` seasons of ``season_period`` steps
      recur in a cycle. ``V = level + drift + season``.
    - **cycle**: the cyclic signal ``C [cos, sin]`` turns every ``cycle_period`` steps, forever.

    ## Reference policies
    Oracle: the true current function, ``f_t(x_t)`` without noise (mean reward
    ``-noise^2``). Fallback: predict zero.

    ## Diagnostics (harness only)
    ``hidden["target_mean"]`` ``f_t(x_t)``, ``hidden["input_signs"]`` ``sign (n,)``,
    ``hidden["output_weights"]`` ``V (H, m)`` (from hidden unit to output); regime: the season
    index. With ``stationary=True`` nothing changes: the function is fixed and the cycle stays at
    its step-0 phase (a turning cycle is change a learner can only follow by tracking, unless its
    representation captures the phase).
    """

    id = "ceaseless/PredictionStream-v0"
    changes = ("the target function's inputs flip sign and its output weights drift, get redrawn at Poisson "
               "times and cycle through recurring seasons; a cyclic signal turns forever")
    Config = PredictionConfig
    streams = ("function", "inputs", "noise")
    state_fields = ("input_weights", "hidden_bias", "cycle_weights", "last_prediction", "last_target")

    def __init__(self, num_envs: int = 1, **config) -> None:
        super().__init__(num_envs, **config)
        c = self.config
        n, h, m = c.num_inputs, c.hidden_units, c.num_outputs
        low = np.concatenate([np.full(n + 2, -1.0), np.full(m, -BOUND)]).astype(np.float32)
        self.observation_space = spaces.Box(low, -low, (n + 2 + m,), np.float32)
        self.action_space = spaces.Box(-BOUND, BOUND, (m,), np.float32)
        # The phase features of every step of one turn, computed once (the same floats for
        # every batch size): float32, as the agent sees them.
        angle = 2.0 * np.pi * np.arange(c.cycle_period) / c.cycle_period
        self._phase_table = np.stack([np.cos(angle), np.sin(angle)], axis=1).astype(np.float32)
        batch = self.num_envs
        self.input_weights = np.zeros((batch, n, h))
        self.hidden_bias = np.zeros((batch, h))
        self.cycle_weights = np.zeros((batch, 2, m))
        self.last_prediction = np.zeros((batch, m))
        self.last_target = np.zeros((batch, m))

    def make_processes(self):
        c = self.config
        h, m = c.hidden_units, c.num_outputs
        return {
            "season": Season((h, m), c.num_seasons, c.season_period, -1.0, 1.0),
            "switch": Switch((h, m), -1.0, 1.0, rate=c.switch_rate, update="resample", scope="all"),
            "flip": Switch(c.num_inputs, rate=c.flip_rate, update="negate", scope="one"),
            "drift": RandomWalk((h, m), c.drift, -1.0, 1.0, interval=16),
        }

    # -- per-block tables ------------------------------------------------------------------------
    def _new_block(self) -> None:
        """Observations, noise-free targets and noisy targets of every step of the block."""
        e, c = self.engine, self.config
        n, m = c.num_inputs, c.num_outputs
        steps = np.arange(e.block_start, e.block_start + e.block_length, dtype=np.uint64)
        counters = steps[:, None] * np.uint64(n) + np.arange(n, dtype=np.uint64)
        inputs = (2.0 * rng.uniform(self.keys["inputs"][:, None, None], counters[None]) - 1.0).astype(np.float32)
        # The cycle is change too: the stationary world holds it at its step-0 phase.
        turn = np.zeros_like(steps) if c.stationary else steps % np.uint64(c.cycle_period)
        phase = self._phase_table[turn]  # (L, 2)
        observations = np.empty((self.num_envs, e.block_length, n + 2), dtype=np.float32)
        observations[..., :n] = inputs
        observations[..., n:] = phase
        self._observations = observations
        self._output_weights = e.block("season") + e.block("switch") + e.block("drift")  # (B, L, H, m)
        x, phase = inputs.astype(np.float64), phase.astype(np.float64)[None]
        bias, cycle, amplitude = self.hidden_bias[:, None], self.cycle_weights[:, None], c.amplitude
        self._mean = target_function(x, phase, e.block("flip"), self.input_weights[:, None], bias,
                                     self._output_weights, cycle, amplitude)  # (B, L, m)
        counters = steps[:, None] * np.uint64(m) + np.arange(m, dtype=np.uint64)
        noise = rng.standard_noise(self.keys["noise"][:, None, None], counters[None])
        self._target = self._mean + c.noise * noise

    # -- dynamics ------------------------------------------------------------------------------------
    def _start(self) -> None:
        c = self.config
        n, h, m = c.num_inputs, c.hidden_units, c.num_outputs
        draws = 2.0 * rng.uniform(self.keys["function"][:, None], np.arange(h * n + h + 2 * m, dtype=np.uint64)) - 1.0
        # Input weights of variance 12 / n and biases in [-2, 2]: hidden pre-activations have a
        # standard deviation of about 2, so the units saturate and f is clearly nonlinear.
        self.input_weights[:] = (6.0 / math.sqrt(n)) * draws[:, : n * h].reshape(-1, n, h)
        self.hidden_bias[:] = 2.0 * draws[:, h * n : h * n + h]
        cycle = draws[:, h * n + h :].reshape(-1, 2, m)
        norm = np.sqrt(cycle[:, 0] * cycle[:, 0] + cycle[:, 1] * cycle[:, 1])  # (B, m)
        self.cycle_weights[:] = c.cycle_amplitude * cycle / np.maximum(norm, 1e-12)[:, None]
        self.last_prediction[:] = 0.0
        self.last_target[:] = 0.0
        self._new_block()  # reset builds the block before _start draws the function: rebuild it

    def _act(self, actions):
        target = self._target[:, self.engine.offset]
        difference = actions[:, 0] - target[:, 0]
        error = difference * difference
        for j in range(1, target.shape[1]):  # in order, as step_one does
            difference = actions[:, j] - target[:, j]
            error += difference * difference
        self.last_prediction[:] = actions
        self.last_target[:] = target
        return -(error / target.shape[1])

    def _observe(self):
        inputs = self.config.num_inputs + 2
        observations = np.empty((self.num_envs, inputs + self.config.num_outputs), dtype=np.float32)
        observations[:, :inputs] = self._observations[:, self.engine.offset]
        observations[:, inputs:] = self.last_target  # the truth of the step just scored
        return observations

    def step_one(self, action):
        """Fast path for a batch of one (held equal to :meth:`step` by a parity test)."""
        if not self._reset_done:
            return super().step_one(action)
        prediction = np.asarray(action, dtype=np.float64)
        if prediction.shape != self.action_space.shape:
            return super().step_one(action)  # raises the standard ValueError
        values = prediction.tolist()
        for value in values:
            if not -BOUND <= value <= BOUND:  # also refuses NaN
                return super().step_one(action)
        k = self.t - self.engine.block_start
        target = self._target[0, k].tolist()
        error = 0.0
        for a, y in zip(values, target):
            error += (a - y) * (a - y)
        self.last_prediction[0] = prediction
        self.last_target[0] = target
        self.t += 1
        if self.engine.advance():
            self._new_block()
        inputs = self.config.num_inputs + 2
        observation = np.empty(inputs + len(target), dtype=np.float32)
        observation[:inputs] = self._observations[0, self.t - self.engine.block_start]
        observation[inputs:] = target
        return observation, -(error / len(target))

    # -- diagnostics and reference policies ------------------------------------------------------
    def target_mean(self) -> np.ndarray:
        """The noise-free target ``f_t(x_t)`` of the current observation ``(num_envs, num_outputs)``."""
        return self._mean[:, self.engine.offset]

    def target(self) -> np.ndarray:
        """The noisy target ``y_t`` that the next action is scored against ``(num_envs, num_outputs)``."""
        return self._target[:, self.engine.offset]

    def evaluate(self, observations: np.ndarray) -> np.ndarray:
        """The current hidden function ``f_t`` at any observations ``(num_envs, >= num_inputs + 2)``
        (for analysis and tests: what the target's mean would be for those inputs now)."""
        x = np.asarray(observations, dtype=np.float32).astype(np.float64)[:, : self.config.num_inputs + 2]
        n, k = self.config.num_inputs, self.engine.offset
        return target_function(x[:, :n], x[:, n:], self.engine.value("flip"), self.input_weights,
                               self.hidden_bias, self._output_weights[:, k], self.cycle_weights,
                               self.config.amplitude)

    def hidden(self):
        return {
            "target_mean": self.target_mean(),
            "output_weights": self._output_weights[:, self.engine.offset],
            "input_signs": self.engine.value("flip"),
        }

    def fallback_action(self):
        return np.zeros((self.num_envs, self.config.num_outputs), dtype=np.float32)

    def oracle_action(self):
        return self.target_mean().copy()

    # -- rendering ---------------------------------------------------------------------------------
    def render_rgb(self, index):
        """Per output, two bars side by side: the last target, then the last prediction."""
        pairs = np.stack([self.last_target[index], self.last_prediction[index]], axis=1).ravel()
        scale = max(1.0, self.config.amplitude + NOISE_SUPPORT * self.config.noise)
        return render.bar_image(pairs, -scale, scale)

    def render_ansi(self, index):
        mean = " ".join(f"{v:+.3f}" for v in self.target_mean()[index])
        last_target = " ".join(f"{v:+.3f}" for v in self.last_target[index])
        last_prediction = " ".join(f"{v:+.3f}" for v in self.last_prediction[index])
        error = float(np.mean((self.last_prediction[index] - self.last_target[index]) ** 2))
        return (f"t={self.t} season={int(self.engine.regime()[index])}\n"
                f"now:  target mean [{mean}]\n"
                f"last: target [{last_target}] prediction [{last_prediction}] squared error {error:.4f}\n")
