"""Evaluate every board baseline on a suite and commit-ready archive their results bundles.

    python scripts/run_baselines.py --suite core-v1 [--workers 2] [--only NAME ...] [--force]

Writes ``leaderboard/results/baselines/<suite>/<name>.tar.gz`` (a results bundle: manifest.json,
references.json, runs/*.json) for each entry of ``baselines.BOARD``: public seeds, the budget
ladder and the unlimited track. An existing archive is kept unless ``--force``; an interrupted
evaluation resumes from its working directory.
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
    args = parser.parse_args()
    suite = get_suite(args.suite)
    work = Path(args.work or ROOT / "ceaseless-out" / f"baselines-{suite.name}")
    target = RESULTS / suite.name
    target.mkdir(parents=True, exist_ok=True)
    for name, module, options in BOARD:
        if args.only and name not in args.only:
            continue
        archive = target / f"{name}.tar.gz"
        if archive.exists() and not args.force:
            print(f"{name}: {archive.relative_to(ROOT)} exists (--force to re-run)")
            continue
        started = time.time()
        bundle = work / name
        manifest = evaluate(AgentSpec.parse(module, **options), suite, bundle, budget="ladder",
                            workers=args.workers, resume=bundle.exists())
        if manifest["errors"]:
            raise SystemExit(f"{name}: {len(manifest['errors'])} runs failed: {manifest['errors'][0]['error']}")
        with tarfile.open(archive, "w:gz") as tar:
            for path in sorted(bundle.rglob("*")):
                if path.is_file() and path.parts[len(bundle.parts)] in ("manifest.json", "references.json", "runs"):
                    tar.add(path, arcname=str(path.relative_to(bundle)))
        shutil.rmtree(bundle)
        size = archive.stat().st_size / 1e6
        print(f"{name}: {len(manifest['runs'])} runs in {(time.time() - started) / 60:.1f} min -> "
              f"{archive.relative_to(ROOT)} ({size:.1f} MB)")


if __name__ == "__main__":
    main()
