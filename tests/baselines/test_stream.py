"""baselines/deep (stream Q(lambda), stream AC(lambda); the `deep` extra): valid actions on every
world, determinism, exact checkpoints, the frozen twin, L2 Init, missed steps, the hand-written
gradients against autograd, that stream Q learns, and a run under the sandboxed harness."""

from __future__ import annotations

import math
import os
import subprocess
import sys

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces

if os.environ.get("CEASELESS_REQUIRE_DEEP") == "1":  # CI installs the deep extra and requires these
    import torch
else:
    torch = pytest.importorskip("torch", reason="the deep extra is not installed (pip install -e '.[deep]')")

import ceaseless  # noqa: F401  (registers the worlds)
from ceaseless.baselines.common import UnsupportedSpace
from ceaseless.baselines.deep import BOARD as DEEP_BOARD
from ceaseless.baselines.deep import stream_ac, stream_q
from ceaseless.baselines.deep.common import LayerNormMLP, ObservationNormalizer, sparse_init_
from ceaseless.leaderboard.harness.protocol import AgentSpec, load_factory
from ceaseless.worlds.registry import WORLD_CLASSES

BOARD = tuple(entry for entry in DEEP_BOARD if not entry[0].startswith("sb3-"))  # make_agent entries
SMALL = {"hidden": (32, 32)}  # where the network's size does not matter: faster


def _make(module, world_id, agent_seed=0, **options):
    env = gym.make(world_id)
    agent = module.make_agent(env.observation_space, env.action_space, agent_seed, **options)
    return env, agent


def drive(module, world_id, steps, seed=0, agent_seed=0, agent=None, env=None, elapsed=None, **options):
    """Run ``steps`` steps (``elapsed(t)``: the elapsed passed at step t); returns (agent, env,
    actions, rewards). With ``agent`` and ``env`` given, continues their stream."""
    if agent is None:
        env, agent = _make(module, world_id, agent_seed, **options)
        observation, _ = env.reset(seed=seed)
        action = agent.start(observation)
    else:
        action = agent._pending
    actions, rewards = [], []
    for t in range(steps):
        actions.append(action)
        observation, reward, *_ = env.step(action)
        rewards.append(float(reward))
        action = agent.step(float(reward), observation, elapsed(t) if elapsed else 1)
    agent._pending = action
    return agent, env, actions, np.array(rewards)


def _same(first, second) -> bool:
    return len(first) == len(second) and all(np.array_equal(np.asarray(a), np.asarray(b))
                                             for a, b in zip(first, second))


def _networks(agent):
    return [agent.net] if hasattr(agent, "net") else [agent.critic, agent.actor]


def _learned(agent) -> list[np.ndarray]:
    """Everything that learning may change."""
    arrays = [t.numpy().copy() for net in _networks(agent) for t in (net.weights, net.trace)]
    normalizer = agent.normalizer
    arrays += [normalizer.mean.copy(), normalizer.m2.copy(), normalizer.std.copy(),
               np.array([normalizer.count, *agent.scaler.state()])]
    return arrays


# -- the board's entries ------------------------------------------------------------------------------
def test_the_listing_needs_no_torch():
    code = ("import sys, ceaseless.baselines.deep as deep; assert 'torch' not in sys.modules; "
            "assert [name for name, _, _ in deep.BOARD] == ['stream-q', 'stream-ac', 'stream-q-l2init', 'sb3-ppo', "
            "'sb3-dqn']; "
            "assert all(isinstance(options, dict) for _, _, options in deep.BOARD)")
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize("name, module, options", BOARD, ids=[entry[0] for entry in BOARD])
@pytest.mark.parametrize("world_id", sorted(WORLD_CLASSES))
def test_valid_actions_on_every_world(world_id, name, module, options):
    """Every board entry runs on every world through the protocol's loader, with missed steps now
    and then, and only returns actions of the action space (a Python int for a Discrete)."""
    env = gym.make(world_id)
    agent = load_factory(AgentSpec.parse(module, **options))(env.observation_space, env.action_space, 3)
    observation, _ = env.reset(seed=1)
    action = agent.start(observation)
    for t in range(120):
        if isinstance(env.action_space, spaces.Discrete):
            assert type(action) is int
        assert env.action_space.contains(np.asarray(action, env.action_space.dtype).reshape(env.action_space.shape)
                                         if isinstance(env.action_space, spaces.Box) else action), action
        observation, reward, *_ = env.step(action)
        action = agent.step(float(reward), observation, 3 if t % 25 == 24 else 1)
    assert all(np.isfinite(net.weights.numpy()).all() for net in _networks(agent))


