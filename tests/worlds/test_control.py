"""DriftingControl's own rules: the documented physics, a motor whose sign flips, an oracle that
tracks, refused actions, bounded observations and parameters that really move."""

from __future__ import annotations

import numpy as np
import pytest

from ceaseless.worlds.control import FRICTION, GAIN, GRAVITY, LENGTH, MASS, WANDER, DriftingControl, sincos, sincos1


def _wrap(angle):
    return np.mod(angle + np.pi, 2 * np.pi) - np.pi


def test_sincos_is_accurate_and_the_same_in_numpy_and_python():
    x = np.concatenate([np.random.default_rng(0).uniform(-np.pi, np.pi, 20_993),
                        [0.0, -0.0, np.pi, -np.pi, np.pi / 2, -np.pi / 2, 1e-300]])
    s, c = sincos(x)
    assert np.abs(s - np.sin(x)).max() < 1e-15 and np.abs(c - np.cos(x)).max() < 1e-15
    assert np.abs(s).max() <= 1.0 and np.abs(c).max() <= 1.0
    for value, sine, cosine in zip(x.tolist(), s, c):
        assert sincos1(value) == (sine, cosine)
    s2, c2 = sincos(x.reshape(-1, 7))  # any shape
    assert np.array_equal(s2.ravel(), s) and np.array_equal(c2.ravel(), c)


def test_a_step_follows_the_documented_equations_and_reward():
    world = DriftingControl(num_envs=3, flip_rate=0.01, friction_rate=0.01)
    world.reset([0, 1, 2])
    c = world.config
    actions = np.random.default_rng(1).uniform(-1, 1, (3000, 3, 1)).astype(np.float32)
    for action in actions:
        h = {name: np.array(value) for name, value in world.hidden().items()}
        h["angle"], h["velocity"] = world.angle.copy(), world.velocity.copy()
        a = action[:, 0].astype(np.float64)
        inertia = h["mass"] * h["length"] ** 2
        torque = h["sign"] * h["gain"] * c.max_torque * a
        accel = torque / inertia - h["gravity"] / h["length"] * np.sin(h["angle"])
        velocity = (h["velocity"] + c.dt * accel) / (1 + c.dt * h["friction"] / inertia)
        velocity = np.clip(velocity, -c.max_speed, c.max_speed)
        angle = _wrap(h["angle"] + c.dt * velocity)
        distance2 = (np.cos(angle) - np.cos(h["target"])) ** 2 + (np.sin(angle) - np.sin(h["target"])) ** 2
        reward = c.tolerance**2 / (c.tolerance**2 + distance2) - c.action_cost * a**2
        observation, rewards = world.step(action)
        assert np.allclose(world.velocity, velocity, rtol=0, atol=1e-9)
        assert np.allclose(np.cos(world.angle), np.cos(angle), rtol=0, atol=1e-9)
        assert np.allclose(rewards, reward, rtol=0, atol=1e-9)
        assert (world.angle >= -np.pi).all() and (world.angle < np.pi).all()
        target = world.target()
        expected = np.stack([np.cos(world.angle), np.sin(world.angle), world.velocity,
                             np.cos(target), np.sin(target)], axis=1)
        assert np.allclose(observation, expected, atol=1e-6)


def _velocity_after(world, action):
    """The velocity the next step would reach with this action (the world is left unchanged)."""
    state = world.get_state()
    world.step(action)
    velocity = world.velocity.copy()
    world.set_state(state)
    return velocity


def test_the_actuator_sign_flips_and_reverses_the_effect_of_an_action():
    world = DriftingControl(num_envs=4, flip_rate=0.01, max_speed=30.0)
    world.reset(np.arange(4))
    push, pull = np.full((4, 1), 0.5, np.float32), np.full((4, 1), -0.5, np.float32)
    seen = set()
    for _ in range(400):
        for _ in range(4):
            world.step(world.fallback_action())
        sign = np.array(world.hidden()["sign"])
        effect = _velocity_after(world, push) - _velocity_after(world, pull)
        assert np.array_equal(np.sign(effect), sign)
        seen.update(sign.tolist())
    assert seen == {1.0, -1.0}


