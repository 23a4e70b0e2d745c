"""Where does compute start to pay for a deep learner? Score against budget, per world, from the
committed baseline results, and the budget at which a deep entry overtakes the numpy ones.

    python benchmarks/crossover.py [--suite quick-v2] [--out benchmarks/results/crossover-quick-v2]

For every committed bundle of the suite (``leaderboard/results/baselines/<suite>/``), the mean z
(0 = the world's fallback, 1 = its oracle; references from the bundles) per world and budget over
the seeds that every bundle with at least ``--min-seeds`` seeds per world has (the deep baselines
are committed on fewer seeds than the numpy ones, so the comparison uses the common ones; an entry
with fewer seeds is shown on its own seeds, outside the crossover). Per world, the crossover is the lowest rung at which
the best deep entry's z exceeds the best numpy entry's z at the same rung and stays above it at
every higher rung; ``never`` when that does not happen on the ladder (then the table gives the gap
at the top rung and on the unlimited track, which says whether more compute could change it).
Writes ``crossover.md`` (the table) and ``crossover.json``; with matplotlib, ``crossover.png`` (one
panel per world, log axis in CPU microseconds per step, beta0 marked).
"""

from __future__ import annotations

import argparse
import json
import tarfile
from collections import defaultdict
from pathlib import Path

import numpy as np

from ceaseless.baselines.deep import BOARD as DEEP_BOARD
from ceaseless.worlds.suites import UNLIMITED, get_suite

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "leaderboard" / "results" / "baselines"
DEEP = {name for name, _, _ in DEEP_BOARD}


def load(suite_name: str) -> tuple[dict, dict]:
    """z[entry][(world, budget, seed)] and each entry's seeds per world."""
    z: dict[str, dict] = {}
    seeds: dict[str, dict] = {}
    for archive in sorted((RESULTS / suite_name).glob("*.tar.gz")):
        name = archive.name[: -len(".tar.gz")]
        with tarfile.open(archive) as tar:
            references = json.load(tar.extractfile("references.json"))
            manifest = json.load(tar.extractfile("manifest.json"))
            cells = {}
            for member in tar.getmembers():
                if not (member.name.startswith("runs/") and member.name.endswith(".json")):
                    continue
                result = json.load(tar.extractfile(member))
                spec = result["spec"]
                config = json.dumps(spec["config"], sort_keys=True)
                ref = references[f"{spec['world_id']}@{spec['steps']}@{config}"][str(spec["seed"])]
                cells[(spec["world_id"], spec["budget"], spec["seed"])] = \
                    (result["G"] - ref["G_fallback"]) / (ref["G_oracle"] - ref["G_fallback"])
        z[name], seeds[name] = cells, manifest["seeds"]
    return z, seeds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="quick-v2")
    parser.add_argument("--out", default=None)
    parser.add_argument("--min-seeds", type=int, default=3)
    args = parser.parse_args()
    suite = get_suite(args.suite)
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"crossover-{suite.name}")
    z, seeds = load(suite.name)
    if not z:
        raise SystemExit(f"no committed bundles for {suite.name}")
    partial = {name for name, s in seeds.items() if min(len(v) for v in s.values()) < args.min_seeds}
    deep = sorted((set(z) & DEEP) - partial)
    numpy_entries = sorted(set(z) - DEEP - {"fallback", "random"} - partial)
    table: dict = defaultdict(dict)
    lines = [f"# Score against budget on {suite.name}: deep vs numpy baselines", "",
             "Mean z over the seeds every committed bundle has; budgets in agent CPU us per world step.", ""]
    figure_data = {}
    for entry in suite.entries:
        world = entry.world_id
        common = sorted(set.intersection(*(set(s[world]) for n, s in seeds.items() if n not in partial)))
        rungs = [(label, beta) for label, beta in suite.budgets(entry) if label != UNLIMITED] + [(UNLIMITED, np.inf)]
        means = {name: [float(np.mean([z[name][(world, label, seed)]
                                       for seed in (seeds[name][world] if name in partial else common)]))
                        for label, _ in rungs] for name in z}
        figure_data[world] = (rungs, means)
        best_numpy = np.max([means[n] for n in numpy_entries], axis=0)
        best_numpy_name = [numpy_entries[i] for i in np.argmax([means[n] for n in numpy_entries], axis=0)]
        if deep:
            best_deep = np.max([means[n] for n in deep], axis=0)
            best_deep_name = [deep[i] for i in np.argmax([means[n] for n in deep], axis=0)]
            finite = len(rungs) - 1
            ahead = best_deep[:finite] > best_numpy[:finite]
            crossover = next((i for i in range(finite) if ahead[i:].all()), None)
            verdict = (f"{1e6 * rungs[crossover][1]:g} us ({best_deep_name[crossover]} over "
                       f"{best_numpy_name[crossover]})" if crossover is not None else "never")
        else:
            best_deep, verdict = np.full(len(rungs), np.nan), "no deep results"
        table[world] = {"seeds": common, "crossover": verdict,
                        "top_rung_gap": float(best_deep[-2] - best_numpy[-2]),
                        "unlimited_gap": float(best_deep[-1] - best_numpy[-1]),
                        "means": {n: dict(zip([r for r, _ in rungs], v)) for n, v in means.items()}}
        lines.append(f"## {world.split('/')[-1]} (seeds {common}): crossover {verdict}; deep - numpy at the top "
                     f"rung {table[world]['top_rung_gap']:+.3f} z, unlimited {table[world]['unlimited_gap']:+.3f} z")
        lines.append("")
        lines.append("| entry | " + " | ".join(f"{1e6 * b:g}" if np.isfinite(b) else "∞" for _, b in rungs) + " |")
        lines.append("|---|" + "---:|" * len(rungs))
        for name in [*deep, *numpy_entries, *sorted(partial)]:
            shown = f"{name} (seeds {seeds[name][world]}, not in the crossover)" if name in partial else name
            lines.append(f"| {shown} | " + " | ".join(f"{v:.3f}" for v in means[name]) + " |")
        lines.append("")
    out.mkdir(parents=True, exist_ok=True)
    (out / "crossover.md").write_text("\n".join(lines) + "\n")
    (out / "crossover.json").write_text(json.dumps(table, indent=1, sort_keys=True))
    print("\n".join(lines))
    _plot(figure_data, deep, numpy_entries, 1e6 * suite.entries[0].beta0, out / "crossover.png")


def _plot(data: dict, deep: list[str], numpy_entries: list[str], beta0_us: float, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    worlds = list(data)
    figure, axes = plt.subplots(2, (len(worlds) + 1) // 2, figsize=(16, 7), squeeze=False)
    for ax, world in zip(axes.ravel(), worlds):
        rungs, means = data[world]
        xs = np.array([1e6 * b for _, b in rungs[:-1]])
        for name in [*numpy_entries, *deep]:
            ax.plot(xs, means[name][:-1], "-" if name in deep else "--", marker="o", markersize=2.5,
                    linewidth=1.6 if name in deep else 0.9, label=name)
        ax.set_xscale("log")
        ax.axvline(beta0_us, color="#777", linewidth=0.7, linestyle=":")
        ax.set_title(world.split("/")[-1], fontsize=9)
        ax.set_xlabel("agent CPU us per step", fontsize=8)
        ax.set_ylabel("mean z", fontsize=8)
        ax.grid(alpha=0.3)
    for ax in axes.ravel()[len(worlds):]:
        ax.axis("off")
    handles, labels = axes.ravel()[0].get_legend_handles_labels()
    figure.legend(handles, labels, loc="lower right", fontsize=7, ncol=2)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


if __name__ == "__main__":
    main()
