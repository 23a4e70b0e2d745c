"""MLP DQN: an online multi-layer-perceptron value learner with a replay buffer and a target network.

Algorithm
---------
Deep Q-learning (Mnih et al. 2015, "Human-level control through deep reinforcement learning",
Nature 518), scaled down to a small numpy MLP and run as one continuing stream (no episodes, no
terminal states):

- An MLP ``Q(s, .)`` (by default one ReLU hidden layer of 64 units; ``hidden`` takes one or
  more layers) maps the encoded observation to one value per action of a finite action set
  (``common.ActionSet``: every action of a Discrete space, a grid of 5 levels per dimension of a
  Box). Encoding: a Box is flattened and scaled by its bounds to [-1, 1] (infinite bounds count as
  [-1, 1] and are clipped); Discrete is one-hot; MultiDiscrete is one one-hot per component.
- Every step the transition ``(s, a, r, s')`` goes into a replay buffer (preallocated arrays, a
  ring of the most recent ``replay_size`` transitions). Every ``update_every`` steps one minibatch
  of ``batch_size`` transitions is drawn uniformly and the network takes one Adam step on the
  Huber loss (DQN's error clipping) of ``Q(s, a)`` against ``r / sigma + gamma max_a' Q_target(s', a')``.
  ``sigma`` is a running root-mean-square of the rewards (rate ``reward_rate``): it puts every
  world's rewards on a comparable scale (DQN clipped them to [-1, 1], which here would hide price
  levels and item worths). The target network is a copy of the weights refreshed every
  ``target_every`` steps. The stream is continuing: every transition bootstraps.
- Epsilon-greedy with a constant ``epsilon``: the worlds never stop changing, so exploration never
  stops either.
- The backpropagation is written out by hand in :meth:`MLPDQN._gradient` (checked against finite
  differences in the tests). All weights live in one flat float32 vector (``theta``) with
  per-layer views, and so do the gradient and Adam's two moments: the Adam step and the target
  refresh are a handful of whole-vector numpy operations.

Variant ``variant="continual_backprop"`` (Dohare et al. 2024, "Loss of plasticity in deep
continual learning", Nature 632): each hidden unit carries a utility, a running average (decay
``cbp_decay``) of its contribution ``|activation| * sum |outgoing weights|`` (activations averaged
over the minibatch, at every update). Each hidden layer replaces ``cbp_rate`` of its units per
step (fractions accumulate until a whole unit is due): the unit with the lowest utility among
those older than ``cbp_maturity`` steps gets fresh input weights (from the initial distribution),
a zero bias, zero outgoing weights, zero Adam moments for those weights, and age and utility 0.
The fresh unit adds nothing to the output until it has learned (only the old unit's small
contribution disappears). Variant ``"plain"`` (the default) never replaces units.

Online prediction (PredictionStream's protocol, recognised at run time by
``common.PredictionDetector`` after its first 5 steps, acting through the action grid until
then): the same network, rebuilt once with one linear output per predicted value, becomes an
online regressor of the revealed target from the previous observation. Pairs ``(previous
observation, revealed target)`` go into the same replay buffer and the same update schedule
trains on the squared error (targets scaled by the action bound); the action is the network's
output, clipped to the action box. No exploration there: the prediction itself is the action.
Both variants apply.

Missed steps (``elapsed > 1``): the world acted on its fallback in between, so the transition
from the last observation does not belong to the agent's action (nor is the revealed target the
one of the last observation): it is dropped. ``freeze_after`` counts world steps (elapsed), not calls.

Frozen twin (``freeze_after``): after that many world steps nothing changes any more -- no
replay writes, no updates, no target refresh, no reward-scale update, no unit replacement, no
prediction detection -- and the agent keeps acting epsilon-greedily (the same epsilon) on its
frozen network (or predicting with it).

Hyper-parameters (defaults)
---------------------------
===============  ===========  ===========================================================
hidden           (64,)        one ReLU layer of 64 units
lr               3e-3         Adam step size (constant), betas (0.9, 0.999), eps 1e-8
gamma            0.9          discount
epsilon          0.05         constant exploration rate
batch_size       32           minibatch per update
update_every     8            steps between updates (DQN used 4: see Cost)
replay_size      5000         transitions kept (the most recent)
target_every     200          steps between target-network refreshes
reward_rate      1e-3         rate of the running reward RMS (0: no reward scaling)
huber            10.0         Huber threshold on the (scaled) TD error
cbp_rate         1e-4         continual backprop: units replaced per unit per step
cbp_decay        0.99         continual backprop: utility running-average decay
cbp_maturity     1000         continual backprop: steps before a unit may be replaced
===============  ===========  ===========================================================

How they were chosen. Only on the tuning seeds 1000-1002 and the first 2,000 steps of Forager,
CraftingEconomy and Commons, 3 agent seeds per world seed; score: the mean over the three worlds
of z = (G - G_fallback) / (G_oracle - G_fallback), G pooled over the nine runs.

1. (two layers of 64, update_every 4) lr {3e-4, 1e-3, 3e-3} x gamma {0.9, 0.99} x epsilon
   {0.05, 0.1}: gamma 0.9 and epsilon 0.05 best at every lr; lr >= 1e-3.
2. Architecture under the cost budget: hidden {(64,), (64, 64), (32, 32)} x update_every {4, 8}
   x batch {32, 64}. Updating every 4 steps scored better than every 8 (0.21 vs 0.16), but cost
   about 48 us per step on the bandit in an isolated run, at its 50 us budget; every 8 steps
   leaves a margin. (64,) and (64, 64) scored the same within noise; (64,) is cheaper.
3. (64,), every 8 steps: lr {1e-3, 3e-3} x epsilon {0.03, 0.05, 0.1} x target_every
   {100, 200, 500} x huber {1, 10}. Best 0.218 (lr 3e-3, epsilon 0.03, target 500, huber 10);
   kept lr 3e-3, epsilon 0.05, target_every 200, huber 10 (0.208, within noise of the best,
   a little more exploration for long streams). Reward scaling is needed: without it Commons
   scores z = -1.2 (its rewards are ~0.01); rates 1e-2 and 1e-3 tie.
4. Encoding a Box to [0, 1] instead of [-1, 1] tied on the mean (Forager worse, Commons better).
5. Continual backprop: cbp_rate {1e-4, 1e-3} x cbp_maturity {100, 1000} all tie with plain at
   2,000 steps (few units are ever replaced that early), so the defaults are the paper's scale
   (replacement 1e-4, decay 0.99), not tuned.

Supported spaces
----------------
Observations: Discrete, MultiDiscrete, Box (any shape). Actions: Discrete, or a 1-d Box with at
most 125 grid actions (``ActionSet``); anything else raises ``UnsupportedSpace``. Runs on all
seven worlds: DriftingControl acts on the 5-level torque grid; PredictionStream regresses.

Cost
----
CPU per step on a 2-core machine under load (20,000 steps, seed 1000, float32, one BLAS thread),
in-process / isolated run (own process, protocol overhead subtracted):
plain -- bandit 16 / 31 us (budget beta0 50), the other worlds 18-25 / 35-51 us (beta0 100; it
was 200 when this was measured);
continual_backprop -- bandit 25 / 35 us, the others 20-30 / 33-61 us. The isolated run costs
about twice the in-process one (every call wakes the agent's process). A 20,000-step bandit
run at beta0 (50 us) skips no step. Most of the cost is per-call numpy overhead, not
arithmetic: an update is ~45 small numpy calls (~60-100 us), acting ~8 us.
"""

