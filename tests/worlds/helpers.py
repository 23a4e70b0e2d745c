"""Helpers shared by the world tests: rollouts, comparisons, a vector-env conformance check."""

from __future__ import annotations

import dataclasses
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.utils.env_checker import data_equivalence
from gymnasium.vector import AutoresetMode

from ceaseless import worlds
from ceaseless.worlds.core import make_config

# Practical caps for property tests: the declared ranges allow huge values that are valid but
# slow to build (a 10**6-step period is fine; a 1000-arm bandit rendered 300 times is not needed).
_CAPS = {"num_arms": 64}


def world_ids() -> list[str]:
    return list(worlds.WORLDS)


def action_sequence(space: spaces.Space, steps: int, seed: int) -> list[Any]:
    """A reproducible list of valid actions (sampled with a seeded space, not the global RNG)."""
    space = _copy_space(space)
    space.seed(seed)
    return [space.sample() for _ in range(steps)]


def _copy_space(space: spaces.Space) -> spaces.Space:
    if isinstance(space, spaces.Discrete):
        return spaces.Discrete(space.n, start=space.start)
    if isinstance(space, spaces.Box):
        return spaces.Box(space.low, space.high, space.shape, space.dtype)
    raise TypeError(f"no copy for {space}")


def invalid_actions(space: spaces.Space) -> list[Any]:
    """Actions every world must refuse with a ValueError."""
    if isinstance(space, spaces.Discrete):
        return [space.start + space.n, space.start - 1, 1.5, np.int64(space.start + space.n + 7)]
    if isinstance(space, spaces.Box):
        too_high = np.array(space.high, dtype=np.float64) + 1.0
        nan = np.full(space.shape, np.nan)
        return [too_high, nan, np.zeros((*space.shape, 2))]
    raise TypeError(f"no invalid actions for {space}")


def rollout(env: gym.Env, seed: int, actions: list[Any]) -> dict[str, Any]:
    """Observations, rewards and change points of a seeded rollout."""
    observation, info = env.reset(seed=seed)
    observations, rewards, changes = [np.array(observation)], [], list(info["change_points"])
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        assert terminated is False and truncated is False
        observations.append(np.array(observation))
        rewards.append(reward)
        changes.extend(info["change_points"])
    return {"observations": np.array(observations), "rewards": np.array(rewards), "changes": changes}


def check_vector_env(env: gym.vector.VectorEnv, seed: int = 123) -> None:
    """The vector counterpart of gymnasium's ``check_env`` (gymnasium has none): spaces,
    reset/step types and shapes, seeding, determinism, no reused buffers, render and close."""
    assert isinstance(env, gym.vector.VectorEnv)
    n = env.num_envs
    assert env.metadata["autoreset_mode"] in (AutoresetMode.NEXT_STEP, AutoresetMode.DISABLED)
    expected_obs = gym.vector.utils.batch_space(env.single_observation_space, n)
    expected_act = gym.vector.utils.batch_space(env.single_action_space, n)
    assert env.observation_space == expected_obs and env.action_space == expected_act
    first, info = env.reset(seed=seed)
    assert first in env.observation_space and isinstance(info, dict)
    first = first.copy()
    action_space = _copy_space(env.single_action_space)
    action_space.seed(seed)
    actions = [np.stack([action_space.sample() for _ in range(n)]) for _ in range(5)]
    trace = []
    previous = first
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        assert observation in env.observation_space
        assert not np.shares_memory(observation, previous), "observation buffer reused"
        assert reward.shape == (n,) and reward.dtype == np.float64 and np.isfinite(reward).all()
        assert terminated.shape == (n,) and not terminated.any()
        assert truncated.shape == (n,) and not truncated.any()
        assert isinstance(info, dict)
        trace.append((observation.copy(), reward.copy()))
        previous = observation
    again, _ = env.reset(seed=seed)
    assert data_equivalence(first, again, exact=True), "reset(seed) is not deterministic"
    for action, (observation, reward) in zip(actions, trace):
        new_observation, new_reward, *_ = env.step(action)
        assert data_equivalence(observation, new_observation, exact=True), "step is not deterministic"
        assert data_equivalence(reward, new_reward, exact=True)
    other, _ = env.reset(seed=seed + 1000)
    assert other in env.observation_space
    env.close()
    env.close()  # closing twice is allowed


def config_strategy(world_class):
    """A hypothesis strategy over valid configs, built from the declared field ranges."""
    from hypothesis import assume
    from hypothesis import strategies as st

    fields = {}
    for field in dataclasses.fields(world_class.Config):
        default = field.default
        low, high = field.metadata.get("range", (None, None))
        if isinstance(default, bool):
            fields[field.name] = st.booleans()
        elif isinstance(default, int):
            low = 0 if low is None else int(low)
            high = max(low, int(high if high is not None else 10 * max(default, 1)))
            high = min(high, _CAPS.get(field.name, high), low + 10**6)
            fields[field.name] = st.integers(low, high)
        elif isinstance(default, float):
            low = -1e6 if low is None else low
            high = 1e6 if high is None else high
            fields[field.name] = st.floats(low, high, allow_nan=False)

    @st.composite
    def configs(draw):
        config = {name: draw(strategy) for name, strategy in fields.items()}
        try:
            make_config(world_class.Config, config, world_class.id)
        except ValueError:
            assume(False)
        return config

    return configs()


def invalid_configs(world_class) -> list[tuple[str, Any]]:
    """(name, value) pairs outside each field's declared range or of the wrong type."""
    bad = []
    for field in dataclasses.fields(world_class.Config):
        low, high = field.metadata.get("range", (None, None))
        if isinstance(field.default, bool):
            bad.append((field.name, "yes"))
            continue
        if low is not None:
            bad.append((field.name, type(field.default)(low - 1)))
        if high is not None:
            bad.append((field.name, type(field.default)(high + 1)))
        if isinstance(field.default, int):
            bad.append((field.name, 2.5))
        else:
            bad.append((field.name, float("nan")))
    return bad
