"""The simple baselines: random_agent, fallback, sample_average and ucb (sliding and discounted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

from ceaseless import worlds
from ceaseless.baselines import fallback, random_agent, sample_average, ucb
from ceaseless.baselines.common import UnsupportedSpace
from ceaseless.leaderboard.harness.protocol import AgentSpec, load_factory
from ceaseless.worlds.suites import QUICK_V1, TUNING_SEEDS

BANDIT, PREDICTION = "ceaseless/DriftingBandit-v0", "ceaseless/PredictionStream-v0"
CONTROL = "ceaseless/DriftingControl-v0"
ROOT = Path(__file__).resolve().parents[2]

# name -> (module, options)
AGENTS: dict[str, tuple[Any, dict[str, Any]]] = {
    "random": (random_agent, {}),
    "fallback": (fallback, {}),
    "sample_average": (sample_average, {}),
    "ucb_sliding": (ucb, {"variant": "sliding"}),
    "ucb_discounted": (ucb, {"variant": "discounted"}),
}
LEARNERS = ["sample_average", "ucb_sliding", "ucb_discounted"]


def make(name: str, world_id: str, seed: int = 0, **options: Any) -> tuple[Any, Any]:
    module, defaults = AGENTS[name]
    world = worlds.WORLDS[world_id](num_envs=1)
    agent = module.make_agent(world.observation_space, world.action_space, seed, **{**defaults, **options})
    return agent, world


def as_observation(world: Any, observation: np.ndarray) -> Any:
    """What the harness hands the agent: ints for Discrete observations, arrays otherwise."""
    return int(observation) if isinstance(world.observation_space, spaces.Discrete) else observation


def rollout(agent: Any, world: Any, seed: int, steps: int) -> tuple[list[Any], list[tuple[float, Any]], np.ndarray]:
    """Run ``steps`` world steps; returns the actions, the (reward, observation) inputs and the rewards."""
    observation = as_observation(world, world.reset([seed])[0])
    action = agent.start(observation)
    actions, inputs, rewards = [action], [], np.empty(steps)
    for t in range(steps):
        observation, reward = world.step_one(action)
        observation = as_observation(world, observation)
        rewards[t] = reward
        inputs.append((reward, observation))
        action = agent.step(reward, observation, 1)
        actions.append(action)
    return actions, inputs, rewards


def learned(agent: Any) -> dict[str, Any]:
    """Everything a learner learns (and nothing it merely draws)."""
    if isinstance(agent, sample_average.SampleAverage):
        names = ["q", "target"]
    else:
        names = ["counts", "sums", "target_stats", "pulls", "total", "total_sq"]
        if agent.sliding:
            names += ["ring_arm", "ring_reward", "ring_target"]
    return {name: np.array(getattr(agent, name), copy=True) for name in names}


def assert_same(a: dict[str, Any], b: dict[str, Any]) -> None:
    assert a.keys() == b.keys()
    for name in a:
        np.testing.assert_array_equal(a[name], b[name], err_msg=name)


def actions_equal(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))


# -- runs everywhere ------------------------------------------------------------------------------
@pytest.mark.parametrize("world_id", list(worlds.WORLDS))
@pytest.mark.parametrize("name", list(AGENTS))
def test_runs_on_every_world_with_valid_actions(name: str, world_id: str) -> None:
    agent, world = make(name, world_id, seed=3)
    actions, _, rewards = rollout(agent, world, TUNING_SEEDS[0], 150)  # the world refuses invalid actions
    space = world.action_space
    for action in actions:
        value = np.asarray(action, dtype=space.dtype).reshape(space.shape)
        assert space.contains(value if space.shape else value.item()), (name, world_id, action)
    assert np.isfinite(rewards).all()


@pytest.mark.parametrize("name", list(AGENTS))
def test_loads_through_the_harness_with_common_options(name: str) -> None:
    module, options = AGENTS[name]
    path = ROOT / "baselines" / f"{module.__name__.rsplit('.', 1)[-1]}.py"
    factory = load_factory(AgentSpec.parse(str(path), freeze_after=100, **options))
    world = worlds.WORLDS[BANDIT](num_envs=1)
    agent = factory(world.observation_space, world.action_space, 0)
    assert world.action_space.contains(agent.start(0))
    assert world.action_space.contains(agent.step(0.0, 0, 1))


def test_fallback_is_the_worlds_fallback() -> None:
    for entry in QUICK_V1.entries:
        agent, world = make("fallback", entry.world_id)
        world.reset([TUNING_SEEDS[0]])
        expected = np.asarray(world.fallback_action()[0])
        for action in (agent.start(None), agent.step(1.0, None, 1), agent.step(-2.0, None, 7)):
            np.testing.assert_array_equal(np.asarray(action), expected)
            np.testing.assert_array_equal(np.asarray(action, np.float64).ravel(), np.ravel(entry.fallback))
    bounds = np.array([0.5, -3.0], np.float32), np.array([2.0, -1.0], np.float32)
    box = fallback.make_agent(spaces.Discrete(1), spaces.Box(*bounds), 0)
    np.testing.assert_array_equal(box.start(0), [0.5, -1.0])  # zeros clipped into the bounds
    assert fallback.make_agent(spaces.Discrete(1), spaces.Discrete(4, start=2), 0).start(0) == 2


def test_random_agent_is_uniform_in_the_bounds() -> None:
    box = spaces.Box(np.array([-1.0, 2.0], np.float32), np.array([1.0, 10.0], np.float32))
    agent = random_agent.make_agent(spaces.Discrete(1), box, 0)
    draws = np.array([agent.step(0.0, 0) for _ in range(4000)])
    assert draws.dtype == np.float32 and all(box.contains(d) for d in draws)
    np.testing.assert_allclose(draws.mean(axis=0), [0.0, 6.0], atol=0.1)
    agent = random_agent.make_agent(spaces.Discrete(1), spaces.Discrete(5, start=-2), 0)
    counts = np.bincount(np.array([agent.step(0.0, 0) for _ in range(5000)]) + 2, minlength=5)
    assert counts.min() > 850 and counts.max() < 1150


# -- determinism and checkpoints ----------------------------------------------------------------------
@pytest.mark.parametrize("world_id", [BANDIT, PREDICTION, CONTROL])
@pytest.mark.parametrize("name", list(AGENTS))
def test_same_seed_same_actions(name: str, world_id: str) -> None:
    runs = [rollout(*make(name, world_id, seed=seed), TUNING_SEEDS[1], 300)[0] for seed in (5, 5, 6)]
    assert actions_equal(runs[0], runs[1])
    if name == "random":
        assert not actions_equal(runs[0], runs[2])


@pytest.mark.parametrize("world_id", [BANDIT, PREDICTION, CONTROL])
@pytest.mark.parametrize("name", list(AGENTS))
def test_checkpoint_restore_resumes_exactly(name: str, world_id: str) -> None:
    agent, world = make(name, world_id, seed=11)
    action = agent.start(as_observation(world, world.reset([TUNING_SEEDS[2]])[0]))
    data, inputs, actions = None, [], []
    for t in range(700):
        observation, reward = world.step_one(action)
        observation = as_observation(world, observation)
        if t == 400:
            data = agent.checkpoint()
            assert isinstance(data, bytes)
        action = agent.step(reward, observation, 1)
        if t >= 400:
            inputs.append((reward, observation))
            actions.append(action)
    copy, _ = make(name, world_id, seed=999)  # another seed: everything must come from the checkpoint
    copy.restore(data)
    if hasattr(agent, "rng"):  # the generator resumes too (UCB draws only to break ties: rarely)
        again, _ = make(name, world_id, seed=998)
        again.restore(agent.checkpoint())
        assert again.rng.bit_generator.state == agent.rng.bit_generator.state
    assert actions_equal([copy.step(reward, observation, 1) for reward, observation in inputs], actions)
    if name in LEARNERS:
        assert_same(learned(copy), learned(agent))


def test_checkpoint_before_start() -> None:
    for name in AGENTS:
        agent, world = make(name, CONTROL, seed=1)
        copy, _ = make(name, CONTROL, seed=2)
        copy.restore(agent.checkpoint())
        observation = world.reset([TUNING_SEEDS[0]])[0]
        assert np.array_equal(copy.start(observation), agent.start(observation))


# -- frozen twins ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("world_id", [BANDIT, PREDICTION, CONTROL])
@pytest.mark.parametrize("name", LEARNERS)
def test_frozen_twin_stops_learning(name: str, world_id: str) -> None:
    freeze = 120
    agent, world = make(name, world_id, seed=4, freeze_after=freeze)
    action = agent.start(as_observation(world, world.reset([TUNING_SEEDS[0]])[0]))
    snapshots = {}
    for t in range(1, 600):
        observation, reward = world.step_one(action)
        action = agent.step(reward, as_observation(world, observation), 1)
        snapshots[t] = learned(agent)
    assert_same(snapshots[freeze], snapshots[599])  # nothing changes after freeze_after steps...
    changed = any(not np.array_equal(snapshots[freeze - 1][k], snapshots[freeze][k]) for k in snapshots[freeze])
    assert changed  # ...while it still learned at the last step allowed
    free, _ = make(name, world_id, seed=4)
    rollout(free, worlds.WORLDS[world_id](num_envs=1), TUNING_SEEDS[0], 599)
    assert any(not np.array_equal(learned(free)[k], snapshots[599][k]) for k in snapshots[599])


@pytest.mark.parametrize("name", LEARNERS)
def test_freezing_counts_elapsed_steps_and_skips_summed_rewards(name: str) -> None:
    agent, _ = make(name, BANDIT, seed=0, freeze_after=10)
    agent.start(0)
    before = learned(agent)
    agent.step(100.0, 0, 5)  # a summed reward of missed steps: not any action's own reward
    assert_same(before, learned(agent))
    agent.step(1.0, 0, 1)  # 6 steps: still learning
    assert not np.array_equal(before["q" if name == "sample_average" else "sums"],
                              learned(agent)["q" if name == "sample_average" else "sums"])
    agent.step(1.0, 0, 5)  # 11 steps: frozen from here on
    frozen = learned(agent)
    for _ in range(20):
        agent.step(3.0, 0, 1)
    assert_same(frozen, learned(agent))


def test_frozen_ucb_plays_its_frozen_index() -> None:
    agent, world = make("ucb_sliding", BANDIT, seed=0, freeze_after=300)
    actions = rollout(agent, world, TUNING_SEEDS[0], 600)[0]
    assert len(set(actions[302:])) == 1


# -- unsupported spaces ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(AGENTS))
def test_unsupported_action_spaces_raise(name: str) -> None:
    module, options = AGENTS[name]
    observation_space = spaces.Discrete(1)
    unsupported = [spaces.Dict({"a": spaces.Discrete(2)}), spaces.Tuple((spaces.Discrete(2),))]
    if name == "random":
        unsupported.append(spaces.Box(-np.inf, np.inf, (2,)))
    if name in LEARNERS:
        unsupported += [spaces.Box(-1, 1, (2, 2)), spaces.MultiDiscrete([2, 3]), spaces.Box(-np.inf, np.inf, (1,)),
                        spaces.Box(-1, 1, (4,))]  # 5^4 grid points are too many actions
    for action_space in unsupported:
        with pytest.raises(UnsupportedSpace):
            module.make_agent(observation_space, action_space, 0, **options)


def test_bad_options_raise() -> None:
    space = spaces.Discrete(3)
    for options in ({"alpha": 0.0}, {"alpha": 1.5}, {"epsilon": -0.1}, {"freeze_after": -1}):
        with pytest.raises(ValueError):
            sample_average.make_agent(space, space, 0, **options)
    for options in ({"variant": "exp3"}, {"window": 0}, {"gamma": 1.0}, {"c": -1.0}):
        with pytest.raises(ValueError):
            ucb.make_agent(space, space, 0, **options)


# -- the algorithms ----------------------------------------------------------------------------------------
def test_sliding_window_statistics_are_those_of_the_last_window_pulls() -> None:
    agent, world = make("ucb_sliding", BANDIT, seed=2, window=50)
    actions, _, rewards = rollout(agent, world, TUNING_SEEDS[1], 777)
    arms, rewards = np.array(actions[:-1][-50:]), rewards[-50:]
    np.testing.assert_array_equal(agent.counts, np.bincount(arms, minlength=10))
    np.testing.assert_allclose(agent.sums, np.bincount(arms, weights=rewards, minlength=10), atol=1e-9)
    assert agent.pulls == 50
    np.testing.assert_allclose([agent.total, agent.total_sq], [rewards.sum(), (rewards**2).sum()], atol=1e-9)


def test_discounted_statistics_are_discounted_sums() -> None:
    agent, world = make("ucb_discounted", BANDIT, seed=2, gamma=0.99)
    actions, _, rewards = rollout(agent, world, TUNING_SEEDS[1], 500)
    weights = 0.99 ** np.arange(499, -1, -1)
    arms = np.array(actions[:-1])
    np.testing.assert_allclose(agent.counts, np.bincount(arms, weights=weights, minlength=10), rtol=1e-9)
    np.testing.assert_allclose(agent.sums, np.bincount(arms, weights=weights * rewards, minlength=10), atol=1e-9)


@pytest.mark.parametrize("name", LEARNERS)
def test_learns_the_drifting_bandit(name: str) -> None:
    """On a tuning seed's first 2,000 steps the learner is far above random and near the oracle."""
    seed, steps = TUNING_SEEDS[0], 2000
    world = worlds.WORLDS[BANDIT](num_envs=1)
    world.reset([seed])
    oracle = np.mean([world.step(world.oracle_action())[1][0] for _ in range(steps)])
    random_reward = rollout(*make("random", BANDIT, seed=0), seed, steps)[2].mean()
    reward = rollout(*make(name, BANDIT, seed=0), seed, steps)[2].mean()
    assert reward > random_reward + 0.8 * (oracle - random_reward), (reward, random_reward, oracle)


@pytest.mark.parametrize("name", LEARNERS)
def test_regresses_on_the_prediction_protocol(name: str) -> None:
    """PredictionStream is recognised: the learner predicts an average of the revealed targets
    (not grid actions) and beats the fallback's prediction of zero."""
    agent, world = make(name, PREDICTION, seed=0)
    actions, _, rewards = rollout(agent, world, TUNING_SEEDS[0], 1000)
    assert agent.detector.prediction
    grid = {tuple(np.asarray(a).tolist()) for a in agent.actions.actions}
    assert not any(tuple(np.asarray(a).tolist()) in grid for a in actions[10:])
    world.reset([TUNING_SEEDS[0]])
    fallback_reward = np.mean([world.step(world.fallback_action())[1][0] for _ in range(1000)])
    assert rewards[10:].mean() > fallback_reward + 0.05, (rewards[10:].mean(), fallback_reward)
