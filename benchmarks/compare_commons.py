"""Side-by-side speed of Commons' multi-agent step and PettingZoo MPE2's simple_spread_v3.

    python benchmarks/compare_commons.py [--quick] [--repeats N]

Times, in one run: Commons' PettingZoo ``ParallelEnv`` (a single instance, actions as dicts of
ints), its batched core (``CommonsCore``) at batch 64 and 1024, the single-agent gymnasium view
``ceaseless/Commons-v0`` (raw ``step``), and, when ``mpe2`` is installed (``pip install mpe2``; not
a project dependency), simple_spread_v3's parallel env with the same number of agents stepped the
same way. Actions are drawn before timing; MPE's episode limit is raised above the timed steps so
that no reset falls inside the timing. Each figure is the best of ``--repeats`` runs. The goal
from the issue: Commons' parallel step at least 10x faster than simple_spread_v3's.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import gymnasium as gym
import numpy as np

from ceaseless import worlds  # noqa: F401  (registers ceaseless/Commons-v0)
from ceaseless.worlds.commons import CommonsCore, parallel_env

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_peers import best_of  # the shared timer of the speed scripts


def joint_actions(env, steps: int, seed: int = 0) -> list[dict]:
    """``steps`` joint actions (dicts of Python ints), sampled from the seeded action spaces."""
    for i, agent in enumerate(env.possible_agents):
        env.action_space(agent).seed(seed + i)
    return [{agent: int(env.action_space(agent).sample()) for agent in env.possible_agents} for _ in range(steps)]


def parallel_steps_per_s(env, steps: int, repeats: int) -> float:
    """Steps per second of a PettingZoo parallel env (every agent acts at every step)."""
    env.reset(seed=0)
    actions = joint_actions(env, steps)

    def run():
        for joint in actions:
            env.step(joint)

    run()  # warm up, and move the stream away from its start
    return steps / best_of(repeats, run)


def core_steps_per_s(batch: int, steps: int, repeats: int, num_agents: int) -> float:
    """Env-steps per second of the batched core (one env-step: every agent of one instance acts)."""
    core = CommonsCore(num_envs=batch, num_agents=num_agents)
    core.reset(np.arange(batch))
    rng = np.random.default_rng(0)
    actions = list(rng.integers(0, core.num_actions, (steps, batch, num_agents)))
    for action in actions[: max(1, steps // 4)]:  # warm up
        core.step(action)
    return batch * steps / best_of(repeats, lambda: [core.step(a) for a in actions])


def view_step_us(steps: int, repeats: int) -> float:
    """Microseconds per raw ``step`` of the single-agent gymnasium view."""
    env = gym.make("ceaseless/Commons-v0").unwrapped
    env.reset(seed=0)
    actions = [int(a) for a in np.random.default_rng(0).integers(0, env.action_space.n, steps)]

    def run():
        for action in actions:
            env.step(action)

    run()
    return best_of(repeats, run) / steps * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer steps (a smoke run)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--agents", type=int, default=3, help="agents in both worlds (simple_spread's default: 3)")
    args = parser.parse_args()
    steps = 1_000 if args.quick else 10_000
    n = args.agents

    rows: list[tuple[str, float]] = []
    commons = parallel_steps_per_s(parallel_env(num_agents=n), steps, args.repeats)
    rows.append((f"Commons ParallelEnv ({n} agents), 1 instance", commons))
    for batch in (64, 1024):
        batch_steps = max(8, steps * 8 // batch)
        rate = core_steps_per_s(batch, batch_steps, args.repeats, n)
        rows.append((f"Commons core ({n} agents), batch {batch}", rate))
    mpe = None
    try:
        from mpe2 import simple_spread_v3
    except ImportError:
        print("mpe2 not installed (pip install mpe2): no side-by-side figure")
    else:
        spread = simple_spread_v3.parallel_env(N=n, max_cycles=10 * steps * (args.repeats + 2))
        mpe = parallel_steps_per_s(spread, max(200, steps // 10), args.repeats)
        rows.append((f"MPE2 simple_spread_v3 ParallelEnv ({n} agents)", mpe))

    print(f"{'env':<52} {'steps/s':>14} {'vs MPE2':>10}")
    for name, rate in rows:
        ratio = f"{rate / mpe:>9.1f}x" if mpe else f"{'-':>10}"
        print(f"{name:<52} {rate:>14,.0f} {ratio}")
    print()
    print(f"ceaseless/Commons-v0 single-agent view, raw step: {view_step_us(steps, args.repeats):.2f} us")
    if mpe:
        verdict = "meets" if commons >= 10 * mpe else "MISSES"
        print(f"Commons' parallel step is {commons / mpe:.1f}x simple_spread_v3's: {verdict} the 10x goal")


if __name__ == "__main__":
    main()
