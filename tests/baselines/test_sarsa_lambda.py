"""Sarsa(lambda) / TD(lambda) baseline: runs everywhere, deterministic, frozen twin, exact resume,
unsupported spaces, sparse traces equal to dense ones, and it learns."""

from __future__ import annotations

import numpy as np
import pytest
from gymnasium import spaces

from ceaseless import worlds
from ceaseless.baselines.common import UnsupportedSpace
from ceaseless.baselines.sarsa_lambda import RecentTraces, SarsaLambda, make_agent

WORLD_IDS = sorted(worlds.WORLDS)


def _observation(world, observation):
    return int(observation) if isinstance(world.observation_space, spaces.Discrete) else observation


def _play(world_id, seed, steps, agent=None, world=None, **options):
    """Run ``steps`` steps; returns (agent, world, actions, rewards)."""
    if world is None:
        world = worlds.WORLDS[world_id](num_envs=1)
        observation = world.reset([seed])[0]
        agent = make_agent(world.observation_space, world.action_space, seed, **options)
        action = agent.start(_observation(world, observation))
    else:
        action = agent._pending
    actions, rewards = [], []
    for _ in range(steps):
        assert world.action_space.contains(np.asarray(action, dtype=world.action_space.dtype).reshape(
            world.action_space.shape)), action
        actions.append(np.asarray(action, np.float64).copy())
        observation, reward = world.step_one(action)
        rewards.append(reward)
        action = agent.step(reward, _observation(world, observation), 1)
    agent._pending = action
    return agent, world, np.array(actions), np.array(rewards)


@pytest.mark.parametrize("world_id", WORLD_IDS)
def test_runs_on_every_world_with_valid_actions(world_id):
    agent, _, actions, rewards = _play(world_id, 1000, 300)
    assert np.isfinite(rewards).all()
    expected = "predict" if world_id == "ceaseless/PredictionStream-v0" else "control"
    assert agent.mode == expected
    assert len(np.unique(actions, axis=0)) > 1  # it explores (or predicts different values)


@pytest.mark.parametrize("world_id", ["ceaseless/Forager-v0", "ceaseless/DriftingControl-v0",
                                      "ceaseless/PredictionStream-v0"])
def test_same_seed_same_actions(world_id):
    first = _play(world_id, 1001, 300)[2]
    second = _play(world_id, 1001, 300)[2]
    np.testing.assert_array_equal(first, second)
    other = _play(world_id, 1002, 300)[2]
    assert not np.array_equal(first, other)


def _learned(agent):
    state = [agent.q_weights.copy(), np.array([agent.avg_reward])]
    if agent.detector.possible:
        state.append(agent.v_weights.copy())
    return state


@pytest.mark.parametrize("world_id,options", [
    ("ceaseless/DriftingControl-v0", {}),
    ("ceaseless/Forager-v0", {"traces": "accumulating", "differential": True, "gamma": 1.0}),
    ("ceaseless/PredictionStream-v0", {}),
])
def test_frozen_twin_stops_learning(world_id, options):
    agent, world, _, _ = _play(world_id, 1000, 200, freeze_after=200, **options)
    frozen = _learned(agent)
    assert any(np.abs(array).sum() > 0 for array in frozen)  # it did learn before freezing
    _, _, actions, _ = _play(world_id, 1000, 300, agent=agent, world=world)
    for before, after in zip(frozen, _learned(agent)):
        np.testing.assert_array_equal(before, after)
    assert len(np.unique(actions, axis=0)) > 1  # still acting (epsilon-greedy or predicting)
    # elapsed counts world steps: one call with elapsed=150 freezes a learner told freeze_after=100
    fresh = make_agent(world.observation_space, world.action_space, 3, freeze_after=100, **options)
    observation = world.observe()[0]
    fresh.start(observation)
    fresh.step(0.5, observation, 150)
    snapshot = _learned(fresh)
    for _ in range(20):
        fresh.step(1.0, observation, 1)
    for before, after in zip(snapshot, _learned(fresh)):
        np.testing.assert_array_equal(before, after)


@pytest.mark.parametrize("world_id,options", [
    ("ceaseless/DriftingControl-v0", {}),
    ("ceaseless/Forager-v0", {"traces": "accumulating"}),
    ("ceaseless/ShiftingMaze-v0", {"differential": True, "gamma": 1.0, "lam": 0.9}),
    ("ceaseless/PredictionStream-v0", {"prediction_gamma": 0.5}),
    ("ceaseless/PredictionStream-v0", {}),  # one-step traces
])
def test_checkpoint_restore_resumes_exactly(world_id, options):
    agent, world, _, _ = _play(world_id, 1002, 250, **options)
    blob = agent.checkpoint()
    world_state = world.get_state()
    pending = agent._pending
    _, _, expected, _ = _play(world_id, 1002, 200, agent=agent, world=world)

    world.set_state(world_state)
    twin = make_agent(world.observation_space, world.action_space, 99, **options)  # another seed: all restored
    twin.restore(blob)
    twin._pending = pending
    _, _, resumed, _ = _play(world_id, 1002, 200, agent=twin, world=world)
    np.testing.assert_array_equal(expected, resumed)
    for mine, theirs in zip(_learned(agent), _learned(twin)):
        np.testing.assert_array_equal(mine, theirs)


