"""baselines/mlp_dqn.py: runs everywhere, deterministic, frozen twin, exact checkpoints, spaces,
the hand-written backprop against finite differences, continual backprop, and that it learns."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from ceaseless import worlds
from ceaseless.baselines.common import UnsupportedSpace
from ceaseless.baselines.mlp_dqn import MLPDQN, Encoder, make_agent

CBP = {"variant": "continual_backprop", "cbp_maturity": 50, "cbp_rate": 0.01}  # replaces units in a short run


def drive(world_id: str, steps: int, seed: int = 1000, agent_seed: int = 3, agent=None, **options):
    """Run an agent on a world; returns (agent, actions, rewards)."""
    world = worlds.WORLDS[world_id](num_envs=1)
    observation = world.reset([seed])[0]
    agent = agent or make_agent(world.observation_space, world.action_space, agent_seed, **options)
    action = agent.start(observation)
    actions, rewards = [], []
    for _ in range(steps):
        world.check_actions(np.asarray(action)[None])  # raises ValueError on an invalid action
        actions.append(np.array(action, copy=True))
        observation, reward = world.step_one(action)
        rewards.append(reward)
        action = agent.step(reward, observation, 1)
    return agent, actions, np.array(rewards)


@pytest.mark.parametrize("options", [{}, CBP], ids=["plain", "cbp"])
@pytest.mark.parametrize("world_id", sorted(worlds.WORLDS))
def test_runs_on_every_world_with_valid_actions(world_id, options):
    world = worlds.WORLDS[world_id](num_envs=1)
    agent, actions, rewards = drive(world_id, 300, **options)
    assert np.all(np.isfinite(rewards))
    assert agent.updates > 0
    for action in actions[:5]:
        assert world.action_space.contains(np.asarray(action, world.action_space.dtype).reshape(
            world.action_space.shape))
    if options:
        assert agent.replaced > 0
    if world_id.endswith("PredictionStream-v0"):
        assert agent.mode == "prediction" and agent.theta.size and agent.sizes[-1] == 2
    else:
        assert agent.mode == "control"


def test_missed_steps_and_discrete_observations():
    agent = make_agent(spaces.MultiDiscrete([3, 4]), spaces.Discrete(2), 0, batch_size=4, update_every=1)
    action = agent.start(np.array([0, 1]))
    for t in range(40):
        action = agent.step(1.0, np.array([t % 3, t % 4]), elapsed=1 + t % 3)
        assert action in (0, 1)
    assert agent.lifetime.steps == sum(1 + t % 3 for t in range(40))
    assert agent.buf_count == sum(1 for t in range(40) if t % 3 == 0)  # transitions over missed steps dropped


@pytest.mark.parametrize("world_id", ["ceaseless/Forager-v0", "ceaseless/PredictionStream-v0"])
def test_deterministic(world_id):
    _, first, _ = drive(world_id, 400, **CBP)
    _, second, _ = drive(world_id, 400, **CBP)
    _, other, _ = drive(world_id, 400, agent_seed=4, **CBP)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def _learned(agent: MLPDQN) -> dict[str, np.ndarray]:
    state = {name: np.array(getattr(agent, name), copy=True) for name in agent._ARRAYS}
    state.update({f"utility{i}": u.copy() for i, u in enumerate(agent.utility)})
    state.update({f"age{i}": a.copy() for i, a in enumerate(agent.age)})
    state["scalars"] = np.array([agent.updates, agent.reward_m2, agent.reward_weight, agent.adam_t, agent.replaced,
                                 agent.buf_count])
    return state


@pytest.mark.parametrize("world_id", ["ceaseless/Commons-v0", "ceaseless/PredictionStream-v0"])
def test_frozen_twin_stops_learning(world_id):
    world = worlds.WORLDS[world_id](num_envs=1)
    observation = world.reset([1000])[0]
    agent = make_agent(world.observation_space, world.action_space, 5, freeze_after=250, **CBP)
    action = agent.start(observation)
    frozen, actions = None, set()
    for t in range(1, 600):
        observation, reward = world.step_one(action)
        action = agent.step(reward, observation, 1)
        if t == 250:
            assert agent.updates > 0 and agent.replaced > 0
            frozen = _learned(agent)
        if t > 250:
            actions.add(np.asarray(action).tobytes())
    after = _learned(agent)
    assert frozen.keys() == after.keys()
    for name in frozen:
        assert np.array_equal(frozen[name], after[name]), name
    assert len(actions) > 1  # it still acts (epsilon-greedy, or predicts) on what it learned


@pytest.mark.parametrize("world_id", ["ceaseless/Forager-v0", "ceaseless/PredictionStream-v0",
                                      "ceaseless/DriftingControl-v0"])
def test_checkpoint_restore_resumes_exactly(world_id):
    world = worlds.WORLDS[world_id](num_envs=1)
    observation = world.reset([1001])[0]
    agent = make_agent(world.observation_space, world.action_space, 7, **CBP)
    action = agent.start(observation)
    for _ in range(300):
        observation, reward = world.step_one(action)
        action = agent.step(reward, observation, 1)
    blob = agent.checkpoint()
    inputs, expected = [], []
    for _ in range(200):
        observation, reward = world.step_one(action)
        action = agent.step(reward, observation, 1)
        inputs.append((reward, observation))
        expected.append(np.array(action, copy=True))
    restored = make_agent(world.observation_space, world.action_space, 99, **CBP)  # another seed: all state restored
    restored.start(world.observation_space.sample())
    restored.restore(blob)
    for (reward, observation), want in zip(inputs, expected):
        assert np.array_equal(np.asarray(restored.step(reward, observation, 1)), want)
    assert np.array_equal(restored.theta, agent.theta)
    assert restored.rng.bit_generator.state == agent.rng.bit_generator.state


def test_unsupported_spaces():
    box = spaces.Box(-1.0, 1.0, (3,), np.float32)
    with pytest.raises(UnsupportedSpace):
        make_agent(spaces.Dict({"a": box}), spaces.Discrete(2), 0)
    with pytest.raises(UnsupportedSpace):
        make_agent(box, spaces.MultiDiscrete([2, 2]), 0)
    with pytest.raises(UnsupportedSpace):
        make_agent(box, spaces.Box(-1.0, 1.0, (2, 2), np.float32), 0)
    with pytest.raises(UnsupportedSpace):
        make_agent(box, spaces.Box(-np.inf, np.inf, (1,), np.float32), 0)
    with pytest.raises(ValueError, match="variant"):
        make_agent(box, spaces.Discrete(2), 0, variant="nope")


def test_encoder_scales_and_one_hots():
    box = Encoder(spaces.Box(np.array([0.0, -2.0], np.float32), np.array([10.0, 2.0], np.float32), dtype=np.float32))
    assert np.allclose(box(np.array([0.0, 2.0])), [-1.0, 1.0]) and np.allclose(box(np.array([5.0, 0.0])), [0.0, 0.0])
    assert Encoder(spaces.Discrete(3, start=1))(2).tolist() == [0.0, 1.0, 0.0]
    assert Encoder(spaces.MultiDiscrete([2, 3]))(np.array([1, 2])).tolist() == [0, 1, 0, 0, 1]


@pytest.mark.parametrize("world_id", ["ceaseless/Commons-v0", "ceaseless/PredictionStream-v0"])
def test_backprop_matches_finite_differences(world_id):
    """The hand-written gradient equals the numerical gradient of the loss (in float64)."""
    agent, _, _ = drive(world_id, 200, hidden=(8, 6))
    for name in ("theta", "theta_target", "buf_x", "buf_next", "buf_r", "buf_y"):
        setattr(agent, name, getattr(agent, name).astype(np.float64))
    agent.W, agent.b = agent._views(agent.theta)
    agent.tW, agent.tb = agent._views(agent.theta_target)
    agent.grad = np.zeros_like(agent.theta)
    agent.gW, agent.gb = agent._views(agent.grad)
    agent.huber = 1e9  # the plain squared error, so the loss is smooth
    idx = np.arange(16)
    agent._gradient(idx)

    def loss() -> float:
        out, _ = agent._forward(agent.buf_x[idx], agent.W, agent.b)
        if agent.mode == "prediction":
            return 0.5 * np.sum((out - agent.buf_y[idx]) ** 2) / idx.size
        q_next, _ = agent._forward(agent.buf_next[idx], agent.tW, agent.tb)
        target = agent.buf_r[idx] / agent.reward_sigma() + agent.gamma * q_next.max(axis=1)
        return 0.5 * np.sum((out[idx, agent.buf_a[idx]] - target) ** 2) / idx.size

    rng = np.random.default_rng(0)
    for i in rng.choice(agent.theta.size, 40, replace=False):
        saved = agent.theta[i]
        agent.theta[i] = saved + 1e-6
        up = loss()
        agent.theta[i] = saved - 1e-6
        down = loss()
        agent.theta[i] = saved
        assert abs((up - down) / 2e-6 - agent.grad[i]) <= 1e-5 + 1e-4 * abs(agent.grad[i])


def test_continual_backprop_replaces_the_least_useful_mature_unit():
    agent, _, _ = drive("ceaseless/Commons-v0", 200, **CBP)
    x = agent.buf_x[:64]
    before, acts = agent._forward(x, agent.W, agent.b)
    contribution = np.abs(acts[0]).mean(axis=0) * np.abs(agent.W[1]).sum(axis=1)
    utility = agent.cbp_decay * agent.utility[0] + (1 - agent.cbp_decay) * contribution
    utility[agent.age[0] + agent.update_every <= agent.cbp_maturity] = np.inf  # not mature: never replaced
    weakest = int(np.argmin(utility))
    agent.replace_due[:] = 0.999  # exactly one unit is due at this update
    agent.cbp_rate = 1e-5
    old_in, old_out = agent.W[0][:, weakest].copy(), agent.W[1][weakest].copy()
    old_contribution = np.outer(acts[0][:, weakest], old_out)
    agent._continual_backprop(acts)
    assert np.flatnonzero(agent.age[0] == 0).tolist() == [weakest]
    after, _ = agent._forward(x, agent.W, agent.b)
    # the old unit's (small) contribution is gone and the fresh unit, with zero outgoing weights, adds nothing
    assert np.allclose(after, before - old_contribution, atol=1e-5)
    assert not np.array_equal(agent.W[0][:, weakest], old_in) and agent.b[0][weakest] == 0
    assert np.all(agent.W[1][weakest] == 0) and agent.utility[0][weakest] == 0
    for moments in (agent.mW, agent.vW):
        assert np.all(moments[0][:, weakest] == 0) and np.all(moments[1][weakest] == 0)


def test_learns_commons_better_than_random():
    """On a tuning seed, 3,000 steps of Commons: the learner closes more than half of the distance
    from random harvesting to the privileged oracle, and beats resting (the fallback's 0) in its
    second half."""
    world = worlds.WORLDS["ceaseless/Commons-v0"](num_envs=1)
    world.reset([1000])
    rng = np.random.default_rng(0)
    random_rewards = [world.step_one(int(rng.integers(world.action_space.n)))[1] for _ in range(3000)]
    oracle = worlds.WORLDS["ceaseless/Commons-v0"](num_envs=1)
    oracle.reset([1000])
    oracle_rewards = [oracle.step(oracle.oracle_action())[1][0] for _ in range(3000)]
    _, _, rewards = drive("ceaseless/Commons-v0", 3000)
    random_mean, oracle_mean = np.mean(random_rewards), np.mean(oracle_rewards)
    assert rewards.mean() - random_mean > 0.5 * (oracle_mean - random_mean), (rewards.mean(), random_mean, oracle_mean)
    assert rewards[1500:].mean() > 0.0


def test_learns_the_bandit_and_the_prediction_stream():
    _, _, bandit = drive("ceaseless/DriftingBandit-v0", 3000)
    world = worlds.WORLDS["ceaseless/DriftingBandit-v0"](num_envs=1)
    world.reset([1000])
    rng = np.random.default_rng(0)
    random_rewards = [world.step_one(int(rng.integers(10)))[1] for _ in range(3000)]
    assert bandit[1000:].mean() > np.mean(random_rewards) + 0.5
    # regression: the squared error falls well below predicting zero (the fallback) once it has learned
    _, _, prediction = drive("ceaseless/PredictionStream-v0", 6000, hidden=(32,), update_every=2)
    world = worlds.WORLDS["ceaseless/PredictionStream-v0"](num_envs=1)
    world.reset([1000])
    zero = [world.step_one(np.zeros(2, np.float32))[1] for _ in range(6000)]
    assert prediction[3000:].mean() > np.mean(zero[3000:]) + 0.3