def test_the_oracle_tracks_the_target_and_beats_fallback_and_random():
    seeds = np.arange(6)
    totals = {}
    for policy in ("oracle", "fallback", "random"):
        world = DriftingControl(num_envs=len(seeds))
        world.reset(seeds)
        rng = np.random.default_rng(0)
        total, near = np.zeros(len(seeds)), np.zeros(len(seeds))
        steps = 10_000
        for _ in range(steps):
            if policy == "oracle":
                action = world.oracle_action()
            elif policy == "fallback":
                action = world.fallback_action()
            else:
                action = rng.uniform(-1, 1, (len(seeds), 1)).astype(np.float32)
            total += world.step(action)[1]
            near += np.abs(_wrap(world.angle - world.hidden()["target"])) < 0.2
        totals[policy] = total / steps
        if policy == "oracle":
            assert (near / steps > 0.5).all(), near / steps
    assert (totals["oracle"] > totals["fallback"] + 0.3).all(), totals
    assert (totals["oracle"] > totals["random"] + 0.3).all(), totals
    assert totals["oracle"].mean() > 0.7, totals


def test_with_a_strong_motor_the_oracle_holds_any_set_point():
    world = DriftingControl(num_envs=8, max_torque=100.0, stationary=True)
    world.reset(np.arange(8))
    for _ in range(200):
        world.step(world.oracle_action())
    for _ in range(200):
        world.step(world.oracle_action())
        assert (np.abs(_wrap(world.angle - world.target())) < 0.02).all()
        assert (np.abs(world.velocity) < 0.05).all()


def test_a_controller_blind_to_the_sign_fails_after_a_flip():
    """The oracle with the sign assumed +1: it tracks until the motor flips, then drives away."""
    world = DriftingControl(num_envs=8, flip_rate=1 / 2000, max_torque=40.0)
    world.reset(np.arange(8))
    rewards = {1.0: [], -1.0: []}
    for _ in range(8000):
        sign = np.array(world.hidden()["sign"])
        _, reward = world.step((world.oracle_action() * sign[:, None]).astype(np.float32))
        for s in (1.0, -1.0):
            rewards[s].extend(reward[sign == s])
    assert len(rewards[-1.0]) > 1000 and len(rewards[1.0]) > 1000
    assert np.mean(rewards[1.0]) > 0.8 and np.mean(rewards[-1.0]) < 0.3, {k: np.mean(v) for k, v in rewards.items()}


@pytest.mark.parametrize("bad", [1.5, -1.01, np.nan, np.inf, 1e9])
def test_out_of_bound_actions_raise_value_error_naming_value_and_range(bad):
    for num_envs in (1, 3):
        world = DriftingControl(num_envs=num_envs)
        world.reset(np.arange(num_envs))
        actions = np.zeros((num_envs, 1), np.float32)
        actions[-1, 0] = bad
        with pytest.raises(ValueError, match=r"outside the allowed range \[-1.0, 1.0\]") as error:
            world.step(actions)
        assert repr(float(np.float32(bad))) in str(error.value)
        if num_envs == 1:
            with pytest.raises(ValueError, match=r"outside the allowed range \[-1.0, 1.0\]"):
                world.step_one(actions[0])
            with pytest.raises(ValueError, match="shape"):
                world.step_one(np.zeros(2, np.float32))
    world.step(np.ones((3, 1), np.float32))  # the bounds themselves are valid
    world.step(-np.ones((3, 1), np.float32))