def test_unsupported_spaces_raise():
    box = spaces.Box(-1.0, 1.0, (3,), np.float32)
    with pytest.raises(UnsupportedSpace, match="observation"):
        make_agent(spaces.Dict({"a": box}), spaces.Discrete(3), 0)
    with pytest.raises(UnsupportedSpace, match="1-d Box"):
        make_agent(box, spaces.Box(-1.0, 1.0, (2, 2), np.float32), 0)
    with pytest.raises(UnsupportedSpace, match="finite bounds"):
        make_agent(box, spaces.Box(-np.inf, np.inf, (1,), np.float32), 0)
    with pytest.raises(UnsupportedSpace):
        make_agent(box, spaces.Tuple((spaces.Discrete(2),)), 0)
    with pytest.raises(ValueError, match="gamma < 1"):
        make_agent(box, spaces.Discrete(3), 0, gamma=1.0)


@pytest.mark.parametrize("decay", [0.8, 0.0])  # 0: one-step traces (lambda or gamma 0), a path of its own
@pytest.mark.parametrize("replacing", [True, False])
def test_sparse_recent_traces_equal_dense_traces(replacing, decay):
    """The truncated sparse trace gives the same weights as a dense eligibility vector
    z <- decay z + x (accumulating) or z[x] = 1 (replacing), also across missed steps."""
    rng = np.random.default_rng(0)
    size, cutoff = 40, 1e-12
    traces = RecentTraces(size, decay, cutoff, replacing)
    sparse, dense, z = np.zeros(size), np.zeros(size), np.zeros(size)
    t = 0
    for _ in range(300):
        gap = int(rng.integers(1, 4))
        t += gap
        z *= decay ** gap
        rows = rng.integers(0, size, 5)  # duplicates within a step, too
        if replacing:
            z[rows] = 1.0
        else:
            np.add.at(z, rows, 1.0)
        traces.visit(rows, t)
        step = float(rng.normal())
        traces.add_to(sparse, step, t)
        dense += step * z
    np.testing.assert_allclose(sparse, dense, atol=1e-9)


def test_prediction_mode_is_lms_on_tile_features():
    """With gamma_p = 0, one step moves v(o_t) toward the revealed y_t by prediction_alpha of the error."""
    observation_space = spaces.Box(-1.0, 1.0, (4,), np.float32)
    action_space = spaces.Box(-10.0, 10.0, (2,), np.float32)
    agent = SarsaLambda(observation_space, action_space, 0, prediction_alpha=0.5)
    o = np.array([0.3, -0.2, 1.0, 2.0], np.float32)  # the last two values: the revealed target of the last step
    assert np.all(agent.start(o) == 0.0)
    truth = np.array([1.0, 2.0], np.float32)
    for _ in range(6):  # the detector agrees on every step: predictions are scored -mean((a - y)^2)
        prediction = np.asarray(agent.last_prediction, np.float64)
        reward = -float(np.mean((prediction - truth) ** 2))
        before = agent.v_weights[agent.last_rows].sum(axis=0)
        agent.step(reward, np.concatenate([o[:2], truth]), 1)
        after = agent.v_weights[agent.last_rows].sum(axis=0)  # same observation features again
        np.testing.assert_allclose(after - before, 0.5 * (truth - before), rtol=1e-9)
        o = np.concatenate([o[:2], truth])
    assert agent.mode == "predict" and not agent.deciding


@pytest.mark.parametrize("traces", ["replacing", "accumulating"])
def test_control_update_is_textbook_sarsa_lambda(traces):
    """The weights equal a dense reference of S&B 12.7 (binary features, alpha / |F|) fed the
    agent's own features and actions: delta uses q(s_t, a_t) under the current weights."""
    rng = np.random.default_rng(1)
    alpha, lam, gamma = 0.3, 0.8, 0.9
    agent = make_agent(spaces.Box(-1.0, 1.0, (2,), np.float32), spaces.Discrete(3), 0, alpha=alpha, lam=lam,
                       gamma=gamma, traces=traces, trace_cutoff=1e-12, size=256)
    agent.start(rng.uniform(-1, 1, 2))
    w, z = np.zeros_like(agent.q_flat), np.zeros_like(agent.q_flat)
    previous = agent.last_rows
    for _ in range(300):
        reward = float(rng.normal())
        agent.step(reward, rng.uniform(-1, 1, 2), 1)
        rows = agent.last_rows
        if traces == "replacing":
            z[previous] = 1.0
        else:
            np.add.at(z, previous, 1.0)
        delta = reward + gamma * w[rows].sum() - w[previous].sum()
        w += alpha / len(previous) * delta * z
        z *= gamma * lam
        previous = rows
    np.testing.assert_allclose(agent.q_flat, w, atol=1e-10)


def test_it_learns():
    """On a tuning seed, short streams: the bandit learner beats the same agent acting at random
    (epsilon = 1), and the predictions beat the fallback (predict zero) by far."""
    rewards = _play("ceaseless/DriftingBandit-v0", 1000, 2000)[3]
    random = _play("ceaseless/DriftingBandit-v0", 1000, 2000, epsilon=1.0)[3]
    assert rewards[1000:].mean() > random[1000:].mean() + 0.5

    rewards = _play("ceaseless/PredictionStream-v0", 1000, 2000)[3]
    assert rewards[1000:].mean() > 0.5 * -1.5  # the fallback's mean reward is about -1.5 on this seed
