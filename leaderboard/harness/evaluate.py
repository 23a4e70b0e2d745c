"""Evaluate an agent on a suite: check the submission, run the grid, write a results bundle.

A results bundle is a directory::

    manifest.json        what was run (suite + digest, agent + digest, seeds, budgets, versions)
                         and the sha256 of every file below
    references.json      fallback and oracle mean reward per (world, seed), for normalisation
    runs/<run>.json      one file per (world, seed, budget) run (a saturated rung's is derived from
                         the unlimited run: see :mod:`~ceaseless.leaderboard.harness.saturation`)
    logs/, checkpoints/  agent output; checkpoints of unfinished runs (for --resume)
"""

from __future__ import annotations

import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ceaseless.leaderboard.harness.backends import make_backend
from ceaseless.leaderboard.harness.protocol import AgentSpec, SubmissionError
from ceaseless.leaderboard.harness.runspec import RunSpec, versions, write_json
from ceaseless.leaderboard.harness.sandbox import AgentFault, InProcessAgent, SandboxedAgent
from ceaseless.leaderboard.harness.saturation import is_saturated, saturated_result
from ceaseless.worlds.suites import UNLIMITED, Suite

BUNDLE_FORMAT = "ceaseless-bundle/1"


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_submission(agent: AgentSpec, suite: Suite, in_process: bool = False) -> None:
    """Start the agent once on every world of the suite (make_agent and its methods), before
    any run; raise SubmissionError naming the problem."""
    from ceaseless import worlds

    for entry in suite.entries:
        world = worlds.WORLDS[entry.world_id](num_envs=1, **entry.config_dict)
        kind = InProcessAgent if in_process else SandboxedAgent
        try:
            handle = kind(agent, world.observation_space, world.action_space, 0)
        except SubmissionError:
            raise
        except AgentFault as fault:
            first_line = fault.message.strip().splitlines()[0] if fault.message.strip() else fault.kind
            raise SubmissionError(f"the agent cannot start on {entry.world_id}: {first_line}") from None
        handle.close()


@dataclass
class Grid:
    runs: list[RunSpec]
    reference_jobs: list[dict[str, Any]]
    seeds: dict[str, list[int]]


def plan(agent: AgentSpec, suite: Suite, seeds: int | None = None, budget: str = "ladder",
         salt: str | None = None, in_process: bool = False, worlds_only: list[str] | None = None,
         steps: int | None = None, reuse_saturated: bool = True) -> Grid:
    """The runs (world x seed x budget) and reference jobs of an evaluation. With
    ``reuse_saturated``, a ladder's unlimited runs replay the credit of its other rungs."""
    runs, references, seed_table = [], [], {}
    for entry in suite.entries:
        if worlds_only and entry.world_id not in worlds_only and entry.short_name not in worlds_only:
            continue
        world_seeds = suite.seeds(seeds, salt=salt, world_id=entry.world_id)
        seed_table[entry.world_id] = world_seeds
        length = steps or entry.steps
        references.append({"kind": "reference", "world_id": entry.world_id, "config": entry.config_dict,
                           "seeds": world_seeds, "steps": length})
        budgets = suite.budgets(entry, budget)
        rungs = tuple((label, beta) for label, beta in budgets if label != UNLIMITED) \
            if reuse_saturated and len(budgets) > 2 else ()
        for seed in world_seeds:
            for label, beta in budgets:
                runs.append(RunSpec(
                    agent=agent, world_id=entry.world_id, seed=seed, steps=length, budget=label, beta=beta,
                    config=entry.config, suite=suite.name, suite_digest=suite.digest(),
                    start_credit=suite.start_credit, credit_cap_steps=suite.credit_cap_steps,
                    fault_penalty_steps=suite.fault_penalty_steps, max_faults=suite.max_faults,
                    call_timeout=suite.call_timeout, memory_limit=suite.memory_limit, in_process=in_process,
                    replay=rungs if label == UNLIMITED else (), probes=suite.probes,
                ))
    if not runs:
        raise ValueError(f"nothing to run: no world of suite {suite.name} matches {worlds_only}")
    return Grid(runs, references, seed_table)


