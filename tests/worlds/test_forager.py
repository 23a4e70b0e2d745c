"""Forager's own rules: look-alikes, depletion, novelty, an unbounded map that forgets."""

from __future__ import annotations

import numpy as np
import pytest

from ceaseless.worlds.forager import CHUNK, DOWN, LEFT, MEMORY, RIGHT, STAY, UP, Forager


def test_observation_is_one_channel_per_colour_at_most_one_per_cell():
    world = Forager(num_envs=3)
    observations = world.reset([0, 1, 2])
    for _ in range(500):
        assert observations.max() <= 1 and (observations.sum(axis=-1) <= 1).all()
        observations, _ = world.step(np.random.default_rng(0).integers(0, 5, 3))


def test_first_item_types_come_in_look_alike_pairs_with_their_own_worth():
    world = Forager(num_envs=64)
    world.reset(np.arange(64))
    colour = world.hidden()["colour"]
    assert (colour[:, 0] == colour[:, 1]).all() and (colour[:, 2] == colour[:, 3]).all()
    assert (colour[:, 0] != colour[:, 2]).all()
    worth = world.worth()
    assert (np.sign(worth[:, 0]) != np.sign(worth[:, 1])).any(), "look-alikes can be worth opposite amounts"


def test_eating_pays_the_true_worth_of_the_hidden_type():
    world = Forager(num_envs=1, density=1.0)
    world.reset([5])
    for _ in range(200):
        row, col = world.position[0]
        r, c = (row + 1) % MEMORY, col % MEMORY  # the cell below
        code = int(world.cell_code[0, r, c])
        ripe = world.cell_ripe_at[0, r, c] <= world.t
        worth = world.worth()[0].copy()
        _, reward = world.step_one(DOWN)
        expected = worth[abs(code) - 1] if code != 0 and ripe else 0.0
        assert reward == expected


def test_harvesting_a_cell_again_and_again_slows_its_regrowth():
    world = Forager(num_envs=1, density=1.0, regrow_time=20, recovery_time=10_000)
    world.reset([1])
    world.step_one(DOWN)
    harvest_times = []
    for _ in range(3000):
        before = int(world.cell_harvests[0, world.position[0, 0] % MEMORY, world.position[0, 1] % MEMORY])
        world.step_one(UP)
        world.step_one(DOWN)
        after = int(world.cell_harvests[0, world.position[0, 0] % MEMORY, world.position[0, 1] % MEMORY])
        if after > before:
            harvest_times.append(world.t)
    gaps = np.diff(harvest_times)
    assert len(gaps) >= 4 and gaps[-1] > 2 * gaps[0], gaps


def test_a_rested_cell_recovers():
    world = Forager(num_envs=1, density=1.0, regrow_time=5, recovery_time=50)
    world.reset([2])
    world.step_one(DOWN)
    for _ in range(40):
        world.step_one(UP)
        world.step_one(DOWN)
    cell = (0, world.position[0, 0] % MEMORY, world.position[0, 1] % MEMORY)
    assert world.cell_harvests[cell] > 1
    for _ in range(500):
        world.step_one(UP)
    world.step_one(DOWN)
    # The first harvest after a long rest counts as the first again.
    assert world.cell_harvests[cell] in (0, 1)


def test_new_item_types_appear():
    world = Forager(num_envs=4, novelty_rate=0.01)
    world.reset(np.arange(4))
    content_before = world.engine.value("novelty", "content").copy()
    for _ in range(2000):
        world.step(world.fallback_action())
    content_after = world.engine.value("novelty", "content")
    assert (content_after.max(axis=1) > content_before.max(axis=1)).all()


def test_the_plane_is_unbounded_and_the_view_is_always_generated():
    world = Forager(num_envs=2)
    world.reset([0, 1])
    for action in [RIGHT] * 3000 + [UP] * 3000 + [LEFT] * 7000 + [DOWN] * 7000:
        world.step(np.array([action, action]))
        scene = np.stack([world._scene(i, world.radius) for i in range(2)])
        assert (scene != -2).all(), "every cell in view has been generated"
    assert np.array_equal(world.position[0], [4000, -4000])


def test_far_regions_are_forgotten_and_generated_anew():
    world = Forager(num_envs=1, density=0.5)
    world.reset([3])
    start_tag = world.chunk_tag[0, 0, 0]
    home = world.cell_code[0, :CHUNK, :CHUNK].copy()
    for _ in range(3 * MEMORY):
        world.step_one(RIGHT)
    assert world.chunk_tag[0, 0, 0] != start_tag, "the home chunk's slot now holds a far chunk"
    for _ in range(3 * MEMORY):
        world.step_one(LEFT)
    # Back home, the home chunk is generated anew: same place, new content.
    assert world.chunk_tag[0, 0, 0] == start_tag
    assert not np.array_equal(world.cell_code[0, :CHUNK, :CHUNK], home)
    assert (world._scene(0, world.radius) != -2).all()


def test_view_size_must_be_odd():
    with pytest.raises(ValueError, match="view_size=4"):
        Forager(view_size=4)


def test_staying_is_the_fallback():
    world = Forager(num_envs=2)
    assert (world.fallback_action() == STAY).all()
