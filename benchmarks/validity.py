"""Does the suite reward ongoing adaptation? The validity check of the baselines.

    python benchmarks/validity.py [--suite quick-v1] [--seeds 10] [--steps N] [--workers 2]
                                  [--out benchmarks/results/validity-quick-v1]

On the unlimited track (deterministic; agents in-process, which is fine here: no compute is
measured), for every world of the suite:

1. every learner runs on ``--seeds`` seeds; the *best learner* of a world is the one with the
   highest mean z there;
2. the best learner's *frozen twin* (the same agent, which stops learning after the first 10% of
   the stream) runs on the same seeds: the gap ``z(learner) - z(twin)`` must be positive with a
   95% bootstrap interval (over seeds, paired) that excludes zero;
3. both run again on the world's *stationary* configuration (every change process frozen): there
   the gap must be much smaller (we require at most half the changing world's gap); the table also
   shows how much better the frozen twin does there than in the changing world (informative
   only: z on a stationary world can be ill-conditioned when its oracle barely beats its fallback
   on some seed, e.g. a DriftingControl set-point at the bottom, where doing nothing is nearly best);
4. ordering: the oracle's mean reward >= every learner's, and the best learner's >= random's and
   the fallback's.

Writes ``validity.json`` and ``validity.md`` (the world x agent table of mean z with 95% CIs and
the verdicts) into ``--out``; exits 1 if a check fails.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from ceaseless.leaderboard.harness.backends import LocalBackend
from ceaseless.leaderboard.harness.protocol import AgentSpec
from ceaseless.leaderboard.harness.runner import Reference, references
from ceaseless.leaderboard.harness.runspec import RunSpec
from ceaseless.worlds.suites import get_suite

ROOT = Path(__file__).resolve().parents[1]
LEARNERS = {
    "sample-average": "baselines/sample_average.py",
    "ucb-sliding": ("baselines/ucb.py", {"variant": "sliding"}),
    "ucb-discounted": ("baselines/ucb.py", {"variant": "discounted"}),
    "q-learning": "baselines/q_learning.py",
    "dyna-q+": "baselines/dyna_q_plus.py",
    "sarsa-lambda": "baselines/sarsa_lambda.py",
    "mlp-dqn": "baselines/mlp_dqn.py",
    "mlp-cbp": ("baselines/mlp_dqn.py", {"variant": "continual_backprop"}),
}
CONTROLS = {"random": "baselines/random_agent.py", "fallback": "baselines/fallback.py"}


def agent_spec(entry, **extra) -> AgentSpec:
    path, options = (entry, {}) if isinstance(entry, str) else entry
    return AgentSpec.parse(str(ROOT / path), **{**options, **extra})


def bootstrap_mean_ci(values: np.ndarray, reps: int = 10_000, seed: int = 0) -> tuple[float, float, float]:
    """Mean and 95% percentile-bootstrap interval of a 1-d sample (numpy Generator, reproducible)."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]  # a seed whose oracle cannot beat its fallback has no z
    if len(values) == 0:
        return float("nan"), float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (reps, len(values)))].mean(axis=1)
    low, high = np.percentile(means, [2.5, 97.5])
    return float(values.mean()), float(low), float(high)


def run_grid(jobs: list[tuple[str, dict]], directory: Path, workers: int) -> dict[str, dict]:
    """Run (key, RunSpec json) jobs in parallel; return results by key."""
    payload = [{"kind": "run", "spec": spec, "directory": str(directory / key.replace("/", "_").replace("|", "-")),
                "tag": key, "resume": True} for key, spec in jobs]  # finished runs are reused
    results = {}
    for outcome in LocalBackend(workers).map(payload):
        if "error" in outcome:
            raise RuntimeError(f"{outcome['error']}\n{outcome.get('traceback')}")
        results[outcome["tag"]] = outcome["result"]
    return results


