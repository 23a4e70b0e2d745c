"""DriftingBandit's own rules."""

from __future__ import annotations

import numpy as np
import pytest

from ceaseless.worlds.bandit import DriftingBandit


def test_reward_is_the_pulled_arms_mean_plus_noise():
    world = DriftingBandit(num_envs=1, noise=0.0)
    world.reset([3])
    for t in range(2000):
        arm = t % 10
        mean = world.means()[0, arm]
        _, reward = world.step_one(arm)
        assert reward == mean


def test_noise_has_the_configured_spread():
    world = DriftingBandit(num_envs=1, noise=2.0, drift=0.0, switch_rate=0.0, num_seasons=1)
    world.reset([4])
    mean = world.means()[0, 0]
    rewards = np.array([world.step_one(0)[1] for _ in range(20_000)])
    assert abs(rewards.mean() - mean) < 0.05 and abs(rewards.std() - 2.0) < 0.05


def test_oracle_pulls_the_best_arm_and_observation_is_constant():
    world = DriftingBandit(num_envs=5)
    observations = world.reset(np.arange(5))
    assert (observations == 0).all()
    for _ in range(300):
        assert np.array_equal(world.oracle_action(), world.means().argmax(axis=1))
        observations, _ = world.step(world.oracle_action())
        assert (observations == 0).all()


def test_seasons_recur_exactly_without_drift_or_switches():
    world = DriftingBandit(num_envs=1, drift=0.0, switch_rate=0.0, season_period=100, num_seasons=3)
    world.reset([0])
    seen = []
    for _ in range(700):
        seen.append(world.means()[0].copy())
        world.step_one(0)
    assert np.array_equal(seen[10], seen[310]) and np.array_equal(seen[150], seen[450])
    assert not np.array_equal(seen[10], seen[110])


def test_fallback_arm_must_exist():
    with pytest.raises(ValueError, match=r"fallback_arm=5 is outside the allowed range \[0, 4\]"):
        DriftingBandit(num_arms=5, fallback_arm=5)
