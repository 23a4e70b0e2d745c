"""Commons' own rules: the PettingZoo APIs, long-run determinism, the tragedy of the commons,
drifting regrowth, built-in learners that adapt, and exact checkpoints of the parallel env."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from gymnasium.utils.env_checker import data_equivalence
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pettingzoo.test import api_test, parallel_api_test, parallel_seed_test, seed_test

from ceaseless.worlds.commons import QUANTUM, REST, Commons, CommonsCore, CommonsParallelEnv, env, parallel_env
from tests.conftest import scaled


def heavy(world, patch: int) -> int:
    """The action that harvests ``patch`` at the heaviest effort."""
    return 1 + patch * world.config.num_efforts + world.config.num_efforts - 1


def light(world, patch: int) -> int:
    return 1 + patch * world.config.num_efforts


def random_joint_actions(env: CommonsParallelEnv, steps: int, seed: int) -> list[dict[str, int]]:
    rows = np.random.default_rng(seed).integers(0, env.core.num_actions, (steps, len(env.possible_agents)))
    return [dict(zip(env.possible_agents, row.tolist())) for row in rows]


def play(env: CommonsParallelEnv, seed: int, actions: list[dict[str, int]]) -> dict[str, list]:
    observations, infos = env.reset(seed=seed)
    trace = {"observations": [observations], "rewards": [], "changes": [], "hidden": []}
    for joint in actions:
        observations, rewards, terminations, truncations, infos = env.step(joint)
        assert not any(terminations.values()) and not any(truncations.values())
        assert env.agents == env.possible_agents
        trace["observations"].append(observations)
        trace["rewards"].append(rewards)
        info = infos[env.possible_agents[0]]
        trace["changes"].extend(info["change_points"])
        trace["hidden"].append(info["hidden"])
    return trace


# -- PettingZoo's own checks ----------------------------------------------------------------------
def test_pettingzoo_parallel_api_test():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # PettingZoo reports soft problems as warnings: allow none
        parallel_api_test(parallel_env(), num_cycles=1000)


def test_pettingzoo_api_test_of_the_aec_form():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        api_test(env(render_mode="ansi"), num_cycles=200)


def test_pettingzoo_seed_tests():
    # PettingZoo's parallel seed test stops after one step; the multi-step test is below.
    parallel_seed_test(parallel_env, num_cycles=100)
    seed_test(env, num_cycles=100)


def test_agents_never_leave_and_spaces_are_stable():
    world = parallel_env()
    observations, infos = world.reset(seed=0)
    assert world.agents == world.possible_agents == [f"forager_{i}" for i in range(4)]
    assert set(infos) == set(world.agents)
    for joint in random_joint_actions(world, 500, seed=1):
        observations, *_ = world.step(joint)
        for agent, observation in observations.items():
            assert observation in world.observation_space(agent)
    assert world.action_space("forager_0") is world.action_space("forager_0")
    assert world.action_space("forager_0") is not world.action_space("forager_1"), "each agent seeds its own"


# -- determinism --------------------------------------------------------------------------------------
def test_same_seed_same_stream_over_10000_parallel_steps_and_different_seeds_differ():
    steps = 10_000  # the first season ends at step 10,000
    actions = random_joint_actions(parallel_env(), steps, seed=3)
    first = play(parallel_env(), 11, actions)
    np.random.seed(5)  # disturbing the global generators must not matter
    np.random.random(100)
    second = play(parallel_env(), 11, actions)
    assert len(first["changes"]) > 0, "10,000 steps include a change of season"
    assert data_equivalence(first["observations"], second["observations"], exact=True)
    assert first["rewards"] == second["rewards"]
    assert first["changes"] == second["changes"]
    assert data_equivalence(first["hidden"], second["hidden"], exact=True)
    other = play(parallel_env(), 12, actions[:1000])
    assert other["rewards"] != first["rewards"][:1000]


def test_unseeded_reset_after_seeded_reset_is_deterministic():
    a, b = parallel_env(), parallel_env()
    a.reset(seed=4)
    b.reset(seed=4)
    first, _ = a.reset()
    second, _ = b.reset()
    assert data_equivalence(first, second, exact=True)


def test_parallel_env_is_a_batch_of_one_of_the_core_and_batch_size_does_not_matter():
    steps, seed, batch = 1500, 20, 100
    world = parallel_env()
    actions = random_joint_actions(world, steps, seed=6)
    single = play(world, seed, actions)
    core = CommonsCore(num_envs=batch)
    assert core.engine.block_length != world.core.engine.block_length
    observations = core.reset(seed + np.arange(batch))
    assert np.array_equal(observations[0], np.stack(list(single["observations"][0].values())))
    others = np.random.default_rng(7).integers(0, core.num_actions, (steps, batch, 4))
    for t, joint in enumerate(actions):
        others[t, 0] = list(joint.values())
        observations, rewards = core.step(others[t])
        assert np.array_equal(observations[0], np.stack(list(single["observations"][t + 1].values())))
        assert rewards[0].tolist() == list(single["rewards"][t].values())


def test_core_fast_path_equals_batched_step():
    fast, slow = CommonsCore(num_envs=1, num_agents=6, num_patches=3), CommonsCore(num_envs=1, num_agents=6,
                                                                                      num_patches=3)
    fast.reset([8])
    slow.reset([8])
    for row in np.random.default_rng(9).integers(0, fast.num_actions, (3000, 6)):
        obs_fast, rewards_fast = fast.step_one(row.tolist())
        obs_slow, rewards_slow = slow.step(row[None])
        assert np.array_equal(obs_fast, obs_slow[0]) and rewards_fast == rewards_slow[0].tolist()
    for key, value in fast.get_state().items():
        assert np.array_equal(value, slow.get_state()[key]), key


def test_numpy_integer_actions_give_the_same_stream():
    actions = random_joint_actions(parallel_env(), 300, seed=2)
    as_numpy = [{agent: np.int64(a) for agent, a in joint.items()} for joint in actions]
    assert play(parallel_env(), 1, actions)["rewards"] == play(parallel_env(), 1, as_numpy)["rewards"]


# -- checkpoints --------------------------------------------------------------------------------------
def test_parallel_env_checkpoint_round_trip(tmp_path):
    world = parallel_env()
    actions = random_joint_actions(world, 3000, seed=4)
    world.reset(seed=17)
    for joint in actions[:1700]:
        world.step(joint)
    path = tmp_path / "commons.npz"
    np.savez(path, **world.get_state())
    expected_observations = world.observations()
    after = [world.step(joint)[:2] for joint in actions[1700:]]
    after_reset, _ = world.reset()
    restored = parallel_env()
    restored.reset(seed=999)
    with np.load(path) as saved:
        restored.set_state(dict(saved))
    assert data_equivalence(restored.observations(), expected_observations, exact=True)
    again = [restored.step(joint)[:2] for joint in actions[1700:]]
    assert data_equivalence(after, again, exact=True)
    again_reset, _ = restored.reset()  # the seed generator was restored too
    assert data_equivalence(after_reset, again_reset, exact=True)
    with pytest.raises(ValueError, match=r"meta\.config"):
        parallel_env(num_patches=3).set_state(world.get_state())


def test_view_checkpoint_includes_the_learners():
    world = Commons(num_envs=2)
    world.reset([1, 2])
    for _ in range(500):
        world.step(world.oracle_action())
    state = world.get_state()
    assert "world.q" in state
    copy = Commons(num_envs=2)
    copy.reset([5, 6])
    copy.set_state(state)
    for _ in range(500):
        action = world.oracle_action()
        assert np.array_equal(action, copy.oracle_action())
        assert np.array_equal(world.step(action)[1], copy.step(action)[1])
    assert np.array_equal(world.q, copy.q)


# -- the world's rules --------------------------------------------------------------------------------
def test_efforts_are_exact_multiples_of_the_quantum_and_grow_threefold():
    world = CommonsCore(max_effort=0.3)
    assert np.all(np.mod(world.efforts / QUANTUM, 1) == 0)
    assert np.allclose(world.efforts, [0.1 / 3, 0.1, 0.3], rtol=1e-4)
    assert world.num_actions == 1 + 4 * 3


def test_reward_is_value_of_the_stock_taken_minus_the_effort_cost():
    core = CommonsCore(num_envs=1, weather=0.0)
    core.reset([3])
    stock, value = core.stock[0].copy(), core.value()[0].copy()
    actions = [heavy(core, 0), light(core, 0), heavy(core, 1), REST]
    _, rewards = core.step(np.array([actions]))
    f_heavy, f_light = core.efforts[-1], core.efforts[0]
    share = stock[0] * value[0] / max(1.0, f_heavy + f_light)
    cost = core.config.effort_cost / f_heavy
    assert rewards[0, 0] == pytest.approx(f_heavy * share - cost * f_heavy**2)
    assert rewards[0, 1] == pytest.approx(f_light * share - cost * f_light**2)
    assert rewards[0, 2] == pytest.approx(f_heavy * stock[1] * value[1] - cost * f_heavy**2)
    assert rewards[0, 3] == 0.0


def test_crowded_patch_is_shared_not_overdrawn():
    core = CommonsCore(num_envs=1, num_agents=8, max_effort=1.0, num_efforts=1, effort_cost=0.0)
    core.reset([0])
    stock, value = core.stock[0, 0], core.value()[0, 0]
    _, rewards = core.step(np.full((1, 8), heavy(core, 0)))
    assert rewards[0] == pytest.approx(np.full(8, stock * value / 8))
    assert core.stock[0, 0] == core.config.immigration  # all of it was taken; only immigration regrows


def test_over_harvest_depletes_the_stock_for_everyone():
    seeds = np.arange(4)
    greedy, restrained = CommonsCore(num_envs=4), CommonsCore(num_envs=4)
    greedy.reset(seeds)
    restrained.reset(seeds)
    hammer = np.array([[REST, heavy(greedy, 0), heavy(greedy, 0), heavy(greedy, 0)]] * 4)
    for _ in range(300):
        greedy.step(hammer)
        restrained.step(restrained.fallback_action())
    assert (greedy.stock[:, 0] < 0.05).all() and (restrained.stock[:, 0] > 0.3).all()
    assert (greedy.stock[:, 1:] == restrained.stock[:, 1:]).all(), "the other patches are untouched"
    # Everyone now finds patch 0 empty, including agent 0, who never harvested it.
    probe = np.array([[light(greedy, 0), REST, REST, REST]] * 4)
    _, depleted = greedy.step(probe)
    _, healthy = restrained.step(probe)
    assert (depleted[:, 0] < 0.1 * healthy[:, 0]).all()
    # The collapse lasts: left alone, the patch needs long to recover.
    for _ in range(20):
        greedy.step(greedy.fallback_action())
    assert (greedy.stock[:, 0] < 0.2).all()


def test_regrowth_drifts_and_jumps_and_stationary_freezes_it():
    world = CommonsCore(num_envs=4, blight_rate=1 / 1000)
    world.reset(np.arange(4))
    rates = [world.hidden()["rate"].copy()]
    jumps = 0
    for _ in range(10):
        for _ in range(1000):
            world.step(world.fallback_action())
            jumps += sum(cp.process == "blight" for i in range(4) for cp in world.engine.change_points(i))
        rates.append(world.hidden()["rate"].copy())
    rates = np.array(rates)  # (11, B, P)
    assert (np.abs(rates[1:] - rates[:-1]).max(axis=(0, 2)) > 0.01).all(), "every instance's regrowth moves"
    assert jumps > 0, "blights are change points"
    drift_only = CommonsCore(num_envs=2, blight_rate=0.0)
    drift_only.reset([0, 1])
    previous, steps = drift_only.hidden()["rate"].copy(), []
    for _ in range(5000):
        drift_only.step(drift_only.fallback_action())
        steps.append(np.abs(drift_only.hidden()["rate"] - previous).max())
        previous = drift_only.hidden()["rate"].copy()
    assert 0 < max(steps) < 0.01, "without blights the regrowth rate moves gradually"
    frozen = CommonsCore(num_envs=2, stationary=True)
    frozen.reset([0, 1])
    start = frozen.hidden()["rate"].copy()
    for _ in range(5000):
        frozen.step(frozen.fallback_action())
    assert np.array_equal(frozen.hidden()["rate"], start)


def test_built_in_learners_adapt_when_the_world_changes():
    """Learners that settled on a patch leave it once it is blighted; in an undisturbed copy of
    the same world far fewer leave."""
    seeds = np.arange(8)
    world = Commons(num_envs=8)
    world.reset(seeds)
    for _ in range(3000):
        world.step(world.fallback_action())
    greedy_patch = world.action_patch[np.argmax(world.q, axis=2)]  # (B, learners)
    favourite = np.array([np.bincount(row[row >= 0], minlength=4).argmax() for row in greedy_patch])
    undisturbed = Commons(num_envs=8)
    undisturbed.reset(seeds)
    undisturbed.set_state(world.get_state())
    for _ in range(300):
        world.stock[np.arange(8), favourite] = 0.0  # a blight wipes out the favourite patch
        world.step(world.fallback_action())
        undisturbed.step(undisturbed.fallback_action())

    def on_favourite(w):
        return (w.action_patch[np.argmax(w.q, axis=2)] == favourite[:, None]).mean()

    assert (greedy_patch == favourite[:, None]).mean() > 0.4
    assert on_favourite(world) < 0.05
    assert on_favourite(undisturbed) > on_favourite(world) + 0.2


def test_learners_keep_learning_unless_stationary():
    moving, frozen = Commons(num_envs=2), Commons(num_envs=2, stationary=True)
    for world in (moving, frozen):
        world.reset([0, 1])
    q_moving, q_frozen = moving.q.copy(), frozen.q.copy()
    for _ in range(500):
        moving.step(moving.fallback_action())
        frozen.step(frozen.fallback_action())
    assert not np.array_equal(moving.q, q_moving)
    assert np.array_equal(frozen.q, q_frozen)


def test_oracle_beats_random_and_fallback():
    seeds = [0, 1, 2, 3]
    steps = scaled(30_000, 20_000)  # the long-run economics: stocks drawn down from their full start
    totals = {}
    for name in ("oracle", "random", "fallback"):
        world = Commons(num_envs=len(seeds))
        world.reset(seeds)
        rng = np.random.default_rng(0)
        total = np.zeros(len(seeds))
        for _ in range(steps):
            if name == "oracle":
                action = world.oracle_action()
            elif name == "random":
                action = rng.integers(0, world.num_actions, len(seeds))
            else:
                action = world.fallback_action()
            total += world.step(action)[1]
        totals[name] = total / steps
    assert (totals["oracle"] > totals["fallback"]).all() and (totals["oracle"] > totals["random"]).all(), totals
    assert (totals["random"] < 0).all(), "harvesting blindly costs more than it yields"


# -- errors ----------------------------------------------------------------------------------------------
def test_invalid_actions_raise_value_error_naming_value_and_range():
    world = parallel_env()
    world.reset(seed=0)
    good = dict.fromkeys(world.possible_agents, 0)
    for bad in (13, -1, 1.5, np.int64(99)):
        with pytest.raises(ValueError, match="allowed"):
            world.step({**good, "forager_2": bad})
    with pytest.raises(ValueError, match="forager_3"):
        world.step({agent: 0 for agent in world.possible_agents[:3]})
    with pytest.raises(ValueError, match="unknown agents"):
        world.step({**good, "forager_9": 0})
    core = CommonsCore(num_envs=2)
    core.reset([0, 1])
    with pytest.raises(ValueError, match=r"shape \(2, 4\)"):
        core.step(np.zeros(2, dtype=int))
    with pytest.raises(ValueError, match=r"agent 3\) is outside the allowed range \[0, 12\]"):
        core.step(np.array([[0, 0, 0, 0], [0, 0, 0, 13]]))


def test_invalid_configs_and_seeds():
    with pytest.raises(ValueError, match="num_agents=1"):
        parallel_env(num_agents=1)
    with pytest.raises(ValueError, match=r"growth_low=0\.3"):
        parallel_env(growth_low=0.3, growth_high=0.2)
    with pytest.raises(ValueError, match="unknown config"):
        parallel_env(learner_epsilon=0.2)  # learners exist only in the single-agent view
    with pytest.raises(ValueError, match="seed"):
        parallel_env().reset(seed=-1)
    with pytest.raises(RuntimeError, match="reset"):
        parallel_env().step({})


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(num_agents=st.integers(2, 16), num_patches=st.integers(1, 16), num_efforts=st.integers(1, 8),
       max_effort=st.floats(0.01, 1.0), weather=st.floats(0.0, 0.25), seed=st.integers(0, 2**63 - 2))
def test_random_configs_stay_in_space(num_agents, num_patches, num_efforts, max_effort, weather, seed):
    world = parallel_env(num_agents=num_agents, num_patches=num_patches, num_efforts=num_efforts,
                         max_effort=max_effort, weather=weather)
    observations, _ = world.reset(seed=seed)
    for joint in random_joint_actions(world, 200, seed=seed % 1000):
        for agent, observation in observations.items():
            assert observation in world.observation_space(agent)
        observations, rewards, *_ = world.step(joint)
        assert all(np.isfinite(r) for r in rewards.values())


def test_render_modes():
    frame = parallel_env(render_mode="rgb_array")
    frame.reset(seed=0)
    image = frame.render()
    assert image.dtype == np.uint8 and image.ndim == 3
    text = parallel_env(render_mode="ansi")
    text.reset(seed=0)
    text.step(dict.fromkeys(text.possible_agents, 3))
    assert "patch" in text.render()
    with pytest.raises(ValueError, match="render_mode"):
        parallel_env(render_mode="human")
