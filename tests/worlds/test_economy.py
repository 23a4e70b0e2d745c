"""CraftingEconomy's own rules: crafting, gathering, selling, caps, new recipes, market cycles,
and a planner that profits where a frozen plan falls behind."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ceaseless.worlds.economy import (
    OUT,
    WAIT,
    YIELD,
    CraftingEconomy,
    analyse_recipes,
    decode_recipes,
    plan_actions,
)
from tests.conftest import scaled
from tests.worlds.helpers import config_strategy


def fresh(seed: int = 0, **config) -> CraftingEconomy:
    world = CraftingEconomy(num_envs=1, **config)
    world.reset([seed])
    return world


def test_observation_is_inventory_then_prices_and_recipes_stay_hidden():
    world = CraftingEconomy(num_envs=3)
    observations = world.reset([0, 1, 2])
    k = world.num_kinds
    assert observations.shape == (3, 2 * k)
    rng = np.random.default_rng(0)
    for _ in range(300):
        assert np.array_equal(observations[:, :k], world.inventory)
        assert np.array_equal(observations[:, k:], world.prices().astype(np.float32))
        assert all(observation in world.observation_space for observation in observations)
        observations, _ = world.step(rng.integers(0, world.action_space.n, 3))


@pytest.mark.parametrize("fast", [False, True])
def test_crafting_consumes_inputs_and_produces_the_output(fast):
    for seed in range(5):
        world = fresh(seed)
        for slot in range(world.config.recipe_slots):
            in1, q1, in2, q2, out, qo = world.recipes()[0, slot]
            world.inventory[0] = 3  # enough of every input, room for every output
            before = world.inventory[0].copy()
            if fast:
                observation, reward = world.step_one(world.craft_action(slot))
            else:
                observations, rewards = world.step(np.array([world.craft_action(slot)]))
                observation, reward = observations[0], rewards[0]
            expected = before.copy()
            expected[in1] -= q1
            expected[in2] -= q2
            expected[out] += qo
            assert np.array_equal(world.inventory[0], expected), (seed, slot)
            assert np.array_equal(observation[: world.num_kinds], expected)
            assert reward == 0.0, "crafting pays nothing until the goods are sold"


def test_an_impossible_craft_does_nothing_and_costs_nothing():
    for seed in range(5):
        world = fresh(seed)
        for slot in range(world.config.recipe_slots):
            recipe = world.recipes()[0, slot]
            # Missing inputs: an empty inventory.
            world.inventory[0] = 0
            _, reward = world.step_one(world.craft_action(slot))
            assert reward == 0.0 and (world.inventory[0] == 0).all()
            # Inputs held but no room for the output.
            world.inventory[0] = 3
            world.inventory[0, recipe[OUT]] = world.config.capacity - recipe[YIELD] + 1
            before = world.inventory[0].copy()
            _, rewards = world.step(np.array([world.craft_action(slot)]))
            assert rewards[0] == 0.0 and np.array_equal(world.inventory[0], before)


def test_gathering_costs_one_gather_cost_per_unit_and_stops_at_capacity():
    world = fresh(1, capacity=5, gather_cost=0.25)
    rewards = [world.step_one(world.gather_action(1))[1] for _ in range(8)]
    assert rewards == [-0.25] * 5 + [0.0] * 3, "a gather at capacity does nothing and costs nothing"
    assert world.inventory[0].tolist() == [0, 5] + [0] * (world.num_kinds - 2)


def test_selling_pays_the_visible_price_times_the_units_up_to_the_limit():
    world = fresh(2, sell_limit=3)
    k = world.num_kinds
    for kind in (0, k - 1):
        world.inventory[0, kind] = 7
        price = world.prices()[0, kind]
        _, reward = world.step_one(world.sell_action(kind))
        assert reward == 3 * price and world.inventory[0, kind] == 4
        price = world.prices()[0, kind]
        _, rewards = world.step(np.array([world.sell_action(kind)]))
        assert rewards[0] == 3 * price
        assert world.inventory[0, kind] == 1
    world.inventory[0, 2] = 0
    assert world.step_one(world.sell_action(2))[1] == 0.0, "selling nothing earns nothing"


def test_inventory_caps_hold_and_rewards_stay_bounded_under_random_play():
    world = CraftingEconomy(num_envs=16, capacity=4, sell_limit=2)
    world.reset(np.arange(16))
    rng = np.random.default_rng(3)
    bound = world.config.sell_limit * world.price_high
    for _ in range(3000):
        actions = rng.integers(0, world.action_space.n, 16)
        observations, rewards = world.step(actions)
        assert (world.inventory >= 0).all() and (world.inventory <= 4).all()
        assert (rewards >= -world.config.gather_cost).all() and (rewards <= bound).all()
        assert all(observation in world.observation_space for observation in observations)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_configs_keep_caps_and_observations_in_space(data):
    config = data.draw(config_strategy(CraftingEconomy))
    seed = data.draw(st.integers(0, 2**40))
    world = CraftingEconomy(num_envs=4, **config)
    observations = world.reset(np.arange(seed, seed + 4))
    rng = np.random.default_rng(seed % 1000)
    for _ in range(200):
        assert all(observation in world.observation_space for observation in observations)
        actions = np.where(rng.random(4) < 0.5, world.oracle_action(), rng.integers(0, world.action_space.n, 4))
        observations, rewards = world.step(actions)
        assert (world.inventory >= 0).all() and (world.inventory <= world.config.capacity).all()
        assert np.isfinite(rewards).all()


def test_recipes_are_well_formed_and_acyclic():
    draws = np.random.default_rng(0).random((20_000, 6))
    draws[:50] = np.nextafter(1.0, 0.0)  # the largest draws stay in range
    for num_raw, num_products in [(1, 1), (1, 5), (3, 5), (8, 16)]:
        recipes = decode_recipes(draws, num_raw, num_products)
        in1, q1, in2, q2, out, qo = recipes.T
        assert ((out >= num_raw) & (out < num_raw + num_products)).all()
        assert ((in1 >= 0) & (in1 < out) & (in2 >= 0) & (in2 < out)).all(), "inputs are lower kinds"
        assert ((q1 >= 1) & (q1 <= 3) & (q2 >= 0) & (q2 <= 2) & (qo >= 1) & (qo <= 2)).all()
        assert (in1 != in2)[q2 > 0].all(), "two inputs are two different kinds"
        assert (q2 == 0)[out == 1].all()
        if num_products >= 5:
            assert len({tuple(r) for r in recipes.tolist()}) > 100, "a rich space of recipes"


def test_new_recipes_appear_with_content_never_seen_before():
    world = CraftingEconomy(num_envs=4, novelty_rate=0.01)
    world.reset(np.arange(4))
    slots = world.config.recipe_slots
    seen = [set(ids.tolist()) for ids in world.recipe_ids()]
    ids = world.recipe_ids().copy()
    recipes = world.recipes().copy()
    events = changed = 0
    for _ in range(3000):
        world.step(world.fallback_action())
        new_ids, new_recipes = world.recipe_ids(), world.recipes()
        for i in range(4):
            if np.array_equal(new_ids[i], ids[i]):
                assert np.array_equal(new_recipes[i], recipes[i]), "recipes change only at novelty events"
                continue
            slot = int(np.flatnonzero(new_ids[i] != ids[i])[0])
            assert (new_ids[i] != ids[i]).sum() == 1 and ids[i, slot] == ids[i].min(), "the oldest slot goes"
            assert new_ids[i, slot] == max(seen[i]) + 1 and new_ids[i, slot] not in seen[i]
            assert any(p.kind == "novelty" and p.process == "recipes" for p in world.engine.change_points(i))
            seen[i].add(int(new_ids[i, slot]))
            events += 1
            changed += not np.array_equal(new_recipes[i, slot], recipes[i, slot])
        ids, recipes = new_ids.copy(), new_recipes.copy()
    assert events >= 4 * 3000 * 0.01 / 2 and all(max(s) >= 2 * slots for s in seen)
    assert changed >= 0.9 * events, "a new recipe differs from the one it replaces"


def test_prices_cycle_through_recurring_seasons():
    world = CraftingEconomy(num_envs=1, drift=0.0, shock_rate=0.0, season_period=100, num_seasons=3)
    world.reset([0])
    seen, regimes = [], []
    for _ in range(700):
        seen.append(world.prices()[0].copy())
        regimes.append(world.engine.regime_of(0))
        world.step_one(WAIT)
    assert np.array_equal(seen[10], seen[310]) and np.array_equal(seen[150], seen[450])
    assert not np.array_equal(seen[10], seen[110]) and not np.array_equal(seen[110], seen[210])
    assert regimes[10] == regimes[310] != regimes[110]


def test_prices_crash_boom_and_drift():
    world = CraftingEconomy(num_envs=1, shock_rate=0.01, num_seasons=1)
    world.reset([4])
    start = world.prices()[0].copy()
    jumps = 0
    previous = start
    for _ in range(2000):
        world.step_one(WAIT)
        jumps += any(p.process == "market" for p in world.engine.change_points(0))
        now = world.prices()[0]
        assert (now >= 0).all() and (now <= world.price_high).all()
        previous = now.copy()
    assert jumps >= 5
    assert not np.allclose(previous, start)
    quiet = CraftingEconomy(num_envs=1, shock_rate=0.0, num_seasons=1, drift=0.02)
    quiet.reset([4])
    first = quiet.prices()[0].copy()
    for _ in range(500):
        quiet.step_one(WAIT)
    assert not np.array_equal(quiet.prices()[0], first), "prices drift even without shocks"


def test_the_fallback_waits_and_earns_nothing():
    world = CraftingEconomy(num_envs=3)
    world.reset([0, 1, 2])
    for _ in range(200):
        _, rewards = world.step(world.fallback_action())
        assert (rewards == 0.0).all() and (world.inventory == 0).all()


@pytest.mark.slow
def test_the_oracle_plan_makes_profit_and_beats_random_play():
    seeds = [0, 1, 2, 3, 4, 5]
    steps = scaled(30_000, 8_000)
    rich = {"num_products": 5, "recipe_slots": 6}  # a larger economy: long chains, dear products
    oracle, random = CraftingEconomy(num_envs=6, **rich), CraftingEconomy(num_envs=6, **rich)
    oracle.reset(seeds)
    random.reset(seeds)
    rng = np.random.default_rng(0)
    oracle_total, random_total = np.zeros(6), np.zeros(6)
    crafted = np.zeros(6, dtype=bool)
    for _ in range(steps):
        actions = oracle.oracle_action()
        crafted |= (actions > oracle.config.num_raw) & (actions < oracle.sell_action(0))
        oracle_total += oracle.step(actions)[1]
        random_total += random.step(rng.integers(0, random.action_space.n, 6))[1]
    assert (oracle_total / steps > 0.1).all(), oracle_total / steps
    assert (oracle_total > random_total + 0.05 * steps).all()
    assert crafted.all(), "the oracle's profit comes through crafting"


def test_plan_follows_a_chain_gather_craft_intermediate_craft_product_sell():
    # Hand-made recipes: slot 0 makes p0 (kind 2) from 2 r0 + 1 r1; slot 1 makes p1 (kind 3)
    # from 1 p0 + 1 r1. p1 is dear: the plan must gather, craft p0, craft p1 and sell p1.
    world = fresh(0, num_raw=2, num_products=2, recipe_slots=2, capacity=4)
    recipes = np.array([[[0, 2, 1, 1, 2, 1], [2, 1, 1, 1, 3, 2]]])
    prices = np.array([[0.01, 0.01, 0.02, 5.0]])
    inventory = np.zeros((1, 4), dtype=np.int64)
    actions = []
    for _ in range(13):
        action = int(plan_actions(recipes, prices, inventory, world.config)[0][0])
        actions.append(action)
        if 1 <= action <= 2:  # gather
            inventory[0, action - 1] += 1
        elif action in (3, 4):  # craft
            in1, q1, in2, q2, out, qo = recipes[0, action - 3]
            inventory[0, [in1, in2]] -= [q1, q2]
            inventory[0, out] += qo
        elif action >= 5:  # sell
            inventory[0, action - 5] = 0
    # Twice: gather r0 r0 r1, craft p0, gather r1, craft p1 (2 units); then p1 is full: sell it.
    assert actions == [1, 1, 2, 3, 2, 4] * 2 + [5 + 3]


@pytest.mark.slow
def test_new_recipes_become_the_best_opportunity_and_a_frozen_plan_falls_behind():
    """A planner that keeps the recipes of step 0 (a frozen policy's knowledge) earns less and
    less, while the oracle moves to recipes never seen before."""
    seeds = [0, 1, 2, 3]
    steps = scaled(60_000, 12_000)
    config = {"novelty_rate": 1 / 1500}
    oracle, frozen = CraftingEconomy(num_envs=4, **config), CraftingEconomy(num_envs=4, **config)
    oracle.reset(seeds)
    frozen.reset(seeds)
    first = frozen.recipes().copy()
    first_analysis = analyse_recipes(first, frozen.config)
    slots = oracle.config.recipe_slots
    novel_best = np.zeros(4, dtype=bool)
    oracle_late, frozen_late = np.zeros(4), np.zeros(4)
    for t in range(steps):
        actions, target, _ = oracle.plan()
        if t % 50 == 0:
            producer = analyse_recipes(oracle.recipes(), oracle.config)[2][np.arange(4), np.maximum(target, 0)]
            ids = oracle.recipe_ids()[np.arange(4), np.maximum(producer, 0)]
            novel_best |= (target >= oracle.config.num_raw) & (producer >= 0) & (ids >= slots)
        rewards = oracle.step(actions)[1]
        stale = plan_actions(first, frozen.prices(), frozen.inventory, frozen.config, first_analysis)[0]
        frozen_rewards = frozen.step(stale)[1]
        if t >= steps // 2:
            oracle_late += rewards
            frozen_late += frozen_rewards
    assert novel_best.all(), "recipes never seen before become the oracle's best opportunity"
    assert oracle_late.sum() > 2 * frozen_late.sum(), (oracle_late, frozen_late)


def test_render_shows_inventory_prices_and_recipes():
    world = fresh(0)
    world.inventory[0, 0] = 2
    text = world.render_ansi(0)
    assert "r0" in text and "slot 0" in text and "->" in text
    image = world.render_rgb(0)
    assert image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3