def test_unsupported_spaces():
    box = spaces.Box(-1.0, 1.0, (3,), np.float32)
    for module in (stream_q, stream_ac):
        with pytest.raises(UnsupportedSpace):
            module.make_agent(spaces.Dict({"a": box}), spaces.Discrete(2), 0)
        with pytest.raises(UnsupportedSpace):
            module.make_agent(box, spaces.MultiDiscrete([2, 2]), 0)
        with pytest.raises(UnsupportedSpace):
            module.make_agent(box, spaces.Box(-np.inf, np.inf, (1,), np.float32), 0)


# -- determinism and checkpoints ---------------------------------------------------------------------------
@pytest.mark.parametrize("module, world_id", [(stream_q, "ceaseless/Forager-v0"),
                                              (stream_ac, "ceaseless/CraftingEconomy-v0"),
                                              (stream_ac, "ceaseless/DriftingControl-v0")])
def test_deterministic(module, world_id):
    _, _, first, _ = drive(module, world_id, 300, agent_seed=5)
    _, _, second, _ = drive(module, world_id, 300, agent_seed=5)
    _, _, other, _ = drive(module, world_id, 300, agent_seed=6)
    assert _same(first, second)
    assert not _same(first, other)


@pytest.mark.parametrize("module, world_id, options", [
    (stream_q, "ceaseless/Forager-v0", {}), (stream_q, "ceaseless/DriftingControl-v0", {"l2_init": 1e-3}),
    (stream_ac, "ceaseless/CraftingEconomy-v0", {}), (stream_ac, "ceaseless/PredictionStream-v0", {})])
def test_checkpoint_restore_continues_bit_for_bit(module, world_id, options):
    agent, env, _, _ = drive(module, world_id, 250, agent_seed=7, **options)
    blob = agent.checkpoint()
    assert isinstance(blob, bytes)
    inputs, expected = [], []
    action = agent._pending
    for t in range(150):
        observation, reward, *_ = env.step(action)
        inputs.append((float(reward), observation, 2 if t == 70 else 1))
        action = agent.step(*inputs[-1])
        expected.append(action)
    # another seed and another history: everything that matters comes from the checkpoint
    restored, _, _, _ = drive(module, world_id, 30, seed=9, agent_seed=99, **options)
    restored.restore(blob)
    assert _same([restored.step(*step) for step in inputs], expected)
    assert all(np.array_equal(a, b) for a, b in zip(_learned(restored), _learned(agent)))
    assert restored.rng.bit_generator.state == agent.rng.bit_generator.state
    assert torch.equal(restored.generator.get_state(), agent.generator.get_state())


# -- the frozen twin, L2 Init, missed steps ----------------------------------------------------------------------
@pytest.mark.parametrize("module, world_id", [(stream_q, "ceaseless/Commons-v0"),
                                              (stream_ac, "ceaseless/DriftingControl-v0")])
def test_the_frozen_twin_stops_learning(module, world_id):
    freeze = 100
    env, agent = _make(module, world_id, 2, freeze_after=freeze, **SMALL)
    observation, _ = env.reset(seed=3)
    action, frozen, actions = agent.start(observation), None, set()
    for t in range(300):
        observation, reward, *_ = env.step(action)
        action = agent.step(float(reward), observation, 2 if t % 10 == 9 else 1)
        if frozen is None and agent.lifetime.steps >= freeze:
            frozen = _learned(agent)
        elif frozen is not None:
            actions.add(np.asarray(action).tobytes())
    assert agent.lifetime.steps > freeze + 200
    after = _learned(agent)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, after))
    assert len(actions) > 1  # it still acts, epsilon-greedily or by sampling its frozen policy
    # ... and it had learned before that: the weights moved away from their initial values
    assert any(not torch.equal(net.weights, net.initial) for net in _networks(agent))


