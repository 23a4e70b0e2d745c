"""Stream Q(lambda): streaming deep Q-learning with eligibility traces and the ObGD step.

Algorithm
---------
Elsayed, Vasan & Mahmood 2024, "Streaming Deep Reinforcement Learning Finally Works"
(arXiv:2410.14606), Algorithm 5, as in their implementation (https://github.com/mohmdelsayed/streaming-drl,
``stream_q.py``; read, not copied), run as one continuing stream: no replay buffer, no target
network, no batch -- one transition, one update, then it is forgotten.

- ``q(s, .)``: a LayerNorm MLP (``common.LayerNormMLP``: two hidden layers of 128, LayerNorm
  without learnable parameters, leaky ReLU, sparse initialisation with 90% of each unit's input
  weights zero), one output per action of a finite action set.
- Inputs: the observation encoded (Box flattened, Discrete / MultiDiscrete one-hot) and
  standardised by its running mean and variance (``common.ObservationNormalizer``); rewards divided
  by the running std of the discounted return (``common.RewardScaler``).
- Acting: epsilon-greedy on ``q(s_t, .)``, epsilon decaying linearly from ``epsilon_start`` to
  ``epsilon_end`` over the first ``exploration_steps`` world steps and then staying at that floor
  for ever (the paper's schedule; the stream never ends, so exploration never stops).
- Learning (Watkins's Q(lambda), Sutton & Barto 2018 section 12.10), at every step:

      delta = r~_{t+1} + gamma max_a q(s_{t+1}, a) - q(s_t, a_t)           (both under the current w)
      z     <- gamma lambda 1[a_t greedy] z + grad_w q(s_t, a_t)
      w     <- w + alpha delta z,   alpha = lr / max(1, lr kappa max(|delta|, 1) ||z||_1)   (ObGD)

  The trace is cut when ``a_t`` was exploratory (a random pick that is not the greedy action).
  The published code cuts it one step later (after the update that used ``a_t``), which credits
  ``delta_t`` to the pairs before a non-greedy ``a_t``; this is the textbook order.
- The action ``a_{t+1}`` is chosen after the update, from ``q(s_{t+1}, .)`` under the new weights,
  as in the paper. That forward pass is kept and is the one the next update differentiates, so a
  step costs two forward passes (the target under the old weights, the action under the new) and
  one backward.

Variant ``l2_init > 0`` (the board's ``stream-q-l2init``): regenerative regularisation, "L2 Init"
(Kumar, Marklund & Van Roy 2023, "Maintaining Plasticity in Continual Learning via Regenerative
Regularization", arXiv:2308.11958): after each update every weight is also pulled toward its
initial value, ``w <- w - l2_init (w - w0)`` (one fused ``lerp_`` on the flat weight vector). The
sparse initial weights stay a fixed point the network is always drawn back to, so units that the
stream has driven to uselessness recover. The board's variant uses ``l2_init = 1e-5`` (a gap to the
initial weights halves in about 70,000 steps without learning, the length of a stream).

Hyper-parameters (defaults)
---------------------------
==================  ==========  =============================================================
hidden              (128, 128)  the paper's network
lr                  1.0         ObGD's step size (the paper's default everywhere)
gamma               0.99        discount
lam                 0.8         trace decay lambda
kappa               2.0         ObGD's bound (the paper: 2 for Q, 3 for the policy of AC)
sparsity            0.9         fraction of each unit's input weights zeroed at initialisation
epsilon_start       1.0         initial exploration
epsilon_end         0.01        the floor, for ever after ``exploration_steps``
exploration_steps   2000        world steps of linear decay
levels              5           grid values per dimension of a Box action (``ActionSet``)
l2_init             0.0         L2 Init's pull per step (the variant: 1e-5)
==================  ==========  =============================================================

All but ``exploration_steps``, ``levels`` and ``l2_init`` are the paper's defaults, untuned here.
How those three were chosen (tuning seeds 1000-1002 of worlds/suites.py, the first 20,000 steps,
agent seed 3; mean reward per step):

- ``exploration_steps``: the paper decays epsilon over a fraction of a known run length (5% of
  500,000 steps on classic control); a stream has no length, so the decay is a fixed number of
  world steps. 2,000 against 10,000 (seeds 1000-1001): better mean reward on all four worlds tried
  (DriftingControl 0.214 vs 0.179, Forager 0.003 vs 0.001, CraftingEconomy 0.154 vs 0.136, Commons
  0.0025 vs 0.0014; random: 0.161, -0.016, 0.037, -0.006), and a second half as good or better on
  three of them. The floor is the paper's 0.01.
- ``levels``: ``ActionSet``'s default grid (the paper has no Box actions for Q).
- ``l2_init`` (with 2,000 exploration steps, seeds 1000-1002): 1e-5 ties the plain learner
  (DriftingControl 0.183 vs 0.182, CraftingEconomy 0.129 vs 0.130, Forager 0.050 vs 0.045);
  3e-5 already costs a fifth on DriftingControl and CraftingEconomy, 1e-4 a third, 1e-3 nearly
  all of CraftingEconomy (0.012). On streams this short plasticity is not yet lost, so the
  variant's pull is the strongest that costs nothing here; whether it pays on the long streams
  is what its board entry measures.

Supported spaces
----------------
Observations: Box (any shape, flattened), Discrete, MultiDiscrete. Actions: Discrete, or a 1-d Box
with finite bounds through ``common.ActionSet`` (``levels`` values per dimension, at most 125
actions: DriftingControl's torque -1, -0.5, 0, 0.5, 1). Anything else raises ``UnsupportedSpace``.
There is no online-prediction mode (the numpy baselines' ``PredictionDetector``): the paper's
algorithm has none, and PredictionStream is learned as the control task it also is, through the
grid.

Missed steps and the frozen twin
--------------------------------
``elapsed = n > 1``: the world acted on its fallback for the missed steps, which were not greedy
actions of this agent, so in Watkins's Q(lambda) the transition does not belong to the greedy
policy: it is dropped (no update) and the trace is cut. The normaliser still sees the new
observation, the reward scaler the summed reward (its return trace decays by ``gamma^n``), and the
epsilon schedule counts world steps.

Frozen twin (``freeze_after=N``, ``ceaseless.baselines.common.Lifetime``, counting ``elapsed``):
after N world steps no weight, trace, normaliser or scaler statistic changes; the agent keeps
acting epsilon-greedily (the schedule's epsilon at that world step) on its frozen network.

Determinism and checkpoints: one intra-op thread, every random draw from ``seed`` (a torch
Generator for the initialisation, a numpy Generator for acting); ``checkpoint()`` holds the
weights, trace, initial weights, the last input, the normaliser and scaler statistics, both
generators' states and the counters, and a restored agent continues bit for bit.

Cost
----
In-process CPU per step (``benchmarks/agent_cost.py --deep``, core-v1 configs, seed 0; a 2-core
machine shared with another tenant's runs, so the figures carry +-15% noise): Forager 144-160 us,
DriftingControl 124-138 us, CraftingEconomy 122-140 us; the L2 Init variant 5-20 us more (one
more pass over the weights). Charged by the sandboxed harness (unlimited track, CraftingEconomy):
185 us per call, about 1.1 s of start-up (importing torch) -- above beta0 (100 us), so on the
budgeted tracks it falls behind and misses steps below about 2 x beta0.

A plain autograd implementation of the same algorithm (``nn.Linear`` layers, ``backward()``, an
ObGD optimiser looping over the parameters with an ``.item()`` each) measured 710-815 us per step
on the same worlds. What took it down: one flat tensor each for weights, trace and initial
weights (every whole-network operation is one call; no per-parameter loop); the bias folded into
each weight block so that one ``addr_`` decays a layer's trace and adds its gradient; a
hand-written backward (a one-hot output gradient touches one row of the last layer; both
LayerNorm means from one product; ``1/std`` carried as a Python factor instead of a multiply);
``torch.inference_mode`` for every step; reused buffers (no allocation, no numpy <-> torch
copy: the normaliser writes straight into the network's input buffer); small-vector work
(epsilon-greedy, argmax) in plain Python on ``tolist()``. About 40 tensor calls remain per step,
at 2-4 us of dispatch each; acting a step ahead on the old weights (one two-row forward instead
of two forwards) saved only 5% in an A/B test, not worth leaving the paper's order.
"""

