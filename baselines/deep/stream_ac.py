"""Stream AC(lambda): a streaming deep actor-critic with eligibility traces and the ObGD step.

Algorithm
---------
Elsayed, Vasan & Mahmood 2024, "Streaming Deep Reinforcement Learning Finally Works"
(arXiv:2410.14606), Algorithm 4, as in their implementation (https://github.com/mohmdelsayed/streaming-drl,
``stream_ac_discrete.py`` and ``stream_ac_continuous.py``; read, not copied), run as one
continuing stream: no replay, no batch, no target network.

- Two LayerNorm MLPs (``common.LayerNormMLP``: two hidden layers of 128, LayerNorm without
  learnable parameters, leaky ReLU, 90%-sparse initialisation): the critic ``v(s)`` and the actor.
  Discrete actions: the actor's outputs are the logits of a softmax policy. A 1-d Box: the actor
  outputs ``mu`` and ``rho`` per dimension, ``u ~ N(mu, softplus(rho)^2)``, and the world receives
  ``clip(centre + half_width * u)`` (the box's centre and half-width: the paper's tasks act in
  [-1, 1], which is what ``u`` is in units of; PredictionStream's [-10, 10] is scaled by 10).
  The log-probability is that of the unclipped ``u``, as with the paper's ClipAction wrapper.
- Inputs: the observation encoded (Box flattened, Discrete / MultiDiscrete one-hot) and
  standardised by its running mean and variance (``common.ObservationNormalizer``); rewards divided
  by the running std of the discounted return (``common.RewardScaler``).
- Learning, at every step, with ``a_t`` drawn from ``pi(. | s_t)`` under the current actor:

      delta  = r~_{t+1} + gamma v(s_{t+1}) - v(s_t)                         (both under the current w)
      z_w   <- gamma lambda z_w + grad_w v(s_t)
      z_th  <- gamma lambda z_th + grad_th [log pi(a_t | s_t) + c sign(delta) H(pi(. | s_t))]
      w     <- w  + a_w delta z_w,     a_w  = lr / max(1, lr kappa_value  max(|delta|, 1) ||z_w||_1)
      th    <- th + a_th delta z_th,   a_th = lr / max(1, lr kappa_policy max(|delta|, 1) ||z_th||_1)

  ``H`` is the policy's entropy and ``c`` its coefficient: multiplied by ``sign(delta)`` inside the
  trace, the entropy term always pushes toward more entropy, by ``c |delta| grad H`` (the paper's
  form). ``a_{t+1}`` is drawn after the update, from the new actor; that forward pass is kept and is
  the one the next update differentiates. A step is one critic forward over ``[s_t, s_{t+1}]``
  (one two-row product per layer), one actor forward, and two backwards.
- The policy-gradient terms are written out (``SoftmaxPolicy``, ``GaussianPolicy``): softmax,
  ``d log pi(a) / d logits = e_a - pi``, ``dH / d logits = -pi (log pi + H)``; Gaussian,
  ``d log pi / d mu = (u - mu) / std^2``, ``d log pi / d std = (u - mu)^2 / std^3 - 1 / std``,
  ``dH / d std = 1 / std``, ``d std / d rho = sigmoid(rho)``.

Variant ``l2_init > 0``: L2 Init (Kumar, Marklund & Van Roy 2023, arXiv:2308.11958) on both
networks, ``w <- w - l2_init (w - w0)`` after each update (see ``stream_q``); off by default.

Hyper-parameters (defaults)
---------------------------
==============  ==========  ===============================================================
hidden          (128, 128)  both networks
lr              1.0         ObGD's step size
gamma           0.99        discount
lam             0.8         trace decay lambda (both traces)
kappa_policy    3.0         ObGD's bound for the actor (the paper: 3)
kappa_value     2.0         ObGD's bound for the critic (the paper: 2)
entropy         0.01        entropy coefficient c
sparsity        0.9         fraction of each unit's input weights zeroed at initialisation
l2_init         0.0         L2 Init's pull per step
==============  ==========  ===============================================================

All are the paper's defaults, untuned here.

Supported spaces
----------------
Observations: Box (any shape, flattened), Discrete, MultiDiscrete. Actions: Discrete (softmax) or
a 1-d Box with finite bounds (Gaussian). Anything else raises ``UnsupportedSpace``. There is no
online-prediction mode (the numpy baselines' ``PredictionDetector``): PredictionStream is learned
as the control task it also is, its reward ``-mean((a - y)^2)`` driving the Gaussian's mean.

Missed steps and the frozen twin
--------------------------------
``elapsed = n > 1``: the missed steps were the world's fallback actions, not draws from the policy,
so the transition is not on-policy: it is dropped (no update) and both traces are cut. The
normaliser still sees the new observation and the reward scaler the summed reward (its return
trace decays by ``gamma^n``).

Frozen twin (``freeze_after=N``, ``ceaseless.baselines.common.Lifetime``, counting ``elapsed``):
after N world steps no weight, trace, normaliser or scaler statistic changes; the agent keeps
sampling from its frozen policy.

Determinism and checkpoints: one intra-op thread, every random draw from ``seed`` (a torch
Generator for the initialisation, a numpy Generator for the policy's samples); ``checkpoint()``
holds both networks (weights, traces, initial weights), the last input and action, the normaliser
and scaler statistics, both generators' states and the counters.

Cost
----
In-process CPU per step (``benchmarks/agent_cost.py --deep``, core-v1 configs, seed 0; a shared
2-core machine, +-15% noise): Forager 227-232 us, DriftingControl 204-207 us, CraftingEconomy
200-208 us. Charged by the sandboxed harness (unlimited track, DriftingControl): 256 us per call,
about 1.1 s of start-up. A plain autograd implementation (``torch.distributions``, ``backward()``,
a per-parameter ObGD loop) measured 1,540-1,880 us per step on the same worlds. The machinery is
``stream_q``'s (see its Cost section); the policy terms (softmax, Gaussian, their gradients) are
a few Python floats. Two networks make it about 1.5 x stream Q: the critic's two states go
through one two-row forward, the actor's forward of the next state has to come after the update.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from ceaseless.baselines.common import Lifetime, UnsupportedSpace
from ceaseless.baselines.deep.common import (
    LayerNormMLP,
    ObservationNormalizer,
    RewardScaler,
    configure_torch,
    generator_state,
    generators,
    pack,
    set_generator_state,
    unpack,
)


# -- policies: sampling and the gradient of log pi + c sign(delta) H, with respect to the actor's outputs --
class SoftmaxPolicy:
    """A softmax over ``n`` logits (Discrete actions). Plain Python floats: ``n`` is small, and a
    Python loop over a dozen values costs less than one torch call."""

    def __init__(self, space: spaces.Discrete) -> None:
        self.n, self.start = int(space.n), int(space.start)
        self.outputs = self.n
        self.probs: list[float] = [1.0 / self.n] * self.n
        self.index = 0  # the action drawn, as an index

    def set_outputs(self, logits: list[float]) -> None:
        """The distribution at the state whose actor outputs are ``logits``."""
        top = max(logits)
        weights = [math.exp(value - top) for value in logits]
        total = sum(weights)
        self.probs = [weight / total for weight in weights]

    def sample(self, rng: np.random.Generator) -> int:
        u, cumulative, index = rng.random(), 0.0, self.n - 1
        for i, p in enumerate(self.probs):
            cumulative += p
            if u < cumulative:
                index = i
                break
        self.index = index
        return self.start + index

    def gradient(self, entropy_sign: float) -> list[float]:
        """d/d logits of ``log pi(a) + entropy_sign * H`` at the last ``sample``."""
        probs = self.probs
        logs = [math.log(p) if p > 0.0 else 0.0 for p in probs]
        entropy = -sum(p * log for p, log in zip(probs, logs))
        grad = [-entropy_sign * p * (log + entropy) - p for p, log in zip(probs, logs)]
        grad[self.index] += 1.0
        return grad

    def state(self) -> dict[str, Any]:
        return {"index": self.index}

    def set_state(self, state: dict[str, Any]) -> None:
        self.index = state["index"]


def _softplus(x: float) -> float:
    return max(x, 0.0) + math.log1p(math.exp(-abs(x)))


def _sigmoid(x: float) -> float:
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class GaussianPolicy:
    """A diagonal Gaussian over ``u`` in the box's units: outputs ``[mu_1..mu_k, rho_1..rho_k]``,
    ``std = softplus(rho)``; the world gets ``clip(centre + half_width * u, low, high)``."""

    def __init__(self, space: spaces.Box) -> None:
        low, high = np.asarray(space.low, np.float64).ravel(), np.asarray(space.high, np.float64).ravel()
        self.k = low.size
        self.outputs = 2 * self.k
        self.low, self.high = low.tolist(), high.tolist()
        self.centre, self.half = ((high + low) / 2.0).tolist(), ((high - low) / 2.0).tolist()
        self.dtype, self.shape = space.dtype, space.shape
        self.mu = [0.0] * self.k
        self.rho = [0.0] * self.k
        self.u = [0.0] * self.k  # the draw

    def set_outputs(self, outputs: list[float]) -> None:
        """The distribution at the state whose actor outputs are ``outputs``."""
        self.mu, self.rho = outputs[:self.k], outputs[self.k:]

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal(self.k).tolist()
        self.u = [m + _softplus(r) * e for m, r, e in zip(self.mu, self.rho, noise)]
        bounds = zip(self.centre, self.half, self.u, self.low, self.high)
        action = [min(max(centre + half * u, low), high) for centre, half, u, low, high in bounds]
        return np.array(action, self.dtype).reshape(self.shape)

    def gradient(self, entropy_sign: float) -> list[float]:
        """d/d outputs of ``log pi(u) + entropy_sign * H`` at the last ``sample``."""
        d_mu, d_rho = [], []
        for m, r, u in zip(self.mu, self.rho, self.u):
            std = _softplus(r)
            error = u - m
            d_mu.append(error / (std * std))
            d_std = error * error / (std * std * std) - 1.0 / std + entropy_sign / std
            d_rho.append(d_std * _sigmoid(r))
        return d_mu + d_rho

    def state(self) -> dict[str, Any]:
        return {"u": self.u}

    def set_state(self, state: dict[str, Any]) -> None:
        self.u = [float(value) for value in state["u"]]


# -- the agent ------------------------------------------------------------------------------------------
class StreamAC:
    """Stream AC(lambda) (see the module docstring)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, seed: int, *,
                 hidden: tuple[int, ...] = (128, 128), lr: float = 1.0, gamma: float = 0.99, lam: float = 0.8,
                 kappa_policy: float = 3.0, kappa_value: float = 2.0, entropy: float = 0.01, sparsity: float = 0.9,
                 l2_init: float = 0.0, freeze_after: int | None = None) -> None:
        if not (0.0 <= gamma < 1.0 and 0.0 <= lam <= 1.0):
            raise ValueError(f"need 0 <= gamma < 1 (a continuing task) and 0 <= lam <= 1, got {gamma}, {lam}")
        if not 0.0 <= l2_init < 1.0:
            raise ValueError(f"l2_init={l2_init} must be in [0, 1)")
        if isinstance(action_space, spaces.Discrete):
            self.policy: SoftmaxPolicy | GaussianPolicy = SoftmaxPolicy(action_space)
        elif isinstance(action_space, spaces.Box) and len(action_space.shape) == 1:
            if not (np.isfinite(action_space.low).all() and np.isfinite(action_space.high).all()):
                raise UnsupportedSpace(f"a Box action space needs finite bounds, got {action_space}")
            self.policy = GaussianPolicy(action_space)
        else:
            raise UnsupportedSpace(f"actions must be Discrete or a 1-d Box, got {action_space}")
        configure_torch()
        self.normalizer = ObservationNormalizer(observation_space)
        self.lr, self.gamma, self.lam = float(lr), float(gamma), float(lam)
        self.kappa_policy, self.kappa_value = float(kappa_policy), float(kappa_value)
        self.entropy, self.l2_init = float(entropy), float(l2_init)
        self.lifetime = Lifetime(freeze_after)
        self.scaler = RewardScaler(self.gamma)
        self.rng, self.generator = generators(seed)
        hidden = tuple(hidden) if isinstance(hidden, (tuple, list)) else (int(hidden),)
        size = self.normalizer.size
        with torch.inference_mode():
            self.critic = LayerNormMLP(size, 1, hidden, sparsity, self.generator)
            self.actor = LayerNormMLP(size, self.policy.outputs, hidden, sparsity, self.generator)
            self.critic_acts = self.critic.activations(rows=2)  # the critic's forward of [s_t, s_{t+1}]
            self.actor_acts = self.actor.activations()  # the actor's forward of s_t under the current weights
            self._d_out = torch.zeros(self.policy.outputs)
        self._x = self.critic_acts.x  # the inputs: [s_t, s_{t+1}], normalised
        self._d_out_np = self._d_out.numpy()

    def _act(self) -> Any:
        """Forward s_{t+1} through the actor (kept for the next update) and draw from the policy."""
        self.actor_acts.x[0] = self._x[1]
        self.policy.set_outputs(self.actor.forward(self.actor_acts).tolist()[0])
        return self.policy.sample(self.rng)

    def _clear_traces(self) -> None:
        self.critic.clear_trace()
        self.actor.clear_trace()

    @torch.inference_mode()
    def start(self, observation: Any) -> Any:
        self._clear_traces()
        self.normalizer(observation, self._x[1], update=self.lifetime.learning)
        return self._act()

    @torch.inference_mode()
    def step(self, reward: float, observation: Any, elapsed: int = 1) -> Any:
        elapsed = max(1, int(elapsed))
        learning = self.lifetime.tick(elapsed)
        reward = self.scaler(float(reward), elapsed, update=learning)
        x = self._x
        x[0] = x[1]  # s_t: the observation of the last call
        self.normalizer(observation, x[1], update=learning)
        if learning and elapsed == 1:
            critic, actor, decay = self.critic, self.actor, self.gamma * self.lam
            (value,), (value_next,) = critic.forward(self.critic_acts).tolist()  # both under w_t
            delta = reward + self.gamma * value_next - value
            critic.accumulate(self.critic_acts, decay, index=0)
            critic.obgd(delta, self.lr, self.kappa_value)
            sign = 1.0 if delta > 0.0 else -1.0 if delta < 0.0 else 0.0
            self._d_out_np[:] = self.policy.gradient(self.entropy * sign)
            actor.accumulate(self.actor_acts, decay, d_out=self._d_out)
            actor.obgd(delta, self.lr, self.kappa_policy)
            if self.l2_init > 0.0:
                critic.pull_to_init(self.l2_init)
                actor.pull_to_init(self.l2_init)
        elif learning:  # missed steps: the fallback's actions are not the policy's
            self._clear_traces()
        return self._act()

    # -- checkpoints ---------------------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        arrays = {**self.critic.state("critic_"), **self.actor.state("actor_"), **self.normalizer.state(),
                  "x": self._x[1], "torch_generator": generator_state(self.generator)}
        state = {"rng": self.rng.bit_generator.state, "steps": self.lifetime.steps, "policy": self.policy.state(),
                 "obs_count": self.normalizer.count, "scaler": self.scaler.state()}
        return pack(arrays, state)

    @torch.inference_mode()
    def restore(self, data: bytes) -> None:
        arrays, state = unpack(data)
        self.critic.set_state("critic_", arrays)
        self.actor.set_state("actor_", arrays)
        self.normalizer.set_state(arrays, state["obs_count"])
        self._x[1] = arrays["x"]
        set_generator_state(self.generator, arrays["torch_generator"])
        self.rng.bit_generator.state = state["rng"]
        self.lifetime.steps = state["steps"]
        self.scaler.set_state(state["scaler"])
        # The actor's forward of s_t, which the next update differentiates, then the action drawn there.
        self.actor_acts.x[0] = self._x[1]
        self.policy.set_outputs(self.actor.forward(self.actor_acts).tolist()[0])
        self.policy.set_state(state["policy"])


def make_agent(observation_space: spaces.Space, action_space: spaces.Space, seed: int, **options: Any) -> StreamAC:
    """The protocol's entry point: ``options`` are StreamAC's keyword arguments (entropy, freeze_after, ...)."""
    return StreamAC(observation_space, action_space, seed, **options)
