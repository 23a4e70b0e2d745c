"""Every registered world, the same checks: gymnasium conformance, determinism, parity between
the batched core and the single env, checkpoints, endless change, properties and errors."""

from __future__ import annotations

import random

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env, data_equivalence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceaseless import worlds
from tests.conftest import scaled
from tests.worlds.helpers import (
    action_sequence,
    check_vector_env,
    config_strategy,
    invalid_actions,
    invalid_configs,
    rollout,
    world_ids,
)

WORLD_IDS = world_ids()


@pytest.fixture(params=WORLD_IDS)
def world_id(request) -> str:
    return request.param


# -- conformance --------------------------------------------------------------------------------
def test_check_env_single(world_id):
    env = gym.make(world_id)
    check_env(env.unwrapped)
    for mode in ("rgb_array", "ansi"):
        rendered = gym.make(world_id, render_mode=mode)
        rendered.reset(seed=0)
        frame = rendered.render()
        if mode == "rgb_array":
            assert frame.dtype == np.uint8 and frame.ndim == 3 and frame.shape[2] == 3 and frame.size > 0
        else:
            assert isinstance(frame, str) and frame.strip()


def test_check_vector_env(world_id):
    env = gym.make_vec(world_id, num_envs=3)
    assert isinstance(env.unwrapped, worlds.CeaselessVectorEnv), "make_vec must use the native vector env"
    check_vector_env(env)
    rendered = gym.make_vec(world_id, num_envs=2, render_mode="rgb_array")
    rendered.reset(seed=0)
    frames = rendered.render()
    assert len(frames) == 2 and all(frame.dtype == np.uint8 for frame in frames)


def test_never_terminates_and_has_no_time_limit(world_id):
    env = gym.make(world_id)
    assert env.spec.max_episode_steps is None
    env.reset(seed=0)
    for action in action_sequence(env.action_space, 500, seed=0):
        _, _, terminated, truncated, _ = env.step(action)
        assert not terminated and not truncated


# -- determinism ----------------------------------------------------------------------------------
def test_same_seed_same_stream_over_20000_steps_with_change_points(world_id):
    steps = 20_000
    actions = action_sequence(gym.make(world_id).action_space, steps, seed=7)
    first = rollout(gym.make(world_id), 11, actions)
    # Disturb every global generator between the two rollouts: results must not move.
    np.random.seed(999)
    random.seed(999)
    np.random.random(1000)
    second = rollout(gym.make(world_id), 11, actions)
    assert len(first["changes"]) > 0, "20,000 steps should include change points"
    assert data_equivalence(first["observations"], second["observations"], exact=True)
    assert np.array_equal(first["rewards"], second["rewards"])
    assert first["changes"] == second["changes"]
    other = rollout(gym.make(world_id), 12, actions[:2000])
    assert not np.array_equal(other["rewards"], first["rewards"][:2000]), "different seeds must differ"


def test_unseeded_reset_after_seeded_is_deterministic(world_id):
    env = gym.make(world_id)
    env.reset(seed=5)
    a, _ = env.reset()
    env.reset(seed=5)
    b, _ = env.reset()
    assert data_equivalence(a, b, exact=True)


# -- parity between the batched core and the single env -----------------------------------------
def test_vector_instance_equals_single_env_with_same_seed(world_id):
    num_envs, steps, seed = 4, 1500, 40
    space = gym.make(world_id).action_space
    per_instance = [action_sequence(space, steps, seed=100 + i) for i in range(num_envs)]
    vector = gym.make_vec(world_id, num_envs=num_envs)
    vector_obs, _ = vector.reset(seed=seed)
    vector_trace = [vector_obs.copy()]
    vector_rewards = []
    for t in range(steps):
        obs, rewards, *_ = vector.step(np.stack([per_instance[i][t] for i in range(num_envs)]))
        vector_trace.append(obs.copy())
        vector_rewards.append(rewards.copy())
    vector_trace, vector_rewards = np.array(vector_trace), np.array(vector_rewards)
    for i in range(num_envs):
        single = rollout(gym.make(world_id), seed + i, per_instance[i])
        assert data_equivalence(single["observations"], vector_trace[:, i], exact=True), f"instance {i}"
        assert np.array_equal(single["rewards"], vector_rewards[:, i]), f"instance {i}"


