"""Side-by-side speed of Ceaseless worlds and their peers, measured in one run.

    python benchmarks/compare_peers.py [--quick]

Peers are timed when installed: gymnasium's CartPole-v1 (raw ``unwrapped.step``), minigrid's
MiniGrid-Empty-8x8-v0 and PettingZoo MPE2's simple_spread_v3. Each figure is the best of
``--repeats`` runs, to be robust to a busy machine; the targets come from the issues.
"""

from __future__ import annotations

import argparse
import time

import gymnasium as gym
import numpy as np

from ceaseless import worlds


def best_of(repeats: int, run) -> float:
    """Best (smallest) wall time of ``run`` over ``repeats`` calls."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times)


def single_step_us(env: gym.Env, steps: int, repeats: int, seed: int = 0) -> float:
    """Microseconds per raw ``step`` (no wrappers), resetting when a peer's episode ends."""
    env = env.unwrapped
    env.reset(seed=seed)
    space = env.action_space
    space.seed(seed)
    actions = [space.sample() for _ in range(steps)]

    def run():
        for action in actions:
            _, _, terminated, truncated, _ = env.step(action)
            if terminated or truncated:
                env.reset()

    return best_of(repeats, run) / steps * 1e6


def batched_steps_per_s(world_id: str, batch: int, steps: int, repeats: int) -> float:
    world = worlds.WORLDS[world_id](num_envs=batch)
    world.reset(np.arange(batch))
    rng = np.random.default_rng(0)
    space = world.action_space
    if hasattr(space, "n"):
        actions = list(rng.integers(space.start, space.start + space.n, (steps, batch)))
    else:
        actions = list(rng.uniform(space.low, space.high, (steps, batch, *space.shape)).astype(space.dtype))
    for action in actions[: steps // 4]:  # warm up: a stream in motion, not a fresh reset
        world.step(action)
    return batch * steps / best_of(repeats, lambda: [world.step(a) for a in actions])


def peers(steps: int, repeats: int) -> dict[str, float]:
    figures = {"CartPole-v1 step (us)": single_step_us(gym.make("CartPole-v1"), steps, repeats)}
    try:
        import minigrid  # noqa: F401

        env = gym.make("MiniGrid-Empty-8x8-v0")
        figures["MiniGrid-Empty-8x8-v0 step (us)"] = single_step_us(env, max(1000, steps // 10), repeats)
    except ImportError:
        print("minigrid not installed: pip install minigrid")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    steps = 2_000 if args.quick else 20_000
    figures = peers(steps, args.repeats)
    for name, value in figures.items():
        print(f"{name:<48} {value:>12.2f}")
    cartpole = figures["CartPole-v1 step (us)"]
    minigrid_us = figures.get("MiniGrid-Empty-8x8-v0 step (us)")
    print()
    print(f"{'world':<32} {'single us':>10} {'B=1 /s':>12} {'B=64 /s':>12} {'B=1024 /s':>12}")
    for world_id in worlds.WORLDS:
        single = single_step_us(gym.make(world_id), steps, args.repeats)
        rates = [batched_steps_per_s(world_id, b, max(8, steps // max(1, b // 8)), args.repeats) for b in (1, 64, 1024)]
        print(f"{world_id:<32} {single:>10.2f} " + " ".join(f"{r:>12,.0f}" for r in rates))
        notes = [f"{cartpole / single:.2f}x CartPole's raw step"]
        if minigrid_us:
            notes.append(f"{minigrid_us / single:.1f}x faster than MiniGrid Empty-8x8")
        print(f"{'':<32} " + "; ".join(notes))


if __name__ == "__main__":
    main()