@pytest.mark.parametrize("module", [stream_q, stream_ac])
def test_l2_init_pulls_the_weights_toward_their_initial_values(module):
    """With ObGD's step size 0 the TD update changes nothing, and what is left is the pull:
    ``w - w0`` shrinks by exactly the factor ``1 - l2_init`` at every step (and not at all without it)."""
    rate = 0.1
    for l2_init in (rate, 0.0):
        agent, env, _, _ = drive(module, "ceaseless/Forager-v0", 5, lr=0.0, l2_init=l2_init, **SMALL)
        generator = torch.Generator().manual_seed(0)
        with torch.inference_mode():
            for net in _networks(agent):
                net.weights.add_(torch.randn(net.weights.shape, generator=generator))
        before = [(net.weights - net.initial).clone() for net in _networks(agent)]
        drive(module, "ceaseless/Forager-v0", 3, agent=agent, env=env)
        for net, gap in zip(_networks(agent), before):
            assert torch.allclose(net.weights - net.initial, (1.0 - l2_init) ** 3 * gap, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("module", [stream_q, stream_ac])
def test_missed_steps_drop_the_transition_and_cut_the_traces(module):
    agent, env, _, _ = drive(module, "ceaseless/CraftingEconomy-v0", 50, **SMALL)
    assert all(net.trace.abs().sum() > 0 for net in _networks(agent))
    weights = [net.weights.clone() for net in _networks(agent)]
    count = agent.normalizer.count
    drive(module, "ceaseless/CraftingEconomy-v0", 1, agent=agent, env=env, elapsed=lambda t: 4)
    assert all(torch.equal(net.weights, w) for net, w in zip(_networks(agent), weights))  # no update
    assert all(net.trace.abs().sum() == 0 for net in _networks(agent))
    assert agent.lifetime.steps == 54 and agent.normalizer.count == count + 1
    drive(module, "ceaseless/CraftingEconomy-v0", 1, agent=agent, env=env)  # the next step learns again
    assert all(not torch.equal(net.weights, w) for net, w in zip(_networks(agent), weights))


def test_the_exploration_schedule_decays_to_its_floor():
    _, agent = _make(stream_q, "ceaseless/Forager-v0", exploration_steps=100, epsilon_end=0.05, **SMALL)
    agent.lifetime.steps = 0
    assert agent.epsilon == 1.0
    agent.lifetime.steps = 50
    assert math.isclose(agent.epsilon, 0.525)
    for steps in (100, 10**9):
        agent.lifetime.steps = steps
        assert agent.epsilon == 0.05


# -- the machinery ---------------------------------------------------------------------------------------------
def test_the_hand_written_backward_is_autograds_gradient():
    generator = torch.Generator().manual_seed(0)
    with torch.inference_mode():
        net = LayerNormMLP(7, 4, (16, 12), 0.5, generator)
        net.weights.add_(0.1 * torch.randn(net.weights.shape, generator=generator))
        acts = net.activations()
        acts.x[0] = torch.randn(7, generator=generator).numpy()
        out = net.forward(acts)
        old = torch.randn(net.trace.shape, generator=generator)
        d_out = torch.randn(4, generator=generator)
        net.trace.copy_(old)
        net.accumulate(acts, 0.7, d_out=d_out)
        with_d_out = (net.trace - 0.7 * old).clone()
        net.trace.copy_(old)
        net.accumulate(acts, 0.0, index=2)
        one_output = net.trace.clone()
    # (clones made outside inference mode are ordinary tensors, which autograd can use)
    weights = [block.clone().requires_grad_(True) for block in net.W]
    d_out, out = d_out.clone(), out.clone()
    h = torch.tensor(acts.x[0])
    for block in weights[:-1]:
        z = block[:, :-1] @ h + block[:, -1]
        h = torch.nn.functional.leaky_relu(torch.nn.functional.layer_norm(z, z.shape), 0.01)
    reference = weights[-1][:, :-1] @ h + weights[-1][:, -1]
    assert torch.allclose(reference.detach(), out[0], atol=1e-6)
    for target, mine in ((reference @ d_out, with_d_out), (reference[2], one_output)):
        grads = torch.autograd.grad(target, weights, retain_graph=True)
        assert torch.allclose(torch.cat([g.reshape(-1) for g in grads]), mine, atol=1e-5)


def test_the_policy_gradients_are_autograds():
    rng = np.random.default_rng(0)
    softmax = stream_ac.SoftmaxPolicy(spaces.Discrete(5, start=2))
    logits = rng.normal(size=5).tolist()
    softmax.set_outputs(logits)
    assert 2 <= softmax.sample(rng) < 7
    gaussian = stream_ac.GaussianPolicy(spaces.Box(-2.0, 2.0, (2,), np.float32))
    outputs = rng.normal(size=4).tolist()
    gaussian.set_outputs(outputs)
    assert np.all(np.abs(gaussian.sample(rng)) <= 2.0)
    for sign in (0.01, -0.01, 0.0):
        t = torch.tensor(logits, dtype=torch.float64, requires_grad=True)
        dist = torch.distributions.Categorical(logits=t)
        (dist.log_prob(torch.tensor(softmax.index)) + sign * dist.entropy()).backward()
        assert np.allclose(t.grad.numpy(), softmax.gradient(sign), atol=1e-12)
        t = torch.tensor(outputs, dtype=torch.float64, requires_grad=True)
        dist = torch.distributions.Normal(t[:2], torch.nn.functional.softplus(t[2:]))
        u = torch.tensor(gaussian.u, dtype=torch.float64)
        (dist.log_prob(u).sum() + sign * dist.entropy().sum()).backward()
        assert np.allclose(t.grad.numpy(), gaussian.gradient(sign), atol=1e-12)


def test_sparse_initialisation_and_normalisation():
    generator = torch.Generator().manual_seed(1)
    weight = sparse_init_(torch.empty(128, 150), 0.9, generator)
    assert ((weight == 0).sum(dim=1) == 135).all() and weight.abs().max() <= 1 / math.sqrt(150)
    tiny = sparse_init_(torch.empty(16, 5), 0.9, generator)  # the plain rule would zero all 5
    assert ((tiny != 0).sum(dim=1) == 1).all()
    space = spaces.Box(-5.0, 5.0, (3,), np.float32)
    normalizer, out = ObservationNormalizer(space), np.zeros(3, np.float32)
    samples = np.random.default_rng(0).normal(2.0, 3.0, (500, 3)).astype(np.float32)
    for sample in samples:
        normalizer(sample, out, update=True)
    assert np.allclose(normalizer.mean, samples.mean(axis=0)) and np.allclose(
        normalizer.std, np.sqrt(samples.var(axis=0, ddof=1) + 1e-8))
    assert np.allclose(out, (samples[-1] - samples.mean(axis=0)) / samples.std(axis=0, ddof=1), atol=1e-5)
    one_hot = ObservationNormalizer(spaces.MultiDiscrete([2, 3]))
    one_hot(np.array([1, 2]), np.zeros(5, np.float32), update=True)
    assert one_hot._x.tolist() == [0, 1, 0, 0, 1]


# -- it learns, and it runs under the harness ----------------------------------------------------------------
def test_stream_q_beats_random_on_the_drifting_bandit():
    """2,000 steps of the drifting bandit (deterministic given the seeds: it cannot flake). A random
    agent earns 0.1-0.4 per step on these seeds (reward std 1.1-1.6, so its 2,000-step mean is
    known to +-0.05); stream Q earns more than 1.0 on each."""
    for seed in (0, 2):
        env = gym.make("ceaseless/DriftingBandit-v0")
        env.reset(seed=seed)
        env.action_space.seed(0)
        random_mean = np.mean([env.step(env.action_space.sample())[1] for _ in range(2000)])
        for agent_seed in (0, 1):
            _, _, _, rewards = drive(stream_q, "ceaseless/DriftingBandit-v0", 2000, seed=seed, agent_seed=agent_seed,
                                     exploration_steps=500)
            assert rewards.mean() > random_mean + 0.5, (seed, agent_seed, rewards.mean(), random_mean)


@pytest.mark.parametrize("name, world_id", [("stream-q", "ceaseless/CraftingEconomy-v0"),
                                            ("stream-ac", "ceaseless/DriftingControl-v0")])
def test_runs_under_the_sandboxed_harness(tmp_path, name, world_id):
    from ceaseless.leaderboard.harness.runner import run
    from ceaseless.leaderboard.harness.runspec import RunSpec

    _, module, options = next(entry for entry in BOARD if entry[0] == name)
    spec = RunSpec(agent=AgentSpec.parse(module, **options), world_id=world_id, seed=0, steps=1500,
                   budget="unlimited", beta=float("inf"))
    result = run(spec, tmp_path)
    assert not result["faults"], result["faults"]
    assert result["steps"] == 1500 and result["steps_skipped"] == 0
    assert result["official"] and result["meter"]["complete"]