@pytest.mark.parametrize("config", [
    {"max_torque": 100.0, "dt": 0.1, "max_speed": 30.0, "drift": 0.1, "flip_rate": 0.05, "friction_rate": 0.05},
    {"max_torque": 100.0, "dt": 0.01, "max_speed": 1.0, "tolerance": 0.01, "action_cost": 1.0},
    {"max_torque": 0.1, "dt": 0.1, "max_speed": 30.0, "season_period": 1, "target_drift": 1.0},
])
def test_observations_stay_in_bounds_under_extreme_parameters(config):
    world = DriftingControl(num_envs=8, **config)
    observations = world.reset(np.arange(8))
    rng = np.random.default_rng(0)
    for t in range(3000):
        assert all(observation in world.observation_space for observation in observations)
        bang = np.where(rng.random((8, 1)) < 0.5, -1.0, 1.0) if t % 400 < 200 else np.sign(world.velocity)[:, None]
        observations, rewards = world.step(bang.astype(np.float32))
        assert (rewards >= -world.config.action_cost).all() and (rewards <= 1.0).all()
    assert np.abs(world.velocity).max() <= world.config.max_speed


def test_the_physical_parameters_and_the_target_really_move():
    world = DriftingControl(num_envs=4)
    world.reset(np.arange(4))
    names = ("mass", "length", "gravity", "gain", "friction", "sign", "target")
    trace = {name: [] for name in names}
    for _ in range(20_000):
        hidden = world.hidden()
        for name in names:
            trace[name].append(np.array(hidden[name]))
        world.step(world.fallback_action())
    trace = {name: np.array(values) for name, values in trace.items()}
    for name, (low, high) in (("mass", MASS), ("length", LENGTH), ("gravity", GRAVITY), ("gain", GAIN)):
        assert (trace[name] >= low).all() and (trace[name] <= high).all()
        spread = trace[name].max(axis=0) - trace[name].min(axis=0)
        assert (spread > 0.1 * (high - low)).all(), (name, spread)
    assert (trace["friction"] >= FRICTION[0]).all() and (trace["friction"] <= FRICTION[1]).all()
    assert ((np.diff(trace["friction"], axis=0) != 0).sum(axis=0) >= 1).all(), "friction jumps"
    assert set(np.unique(trace["sign"])) == {-1.0, 1.0}, "the motor's sign flips"
    jumps = np.abs(_wrap(np.diff(trace["target"], axis=0)))
    assert (jumps.max(axis=0) > 0.3).all(), "the target jumps between set-points"


def test_set_points_recur_and_the_target_wanders_around_them():
    world = DriftingControl(num_envs=2, target_drift=0.0, season_period=100, num_setpoints=3)
    world.reset([0, 1])
    seen = []
    for _ in range(700):
        seen.append(world.target().copy())
        assert (world.engine.regime() == (world.t // 100) % 3).all()
        world.step(world.fallback_action())
    assert np.array_equal(seen[10], seen[310]) and np.array_equal(seen[150], seen[450])
    assert not np.array_equal(seen[10], seen[110])
    wandering = DriftingControl(num_envs=2, season_period=100_000)
    wandering.reset([0, 1])
    targets = []
    for _ in range(5000):
        targets.append(wandering.target().copy())
        wandering.step(wandering.fallback_action())
    spread = np.ptp(np.array(targets), axis=0)
    assert (spread > 0.02).all() and (spread <= 2 * WANDER).all()


def test_fallback_is_zero_and_hidden_has_the_physics():
    world = DriftingControl(num_envs=2)
    world.reset([0, 1])
    assert np.array_equal(world.fallback_action(), np.zeros((2, 1), np.float32))
    assert world.fallback_action() in world.action_space or world.fallback_action()[0] in world.action_space
    assert set(world.hidden()) == {"mass", "length", "gravity", "friction", "gain", "sign", "target"}
    assert np.array_equal(world.hidden()["target"], world.target())
    oracle = world.oracle_action()
    assert oracle.shape == (2, 1) and oracle.dtype == np.float32 and (np.abs(oracle) <= 1).all()
