"""ShiftingMaze's own rules: reachability, blocking and shortcut events, regeneration, respawn,
and an oracle that walks true shortest paths."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

from ceaseless.worlds.maze import DOWN, FAR, LEFT, RIGHT, STAY, UP, ShiftingMaze, carve, components, connect, lattice

STEPS = {UP: (-1, 0), RIGHT: (0, 1), DOWN: (1, 0), LEFT: (0, -1)}
# Fast change, so that a short run sees many events of every kind.
BUSY = dict(block_rate=0.01, shortcut_rate=0.01, regen_rate=0.002, goal_period=300)


def bfs(wall: np.ndarray, source) -> np.ndarray:
    """Plain breadth-first distances on one grid (an independent check of the world's own)."""
    dist = np.full(wall.shape, FAR, dtype=np.int64)
    dist[tuple(source)] = 0
    queue = deque([tuple(int(x) for x in source)])
    while queue:
        r, c = queue.popleft()
        for dr, dc in STEPS.values():
            nr, nc = r + dr, c + dc
            if not wall[nr, nc] and dist[nr, nc] == FAR:
                dist[nr, nc] = dist[r, c] + 1
                queue.append((nr, nc))
    return dist


def shortest_routes(wall: np.ndarray, start, goal) -> np.ndarray:
    """Cells on at least one shortest route from start to goal."""
    from_s, from_g = bfs(wall, start), bfs(wall, goal)
    return ~wall & (from_s + from_g == from_s[tuple(goal)])


def events_of(world: ShiftingMaze, i: int) -> set[str]:
    return {point.process for point in world.engine.change_points(i)}


def junctions_connected(world: ShiftingMaze) -> np.ndarray:
    h, v = lattice(world.wall)
    return (components(h, v) == 0).all(axis=(1, 2))


def test_every_goal_is_always_reachable_and_the_agent_never_in_a_wall():
    world = ShiftingMaze(num_envs=8, **BUSY)
    world.reset(np.arange(8))
    rows = np.arange(8)
    seen = set()
    for t in range(3000):
        world.step(np.random.default_rng(t).integers(0, 5, 8))
        seen |= {p.process for i in range(8) for p in world.engine.change_points(i)}
        assert junctions_connected(world).all(), "every junction, so every goal, stays reachable"
        assert not world.wall[rows, world.position[:, 0], world.position[:, 1]].any()
        assert not world.wall[rows, world.goal()[:, 0], world.goal()[:, 1]].any()
        assert (world.start[:, 0] == world.wall.shape[1] - 2).all(), "the start is on the bottom row"
        assert (world.goal()[:, 0] < world.start[:, 0]).all(), "goals are above it"
        if t % 100 == 0:
            for i in range(8):
                assert bfs(world.wall[i], world.start[i])[tuple(world.goal()[i])] == world.route_length()[i]
    assert seen == {"block", "shortcut", "maze", "goal"}


def test_blocking_closes_every_previous_shortest_route_and_lengthens_the_way():
    world = ShiftingMaze(num_envs=16, block_rate=0.01, shortcut_rate=0.01, regen_rate=0.0, num_goals=1)
    world.reset(np.arange(16))
    before_wall, before_length = world.wall.copy(), world.route_length().copy()
    longer = blocks = 0
    for _ in range(2000):
        world.step(world.fallback_action())
        for i in range(16):
            events = events_of(world, i)
            if not events & {"block", "shortcut"}:
                assert np.array_equal(world.wall[i], before_wall[i]), "walls move only at change points"
            if events != {"block"}:
                continue
            blocks += 1
            start, goal = world.start[i], world.goal()[i]
            # No previous shortest route survives: on the old route cells alone, the goal is cut off.
            old_routes = shortest_routes(before_wall[i], start, goal)
            assert bfs(~(old_routes & ~world.wall[i]), start)[tuple(goal)] == FAR
            assert junctions_connected(world)[i]
            longer += world.route_length()[i] > before_length[i]
        before_wall, before_length = world.wall.copy(), world.route_length().copy()
    assert blocks >= 100
    assert longer >= 0.9 * blocks, (longer, blocks)


def test_shortcut_opens_the_best_single_wall_and_never_lengthens_anything():
    world = ShiftingMaze(num_envs=12, block_rate=0.004, shortcut_rate=0.01, regen_rate=0.0, num_goals=1)
    world.reset(np.arange(12))
    before_wall, before_map = world.wall.copy(), world.distance_map().copy()
    shortened = shortcuts = 0
    for _ in range(1500):
        world.step(world.fallback_action())
        changed = [i for i in range(12) if events_of(world, i) == {"shortcut"}]
        for i in changed:
            shortcuts += 1
            start, goal = tuple(world.start[i]), tuple(world.goal()[i])
            old, new = before_map[i], world.distance_map()[i]
            assert (new <= old).all(), "a shortcut shortens ways, never lengthens one"
            opened = np.argwhere(before_wall[i] & ~world.wall[i])
            assert len(opened) <= 1 and not (world.wall[i] & ~before_wall[i]).any()
            # Brute force: the best any single wall between two junctions could do for the route.
            best = old[start]
            for r, c in np.argwhere(before_wall[i]):
                if r in (0, world.height - 1) or c in (0, world.width - 1) or (r % 2 == 0 and c % 2 == 0):
                    continue
                trial = before_wall[i].copy()
                trial[r, c] = False
                best = min(best, bfs(trial, goal)[start])
            assert new[start] == best
            shortened += best < old[start]
        before_wall, before_map = world.wall.copy(), world.distance_map().copy()
    assert shortcuts >= 50 and shortened >= shortcuts // 4, (shortened, shortcuts)


def test_regeneration_gives_a_maze_never_seen_before_and_a_fresh_start():
    world = ShiftingMaze(num_envs=4, block_rate=0.0, shortcut_rate=0.0, regen_rate=0.01)
    world.reset(np.arange(4))
    mazes = [{world.wall[i].tobytes()} for i in range(4)]
    regenerated = 0
    for _ in range(3000):
        world.step(np.full(4, RIGHT))
        for i in range(4):
            if "maze" in events_of(world, i):
                regenerated += 1
                assert world.wall[i].tobytes() not in mazes[i]
                assert np.array_equal(world.position[i], world.start[i]), "the agent starts the new maze"
                mazes[i].add(world.wall[i].tobytes())
                assert world.engine.value("maze", "content")[i, 0] == len(mazes[i]) - 1
    assert regenerated >= 40
    assert junctions_connected(world).all()


def test_fresh_mazes_are_random_spanning_trees_plus_loops():
    world = ShiftingMaze(num_envs=50, loops=0.0, rows=6, cols=7)
    world.reset(np.arange(50))
    h, v = lattice(world.wall)
    assert (h.sum(axis=(1, 2)) + v.sum(axis=(1, 2)) == 6 * 7 - 1).all(), "a tree: junctions - 1 edges"
    assert junctions_connected(world).all()
    assert len({w.tobytes() for w in world.wall}) == 50
    looped = ShiftingMaze(num_envs=50, loops=0.5, rows=6, cols=7)
    looped.reset(np.arange(50))
    h2, v2 = lattice(looped.wall)
    assert (h2.sum() + v2.sum()) > (h.sum() + v.sum()) * 1.3
    # Same seeds: the loops only add to the same tree.
    assert (h2 >= h).all() and (v2 >= v).all()


def test_connect_repairs_any_cut_and_builds_trees():
    rng = np.random.default_rng(0)
    h = rng.random((30, 4, 5)) < 0.3
    v = rng.random((30, 3, 6)) < 0.3
    wh = rng.integers(0, 2**62, h.shape).astype(np.uint64)
    wv = rng.integers(0, 2**62, v.shape).astype(np.uint64)
    h2, v2 = connect(h, v, wh, wv)
    assert (components(h2, v2) == 0).all()
    assert (h2 >= h).all() and (v2 >= v).all()
    assert carve(h2, v2).shape == (30, 9, 13)


def test_reaching_the_goal_pays_one_and_respawns_on_the_start():
    world = ShiftingMaze(num_envs=6, **BUSY)
    world.reset(np.arange(6))
    rewards_seen = 0
    for _ in range(3000):
        goal, position = world.goal().copy(), world.position.copy()
        actions = world.oracle_action()
        target = position + np.array([(0, 0), *STEPS.values()])[actions]
        observation, rewards = world.step(actions)
        assert set(np.unique(rewards)) <= {0.0, 1.0}
        hit = (target == goal).all(axis=1) | (position == goal).all(axis=1) & (actions == STAY)
        assert np.array_equal(rewards == 1.0, hit)
        assert np.array_equal(world.position[hit], world.start[hit]), "back to the start at once"
        assert np.array_equal(observation[:, :2], world.position)
        assert np.array_equal(observation[:, 2:], world.goal())
        rewards_seen += int(rewards.sum())
    assert rewards_seen > 300


def test_a_wall_closing_on_the_agent_sends_it_back_to_the_start():
    world = ShiftingMaze(num_envs=32, block_rate=0.05, shortcut_rate=0.05, regen_rate=0.0)
    world.reset(np.arange(32))
    rows = np.arange(32)
    displaced = 0
    for _ in range(1000):
        actions = world.oracle_action()
        expected = world.position + np.array([(0, 0), *STEPS.values()])[actions]
        reached = (expected == world.goal()).all(axis=1)
        expected[reached] = world.start[reached]
        world.step(actions)
        walled = world.wall[rows, expected[:, 0], expected[:, 1]]
        assert np.array_equal(world.position[walled], world.start[walled])
        assert np.array_equal(world.position[~walled], expected[~walled])
        displaced += int(walled.sum())
    assert displaced > 0


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_oracle_walks_a_shortest_path(seed):
    world = ShiftingMaze(num_envs=1, stationary=True, rows=7, cols=9)
    world.reset([seed])
    distance = bfs(world.wall[0], world.goal()[0])
    open_cells = ~world.wall[0]
    assert np.array_equal(np.where(open_cells, world.distance_map()[0], FAR), distance)
    steps, reward = 0, 0.0
    while reward == 0.0:
        _, reward = world.step_one(int(world.oracle_action()[0]))
        steps += 1
    assert steps == distance[tuple(world.start[0])] == world.route_length()[0]
    # From every open cell, the oracle's move goes one step closer.
    for r, c in np.argwhere(open_cells & (distance > 0)):
        world.position[0] = (r, c)
        dr, dc = STEPS[int(world.oracle_action()[0])]
        assert distance[r + dr, c + dc] == distance[r, c] - 1


def test_oracle_distances_are_cached_and_recomputed_only_where_the_maze_changed():
    world = ShiftingMaze(num_envs=32, **BUSY)
    world.reset(np.arange(32))
    world.oracle_action()
    for _ in range(400):
        assert world._fresh.all()
        world.step(world.oracle_action())
        changed = world.engine.changed()
        assert not world._fresh[changed].any() and world._fresh[~changed].all()
        maps = world.distance_map()
        for i in np.flatnonzero(changed)[:2]:
            expected = bfs(world.wall[i], world.goal()[i])
            assert np.array_equal(np.where(world.wall[i], FAR, maps[i]), expected)


def test_oracle_far_above_fallback_and_random():
    seeds = np.arange(8)
    totals = {}
    for name in ("oracle", "fallback", "random"):
        world = ShiftingMaze(num_envs=len(seeds))
        world.reset(seeds)
        total = np.zeros(len(seeds))
        rng = np.random.default_rng(0)
        for _ in range(10_000):
            if name == "oracle":
                actions = world.oracle_action()
            elif name == "fallback":
                actions = world.fallback_action()
            else:
                actions = rng.integers(0, 5, len(seeds))
            total += world.step(actions)[1]
        totals[name] = total / 10_000
    assert (totals["fallback"] == 0).all()
    assert (totals["oracle"] > 0.05).all()
    assert (totals["oracle"] > 5 * totals["random"]).all(), totals


def test_stationary_maze_never_changes():
    world = ShiftingMaze(num_envs=4, stationary=True, **BUSY)
    world.reset(np.arange(4))
    wall, goal, start = world.wall.copy(), world.goal().copy(), world.start.copy()
    for t in range(2000):
        world.step(np.random.default_rng(t).integers(0, 5, 4))
    assert np.array_equal(world.wall, wall) and np.array_equal(world.goal(), goal)
    assert np.array_equal(world.start, start)


def test_observations_are_positions_and_goal_inside_the_space():
    world = ShiftingMaze(num_envs=3, rows=2, cols=2, **BUSY)
    observations = world.reset([0, 1, 2])
    for t in range(1000):
        assert all(o in world.observation_space for o in observations)
        observations, _ = world.step(np.random.default_rng(t).integers(0, 5, 3))
    assert observations.dtype == np.int64 and observations.shape == (3, 4)


def test_staying_is_the_fallback_and_bad_sizes_are_refused():
    world = ShiftingMaze(num_envs=2)
    assert (world.fallback_action() == STAY).all()
    with pytest.raises(ValueError, match="rows=1"):
        ShiftingMaze(rows=1)
    with pytest.raises(ValueError, match="cols=16"):
        ShiftingMaze(cols=16)


def test_checkpoints_restore_planned_changes_exactly():
    world = ShiftingMaze(num_envs=5, **BUSY)
    world.reset(np.arange(5))
    rng = np.random.default_rng(1)
    actions = rng.integers(0, 5, (1500, 5))
    for a in actions[:777]:
        world.step(a)
    state = world.get_state()
    observation = world.observe()
    after = [world.step(a) for a in actions[777:]]
    restored = ShiftingMaze(num_envs=5, **BUSY)
    restored.reset(np.arange(100, 105))
    restored.set_state(state)
    assert np.array_equal(restored.observe(), observation)
    for a, (obs, rewards) in zip(actions[777:], after):
        obs2, rewards2 = restored.step(a)
        assert np.array_equal(obs, obs2) and np.array_equal(rewards, rewards2)
    assert np.array_equal(world.wall, restored.wall)