def test_native_vector_env_equals_gymnasium_sync_vector_env(world_id):
    num_envs, steps = 3, 300
    native = gym.make_vec(world_id, num_envs=num_envs)
    synced = gym.make_vec(world_id, num_envs=num_envs, vectorization_mode="sync")
    space = native.single_action_space
    actions = [np.stack(action_sequence(space, num_envs, seed=t)) for t in range(steps)]
    a_obs, _ = native.reset(seed=3)
    b_obs, _ = synced.reset(seed=3)
    assert data_equivalence(a_obs, b_obs, exact=True)
    for action in actions:
        a = native.step(action)
        b = synced.step(action)
        for x, y in zip(a[:4], b[:4]):
            assert data_equivalence(x, y, exact=True)
        for key in ("t", "regime"):
            assert np.array_equal(a[4][key], b[4][key])
        for name in a[4]["hidden"]:
            if not name.startswith("_"):
                assert np.array_equal(a[4]["hidden"][name], b[4]["hidden"][name])
        assert list(a[4]["change_points"]) == list(b[4]["change_points"])


def test_single_fast_path_equals_batched_step(world_id):
    world_class = worlds.WORLDS[world_id]
    fast, slow = world_class(num_envs=1), world_class(num_envs=1)
    fast.reset([21])
    slow.reset([21])
    for action in action_sequence(fast.action_space, 5000, seed=2):
        obs_fast, reward_fast = fast.step_one(action)
        obs_slow, reward_slow = slow.step(np.asarray(action)[None])
        assert data_equivalence(obs_fast, obs_slow[0], exact=True)
        assert reward_fast == reward_slow[0]
    for key, value in fast.get_state().items():
        assert np.array_equal(value, slow.get_state()[key]), key


def test_batch_size_does_not_change_an_instance(world_id):
    """Blocks of change are sized to the batch; the stream must not depend on it."""
    world_class = worlds.WORLDS[world_id]
    small, large = world_class(num_envs=1), world_class(num_envs=600)
    assert small.engine.block_length != large.engine.block_length
    small.reset([9])
    large.reset(np.arange(9, 609))
    actions = action_sequence(small.action_space, 700, seed=4)
    for action in actions:
        obs_small, reward_small = small.step(np.asarray(action)[None])
        obs_large, reward_large = large.step(np.repeat(np.asarray(action)[None], 600, axis=0))
        assert data_equivalence(obs_small[0], obs_large[0], exact=True)
        assert reward_small[0] == reward_large[0]


# -- checkpoints ------------------------------------------------------------------------------------
def test_checkpoint_restores_exactly(world_id, tmp_path):
    env = gym.make(world_id).unwrapped
    actions = action_sequence(env.action_space, 3000, seed=8)
    env.reset(seed=17)
    for action in actions[:1700]:
        env.step(action)
    path = tmp_path / "state.npz"
    np.savez(path, **env.get_state())
    after = [env.step(action)[:2] for action in actions[1700:]]
    restored = gym.make(world_id).unwrapped
    restored.reset(seed=999)  # a different stream, overwritten by the checkpoint
    with np.load(path) as saved:
        restored.set_state(dict(saved))
    again = [restored.step(action)[:2] for action in actions[1700:]]
    for (obs_a, rew_a), (obs_b, rew_b) in zip(after, again):
        assert data_equivalence(obs_a, obs_b, exact=True) and rew_a == rew_b


def test_checkpoint_of_another_world_or_config_is_refused(world_id):
    env = gym.make(world_id).unwrapped
    env.reset(seed=0)
    state = env.get_state()
    for other_id in WORLD_IDS:
        if other_id != world_id:
            other = gym.make(other_id).unwrapped
            other.reset(seed=0)
            with pytest.raises(ValueError, match=r"meta\.world"):
                other.set_state(state)
    stationary = gym.make(world_id, stationary=True).unwrapped
    stationary.reset(seed=0)
    with pytest.raises(ValueError, match=r"meta\.config"):
        stationary.set_state(state)


