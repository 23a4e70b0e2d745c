"""The ``ceaseless`` command."""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ceaseless.worlds.suites import BUDGET_CHOICES


def _describe_space(space) -> str:
    from gymnasium import spaces

    if isinstance(space, spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, spaces.Box):
        return f"Box{tuple(space.shape)} {space.dtype}"
    if isinstance(space, spaces.MultiDiscrete):
        return f"MultiDiscrete({np.asarray(space.nvec).tolist()})"
    return str(space)


def cmd_worlds(args: argparse.Namespace) -> int:
    """List every registered world with its spaces and what changes in it."""
    from ceaseless import worlds
    from ceaseless.worlds.core import config_table

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
    from ceaseless import worlds

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
    from ceaseless.leaderboard.harness.evaluate import evaluate
    from ceaseless.leaderboard.harness.protocol import AgentSpec, SubmissionError
    from ceaseless.worlds.suites import get_suite

    try:
        suite = get_suite(args.suite)
        agent = AgentSpec.parse(args.agent)
        out = Path(args.out or f"ceaseless-out/{agent.name}-{suite.name}")
        manifest = evaluate(agent, suite, out, seeds=args.seeds, budget=args.budget, workers=args.workers,
                            backend=args.backend, address=args.address, resume=args.resume,
                            in_process=args.in_process, worlds_only=args.world, steps=args.steps,
                            reuse_saturated=not args.run_every_rung)
    except (SubmissionError, ValueError, FileExistsError) as error:
        print(f"ceaseless evaluate: {error}", file=sys.stderr)
        return 2
    runs = manifest["runs"]
    saturated = manifest.get("saturated_runs", 0)
    print(f"{len(runs)} runs of {agent.name} on {suite.name} written to {out}/ (manifest.json)"
          + (f"; {saturated} saturated rungs recorded from the unlimited runs" if saturated else ""))
    if not manifest["official"]:
        print("note: --in-process results are for debugging and are marked unofficial")
    for error in manifest["errors"]:
        print(f"error: {error['error']}", file=sys.stderr)
    return 1 if manifest["errors"] else 0


def cmd_suites(args: argparse.Namespace) -> int:
    """List the suites: worlds, stream lengths, budgets and seeds."""
    from ceaseless.worlds.suites import SUITES, TUNING_SEEDS

    for suite in SUITES.values():
        print(f"{suite.name}: {suite.description}")
        print(f"  public seeds {list(suite.public_seeds)}; hidden seeds from a salt with sha256 "
              f"{suite.hidden_salt_sha256[:16]}...; budget ladder beta0 x 2^k, k in {list(suite.ladder)}, "
              "plus unlimited")
        for entry in suite.entries:
            config = f" config {entry.config_dict}" if entry.config else ""
            print(f"  {entry.world_id:<32} {entry.steps:>9,} steps  beta0 {entry.beta0 * 1e6:6.0f} us/step  "
                  f"fallback {entry.fallback}{config}")
    print(f"tuning seeds (for choosing hyper-parameters, never for evaluation): {list(TUNING_SEEDS)}")
    return 0


def _store(args: argparse.Namespace):
    from ceaseless.leaderboard.board.store import Store

    return Store(args.db)


