"""Harness overhead per step with a do-nothing agent, next to the raw world step loop.

    python benchmarks/harness_overhead.py [--steps 40000] [--repeats 3]

For each world with a Discrete action space (the null agent answers 0): the raw loop
(``world.step_one(0)``), the harness in-process (``--in-process``), and isolated (the agent in
its own process over pipes). Best of ``--repeats``. Like a worker of the local backend, the
script pins itself (and so the agents it starts) to one CPU. The goals (issue): in-process within 1.5x of
the raw loop; isolated under 50 us per step round trip.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

from ceaseless import worlds
from ceaseless.leaderboard.harness.clock import protocol_overhead
from ceaseless.leaderboard.harness.protocol import AgentSpec
from ceaseless.leaderboard.harness.runner import FLUSH, Run
from ceaseless.leaderboard.harness.runspec import RunSpec

NULL = Path(__file__).resolve().parent / "agents" / "null_agent.py"


def raw_us(world_id: str, steps: int) -> float:
    world = worlds.WORLDS[world_id](num_envs=1)
    world.reset([0])
    start = time.perf_counter()
    for _ in range(steps):
        world.step_one(0)
    return (time.perf_counter() - start) / steps * 1e6


def harness_us(world_id: str, steps: int, in_process: bool, directory: Path) -> float:
    spec = RunSpec(agent=AgentSpec.parse(str(NULL)), world_id=world_id, seed=0, steps=steps, budget="unlimited",
                   beta=float("inf"), in_process=in_process)
    state = Run(spec, directory)
    state.observation = state.world.reset([0])[0]
    state.overhead = 0.0 if in_process else protocol_overhead(state.world)
    state._start_agent()
    try:
        start = time.perf_counter()
        for block in range(0, steps, FLUSH):
            state._stream(min(steps, block + FLUSH))
        return (time.perf_counter() - start) / steps * 1e6
    finally:
        state._stop_agent()


def main() -> None:
    # As a worker of the local backend does: one CPU for the harness and the agents it starts.
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--directory", default="/tmp/ceaseless-harness-overhead")
    args = parser.parse_args()
    print(f"{'world':<32} {'raw us':>8} {'in-process us':>14} {'ratio':>6} {'isolated us':>12}")
    for world_id, world_class in worlds.WORLDS.items():
        if not hasattr(world_class(num_envs=1).action_space, "n"):
            continue
        raw = min(raw_us(world_id, args.steps) for _ in range(args.repeats))
        inproc = min(harness_us(world_id, args.steps, True, Path(args.directory)) for _ in range(args.repeats))
        isolated = min(harness_us(world_id, args.steps // 4, False, Path(args.directory)) for _ in range(args.repeats))
        print(f"{world_id:<32} {raw:>8.2f} {inproc:>14.2f} {inproc / raw:>6.2f} {isolated:>12.1f}")


if __name__ == "__main__":
    main()