class _Progress:
    """A rich progress bar (runs done, env-steps/s, ETA), or plain lines when not a terminal."""

    def __init__(self, total_runs: int, total_steps: int, enabled: bool) -> None:
        self.enabled = enabled
        self.progress = None
        if not enabled:
            return
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(), transient=False,
        )
        self.runs = self.progress.add_task("runs", total=total_runs, rate="")
        self.steps = self.progress.add_task("env-steps", total=total_steps, rate="")
        self.started = time.perf_counter()
        self.done_steps = 0
        self.progress.start()

    def advance_steps(self, steps: int) -> None:
        if self.progress is None:
            return
        self.done_steps += steps
        rate = self.done_steps / max(time.perf_counter() - self.started, 1e-9)
        self.progress.update(self.steps, advance=steps, rate=f"{rate:,.0f} steps/s")

    def run_done(self) -> None:
        if self.progress is not None:
            self.progress.update(self.runs, advance=1)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def evaluate(agent: AgentSpec, suite: Suite, out: Path | str, *, seeds: int | None = None,
             budget: str = "ladder", workers: int | None = None, backend: str = "local",
             address: str | None = None, resume: bool = False, in_process: bool = False,
             salt: str | None = None, worlds_only: list[str] | None = None, steps: int | None = None,
             progress: bool | None = None, reuse_saturated: bool = True) -> dict[str, Any]:
    """Evaluate ``agent`` on ``suite`` and write a results bundle to ``out``; returns the manifest.

    On the ladder, the unlimited runs go first; a rung they show saturated is recorded from them
    rather than run (``reuse_saturated=False``: run every rung)."""
    out = Path(out)
    manifest_path = out / "manifest.json"
    if manifest_path.exists() and not resume:
        raise FileExistsError(f"{out} already holds a results bundle; pass --resume to continue it, "
                              "or choose another --out")
    grid = plan(agent, suite, seeds, budget, salt, in_process, worlds_only, steps, reuse_saturated)
    check_submission(agent, suite if worlds_only is None else _subset(suite, grid), in_process)
    out.mkdir(parents=True, exist_ok=True)
    references_path = out / "references.json"
    reference_table: dict[str, Any] = json.loads(references_path.read_text()) if references_path.exists() else {}
    # With replay, the unlimited runs go first and decide which rungs still need a run of their own.
    replaying = any(spec.replay for spec in grid.runs)
    first = [spec for spec in grid.runs if not replaying or spec.budget == UNLIMITED]
    later = [spec for spec in grid.runs if replaying and spec.budget != UNLIMITED]
    unlimited_of = {(spec.world_id, spec.seed): spec.run_id for spec in first}
    jobs = [job for job in grid.reference_jobs if _reference_key(job) not in reference_table]
    bar = _Progress(len(grid.runs), sum(spec.steps for spec in grid.runs),
                    sys.stderr.isatty() if progress is None else progress)
    errors, results = [], {}
    runner = make_backend(backend, workers, address)

    def execute(jobs: list[dict[str, Any]]) -> None:
        for outcome in runner.map(jobs, on_progress=lambda run_id, steps: bar.advance_steps(steps)):
            if "error" in outcome:
                errors.append({"job": outcome.get("job"), "error": outcome["error"],
                               "traceback": outcome.get("traceback")})
                if outcome["kind"] == "run":
                    bar.run_done()
                continue
            if outcome["kind"] == "reference":
                reference_table[_reference_key(outcome["job"])] = outcome["references"]
                write_json(references_path, reference_table)
            else:
                results[outcome["run_id"]] = outcome["result"]
                bar.run_done()

    def as_jobs(specs: list[RunSpec]) -> list[dict[str, Any]]:
        return [{"kind": "run", "spec": spec.to_json(), "directory": str(out), "resume": resume} for spec in specs]

    try:
        execute(jobs + as_jobs(first))
        to_run = []
        for spec in later:
            unlimited = results.get(unlimited_of.get((spec.world_id, spec.seed), ""))
            if unlimited is not None and is_saturated(unlimited, spec.budget):
                results[spec.run_id] = saturated_result(unlimited, spec)
                write_json(out / "runs" / f"{spec.run_id}.json", results[spec.run_id], compact=True)
                bar.advance_steps(spec.steps)
                bar.run_done()
            else:
                to_run.append(spec)
        execute(as_jobs(to_run))
    finally:
        bar.close()
        if hasattr(runner, "shutdown") and backend == "ray" and address is None:
            runner.shutdown()
    manifest = {
        "format": BUNDLE_FORMAT,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "suite": {"name": suite.name, "digest": suite.digest()},
        "agent": {"name": agent.name, "spec": agent.to_json(), "digest": agent.digest()},
        "official": not in_process,
        "hidden_seeds": salt is not None,
        "seeds": grid.seeds,
        "budget": budget,
        "backend": backend,
        "versions": versions(),
        "references": {"file": "references.json", "sha256": sha256_file(references_path)},
        "runs": [
            {"run_id": spec.run_id, "world_id": spec.world_id, "seed": spec.seed, "budget": spec.budget,
             "file": f"runs/{spec.run_id}.json", "sha256": sha256_file(out / "runs" / f"{spec.run_id}.json"),
             **({"saturated": True} if "saturated" in results[spec.run_id] else {})}
            for spec in grid.runs if spec.run_id in results
        ],
        "saturated_runs": sum("saturated" in result for result in results.values()),
        "errors": errors,
    }
    write_json(manifest_path, manifest)
    return manifest


def _reference_key(job: dict[str, Any]) -> str:
    config = json.dumps(job.get("config", {}), sort_keys=True)
    return f"{job['world_id']}@{job['steps']}@{config}"


def _subset(suite: Suite, grid: Grid) -> Suite:
    from dataclasses import replace

    return replace(suite, entries=tuple(e for e in suite.entries if e.world_id in grid.seeds))