def spec_json(agent: AgentSpec, world_id: str, seed: int, steps: int, stationary: bool) -> dict:
    config = (("stationary", True),) if stationary else ()
    return RunSpec(agent=agent, world_id=world_id, seed=seed, steps=steps, budget="unlimited", beta=float("inf"),
                   config=config, in_process=True).to_json()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suite", default="quick-v1")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--steps", type=int, default=None, help="override the stream length (smoke runs)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worlds", nargs="*", default=None, help="only these worlds (short names)")
    parser.add_argument("--learners", nargs="*", default=None, help="only these learners")
    parser.add_argument("--out", default=None)
    parser.add_argument("--work", default="/tmp/ceaseless-validity")
    args = parser.parse_args()
    suite = get_suite(args.suite)
    seeds = list(range(args.seeds))
    learners = {k: v for k, v in LEARNERS.items() if not args.learners or k in args.learners}
    entries = [e for e in suite.entries if not args.worlds or e.short_name in args.worlds]
    work = Path(args.work)
    out = Path(args.out or ROOT / "benchmarks" / "results" / f"validity-{suite.name}")
    started = time.time()

    # References (fallback and oracle) for the changing and the stationary configuration (cached
    # in the work directory: a re-run with the same settings reuses them and every finished run).
    refs = {}
    for entry in entries:
        steps = args.steps or entry.steps
        for stationary in (False, True):
            config = {"stationary": True} if stationary else {}
            cache = work / "references" / f"{entry.short_name}-{steps}-{int(stationary)}-{len(seeds)}.json"
            if cache.exists():
                found = {int(k): Reference(**v) for k, v in json.loads(cache.read_text()).items()}
            else:
                found = references(entry.world_id, config, seeds, steps)
                cache.parent.mkdir(parents=True, exist_ok=True)
                cache.write_text(json.dumps({k: v.__dict__ for k, v in found.items()}))
            refs[entry.world_id, stationary] = found

    def z_of(result, stationary) -> float:
        ref = refs[result["spec"]["world_id"], stationary][result["spec"]["seed"]]
        span = ref.G_oracle - ref.G_fallback
        return (result["G"] - ref.G_fallback) / span if span > 0 else float("nan")

    # 1. Every learner and the controls on the changing worlds.
    jobs = []
    for entry in entries:
        steps = args.steps or entry.steps
        for name, agent in {**learners, **CONTROLS}.items():
            for seed in seeds:
                jobs.append((f"{name}|{entry.world_id}|{seed}|changing",
                             spec_json(agent_spec(agent), entry.world_id, seed, steps, False)))
    first = run_grid(jobs, work / "first", args.workers)

    table: dict[str, dict[str, dict]] = {}
    for entry in entries:
        table[entry.world_id] = {}
        for name in {**learners, **CONTROLS}:
            zs = np.array([z_of(first[f"{name}|{entry.world_id}|{s}|changing"], False) for s in seeds])
            gs = np.array([first[f"{name}|{entry.world_id}|{s}|changing"]["G"] for s in seeds])
            mean, low, high = bootstrap_mean_ci(zs)
            table[entry.world_id][name] = {"z": mean, "low": low, "high": high, "G": float(gs.mean()),
                                           "zs": zs.tolist()}
        oracle_g = float(np.mean([refs[entry.world_id, False][s].G_oracle for s in seeds]))
        fallback_g = float(np.mean([refs[entry.world_id, False][s].G_fallback for s in seeds]))
        table[entry.world_id]["oracle"] = {"z": 1.0, "low": 1.0, "high": 1.0, "G": oracle_g}
        table[entry.world_id]["fallback-reference"] = {"z": 0.0, "low": 0.0, "high": 0.0, "G": fallback_g}

    best = {w: max(learners, key=lambda name: table[w][name]["z"]) for w in table}

    # 2-3. The best learner's frozen twin, and both on the stationary configuration.
    jobs = []
    for entry in entries:
        steps = args.steps or entry.steps
        name = best[entry.world_id]
        freeze = {"freeze_after": steps // 10}
        for seed in seeds:
            jobs.append((f"twin|{entry.world_id}|{seed}|changing",
                         spec_json(agent_spec(learners[name], **freeze), entry.world_id, seed, steps, False)))
            jobs.append((f"learner|{entry.world_id}|{seed}|stationary",
                         spec_json(agent_spec(learners[name]), entry.world_id, seed, steps, True)))
            jobs.append((f"twin|{entry.world_id}|{seed}|stationary",
                         spec_json(agent_spec(learners[name], **freeze), entry.world_id, seed, steps, True)))
    second = run_grid(jobs, work / "second", args.workers)

    verdicts, ok = {}, True
    for entry in entries:
        w, name = entry.world_id, best[entry.world_id]
        learner_z = np.array(table[w][name]["zs"])
        twin_z = np.array([z_of(second[f"twin|{w}|{s}|changing"], False) for s in seeds])
        stat_learner = np.array([z_of(second[f"learner|{w}|{s}|stationary"], True) for s in seeds])
        stat_twin = np.array([z_of(second[f"twin|{w}|{s}|stationary"], True) for s in seeds])
        gap = bootstrap_mean_ci(learner_z - twin_z)
        stationary_gap = bootstrap_mean_ci(stat_learner - stat_twin)
        change_hurts = bootstrap_mean_ci(stat_twin - twin_z)  # the twin in the stationary vs changing world
        learner_gs = {n: table[w][n]["G"] for n in learners}
        checks = {
            "learner beats frozen twin (95% CI excludes 0)": gap[1] > 0,
            "stationary gap at most half the changing gap": stationary_gap[0] <= 0.5 * gap[0],
            "oracle >= every learner": all(table[w]["oracle"]["G"] >= g for g in learner_gs.values()),
            "best learner >= random and fallback": learner_gs[name] >= max(table[w]["random"]["G"],
                                                                            table[w]["fallback"]["G"]),
        }
        ok &= all(checks.values())
        verdicts[w] = {"best_learner": name, "gap": gap, "stationary_gap": stationary_gap, "change_hurts": change_hurts,
                       "twin_z": float(twin_z.mean()), "stationary_learner_z": float(stat_learner.mean()),
                       "stationary_twin_z": float(stat_twin.mean()), "checks": checks,
                       "learners_below_random": [n for n, g in learner_gs.items() if g < table[w]["random"]["G"]]}

    out.mkdir(parents=True, exist_ok=True)
    (out / "validity.json").write_text(json.dumps({"suite": suite.name, "seeds": seeds, "table": table,
                                                    "verdicts": verdicts, "passed": bool(ok)}, indent=1))
    markdown = render_markdown(suite.name, seeds, args.steps, table, verdicts, learners, time.time() - started)
    (out / "validity.md").write_text(markdown)
    print(markdown)
    return 0 if ok else 1


def render_markdown(suite, seeds, steps, table, verdicts, learners, seconds) -> str:
    names = [*learners, "random", "fallback"]
    length = f"{steps:,}-step streams" if steps else "the suite's stream lengths"
    lines = [f"### Validity on {suite} (unlimited track, {len(seeds)} seeds, {length})", "",
             "Mean z per world and agent (95% bootstrap CI over seeds); z = 0 is the fallback, 1 the oracle.", "",
             "| world | " + " | ".join(names) + " |", "|---|" + "---|" * len(names)]
    for w, row in table.items():
        cells = [f"{row[n]['z']:.2f} [{row[n]['low']:.2f}, {row[n]['high']:.2f}]" for n in names]
        lines.append(f"| {w.split('/')[-1]} | " + " | ".join(cells) + " |")
    lines += ["", "| world | best learner | learner - frozen twin | same, stationary world "
              "| twin: stationary - changing | checks |", "|---|---|---|---|---|---|"]
    for w, v in verdicts.items():
        g, s, h = v["gap"], v["stationary_gap"], v["change_hurts"]
        failed = [k for k, passed in v["checks"].items() if not passed]
        verdict = "all pass" if not failed else "FAIL: " + "; ".join(failed)
        lines.append(f"| {w.split('/')[-1]} | {v['best_learner']} | {g[0]:+.3f} [{g[1]:+.3f}, {g[2]:+.3f}] | "
                     f"{s[0]:+.3f} [{s[1]:+.3f}, {s[2]:+.3f}] | {h[0]:+.3f} [{h[1]:+.3f}, {h[2]:+.3f}] | {verdict} |")
    lines += ["", f"({seconds / 60:.1f} minutes)"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