def cmd_submit(args: argparse.Namespace) -> int:
    """Validate a submission, run it on the suite's seeds (or accept --results), record it."""
    from ceaseless.leaderboard.board.store import StoreError
    from ceaseless.leaderboard.board.submit import submit
    from ceaseless.leaderboard.harness.protocol import SubmissionError

    try:
        with _store(args) as store:
            summary = submit(args.directory, store, suite_name=args.suite, results=args.results,
                             workers=args.workers, backend=args.backend)
    except (SubmissionError, StoreError, ValueError, FileNotFoundError) as error:
        print(f"ceaseless submit: {error}", file=sys.stderr)
        return 2
    seeds = "hidden" if summary["hidden_seeds"] else "public"
    print(f"recorded {summary['name']}: {summary['runs']} runs on {summary['suite']} ({seeds} seeds), "
          f"{summary['status']}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Re-run a random 10-20% of a submission's runs and compare."""
    from ceaseless.leaderboard.board.submit import verify
    from ceaseless.leaderboard.harness.protocol import SubmissionError

    try:
        with _store(args) as store:
            report = verify(args.name, store, fraction=args.fraction, seed=args.seed)
    except (SubmissionError, ValueError) as error:
        print(f"ceaseless verify: {error}", file=sys.stderr)
        return 2
    for outcome in report["outcomes"]:
        print(f"  {outcome['run_id']:<40} {outcome['outcome']:<9} {outcome['detail']}")
    verdict = "verified" if report["accepted"] else "REJECTED (a re-run did not match)"
    print(f"{report['name']}: {report['checked']} runs re-run: {verdict}")
    return 0 if report["accepted"] else 1


def cmd_board(args: argparse.Namespace) -> int:
    """Score the store and print or write the board."""
    from ceaseless.leaderboard.board.publish import publish

    formats = tuple(dict.fromkeys(args.format))
    out = args.out if args.out is not None else ("ceaseless-out/board" if "html" in formats else None)
    try:
        published = publish(args.db, out_dir=out, formats=formats, suite=args.suite, reference=args.reference,
                            baselines=not args.no_baselines)
    except ValueError as error:
        print(f"ceaseless board: {error}", file=sys.stderr)
        return 2
    if not {"table", "markdown"} & set(formats):  # those carry the notes; stdout stays clean CSV
        for note in published.get("notes", []):
            print(note, file=sys.stderr)
    for text in published.get("printed", []):
        print(text.rstrip("\n"))
    for path in published.get("files", []):
        print(f"wrote {path}", file=sys.stderr)
    return 0


def cmd_quickstart(args: argparse.Namespace) -> int:
    """The main job: the shipped baselines on quick-v2, scored and published."""
    from ceaseless.leaderboard.quickstart import quickstart

    return quickstart(out=Path(args.out), evaluate=args.evaluate, workers=args.workers)


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
    evaluate.add_argument("--suite", default="quick-v2")
    evaluate.add_argument("--seeds", type=int, default=None, help="how many public seeds (default: all)")
    evaluate.add_argument("--budget", choices=BUDGET_CHOICES, default="ladder")
    evaluate.add_argument("--workers", type=int, default=None, help="parallel runs (default: CPU count)")
    evaluate.add_argument("--backend", choices=("local", "ray"), default="local")
    evaluate.add_argument("--address", default=None, help="Ray cluster address (default: a local instance)")
    evaluate.add_argument("--out", default=None, help="results directory (default ceaseless-out/AGENT-SUITE)")
    evaluate.add_argument("--resume", action="store_true", help="continue an interrupted evaluation in --out")
    evaluate.add_argument("--in-process", action="store_true",
                          help="run the agent inside the harness (debugging only; results are unofficial)")
    evaluate.add_argument("--world", action="append", default=None, help="only this world (repeatable)")
    evaluate.add_argument("--steps", type=int, default=None, help="override the stream length (testing)")
    evaluate.add_argument("--run-every-rung", action="store_true",
                          help="run saturated rungs too, instead of recording them from the unlimited run")
    evaluate.set_defaults(func=cmd_evaluate)

    suites = sub.add_parser("suites", help="list the suites")
    suites.set_defaults(func=cmd_suites)

    db_help = "the store file (default: $XDG_DATA_HOME/ceaseless/board.sqlite)"
    submit = sub.add_parser("submit", help="validate, run and record a submission directory")
    submit.add_argument("directory", help="a directory with agent.py and submission.toml")
    submit.add_argument("--suite", default=None, help="the suite (default: the one submission.toml names)")
    submit.add_argument("--results", default=None,
                        help="a results bundle produced elsewhere (recorded as unverified until verified)")
    submit.add_argument("--db", default=None, help=db_help)
    submit.add_argument("--workers", type=int, default=None)
    submit.add_argument("--backend", choices=("local", "ray"), default="local")
    submit.set_defaults(func=cmd_submit)

    verify = sub.add_parser("verify", help="re-run a random 10-20%% of a submission's runs and compare")
    verify.add_argument("name")
    verify.add_argument("--fraction", type=float, default=0.15)
    verify.add_argument("--seed", type=int, default=0, help="which runs are drawn")
    verify.add_argument("--db", default=None, help=db_help)
    verify.set_defaults(func=cmd_verify)

    board = sub.add_parser("board", help="print or write the board")
    board.add_argument("--format", action="append", choices=("table", "markdown", "csv", "html"), default=None,
                       help="repeatable (default: table)")
    board.add_argument("--out", default=None,
                       help="write the formats as files here (default: print them; html goes to ceaseless-out/board)")
    board.add_argument("--suite", default=None, help="only this suite (default: the store's, or quick-v2)")
    board.add_argument("--no-baselines", action="store_true",
                       help="hide the shipped baselines' committed results (shown beside the store's entries)")
    board.add_argument("--reference", default="sarsa-lambda", help="the entry that defines the compute multiplier")
    board.add_argument("--db", default=None, help=db_help)
    board.set_defaults(func=cmd_board)

    quick = sub.add_parser("quickstart", help="the main job: the shipped baselines on quick-v2, and the board")
    quick.add_argument("--out", default="ceaseless-out", help="store, board and bundles go here")
    quick.add_argument("--evaluate", action="store_true",
                       help="evaluate the baselines now instead of loading their committed results")
    quick.add_argument("--workers", type=int, default=None)
    quick.set_defaults(func=cmd_quickstart)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "format", None) is None and args.command == "board":
        args.format = ["table"]
    if (getattr(args, "steps", None) or 1) < 1:
        parser.error(f"--steps={args.steps} must be at least 1")
    np.set_printoptions(precision=4)
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
