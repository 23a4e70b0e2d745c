"""Tables of the committed baseline results: CPU per step of every agent on every world.

    python scripts/baseline_tables.py [--suite core-v1]

Reads ``leaderboard/results/baselines/<suite>/*.tar.gz`` (as written by run_baselines.py) and
prints Markdown: the agent's CPU microseconds per call on the unlimited track (isolated process,
protocol overhead subtracted; mean over seeds) and the share of steps skipped at beta0.
"""

from __future__ import annotations

import argparse
import json
import tarfile
from pathlib import Path

import numpy as np

from ceaseless.baselines import BOARD
from ceaseless.worlds.suites import get_suite

ROOT = Path(__file__).resolve().parents[1]


def runs(archive: Path) -> list[dict]:
    with tarfile.open(archive) as tar:
        return [json.load(tar.extractfile(member)) for member in tar.getmembers()
                if member.name.startswith("runs/") and member.isfile()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="core-v1")
    args = parser.parse_args()
    directory = ROOT / "leaderboard" / "results" / "baselines" / args.suite
    table: dict[str, dict[str, tuple[float, float]]] = {}
    worlds = [entry.short_name for entry in get_suite(args.suite).entries]
    for name, _, _ in BOARD:
        archive = directory / f"{name}.tar.gz"
        if not archive.exists():
            continue
        by_world: dict[str, dict[str, list[float]]] = {}
        for result in runs(archive):
            world = result["spec"]["world_id"].split("/")[-1]
            cell = by_world.setdefault(world, {"cpu": [], "skipped": []})
            if result["spec"]["budget"] == "unlimited":
                cell["cpu"].append(result["cpu_us_per_call"])
            if result["spec"]["budget"] == "x1":
                cell["skipped"].append(result["skipped_fraction"])
        table[name] = {w: (float(np.mean(c["cpu"])), float(np.mean(c["skipped"]))) for w, c in by_world.items()}
    print(f"CPU microseconds per step on {args.suite} (unlimited track; in brackets: % of steps skipped at beta0)\n")
    print("| agent | " + " | ".join(worlds) + " |")
    print("|---|" + "---|" * len(worlds))
    for name, cells in table.items():
        row = [f"{cells[w][0]:.0f} ({100 * cells[w][1]:.0f}%)" if w in cells else "" for w in worlds]
        print(f"| {name} | " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
