"""pytest-benchmark suites for every world: single-env step latency and batched throughput.

Run: ``pytest benchmarks --benchmark-only`` (CI runs them once with ``--benchmark-disable``
to keep them working; timing goals are checked by reading the figures, never by asserts).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from ceaseless import worlds

WORLD_IDS = list(worlds.WORLDS)
STEPS = 256  # steps per benchmark round


def _actions(space, count: int, batch: int | None = None):
    rng = np.random.default_rng(0)
    if hasattr(space, "n"):
        size = (count,) if batch is None else (count, batch)
        values = rng.integers(space.start, space.start + space.n, size)
        return [int(a) for a in values] if batch is None else list(values)
    shape = (count, *space.shape) if batch is None else (count, batch, *space.shape)
    return list(rng.uniform(space.low, space.high, shape).astype(space.dtype))


@pytest.mark.parametrize("world_id", WORLD_IDS)
def test_single_env_step(benchmark, world_id):
    env = gym.make(world_id).unwrapped
    env.reset(seed=0)
    actions = _actions(env.action_space, STEPS)

    def run():
        for action in actions:
            env.step(action)

    benchmark.extra_info["steps_per_round"] = STEPS
    benchmark(run)


@pytest.mark.parametrize("batch", [1, 64, 1024])
@pytest.mark.parametrize("world_id", WORLD_IDS)
def test_batched_step(benchmark, world_id, batch):
    world = worlds.WORLDS[world_id](num_envs=batch)
    world.reset(np.arange(batch))
    steps = max(4, STEPS // max(1, batch // 64))
    actions = _actions(world.action_space, steps, batch)

    def run():
        for action in actions:
            world.step(action)

    benchmark.extra_info["env_steps_per_round"] = steps * batch
    benchmark(run)
