"""Evaluate every board baseline on a suite and commit-ready archive their results bundles.

    python scripts/run_baselines.py --suite core-v1 [--workers 2] [--only NAME ...] [--force]
                                    [--deep] [--seeds N] [--budget ladder|beta0+unlimited]

Writes ``leaderboard/results/baselines/<suite>/<name>.tar.gz`` (a results bundle: manifest.json,
references.json, runs/*.json) for each entry of ``baselines.BOARD`` (with ``--deep``, only the
entries of ``baselines.deep.BOARD``, which need the ``deep`` extra): public seeds (all of them, or
the first ``--seeds``), the budget ladder and the unlimited track (or ``--budget``). An existing
archive is kept unless ``--force``; an interrupted evaluation resumes from its working directory.
"""

from __future__ import annotations

import argparse
import shutil
import tarfile
import time
from pathlib import Path

from ceaseless.baselines import BOARD
from ceaseless.leaderboard.harness.evaluate import evaluate
from ceaseless.leaderboard.harness.protocol import AgentSpec
from ceaseless.worlds.suites import get_suite

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "leaderboard" / "results" / "baselines"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="core-v1")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--only", nargs="*", default=None, help="only these baselines")
    parser.add_argument("--force", action="store_true", help="re-run baselines whose archive exists")
    parser.add_argument("--work", default=None, help="working directory (default: ceaseless-out/baselines-SUITE)")
    parser.add_argument("--deep", action="store_true", help="the deep baselines (the deep extra) instead")
    parser.add_argument("--seeds", type=int, default=None, help="the first N public seeds (default: all)")
    parser.add_argument("--budget", default="ladder", help="ladder (default), beta0+unlimited, ...")
    args = parser.parse_args()
    entries = BOARD
    if args.deep:
        from ceaseless.baselines.deep import BOARD as entries
    suite = get_suite(args.suite)
    work = Path(args.work or ROOT / "ceaseless-out" / f"baselines-{suite.name}")
    target = RESULTS / suite.name
    target.mkdir(parents=True, exist_ok=True)
    for name, module, options in entries:
        if args.only and name not in args.only:
            continue
        archive = target / f"{name}.tar.gz"
        if archive.exists() and not args.force:
            print(f"{name}: {archive.relative_to(ROOT)} exists (--force to re-run)")
            continue
        started = time.time()
        bundle = work / name
        manifest = evaluate(AgentSpec.parse(module, **options), suite, bundle, budget=args.budget,
                            seeds=args.seeds, workers=args.workers, resume=bundle.exists())
        if manifest["errors"]:
            raise SystemExit(f"{name}: {len(manifest['errors'])} runs failed: {manifest['errors'][0]['error']}")
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(bundle.rglob("*")):
                if path.is_file() and path.parts[len(bundle.parts)] in ("manifest.json", "references.json", "runs"):
                    tar.add(path, arcname=str(path.relative_to(bundle)))
        shutil.rmtree(bundle)
        size = archive.stat().st_size / 1e6
        saturated = manifest.get("saturated_runs", 0)
        minutes = (time.time() - started) / 60
        print(f"{name}: {len(manifest['runs'])} runs ({saturated} saturated rungs) in {minutes:.1f} min -> "
              f"{archive.relative_to(ROOT)} ({size:.1f} MB)", flush=True)


if __name__ == "__main__":
    main()
