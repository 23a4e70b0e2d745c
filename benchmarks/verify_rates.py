"""How often ``verify`` accepts honest entries, and how often it rejects forged ones.

    python benchmarks/verify_rates.py [--steps 5000] [--seeds 2] [--attempts 3] [--forgeries 20] [--careful 5]
                                      [--agent NAME ...]

For every shipped baseline and a 1-us-per-call agent (``benchmarks/agents/one_us.py``): evaluate it
on a short version of quick-v1 (every world, ``--seeds`` seeds, the ladder and the unlimited
track), record it, and run ``verify`` ``--attempts`` times with different draws. Reported:

- **acceptance**: the fraction of honest re-runs that pass (unlimited: the same transcript; on a
  budget: z within verify's tolerance and CPU within its relative-or-absolute tolerance), with the
  largest |dz| and CPU difference seen, which is what the tolerances are set from;
- **detection**: ``--forgeries`` times, the honest bundle with the ``G`` of a random 10% of its runs
  moved by a few per cent (the manifest re-hashed, as a forger would) is submitted and, if it gets
  in, verified: the fraction rejected. A second forger also rewrites each edited run's learning
  curve to agree with the new ``G`` (a careful forger): what catches it is the re-runs and the
  saturated-rung check.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ceaseless.baselines import BOARD
from ceaseless.leaderboard.board.store import Store
from ceaseless.leaderboard.board.submit import submit, verify
from ceaseless.leaderboard.harness.evaluate import evaluate
from ceaseless.leaderboard.harness.protocol import AgentSpec, SubmissionError
from ceaseless.worlds.suites import get_suite, suite_from_json

AGENTS = Path(__file__).resolve().parent / "agents"


def short_suite(directory: Path, steps: int, seeds: int) -> Path:
    """quick-v1 with shorter streams and fewer seeds, as a suite file."""
    data = get_suite("quick-v1").to_json()
    data["name"] = f"verify-rates-{steps}"
    data["public_seeds"] = list(range(seeds))
    for entry in data["entries"]:
        entry["steps"] = steps
    path = directory / "suite.json"
    path.write_text(json.dumps(data))
    return path


def submission_dir(base: Path, name: str, agent: AgentSpec, suite_name: str) -> Path:
    """A submission directory whose agent.py loads ``agent`` (a baseline module or a file)."""
    directory = base / name
    directory.mkdir(parents=True)
    if agent.path:
        shutil.copy(agent.path, directory / "agent.py")
    else:
        options = dict(agent.options)
        (directory / "agent.py").write_text(
            f"from {agent.module} import make_agent as _make\n\n\n"
            f"def make_agent(observation_space, action_space, seed):\n"
            f"    return _make(observation_space, action_space, seed, **{options!r})\n")
    (directory / "submission.toml").write_text(
        f'name = "{name}"\nauthors = ["bench"]\ncontact = "bench@example.org"\ndescription = "x"\n'
        f'licence = "MIT"\nsuite = "{suite_name}"\n')
    return directory


def forge(bundle: Path, out: Path, rng: np.random.Generator, careful: bool) -> None:
    """A copy of ``bundle`` with the G of 10% of its runs edited and the manifest re-hashed."""
    shutil.copytree(bundle, out)
    manifest = json.loads((out / "manifest.json").read_text())
    items = manifest["runs"]
    for index in rng.choice(len(items), size=max(1, round(0.1 * len(items))), replace=False):
        path = out / items[index]["file"]
        result = json.loads(path.read_text())
        shift = 0.03 * max(abs(result["G"]), 1e-3)
        result["G"] += shift
        if careful:  # move every curve point alike: the curve's mean is the new G
            result["curve"]["points"] = [p + shift for p in result["curve"]["points"]]
        path.write_text(json.dumps(result))
        items[index]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    (out / "manifest.json").write_text(json.dumps(manifest))


def measure(name: str, agent: AgentSpec, suite_path: Path, work: Path, attempts: int, forgeries: int,
            careful_forgeries: int, workers: int) -> dict:
    suite = suite_from_json(json.loads(suite_path.read_text()))
    name = name.replace("+", "-plus")  # a submission's name is letters, digits, '.', '_' and '-'
    directory = submission_dir(work, name, agent, suite.name)
    bundle = work / f"{name}-bundle"
    evaluate(AgentSpec.parse(str(directory)), suite, bundle, budget="ladder", workers=workers, progress=False)
    store = Store(work / f"{name}.sqlite")
    submit(directory, store, suite_name=str(suite_path), results=bundle, progress=False)
    passed = total = 0
    worst_dz = worst_cpu = 0.0
    for attempt in range(attempts):
        report = verify(name, store, fraction=0.15, seed=attempt)
        for outcome in report["outcomes"]:
            total += 1
            passed += outcome["outcome"] == "match"
            if "dz" in outcome:  # a run on a budget (an unlimited one compares transcripts)
                worst_dz = max(worst_dz, outcome["dz"])
                worst_cpu = max(worst_cpu, abs(outcome["cpu_us_after"] - outcome["cpu_us_before"]))
    detected = {}
    for careful in (False, True):
        rejected, trials = 0, careful_forgeries if careful else forgeries
        for trial in range(trials):
            forged = work / f"{name}-forged-{int(careful)}-{trial}"
            forge(bundle, forged, np.random.default_rng(trial), careful)
            forged_store = Store(work / f"{name}-forged-{int(careful)}-{trial}.sqlite")
            try:
                submit(directory, forged_store, suite_name=str(suite_path), results=forged, progress=False)
                rejected += not verify(name, forged_store, fraction=0.15, seed=trial)["accepted"]
            except SubmissionError:
                rejected += 1
            forged_store.close()
            shutil.rmtree(forged)
        detected["careful" if careful else "G only"] = rejected / max(1, trials)
    store.close()
    return {"agent": name, "accepted": passed / max(1, total), "re-runs": total, "worst |dz|": worst_dz,
            "worst CPU diff us": worst_cpu, **{f"detected ({k})": v for k, v in detected.items()}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=5000)
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--attempts", type=int, default=3)
    parser.add_argument("--forgeries", type=int, default=20, help="forged bundles per agent (G edited)")
    parser.add_argument("--careful", type=int, default=5, help="forged bundles per agent (G and curve edited)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--agent", action="append", default=None, help="one_us or a board baseline (repeatable)")
    args = parser.parse_args()
    agents = {"one_us": AgentSpec.parse(str(AGENTS / "one_us.py"))}
    agents.update({name: AgentSpec.parse(module, **options) for name, module, options in BOARD})
    chosen = args.agent or list(agents)
    print(f"{'agent':<16} {'accepted':>9} {'re-runs':>8} {'worst |dz|':>11} {'worst dCPU us':>14} "
          f"{'detected (G)':>13} {'detected (careful)':>19}  time")
    with tempfile.TemporaryDirectory() as temporary:
        suite_path = short_suite(Path(temporary), args.steps, args.seeds)
        for name in chosen:
            started = time.time()
            row = measure(name, agents[name], suite_path, Path(temporary) / name, args.attempts, args.forgeries,
                          args.careful, args.workers)
            print(f"{name:<16} {row['accepted']:>9.3f} {row['re-runs']:>8} {row['worst |dz|']:>11.4f} "
                  f"{row['worst CPU diff us']:>14.1f} {row['detected (G only)']:>13.3f} "
                  f"{row['detected (careful)']:>19.3f}  {time.time() - started:.0f} s", flush=True)


if __name__ == "__main__":
    main()