from __future__ import annotations

import io
import json
from typing import Any

import numpy as np
from gymnasium import spaces

from ceaseless.baselines.common import ActionSet, Lifetime, PredictionDetector, UnsupportedSpace

VARIANTS = ("plain", "continual_backprop")


# -- observations --------------------------------------------------------------------------------------
class Encoder:
    """Observation -> float32 feature vector: Box scaled by its bounds to [-1, 1], Discrete one-hot,
    MultiDiscrete one one-hot per component."""

    def __init__(self, space: spaces.Space) -> None:
        self.space = space
        if isinstance(space, spaces.Discrete):
            self.kind, self.size = "discrete", int(space.n)
            self._start = int(space.start)
        elif isinstance(space, spaces.MultiDiscrete):
            nvec = np.asarray(space.nvec).ravel().astype(np.int64)
            self.kind, self.size = "multidiscrete", int(nvec.sum())
            self._offsets = np.concatenate([[0], np.cumsum(nvec)[:-1]]) - np.asarray(space.start).ravel()
        elif isinstance(space, spaces.Box):
            low = np.asarray(space.low, np.float64).ravel()
            high = np.asarray(space.high, np.float64).ravel()
            low, high = np.where(np.isfinite(low), low, -1.0), np.where(np.isfinite(high), high, 1.0)
            self.kind, self.size = "box", low.size
            self._clip = not (np.isfinite(space.low).all() and np.isfinite(space.high).all())
            self._low, self._high = low.astype(np.float32), high.astype(np.float32)
            # x -> 2 (x - low) / (high - low) - 1  ==  x * scale + shift
            scale = 2.0 / np.maximum(high - low, 1e-9)
            self._scale = scale.astype(np.float32)
            self._shift = (-low * scale - 1.0).astype(np.float32)
        else:
            raise UnsupportedSpace(f"mlp_dqn: observations must be Discrete, MultiDiscrete or Box, got {space}")

    def __call__(self, observation: Any) -> np.ndarray:
        if self.kind == "box":
            x = np.asarray(observation, np.float32).reshape(-1)
            if self._clip:
                x = np.clip(x, self._low, self._high)
            return x * self._scale + self._shift
        features = np.zeros(self.size, np.float32)
        if self.kind == "discrete":
            features[int(observation) - self._start] = 1.0
        else:
            features[self._offsets + np.asarray(observation).ravel()] = 1.0
        return features


