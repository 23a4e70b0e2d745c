"""What process isolation costs an agent: its CPU per step in-process against what the harness
charges it in its own process, and what the harness itself spends meanwhile.

    python benchmarks/isolation_cost.py [--steps 20000] [--repeats 5] [--world Commons-v0 ...] [--agent NAME ...]

For each world and agent, pinned to one CPU as a worker of the local backend is: (1) in-process,
``agent.step`` alone (``agent_cost.py``'s measure); (2) the agent in its own process
(``SandboxedAgent``), charged from its process CPU clock, and the harness process's own CPU per step
(world step and protocol). The isolated columns are net of the do-nothing agent's, so they show
only what the agent adds. Every figure is the lowest of ``--repeats`` rounds over all the agents (on a
shared machine, noise only ever adds time). ``busy`` (a pure-Python loop, little memory touched) measures the meter:
its charge should equal its in-process cost. A numpy-heavy agent is charged more than it costs
in-process, and the harness slows down by about as much: the two processes take turns on one CPU
and each evicts the other's working set (caches, TLB) at every switch.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import gymnasium as gym

from ceaseless import worlds  # noqa: F401  (registers the worlds)
from ceaseless.baselines import BOARD
from ceaseless.leaderboard.harness.protocol import AgentSpec, load_factory
from ceaseless.leaderboard.harness.sandbox import SandboxedAgent
from ceaseless.worlds.suites import get_suite

try:
    from benchmarks.agent_cost import agent_us, clock_cost_ns
except ModuleNotFoundError:  # run as a script: this file's directory is on the path, the repository is not
    from agent_cost import agent_us, clock_cost_ns

AGENTS = Path(__file__).resolve().parent / "agents"


def spec_of(name: str) -> AgentSpec:
    if name == "busy":
        return AgentSpec.parse(str(AGENTS / "busy_agent.py"), iterations=1000)
    for board_name, module, options in BOARD:
        if board_name == name:
            return AgentSpec.parse(module, **options)
    raise SystemExit(f"unknown agent {name!r}: busy or a board baseline")


def isolated_us(spec: AgentSpec | None, world_id: str, config: dict, steps: int) -> tuple[float, float]:
    """(agent CPU charged, harness process CPU) per step, microseconds, after a warm-up; ``None``:
    the harness's own do-nothing agent."""
    env = gym.make(world_id, **config).unwrapped
    observation, _ = env.reset(seed=0)
    agent = SandboxedAgent(spec, env.observation_space, env.action_space, 0, overhead_seconds=0.0)
    try:
        action, _ = agent.start(observation)
        for _ in range(steps // 10):
            observation, reward, *_ = env.step(action)
            action, _ = agent.step(float(reward), observation, 1)
        charged, harness_start = 0.0, time.process_time()
        for _ in range(steps):
            observation, reward, *_ = env.step(action)
            action, cpu = agent.step(float(reward), observation, 1)
            charged += cpu
        harness = time.process_time() - harness_start
    finally:
        agent.close()
    return charged / steps * 1e6, harness / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--world", nargs="*", default=["Commons-v0", "DriftingControl-v0"])
    parser.add_argument("--agent", nargs="*", default=["busy", "q-learning", "sarsa-lambda"])
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
    entries = {entry.short_name: entry for entry in get_suite("core-v1").entries}
    clock_ns = clock_cost_ns()
    print(f"CPU microseconds per step ({args.steps} steps, seed 0, core-v1 configs; isolated columns net of "
          "the do-nothing agent)\n")
    print("| world | agent | in-process | isolated: agent charged | isolated: harness extra |")
    print("|---|---|---|---|---|")
    for world in args.world:
        entry = entries[world]
        where = (entry.world_id, entry.config_dict, args.steps)
        specs = {name: spec_of(name) for name in args.agent}
        runs: dict[str, list[tuple[float, ...]]] = {name: [] for name in ["null", *specs]}
        for _ in range(args.repeats):  # rounds over every agent, so a burst of noise hits one round, not one agent
            runs["null"].append(isolated_us(None, *where))
            for name, spec in specs.items():
                runs[name].append((agent_us(load_factory(spec), *where, clock_ns), *isolated_us(spec, *where)))
        null_agent, null_harness = (min(column) for column in zip(*runs["null"]))
        for name in specs:
            alone, charged, harness = (min(column) for column in zip(*runs[name]))
            print(f"| {world} | {name} | {alone:.1f} | {charged - null_agent:.1f} | {harness - null_harness:.1f} |",
                  flush=True)


if __name__ == "__main__":
    main()
