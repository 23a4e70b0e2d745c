"""The tabular baselines: q_learning (constant step size) and dyna_q_plus (planning + bonus)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

from ceaseless import worlds
from ceaseless.baselines import dyna_q_plus, q_learning
from ceaseless.baselines.common import UnsupportedSpace
from ceaseless.leaderboard.harness.protocol import AgentSpec, load_factory
from ceaseless.worlds.suites import QUICK_V1, TUNING_SEEDS

MAZE, FORAGER, PREDICTION = "ceaseless/ShiftingMaze-v0", "ceaseless/Forager-v0", "ceaseless/PredictionStream-v0"
BANDIT, CONTROL = "ceaseless/DriftingBandit-v0", "ceaseless/DriftingControl-v0"
ROOT = Path(__file__).resolve().parents[2]
MODULES = {"q_learning": q_learning, "dyna_q_plus": dyna_q_plus}
LEARNED = {"q_learning": ["q", "table"],
           "dyna_q_plus": ["q", "table", "model_reward", "model_next", "last_tried", "store", "stored"]}


def make(name: str, world_id: str, seed: int = 0, **options: Any) -> tuple[Any, Any]:
    world = worlds.WORLDS[world_id](num_envs=1)
    return MODULES[name].make_agent(world.observation_space, world.action_space, seed, **options), world


def as_observation(world: Any, observation: np.ndarray) -> Any:
    """What the harness hands the agent: ints for Discrete observations, arrays otherwise."""
    return int(observation) if isinstance(world.observation_space, spaces.Discrete) else observation


def rollout(agent: Any, world: Any, seed: int, steps: int) -> tuple[list[Any], list[tuple[float, Any]], np.ndarray]:
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


def learned(name: str, agent: Any) -> dict[str, np.ndarray]:
    return {field: np.array(getattr(agent, field), copy=True) for field in LEARNED[name]}


def assert_same(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> None:
    for field in a:
        np.testing.assert_array_equal(a[field], b[field], err_msg=field)


def actions_equal(a: list[Any], b: list[Any]) -> bool:
    return len(a) == len(b) and all(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in zip(a, b))


# -- runs everywhere -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("world_id", [entry.world_id for entry in QUICK_V1.entries])
def test_runs_on_every_world_with_valid_actions(name: str, world_id: str) -> None:
    agent, world = make(name, world_id, seed=3)
    actions, _, rewards = rollout(agent, world, TUNING_SEEDS[0], 300)  # the world refuses invalid actions
    assert all(world.action_space.contains(np.asarray(a, dtype=world.action_space.dtype)
                                           if not isinstance(a, int) else a) for a in actions)
    assert np.isfinite(rewards).all()


@pytest.mark.parametrize("name", MODULES)
def test_loads_through_the_harness(name: str) -> None:
    factory = load_factory(AgentSpec.parse(str(ROOT / "baselines" / f"{name}.py"), freeze_after=10))
    world = worlds.WORLDS[MAZE](num_envs=1)
    agent = factory(world.observation_space, world.action_space, 0)
    assert agent.lifetime.freeze_after == 10


# -- determinism and exact resume ------------------------------------------------------------------
@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("world_id", [MAZE, FORAGER, PREDICTION, CONTROL])
def test_same_seed_same_actions(name: str, world_id: str) -> None:
    first = rollout(*make(name, world_id, seed=7), TUNING_SEEDS[1], 400)[0]
    second = rollout(*make(name, world_id, seed=7), TUNING_SEEDS[1], 400)[0]
    assert actions_equal(first, second)
    if world_id != PREDICTION:  # predictions use no randomness at all
        assert not actions_equal(first, rollout(*make(name, world_id, seed=8), TUNING_SEEDS[1], 400)[0])


@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("world_id", [MAZE, FORAGER, PREDICTION, CONTROL])
def test_checkpoint_restore_resumes_exactly(name: str, world_id: str) -> None:
    agent, world = make(name, world_id, seed=5)
    rollout(agent, world, TUNING_SEEDS[2], 250)
    blob = agent.checkpoint()
    continued, inputs = [], []
    observation = world.step_one(agent.last_action)[0]  # keep the world going: later inputs are replayed
    for t in range(250):
        reward = float(t % 3)
        inputs.append((reward, as_observation(world, observation), 1 + (t % 7 == 0)))  # some missed steps too
        continued.append(agent.step(*inputs[-1]))
        observation = world.step_one(continued[-1])[0]
    twin = make(name, world_id, seed=99)[0]  # another seed: everything must come from the checkpoint
    twin.restore(blob)
    assert actions_equal(continued, [twin.step(*arguments) for arguments in inputs])
    assert_same(learned(name, agent), learned(name, twin))


# -- the frozen twin ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("world_id", [MAZE, FORAGER, PREDICTION, BANDIT])
def test_frozen_twin_stops_learning(name: str, world_id: str) -> None:
    agent, world = make(name, world_id, seed=1, freeze_after=150)
    observation = as_observation(world, world.reset([TUNING_SEEDS[0]])[0])
    action, snapshot = agent.start(observation), None
    for t in range(600):
        observation, reward = world.step_one(action)
        action = agent.step(reward, as_observation(world, observation), 1)
        if t == 149:  # the 150th world step was the last one learned from
            snapshot = learned(name, agent)
    assert agent.lifetime.steps == 600 and not agent.lifetime.learning
    assert_same(snapshot, learned(name, agent))
    if world_id != PREDICTION:
        assert not np.array_equal(snapshot["q"], make(name, world_id, seed=1)[0].q)  # it did learn before


@pytest.mark.parametrize("name", MODULES)
def test_freezing_counts_missed_steps(name: str) -> None:
    agent, world = make(name, MAZE, seed=0, freeze_after=10)
    observation = world.reset([TUNING_SEEDS[0]])[0]
    agent.start(observation)
    agent.step(0.0, observation, elapsed=5)
    agent.step(0.0, observation, elapsed=5)
    assert agent.lifetime.steps == 10 and agent.lifetime.learning
    before = learned(name, agent)
    agent.step(1.0, observation, elapsed=1)  # world step 11: frozen
    assert_same(before, learned(name, agent))


# -- unsupported spaces -----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", MODULES)
@pytest.mark.parametrize("observation_space, action_space", [
    (spaces.Dict({"a": spaces.Discrete(2)}), spaces.Discrete(2)),
    (spaces.Tuple((spaces.Discrete(2),)), spaces.Discrete(2)),
    (spaces.Discrete(3), spaces.MultiDiscrete([2, 2])),
    (spaces.Discrete(3), spaces.Box(-1, 1, (2, 2))),
    (spaces.Discrete(3), spaces.Box(-np.inf, np.inf, (1,))),
    (spaces.Discrete(3), spaces.Box(-1, 1, (4,))),  # 5^4 grid actions: too many
])
def test_unsupported_spaces_raise(name: str, observation_space: spaces.Space, action_space: spaces.Space) -> None:
    with pytest.raises(UnsupportedSpace):
        MODULES[name].make_agent(observation_space, action_space, 0)


# -- the algorithms ---------------------------------------------------------------------------------------
def test_q_learning_update_with_constant_step_size_and_missed_steps() -> None:
    agent = q_learning.make_agent(spaces.Discrete(4), spaces.Discrete(2), 0, step_size=0.5, gamma=0.9,
                                  initial_value=1.0, epsilon=0.0)
    first = agent.start(2)
    agent.step(3.0, 1, elapsed=1)  # Q[2, first] = 1 + 0.5 * (3 + 0.9 * 1 - 1)
    assert agent.q[2, first] == pytest.approx(2.45)
    second = agent.index
    agent.step(4.0, 0, elapsed=3)  # a gap of 3 steps: one transition discounted by gamma**3
    assert agent.q[1, second] == pytest.approx(1 + 0.5 * (4.0 + 0.9 ** 3 * 1.0 - 1))


def test_dyna_plans_with_the_bonus_for_untried_actions() -> None:
    """Untried actions are planned as self-loops with reward 0 plus kappa * sqrt(tau)."""
    agent = dyna_q_plus.make_agent(spaces.Discrete(3), spaces.Discrete(4), 0, epsilon=0.0, initial_value=0.0,
                                   kappa=0.1, planning_steps=5, plan_every=1, gamma=0.5, step_size=1.0)
    agent.start(0)
    for _ in range(50):
        agent.step(0.0, 0, elapsed=1)  # the agent stays in state 0, trying one action at a time
    tried = agent.model_next[0] >= 0
    assert tried.any() and agent.count == 1 and agent.stored[0]
    assert (agent.q[0] > 0).all()  # the bonus made every action look worth trying again


def test_dyna_store_stays_bounded() -> None:
    agent = dyna_q_plus.make_agent(spaces.Discrete(100), spaces.Discrete(2), 0, memory=8)
    agent.start(0)
    for t in range(1, 500):
        agent.step(0.0, t % 100, elapsed=1)
    assert agent.count == 8 and agent.stored.sum() == 8
    assert set(agent.store.tolist()) == set(np.flatnonzero(agent.stored).tolist())


@pytest.mark.parametrize("name", MODULES)
def test_learns_the_maze(name: str) -> None:
    """On a tuning seed, 2,000 steps: well above a random walk."""
    rewards = rollout(*make(name, MAZE, seed=0), TUNING_SEEDS[0], 2000)[2]
    world, generator = worlds.WORLDS[MAZE](num_envs=1), np.random.default_rng(0)
    world.reset([TUNING_SEEDS[0]])
    walk = np.mean([world.step_one(int(generator.integers(5)))[1] for _ in range(2000)])
    assert rewards.mean() > 3 * max(walk, 1e-3)


def test_planning_helps_on_the_maze() -> None:
    planned = rollout(*make("dyna_q_plus", MAZE, seed=0), TUNING_SEEDS[0], 2000)[2].mean()
    unplanned = rollout(*make("dyna_q_plus", MAZE, seed=0, planning_steps=0), TUNING_SEEDS[0], 2000)[2].mean()
    assert planned > unplanned


@pytest.mark.parametrize("name", MODULES)
def test_regresses_on_the_prediction_stream(name: str) -> None:
    agent, world = make(name, PREDICTION, seed=0)
    rewards = rollout(agent, world, TUNING_SEEDS[0], 2000)[2]
    assert agent.detector.prediction
    zero = rollout(*make(name, PREDICTION, seed=0, freeze_after=0), TUNING_SEEDS[0], 2000)[2]  # predicts 0
    assert rewards.mean() > zero.mean() + 0.3
