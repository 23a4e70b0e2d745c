"""The ``ceaseless`` command."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np


def _describe_space(space) -> str:
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, spaces.Box):
        return f"Box{tuple(space.shape)} {space.dtype}"
    return str(space)


def cmd_worlds(args: argparse.Namespace) -> int:
    """List every registered world with its spaces and what changes in it."""
    import worlds
    from worlds.core import config_table

    for world_id, world_class in worlds.WORLDS.items():
        world = world_class(num_envs=1)
        print(f"{world_id}")
        print(f"  changes: {world_class.changes}")
        print(f"  observation: {_describe_space(world.observation_space)}   "
              f"action: {_describe_space(world.action_space)}")
        if args.verbose:
            for name, default, allowed, doc in config_table(world_class.Config):
                print(f"    {name:<16} {default!s:<10} {allowed:<18} {doc}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Run a short stream of each world under its oracle, a random policy and its fallback."""
    import worlds

    print(f"Ceaseless demo: {args.steps:,} steps of each world (seed {args.seed}); "
          "mean reward per step, and the change points the stream went through.\n")
    for world_id, world_class in worlds.WORLDS.items():
        means = {}
        changes: list = []
        for policy in ("oracle", "random", "fallback"):
            world = world_class(num_envs=1)
            world.reset([args.seed])
            space = world.action_space
            space.seed(args.seed)
            total = 0.0
            for _ in range(args.steps):
                if policy == "oracle":
                    action = world.oracle_action()[0]
                elif policy == "random":
                    action = space.sample()
                else:
                    action = world.fallback_action()[0]
                total += world.step_one(action)[1]
                if policy == "oracle" and world.engine.changed()[0]:
                    changes.extend(world.engine.change_points(0))
            means[policy] = total / args.steps
        kinds = Counter(point.kind for point in changes)
        print(f"{world_id}")
        print("  mean reward: " + "  ".join(f"{name} {value:+.4f}" for name, value in means.items()))
        print(f"  change points: {len(changes)} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
        for point in changes[: args.show]:
            print(f"    step {point.step:>7,}  {point.kind:<8} {point.process:<8} magnitude {point.magnitude:.3f}")
        if len(changes) > args.show:
            print(f"    ... and {len(changes) - args.show} more")
        print()
    return 0


def cmd_evaluate(args: argparse.Namespace) -> int:
    """Evaluate an agent on a suite and write a results bundle."""
    from leaderboard.evaluate import evaluate
    from leaderboard.protocol import AgentSpec, SubmissionError
    from worlds.suites import get_suite

    try:
        suite = get_suite(args.suite)
        agent = AgentSpec.parse(args.agent)
        out = Path(args.out or f"ceaseless-out/{agent.name}-{suite.name}")
        manifest = evaluate(agent, suite, out, seeds=args.seeds, budget=args.budget, workers=args.workers,
                            backend=args.backend, address=args.address, resume=args.resume,
                            in_process=args.in_process, worlds_only=args.world, steps=args.steps)
    except (SubmissionError, ValueError, FileExistsError) as error:
        print(f"ceaseless evaluate: {error}", file=sys.stderr)
        return 2
    runs = manifest["runs"]
    print(f"{len(runs)} runs of {agent.name} on {suite.name} written to {out}/ (manifest.json)")
    if not manifest["official"]:
        print("note: --in-process results are for debugging and are marked unofficial")
    for error in manifest["errors"]:
        print(f"error: {error['error']}", file=sys.stderr)
    return 1 if manifest["errors"] else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ceaseless",
        description="Worlds that never stop changing, and a leaderboard that scores agents against compute.",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    worlds_parser = sub.add_parser("worlds", help="list the worlds and what changes in each")
    worlds_parser.add_argument("-v", "--verbose", action="store_true", help="also list each world's config")
    worlds_parser.set_defaults(func=cmd_worlds)

    demo = sub.add_parser("demo", help="run a short stream of each world and print rewards and change points")
    demo.add_argument("--steps", type=int, default=20_000, help="steps per world and policy (default 20000)")
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--show", type=int, default=5, help="change points to print per world")
    demo.set_defaults(func=cmd_demo)

    evaluate = sub.add_parser("evaluate", help="run an agent on a suite under the compute clock")
    evaluate.add_argument("agent", help="a .py file, a directory with agent.py, or an importable module")
    evaluate.add_argument("--suite", default="quick-v1")
    evaluate.add_argument("--seeds", type=int, default=None, help="how many public seeds (default: all)")
    evaluate.add_argument("--budget", choices=("ladder", "beta0", "unlimited"), default="ladder")
    evaluate.add_argument("--workers", type=int, default=None, help="parallel runs (default: CPU count)")
    evaluate.add_argument("--backend", choices=("local", "ray"), default="local")
    evaluate.add_argument("--address", default=None, help="Ray cluster address (default: a local instance)")
    evaluate.add_argument("--out", default=None, help="results directory (default ceaseless-out/AGENT-SUITE)")
    evaluate.add_argument("--resume", action="store_true", help="continue an interrupted evaluation in --out")
    evaluate.add_argument("--in-process", action="store_true",
                          help="run the agent inside the harness (debugging only; results are unofficial)")
    evaluate.add_argument("--world", action="append", default=None, help="only this world (repeatable)")
    evaluate.add_argument("--steps", type=int, default=None, help="override the stream length (testing)")
    evaluate.set_defaults(func=cmd_evaluate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "steps", 1) < 1:
        parser.error(f"--steps={args.steps} must be at least 1")
    np.set_printoptions(precision=4)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