from __future__ import annotations

from typing import Any

import torch
from gymnasium import spaces

from ceaseless.baselines.common import ActionSet, Lifetime
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


class StreamQ:
    """Stream Q(lambda) (see the module docstring)."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, seed: int, *,
                 hidden: tuple[int, ...] = (128, 128), lr: float = 1.0, gamma: float = 0.99, lam: float = 0.8,
                 kappa: float = 2.0, sparsity: float = 0.9, epsilon_start: float = 1.0, epsilon_end: float = 0.01,
                 exploration_steps: int = 2_000, levels: int = 5, l2_init: float = 0.0,
                 freeze_after: int | None = None) -> None:
        if not (0.0 <= gamma < 1.0 and 0.0 <= lam <= 1.0):
            raise ValueError(f"need 0 <= gamma < 1 (a continuing task) and 0 <= lam <= 1, got {gamma}, {lam}")
        if not (0.0 <= epsilon_end <= 1.0 and 0.0 <= epsilon_start <= 1.0 and exploration_steps >= 0):
            raise ValueError("epsilons must be in [0, 1] and exploration_steps >= 0")
        if not 0.0 <= l2_init < 1.0:
            raise ValueError(f"l2_init={l2_init} must be in [0, 1)")
        configure_torch()
        self.actions = ActionSet(action_space, levels=levels)  # raises UnsupportedSpace
        self.n = self.actions.n
        self.normalizer = ObservationNormalizer(observation_space)
        self.lr, self.gamma, self.lam, self.kappa = float(lr), float(gamma), float(lam), float(kappa)
        self.epsilon_start, self.epsilon_end = float(epsilon_start), float(epsilon_end)
        self.exploration_steps, self.l2_init = int(exploration_steps), float(l2_init)
        self.lifetime = Lifetime(freeze_after)
        self.scaler = RewardScaler(self.gamma)
        self.rng, self.generator = generators(seed)
        hidden = tuple(hidden) if isinstance(hidden, (tuple, list)) else (int(hidden),)
        with torch.inference_mode():
            self.net = LayerNormMLP(self.normalizer.size, self.n, hidden, sparsity, self.generator)
            self.keep = self.net.activations()  # the forward of s_t under the current weights
            self._target = self.net.activations()  # the forward of s_{t+1} for the TD target
        self.action = 0  # a_t, an index into the ActionSet
        self.greedy = True  # was a_t the greedy action?
        self.value = 0.0  # q(s_t, a_t) under the current weights

    @property
    def epsilon(self) -> float:
        steps, span = self.lifetime.steps, self.exploration_steps
        if steps >= span:
            return self.epsilon_end
        return self.epsilon_start + (self.epsilon_end - self.epsilon_start) * steps / span

    def _act(self) -> Any:
        """Forward s_t (kept for the next update), then epsilon-greedy on its values: a_t."""
        q = self.net.forward(self.keep).tolist()[0]
        greedy = q.index(max(q))
        action = int(self.rng.random() * self.n) if self.rng.random() < self.epsilon else greedy
        self.action, self.greedy, self.value = action, action == greedy, q[action]
        return self.actions[action]

    @torch.inference_mode()
    def start(self, observation: Any) -> Any:
        self.net.clear_trace()
        self.normalizer(observation, self.keep.x[0], update=self.lifetime.learning)
        return self._act()

    @torch.inference_mode()
    def step(self, reward: float, observation: Any, elapsed: int = 1) -> Any:
        elapsed = max(1, int(elapsed))
        learning = self.lifetime.tick(elapsed)
        reward = self.scaler(float(reward), elapsed, update=learning)
        following = self._target.x[0]
        self.normalizer(observation, following, update=learning)
        if learning and elapsed == 1:
            net = self.net
            q_next = net.forward(self._target, keep=False).tolist()[0]  # under w_t
            delta = reward + self.gamma * max(q_next) - self.value
            net.accumulate(self.keep, self.gamma * self.lam if self.greedy else 0.0, index=self.action)
            net.obgd(delta, self.lr, self.kappa)
            if self.l2_init > 0.0:
                net.pull_to_init(self.l2_init)
        elif learning:  # missed steps: the fallback's actions broke the greedy trajectory
            self.net.clear_trace()
        self.keep.x[0] = following  # s_{t+1} becomes the state of the pair to learn next
        return self._act()

    # -- checkpoints ---------------------------------------------------------------------------------------
    def checkpoint(self) -> bytes:
        arrays = {**self.net.state("q_"), **self.normalizer.state(), "x": self.keep.x,
                  "torch_generator": generator_state(self.generator)}
        state = {"rng": self.rng.bit_generator.state, "steps": self.lifetime.steps, "action": self.action,
                 "greedy": self.greedy, "value": self.value, "obs_count": self.normalizer.count,
                 "scaler": self.scaler.state()}
        return pack(arrays, state)

    @torch.inference_mode()
    def restore(self, data: bytes) -> None:
        arrays, state = unpack(data)
        self.net.set_state("q_", arrays)
        self.normalizer.set_state(arrays, state["obs_count"])
        self.keep.x[:] = arrays["x"]
        set_generator_state(self.generator, arrays["torch_generator"])
        self.rng.bit_generator.state = state["rng"]
        self.lifetime.steps = state["steps"]
        self.action, self.greedy, self.value = state["action"], state["greedy"], state["value"]
        self.scaler.set_state(state["scaler"])
        self.net.forward(self.keep)  # what the next update differentiates


def make_agent(observation_space: spaces.Space, action_space: spaces.Space, seed: int, **options: Any) -> StreamQ:
    """The protocol's entry point: ``options`` are StreamQ's keyword arguments (l2_init, freeze_after, ...)."""
    return StreamQ(observation_space, action_space, seed, **options)