# -- the agent -------------------------------------------------------------------------------------------
class MLPDQN:
    """DQN with a hand-written numpy MLP (see the module docstring)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, seed: int, *,
                 variant: str = "plain", hidden: tuple[int, ...] = (64,), lr: float = 3e-3,
                 gamma: float = 0.9, epsilon: float = 0.05, batch_size: int = 32, update_every: int = 8,
                 replay_size: int = 5000, target_every: int = 200, reward_rate: float = 1e-3,
                 huber: float = 10.0, cbp_rate: float = 1e-4, cbp_decay: float = 0.99, cbp_maturity: int = 1000,
                 freeze_after: int | None = None) -> None:
        if variant not in VARIANTS:
            raise ValueError(f"variant={variant!r} is not one of {', '.join(VARIANTS)}")
        hidden = tuple(int(h) for h in (hidden if isinstance(hidden, (tuple, list)) else (hidden,)))
        if not hidden or min(hidden) < 1:
            raise ValueError(f"hidden={hidden} needs at least one layer of at least one unit")
        if batch_size < 1 or update_every < 1 or replay_size < batch_size or target_every < 1:
            raise ValueError("batch_size, update_every and target_every must be >= 1 and replay_size >= batch_size")
        self.encoder = Encoder(observation_space)
        self.action_set = ActionSet(action_space)  # raises UnsupportedSpace for other action spaces
        self.actions = self.action_set.actions
        self.action_space = action_space
        self.detector = PredictionDetector(observation_space, action_space)
        self.variant, self.hidden = variant, hidden
        self.lr, self.gamma, self.epsilon = float(lr), float(gamma), float(epsilon)
        self.batch_size, self.update_every, self.replay_size = int(batch_size), int(update_every), int(replay_size)
        self.target_every, self.reward_rate, self.huber = int(target_every), float(reward_rate), float(huber)
        self.cbp_rate, self.cbp_decay, self.cbp_maturity = float(cbp_rate), float(cbp_decay), int(cbp_maturity)
        self.lifetime = Lifetime(freeze_after)
        self.rng = np.random.default_rng(seed)
        if isinstance(action_space, spaces.Box):
            low, high = np.asarray(action_space.low, np.float64), np.asarray(action_space.high, np.float64)
            self._pred_low, self._pred_high = low.astype(np.float32).ravel(), high.astype(np.float32).ravel()
            self._pred_scale = np.float32(max(np.abs(low).max(), np.abs(high).max(), 1e-9))
        self.mode = "control"
        self._build(self.action_set.n)
        # the stream: the last encoded observation and action (index, or the prediction)
        self.x: np.ndarray | None = None
        self.last_action: Any = None
        self.last_index = -1
        self.updates = 0
        self.reward_m2 = 0.0  # running mean of r^2 (bias-corrected by reward_weight)
        self.reward_weight = 0.0

    # -- the network: one flat vector, per-layer views ----------------------------------------------------
    def _build(self, outputs: int) -> None:
        """(Re)create the network with ``outputs`` outputs, its target copy, Adam state and replay."""
        self.sizes = (self.encoder.size, *self.hidden, outputs)
        self.shapes: list[tuple[int, ...]] = []
        for fan_in, fan_out in zip(self.sizes[:-1], self.sizes[1:]):
            self.shapes += [(fan_in, fan_out), (fan_out,)]
        total = sum(int(np.prod(s)) for s in self.shapes)
        self.theta = np.zeros(total, np.float32)
        self.grad = np.zeros(total, np.float32)
        self.adam_m = np.zeros(total, np.float32)
        self.adam_v = np.zeros(total, np.float32)
        self._tmp = np.zeros(total, np.float32)  # scratch for the Adam step
        self.W, self.b = self._views(self.theta)
        self.gW, self.gb = self._views(self.grad)
        self.mW, self.mb = self._views(self.adam_m)
        self.vW, self.vb = self._views(self.adam_v)
        for layer in range(len(self.W)):
            self.W[layer][...] = self._init_weights(self.sizes[layer], self.sizes[layer + 1], layer)
        self.theta_target = self.theta.copy()
        self.tW, self.tb = self._views(self.theta_target)
        self.adam_t = 0
        # continual backprop: per hidden layer, each unit's utility and age (in steps)
        self.utility = [np.zeros(h, np.float32) for h in self.hidden]
        self.age = [np.zeros(h, np.int64) for h in self.hidden]
        self.replace_due = np.zeros(len(self.hidden))
        self.replaced = 0
        # replay: a ring of the most recent transitions
        n, d = self.replay_size, self.encoder.size
        self.buf_x = np.zeros((n, d), np.float32)
        self.buf_next = np.zeros((n, d), np.float32)
        self.buf_a = np.zeros(n, np.int64)
        self.buf_r = np.zeros(n, np.float32)  # raw rewards (control) or scaled targets (prediction)
        self.buf_y = np.zeros((n, outputs), np.float32) if self.mode == "prediction" else np.zeros((0, 0), np.float32)
        self.buf_count = 0  # transitions ever written

    def _views(self, flat: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        weights, biases, offset = [], [], 0
        for i, shape in enumerate(self.shapes):
            size = int(np.prod(shape))
            (weights if i % 2 == 0 else biases).append(flat[offset:offset + size].reshape(shape))
            offset += size
        return weights, biases

    def _init_weights(self, fan_in: int, fan_out: int, layer: int) -> np.ndarray:
        """He-uniform for ReLU layers, 1/sqrt(fan_in)-uniform for the linear output layer."""
        hidden_layer = layer < len(self.hidden)
        bound = np.sqrt(6.0 / fan_in) if hidden_layer else 1.0 / np.sqrt(fan_in)
        return self.rng.uniform(-bound, bound, (fan_in, fan_out)).astype(np.float32)

    def _forward(self, x: np.ndarray, W: list[np.ndarray], b: list[np.ndarray]) -> tuple[np.ndarray, list]:
        """Outputs for ``x`` (one row or a batch) and the hidden activations (for backprop)."""
        activations = []
        h = x
        for layer in range(len(W) - 1):
            h = h @ W[layer]
            h += b[layer]
            np.maximum(h, 0.0, out=h)
            activations.append(h)
        out = h @ W[-1]
        out += b[-1]
        return out, activations

    # -- acting ---------------------------------------------------------------------------------------------
    def _act(self, x: np.ndarray) -> Any:
        if self.mode == "prediction":
            out, _ = self._forward(x, self.W, self.b)
            prediction = np.clip(out * self._pred_scale, self._pred_low, self._pred_high).astype(np.float32)
            self.last_action = prediction.reshape(self.action_space.shape)
            return self.last_action
        if self.rng.random() < self.epsilon:
            index = int(self.rng.integers(self.action_set.n))
        else:
            out, _ = self._forward(x, self.W, self.b)
            index = int(out.argmax())
        self.last_index = index
        self.last_action = self.actions[index]
        return self.last_action

    def start(self, observation: Any) -> Any:
        self.x = self.encoder(observation)
        return self._act(self.x)

    def step(self, reward: float, observation: Any, elapsed: int = 1) -> Any:
        learning = self.lifetime.tick(elapsed)
        x = self.encoder(observation)
        if learning and elapsed == 1 and self.x is not None:
            if not self.detector.prediction and not self.detector.failed:
                self.detector.update(self.last_action, reward, observation)
                if self.detector.prediction:  # switch to online regression once, from here on
                    self.mode = "prediction"
                    self._build(self.detector.k)
            if self.mode == "prediction":
                revealed = np.asarray(observation, np.float32).ravel()[-self.detector.k:]
                self._store(self.x, -1, 0.0, x, revealed / self._pred_scale)
            else:
                self._store(self.x, self.last_index, reward, x, None)
            if self.lifetime.steps % self.update_every == 0 and self.buf_count >= self.batch_size:
                self._learn()
            if self.mode == "control" and self.lifetime.steps % self.target_every == 0:
                self.theta_target[...] = self.theta
        self.x = x
        return self._act(x)

    # -- learning -------------------------------------------------------------------------------------------
    def _store(self, x: np.ndarray, index: int, reward: float, x_next: np.ndarray, target: np.ndarray | None) -> None:
        i = self.buf_count % self.replay_size
        self.buf_x[i] = x
        if target is None:
            self.buf_next[i] = x_next
            self.buf_a[i] = index
            self.buf_r[i] = reward
            self.reward_weight += self.reward_rate * (1.0 - self.reward_weight)
            self.reward_m2 += self.reward_rate * (reward * reward - self.reward_m2)
        else:
            self.buf_y[i] = target
        self.buf_count += 1

    def _learn(self) -> None:
        """One minibatch step: the gradient (backprop by hand), Adam, then (continual backprop)
        utilities and unit replacement."""
        # uniform indices into the filled part of the ring (floor(u * n) is cheaper than rng.integers here)
        idx = (self.rng.random(self.batch_size) * min(self.buf_count, self.replay_size)).astype(np.int64)
        acts = self._gradient(idx)
        self._adam()
        self.updates += 1
        if self.variant == "continual_backprop":
            self._continual_backprop(acts)

    def _gradient(self, idx: np.ndarray) -> list[np.ndarray]:
        """The gradient of the minibatch loss into ``self.grad``; returns the hidden activations.

        Control: the Huber loss of ``Q(s, a)`` against the fixed target ``r / sigma + gamma max_a'
        Q_target(s', a')`` (for errors under ``huber`` it is ``0.5 error^2``), averaged over the batch.
        Prediction: ``0.5 |out - y|^2`` averaged over the batch."""
        B = len(idx)
        X = self.buf_x[idx]
        out, acts = self._forward(X, self.W, self.b)
        # d loss / d out
        if self.mode == "prediction":
            d_out = out - self.buf_y[idx]
            d_out *= 1.0 / B
        else:
            q_next, _ = self._forward(self.buf_next[idx], self.tW, self.tb)
            target = q_next.max(axis=1)  # r / sigma + gamma max_a' Q_target(s', a')
            target *= self.gamma
            target += self.buf_r[idx] * np.float32(1.0 / self.reward_sigma())
            actions = self.buf_a[idx]
            error = out[np.arange(B), actions]
            error -= target
            np.clip(error, -self.huber, self.huber, out=error)  # Huber loss: d/dQ = clip(Q - target)
            error *= 1.0 / B
            d_out = np.zeros_like(out)
            d_out[np.arange(B), actions] = error
        # backprop, last layer first: out = h[L-1] W[L] + b[L], h[l] = relu(h[l-1] W[l] + b[l]), h[-1] = X
        delta = d_out  # d loss / d (pre-activation of the layer above)
        for layer in range(len(self.W) - 1, -1, -1):
            below = acts[layer - 1] if layer > 0 else X
            np.matmul(below.T, delta, out=self.gW[layer])  # dL/dW = input^T delta
            np.sum(delta, axis=0, out=self.gb[layer])  # dL/db = sum over the batch of delta
            if layer > 0:
                delta = delta @ self.W[layer].T  # dL/dh below
                delta *= below > 0.0  # relu'(z) = 1 where the unit was active (h > 0)
        return acts

    def _adam(self) -> None:
        """Adam (Kingma & Ba 2015) with a constant step size, on the flat vector, in place."""
        self.adam_t += 1
        beta1, beta2 = 0.9, 0.999
        m, v, g, tmp = self.adam_m, self.adam_v, self.grad, self._tmp
        m *= beta1  # m = beta1 m + (1 - beta1) g
        np.multiply(g, 1.0 - beta1, out=tmp)
        m += tmp
        v *= beta2  # v = beta2 v + (1 - beta2) g^2
        np.multiply(g, g, out=tmp)
        tmp *= 1.0 - beta2
        v += tmp
        step = self.lr * np.sqrt(1.0 - beta2 ** self.adam_t) / (1.0 - beta1 ** self.adam_t)  # bias correction
        np.sqrt(v, out=tmp)  # theta -= step * m / (sqrt(v) + eps)
        tmp += 1e-8
        np.divide(m, tmp, out=tmp)
        tmp *= step
        self.theta -= tmp

    def reward_sigma(self) -> float:
        """The running RMS of the rewards (1 when ``reward_rate`` is 0: no scaling)."""
        if self.reward_rate <= 0.0 or self.reward_weight <= 0.0:
            return 1.0
        return float(np.sqrt(max(self.reward_m2 / self.reward_weight, 1e-12)))

    def _continual_backprop(self, acts: list[np.ndarray]) -> None:
        """Dohare et al. 2024: contribution utility, then replace the least useful mature units."""
        steps = self.update_every  # steps since the last update
        for layer, h in enumerate(acts):
            contribution = np.abs(h).mean(axis=0) * np.abs(self.W[layer + 1]).sum(axis=1)
            self.utility[layer] *= self.cbp_decay
            self.utility[layer] += (1.0 - self.cbp_decay) * contribution
            self.age[layer] += steps
            self.replace_due[layer] += self.cbp_rate * self.hidden[layer] * steps
            if self.replace_due[layer] < 1.0:
                continue
            mature = np.flatnonzero(self.age[layer] > self.cbp_maturity)
            count = min(int(self.replace_due[layer]), mature.size)
            self.replace_due[layer] -= int(self.replace_due[layer])
            if count == 0:
                continue
            units = mature[np.argsort(self.utility[layer][mature], kind="stable")[:count]]
            fan_in = self.sizes[layer]
            self.W[layer][:, units] = self._init_weights(fan_in, units.size, layer)
            self.b[layer][units] = 0.0
            self.W[layer + 1][units, :] = 0.0
            for moments in (self.mW, self.vW):
                moments[layer][:, units] = 0.0
                moments[layer + 1][units, :] = 0.0
            for moments in (self.mb, self.vb):
                moments[layer][units] = 0.0
            self.utility[layer][units] = 0.0
            self.age[layer][units] = 0
            self.replaced += count

    # -- checkpoints ----------------------------------------------------------------------------------------
    _ARRAYS = ("theta", "theta_target", "adam_m", "adam_v", "buf_x", "buf_next", "buf_a", "buf_r", "buf_y",
               "replace_due")
    _SCALARS = ("mode", "last_index", "updates", "reward_m2", "reward_weight", "adam_t", "replaced", "buf_count")

    def checkpoint(self) -> bytes:
        arrays = {name: getattr(self, name) for name in self._ARRAYS}
        for layer in range(len(self.hidden)):
            arrays[f"utility{layer}"] = self.utility[layer]
            arrays[f"age{layer}"] = self.age[layer]
        if self.x is not None:
            arrays["x"] = self.x
        if self.last_action is not None:
            arrays["last_action"] = np.asarray(self.last_action)
        state = {name: getattr(self, name) for name in self._SCALARS}
        state.update(rng=self.rng.bit_generator.state, steps=self.lifetime.steps,
                     agreed=self.detector.agreed, failed=self.detector.failed,
                     last_action_is_int=isinstance(self.last_action, int))
        arrays["state"] = np.frombuffer(json.dumps(state).encode(), np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        return buffer.getvalue()

    def restore(self, data: bytes) -> None:
        with np.load(io.BytesIO(data)) as archive:
            arrays = {name: archive[name] for name in archive.files}
        state = json.loads(arrays.pop("state").tobytes().decode())
        self.mode = state["mode"]
        self._build(self.detector.k if self.mode == "prediction" else self.action_set.n)
        for name in self._ARRAYS:
            getattr(self, name)[...] = arrays[name]
        for layer in range(len(self.hidden)):
            self.utility[layer][...] = arrays[f"utility{layer}"]
            self.age[layer][...] = arrays[f"age{layer}"]
        for name in self._SCALARS:
            setattr(self, name, state[name])
        self.x = arrays.get("x")
        last = arrays.get("last_action")
        self.last_action = None if last is None else (int(last) if state["last_action_is_int"] else last)
        self.rng.bit_generator.state = state["rng"]
        self.lifetime.steps = state["steps"]
        self.detector.agreed, self.detector.failed = state["agreed"], state["failed"]


def make_agent(observation_space: spaces.Space, action_space: spaces.Space, seed: int, **options: Any) -> MLPDQN:
    """The protocol's entry point: ``options`` are MLPDQN's keyword arguments (variant, freeze_after, ...)."""
    return MLPDQN(observation_space, action_space, seed, **options)
