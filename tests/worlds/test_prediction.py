"""PredictionStream's own rules: the reward scores the prediction of the current target, the
oracle's error is the noise, switches and flips change the function, the cycle recurs, bounds hold."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ceaseless.worlds.prediction import BOUND, NOISE_SUPPORT, PredictionStream

# Everything that moves the function, off (each test turns on what it looks at).
FROZEN = {"flip_rate": 0.0, "switch_rate": 0.0, "drift": 0.0, "num_seasons": 1}


def probe_inputs(world: PredictionStream, seed: int = 0) -> np.ndarray:
    """Fixed random inputs (without the phase features) to evaluate the function on."""
    n = world.config.num_inputs
    return np.random.default_rng(seed).uniform(-1, 1, (world.num_envs, n)).astype(np.float32)


def at_phase(world: PredictionStream, inputs: np.ndarray, observation: np.ndarray) -> np.ndarray:
    """``inputs`` with the phase features of ``observation``."""
    n = world.config.num_inputs
    return np.concatenate([inputs, observation[:, n : n + 2]], axis=1)


def test_the_target_is_revealed_once_scored():
    """Predict, then see the truth: the next observation ends with the target just scored."""
    world = PredictionStream(num_envs=2)
    observations = world.reset([0, 1])
    n = world.config.num_inputs + 2
    assert not observations[:, n:].any(), "nothing revealed before the first prediction"
    for _ in range(50):
        target = world.target().copy()
        observations, rewards = world.step(world.fallback_action())
        assert np.array_equal(observations[:, n:], target.astype(np.float32))
        assert np.allclose(rewards, -np.mean(target**2, axis=1))


def test_timing_observation_t_is_scored_at_step_t():
    """The target scored at step t is f_t of the observation returned just before."""
    world = PredictionStream(num_envs=3)
    observations = world.reset([0, 1, 2])
    for _ in range(600):
        assert np.array_equal(world.evaluate(observations), world.target_mean())
        observations, _ = world.step(world.fallback_action())


def test_reward_is_the_negative_mean_squared_error_against_the_hidden_target():
    world = PredictionStream(num_envs=1, num_outputs=3)
    world.reset([3])
    predictions = np.random.default_rng(1).uniform(-BOUND, BOUND, (3000, 3)).astype(np.float32)
    for prediction in predictions:
        target = world.target()[0].copy()
        _, reward = world.step_one(prediction)
        error = prediction.astype(np.float64) - target
        # (x * x, not x ** 2: numpy's scalar power is not always the correctly rounded square)
        assert reward == -(error[0] * error[0] + error[1] * error[1] + error[2] * error[2]) / 3
        assert np.array_equal(world.last_target[0], target)


def test_oracle_error_is_the_noise_level():
    noise = 0.5
    world = PredictionStream(num_envs=4, noise=noise)
    world.reset(np.arange(4))
    rewards, residuals = [], []
    for _ in range(10_000):
        mean = world.oracle_action()
        assert np.array_equal(mean, world.target_mean())
        residual = world.target() - mean
        _, reward = world.step(mean)
        np.testing.assert_allclose(reward, -np.mean(residual**2, axis=1), rtol=1e-9, atol=1e-15)
        rewards.append(reward)
        residuals.append(residual)
    residuals = np.array(residuals)
    assert np.abs(residuals).max() <= NOISE_SUPPORT * noise + 1e-9
    assert abs(residuals.std() - noise) < 0.02 * noise and abs(residuals.mean()) < 0.02 * noise
    assert abs(-np.mean(rewards) - noise**2) < 0.03 * noise**2


def test_noise_free_world_makes_the_oracle_exact_and_the_fallback_much_worse():
    oracle, fallback = PredictionStream(num_envs=4, noise=0.0), PredictionStream(num_envs=4, noise=0.0)
    oracle.reset(np.arange(4))
    fallback.reset(np.arange(4))
    oracle_total, fallback_total = np.zeros(4), np.zeros(4)
    for _ in range(5000):
        oracle_total += oracle.step(oracle.oracle_action())[1]
        fallback_total += fallback.step(fallback.fallback_action())[1]
    assert (oracle_total == 0).all()
    assert (fallback_total / 5000 < -0.5).all(), fallback_total / 5000


def test_switches_really_change_the_function():
    world = PredictionStream(num_envs=8, **{**FROZEN, "cycle_amplitude": 0.0, "switch_rate": 1 / 300})
    observations = world.reset(np.arange(8))
    probe = probe_inputs(world)
    previous = world.evaluate(at_phase(world, probe, observations))
    switches = 0
    for _ in range(3000):
        observations, _ = world.step(world.fallback_action())
        now = world.evaluate(at_phase(world, probe, observations))
        changed = world.engine.changed()
        for i in range(8):
            kinds = {c.process for c in world.engine.change_points(i)}
            assert kinds <= {"switch"}
        assert np.array_equal(now[~changed], previous[~changed]), "the function moved without a change point"
        assert (np.abs(now[changed] - previous[changed]).max(axis=1) > 1e-3).all(), "a switch changed nothing"
        switches += int(changed.sum())
        previous = now
    assert switches > 20


def test_a_flip_negates_how_the_network_sees_one_input():
    world = PredictionStream(num_envs=8, **{**FROZEN, "cycle_amplitude": 0.0, "flip_rate": 1 / 60})
    observations = world.reset(np.arange(8))
    n = world.config.num_inputs
    probe = probe_inputs(world, 1)
    negated = [probe * np.where(np.arange(n) == i, -1, 1).astype(np.float32) for i in range(n)]
    signs = world.hidden()["input_signs"].copy()
    assert (signs == 1).all()
    previous = world.evaluate(at_phase(world, probe, observations))
    before = [world.evaluate(at_phase(world, x, observations)) for x in negated]
    flips = 0
    for _ in range(800):
        observations, _ = world.step(world.fallback_action())
        now = world.evaluate(at_phase(world, probe, observations))
        new_signs = world.hidden()["input_signs"]
        changed = world.engine.changed()
        for j in np.flatnonzero(changed):
            assert [c.process for c in world.engine.change_points(j)] == ["flip"]
            (i,) = np.flatnonzero(new_signs[j] != signs[j])
            assert new_signs[j, i] == -signs[j, i]
            # The new function at x is the old one at x with input i negated.
            assert np.array_equal(now[j], before[i][j])
            assert np.abs(now[j] - previous[j]).max() > 1e-6
            flips += 1
        assert np.array_equal(new_signs[~changed], signs[~changed])
        assert np.array_equal(now[~changed], previous[~changed])
        signs, previous = new_signs.copy(), now
        before = [world.evaluate(at_phase(world, x, observations)) for x in negated]
    assert flips > 50


def test_the_cyclic_part_recurs():
    period = 40
    world = PredictionStream(num_envs=2, **FROZEN, cycle_period=period, cycle_amplitude=2.0)
    observations = world.reset([0, 1])
    probe = probe_inputs(world, 2)
    n = world.config.num_inputs
    phases, values = [], []
    for _ in range(3 * period):
        phases.append(observations[:, n : n + 2].copy())
        values.append(world.evaluate(at_phase(world, probe, observations)))
        observations, _ = world.step(world.fallback_action())
    for t in range(period):
        assert np.array_equal(phases[t], phases[t + period]) and np.array_equal(phases[t], phases[t + 2 * period])
        assert np.array_equal(values[t], values[t + period]) and np.array_equal(values[t], values[t + 2 * period])
    # The phase features are a point on the unit circle that turns once per period.
    angles = np.array([math.atan2(p[0, 1], p[0, 0]) for p in phases[:period]])
    np.testing.assert_allclose(np.unwrap(angles), 2 * np.pi * np.arange(period) / period, atol=1e-6)
    # ... and the target really depends on it.
    assert not np.allclose(values[0], values[period // 2])


def test_seasons_recur_and_the_function_recurs_with_them():
    world = PredictionStream(num_envs=1, **{**FROZEN, "num_seasons": 3}, season_period=50, cycle_period=25)
    observations = world.reset([4])
    probe = probe_inputs(world, 3)
    seen = []
    for _ in range(400):
        seen.append(world.evaluate(at_phase(world, probe, observations))[0])
        observations, _ = world.step(world.fallback_action())
    assert np.array_equal(seen[10], seen[160]) and np.array_equal(seen[60], seen[210])
    assert not np.array_equal(seen[10], seen[60])


def test_drift_moves_the_function_slowly_without_change_points():
    world = PredictionStream(num_envs=2, **{**FROZEN, "drift": 0.01}, cycle_amplitude=0.0)
    observations = world.reset([0, 1])
    probe = probe_inputs(world, 4)
    start = world.evaluate(at_phase(world, probe, observations))
    previous = start
    for _ in range(2000):
        observations, _ = world.step(world.fallback_action())
        assert not world.engine.changed().any()
        now = world.evaluate(at_phase(world, probe, observations))
        assert np.abs(now - previous).max() < 0.05
        previous = now
    assert np.abs(previous - start).max() > 0.05


@pytest.mark.parametrize("config", [{}, {"amplitude": 5.0, "noise": 1.0, "cycle_amplitude": 5.0, "drift": 1.0}])
def test_bounds_hold(config):
    world = PredictionStream(num_envs=16, **config)
    observations = world.reset(np.arange(16))
    amplitude, noise = world.config.amplitude, world.config.noise
    assert amplitude + NOISE_SUPPORT * noise < BOUND
    rng = np.random.default_rng(0)
    for _ in range(2000):
        assert all(o in world.observation_space for o in observations)
        n = world.config.num_inputs + 2
        assert observations.dtype == np.float32 and np.abs(observations[:, :n]).max() <= 1.0
        # The revealed previous target: within its own bound.
        assert np.abs(observations[:, n:]).max() <= amplitude + NOISE_SUPPORT * noise + 1e-6
        assert np.abs(world.target_mean()).max() < amplitude
        assert np.abs(world.target()).max() <= amplitude + NOISE_SUPPORT * noise
        predictions = rng.uniform(-BOUND, BOUND, (16, world.config.num_outputs)).astype(np.float32)
        observations, rewards = world.step(predictions)
        assert (rewards <= 0).all() and (rewards >= -((BOUND + amplitude + NOISE_SUPPORT * noise) ** 2)).all()
    assert np.abs(world.hidden()["output_weights"]).max() <= 3.0
    assert set(np.unique(world.hidden()["input_signs"])) <= {-1.0, 1.0}


def test_out_of_bounds_predictions_are_refused_not_clipped():
    world = PredictionStream(num_envs=1)
    world.reset([0])
    for bad in ([10.5, 0.0], [0.0, -11.0], [np.nan, 0.0], [0.0, np.inf], [0.0], [0.0, 0.0, 0.0]):
        with pytest.raises(ValueError, match=r"allowed range|shape"):
            world.step_one(np.array(bad, dtype=np.float32))
    assert world.t == 0
    world.step_one(np.array([10.0, -10.0], dtype=np.float32))  # the bounds themselves are fine
    assert world.t == 1


def test_stationary_world_holds_its_function():
    world = PredictionStream(num_envs=2, stationary=True)
    observations = world.reset([0, 1])
    probe = probe_inputs(world, 5)
    values = []
    for _ in range(3000):
        values.append(world.evaluate(at_phase(world, probe, observations)))
        observations, _ = world.step(world.fallback_action())
    period = world.config.cycle_period
    assert np.array_equal(values[100], values[100 + period]) and np.array_equal(values[7], values[7 + 5 * period])


def test_render():
    world = PredictionStream(num_envs=2)
    world.reset([0, 1])
    world.step(world.oracle_action())
    image = world.render_rgb(1)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
    text = world.render_ansi(0)
    assert "target mean" in text and "prediction" in text


def test_instances_do_not_depend_on_the_batch_when_everything_changes_often():
    """Blocks with and without flips take different code paths: the numbers must not notice."""
    config = {"flip_rate": 1 / 50, "switch_rate": 1 / 100, "drift": 0.05, "season_period": 37, "cycle_period": 11}
    alone, batch = PredictionStream(num_envs=1, **config), PredictionStream(num_envs=300, **config)
    assert alone.engine.block_length != batch.engine.block_length
    first = alone.reset([5])
    everyone = batch.reset(np.arange(5, 305))
    assert np.array_equal(first[0], everyone[0])
    predictions = np.random.default_rng(3).uniform(-BOUND, BOUND, (600, 2)).astype(np.float32)
    for prediction in predictions:
        one, reward = alone.step_one(prediction)
        many, rewards = batch.step(np.repeat(prediction[None], 300, axis=0))
        assert np.array_equal(one, many[0]) and reward == rewards[0]
        assert np.array_equal(alone.target_mean()[0], batch.target_mean()[0])


def test_the_stationary_world_holds_the_cycle_still():
    world = PredictionStream(num_envs=1, stationary=True, cycle_period=20)
    observations = world.reset([0])
    n = world.config.num_inputs
    first = observations[:, n : n + 2].copy()
    probe = probe_inputs(world, 1)
    value = world.evaluate(at_phase(world, probe, observations))
    for _ in range(60):
        observations, _ = world.step(world.fallback_action())
        assert np.array_equal(observations[:, n : n + 2], first)
        assert np.array_equal(world.evaluate(at_phase(world, probe, observations)), value)
