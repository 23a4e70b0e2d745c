"""What reusing saturated rungs saves: the ladder's cost against its unlimited track alone.

    python benchmarks/saturation_saving.py [--suite quick-v2] [--only NAME ...]

Reads the committed baseline bundles of a suite (``leaderboard/results/baselines/<suite>/``) and,
per baseline, adds up the wall time of the runs that were really run. The ladder costs
``(unlimited runs + rungs run) / unlimited runs`` times its unlimited-only evaluation; without
reuse each saturated rung would have cost about one more unlimited run (every call is made on a
saturated rung, so it is the same work), which gives the cost the saving is measured against.
The rule that decides a saturated rung is in ``ceaseless.leaderboard.harness.saturation``.
"""

from __future__ import annotations

import argparse
import json
import tarfile
from pathlib import Path

from ceaseless.worlds.suites import UNLIMITED

RESULTS = Path(__file__).resolve().parents[1] / "leaderboard" / "results" / "baselines"


def bundle_costs(archive: Path) -> dict[str, float]:
    """Wall seconds of the unlimited runs, of the rungs run, and of the saturated rungs' sources."""
    unlimited, rungs, saturated_equivalent, counts = 0.0, 0.0, 0.0, {"runs": 0, "saturated": 0}
    walls: dict[str, float] = {}
    records = []
    with tarfile.open(archive) as tar:
        for member in tar.getmembers():
            if member.name.startswith("runs/") and member.name.endswith(".json"):
                result = json.load(tar.extractfile(member))
                walls[result["run_id"]] = result["wall_seconds"]
                records.append(result)
    for result in records:
        counts["runs"] += 1
        if "saturated" in result:
            counts["saturated"] += 1
            saturated_equivalent += walls[result["saturated"]["from"]]
        elif result["spec"]["budget"] == UNLIMITED:
            unlimited += result["wall_seconds"]
        else:
            rungs += result["wall_seconds"]
    return {"unlimited": unlimited, "rungs": rungs, "saturated_equivalent": saturated_equivalent, **counts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="quick-v2")
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    archives = sorted((RESULTS / args.suite).glob("*.tar.gz"))
    if not archives:
        raise SystemExit(f"no committed bundles for {args.suite} in {RESULTS}")
    print(f"{'baseline':<16} {'runs':>5} {'saturated':>9} {'unlimited s':>11} {'rungs s':>8} "
          f"{'ladder/unlimited':>16} {'without reuse':>13}")
    for archive in archives:
        name = archive.name[: -len(".tar.gz")]
        if args.only and name not in args.only:
            continue
        c = bundle_costs(archive)
        ratio = (c["unlimited"] + c["rungs"]) / c["unlimited"]
        without = (c["unlimited"] + c["rungs"] + c["saturated_equivalent"]) / c["unlimited"]
        print(f"{name:<16} {c['runs']:>5} {c['saturated']:>9} {c['unlimited']:>11.0f} {c['rungs']:>8.0f} "
              f"{ratio:>15.2f}x {without:>12.2f}x")


if __name__ == "__main__":
    main()
