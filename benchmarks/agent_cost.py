"""Each baseline's own CPU per step, in-process: the algorithm's cost without the sandbox.

    python benchmarks/agent_cost.py [--steps 20000] [--repeats 2] [--only NAME ...] [--world ID ...] [--deep]

The harness charges an agent the CPU its process spends per call, protocol overhead subtracted
(``scripts/baseline_tables.py`` prints those figures from the committed results). That figure also
holds what process isolation costs a real agent beyond a do-nothing one (``isolation_cost.py``
measures it: harness and agent take turns on one CPU and evict each other's caches and TLB at
every switch). This script isolates the algorithm: it
steps each world with the agent's actions in one process and times only ``agent.step`` with the
process CPU clock, less the clock's own cost. Each agent learns as it does on the board (the
unlimited track's code path), on seed 0 of the suite's configuration. Pinned to one CPU. A cell
is the median over blocks of 500 steps of the CPU per step, the lowest over ``--repeats`` runs: on
a shared machine, noise from other tenants only ever adds time, and a burst then moves the figure
only if it lasts more than half of every run. ``--deep`` adds the streaming deep learners of
``ceaseless.baselines.deep.BOARD`` (the ``deep`` extra: PyTorch).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

import gymnasium as gym

from ceaseless import worlds  # noqa: F401  (registers the worlds)
from ceaseless.baselines import BOARD
from ceaseless.leaderboard.harness.protocol import AgentSpec, load_factory
from ceaseless.worlds.suites import get_suite


def clock_cost_ns(calls: int = 100_000) -> float:
    """CPU nanoseconds of one pair of ``process_time_ns`` calls (subtracted per step)."""
    clock = time.process_time_ns
    start = clock()
    for _ in range(calls):
        clock()
        clock()
    return (clock() - start) / calls


def agent_us(make_agent: Callable, world_id: str, config: dict, steps: int, clock_ns: float,
             block: int = 500) -> float:
    """Median over blocks of ``block`` steps of ``agent.step``'s CPU microseconds per step."""
    env = gym.make(world_id, **config).unwrapped
    observation, _ = env.reset(seed=0)
    agent = make_agent(env.observation_space, env.action_space, 0)
    action = agent.start(observation)
    clock, spent, blocks = time.process_time_ns, 0, []
    for t in range(1, steps + 1):
        observation, reward, *_ = env.step(action)
        started = clock()
        action = agent.step(float(reward), observation, 1)
        spent += clock() - started
        if t % block == 0:
            blocks.append(spent / block)
            spent = 0
    env.close()
    return max(statistics.median(blocks) - clock_ns, 0.0) / 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=2, help="runs per cell; the lowest is reported")
    parser.add_argument("--suite", default="core-v1", help="whose world configurations to use")
    parser.add_argument("--only", nargs="*", default=None, help="only these baselines")
    parser.add_argument("--world", nargs="*", default=None, help="only these worlds (e.g. Forager-v0)")
    parser.add_argument("--deep", action="store_true", help="also the deep entries (ceaseless.baselines.deep.BOARD)")
    args = parser.parse_args()
    board = BOARD
    if args.deep:
        from ceaseless.baselines.deep import BOARD as DEEP_BOARD

        board = BOARD + DEEP_BOARD
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    suite = get_suite(args.suite)
    entries = [e for e in suite.entries if not args.world or e.short_name in args.world]
    clock_ns = clock_cost_ns()
    short = [e.short_name for e in entries]
    print(f"Agent CPU microseconds per step, in-process ({args.steps} steps, seed 0, {suite.name} configs, "
          f"lowest of {args.repeats} runs)\n")
    print("| agent | " + " | ".join(short) + " |")
    print("|---|" + "---|" * len(short))
    for name, module, options in board:
        if args.only and name not in args.only:
            continue
        make_agent = load_factory(AgentSpec.parse(module, **options))
        costs = [min(agent_us(make_agent, e.world_id, e.config_dict, args.steps, clock_ns)
                     for _ in range(args.repeats)) for e in entries]
        cells = [f"{cost:.1f}" for cost in costs]
        print(f"| {name} | " + " | ".join(cells) + " |", flush=True)


if __name__ == "__main__":
    main()