# -- endless change -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_change_points_in_every_tenth_of_a_200000_step_stream(world_id):
    steps = 200_000
    world = worlds.WORLDS[world_id](num_envs=1)
    world.reset([3])
    fallback = world.fallback_action()[0]
    tenths = np.zeros(10, dtype=int)
    for _ in range(steps):
        world.step_one(fallback)
        if world.engine.changed()[0]:
            tenths[world.t * 10 // (steps + 1)] += 1
    assert (tenths > 0).all(), f"change points per tenth: {tenths}"


def test_stationary_configuration_never_changes(world_id):
    world = worlds.WORLDS[world_id](num_envs=2, stationary=True)
    world.reset([1, 2])
    processes = world.engine.processes
    start = {name: np.array(world.engine.value(name)) for name in processes}
    fallback = world.fallback_action()
    for _ in range(scaled(20_000, 5_000)):
        world.step(fallback)
        assert not world.engine.changed().any()
    for name in processes:
        assert np.array_equal(world.engine.value(name), start[name]), name
    changing = worlds.WORLDS[world_id](num_envs=2)
    changing.reset([1, 2])
    for _ in range(scaled(20_000, 5_000)):
        changing.step(fallback)
    assert any(not np.array_equal(changing.engine.value(name), start[name]) for name in processes)


# -- properties and errors ---------------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_configs_and_seeds_stay_in_space(data):
    world_id = data.draw(st.sampled_from(WORLD_IDS))
    config = data.draw(config_strategy(worlds.WORLDS[world_id]))
    seed = data.draw(st.integers(0, 2**63 - 2))
    env = gym.make(world_id, **config)
    observation, _ = env.reset(seed=seed)
    assert observation in env.observation_space
    for action in action_sequence(env.action_space, 300, seed=seed % 1000):
        observation, reward, *_ = env.step(action)
        assert observation in env.observation_space
        assert np.isfinite(reward)


def test_invalid_actions_raise_value_error_naming_value_and_range(world_id):
    env = gym.make(world_id).unwrapped
    env.reset(seed=0)
    for action in invalid_actions(env.action_space):
        with pytest.raises(ValueError) as error:
            env.step(action)
        message = str(error.value)
        assert "allowed" in message or "shape" in message, message
    vector = gym.make_vec(world_id, num_envs=2)
    vector.reset(seed=0)
    with pytest.raises(ValueError):
        vector.step(np.stack([invalid_actions(vector.single_action_space)[0]] * 2))


def test_invalid_configs_raise_value_error_naming_value_and_range(world_id):
    with pytest.raises(ValueError, match="unknown config"):
        gym.make(world_id, no_such_option=1)
    for name, bad_value in invalid_configs(worlds.WORLDS[world_id]):
        with pytest.raises(ValueError) as error:
            gym.make(world_id, **{name: bad_value})
        assert name in str(error.value) and repr(bad_value) in str(error.value), str(error.value)


def test_oracle_beats_fallback(world_id):
    """A world whose privileged oracle cannot beat the fallback is broken."""
    world_class = worlds.WORLDS[world_id]
    if not world_class.has_oracle:
        pytest.skip(f"{world_id} has no oracle; it is normalised by frozen reference constants")
    steps = scaled(50_000, 10_000)
    seeds = [0, 1, 2, 3]
    oracle, fallback = world_class(num_envs=len(seeds)), world_class(num_envs=len(seeds))
    oracle.reset(seeds)
    fallback.reset(seeds)
    oracle_total = np.zeros(len(seeds))
    fallback_total = np.zeros(len(seeds))
    for _ in range(steps):
        oracle_total += oracle.step(oracle.oracle_action())[1]
        fallback_total += fallback.step(fallback.fallback_action())[1]
    assert (oracle_total > fallback_total).all(), (oracle_total / steps, fallback_total / steps)
