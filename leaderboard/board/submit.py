"""Submissions: validate, run on the suite's seeds (or accept a results bundle), record, verify.

A submission is a directory::

    agent.py            the agent module (the protocol's make_agent)
    submission.toml     name, authors, contact or url, description, licence, suite
    requirements.txt    optional: packages the agent needs (checked to be installed; never installed
                        by the harness)

Everything is checked before anything is written: a malformed or tampered input (bad toml,
missing files, a bundle whose hashes, agent, suite or versions do not match, a duplicate name) is
rejected with a message naming the problem, and the store is left exactly as it was.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from ceaseless.leaderboard.board import checks
from ceaseless.leaderboard.board.store import Store
from ceaseless.leaderboard.harness.evaluate import BUNDLE_FORMAT, evaluate, sha256_file
from ceaseless.leaderboard.harness.protocol import AgentSpec, SubmissionError
from ceaseless.leaderboard.harness.runner import references, run
from ceaseless.leaderboard.harness.runspec import RESULT_FORMAT, RunSpec
from ceaseless.worlds.suites import Suite, get_suite

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REQUIRED = {"name": str, "authors": list, "description": str, "licence": str, "suite": str}
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True)
class Submission:
    directory: Path
    name: str
    suite: str
    metadata: dict[str, Any]

    @property
    def agent(self) -> AgentSpec:
        return AgentSpec.parse(str(self.directory))


def read_submission(directory: Path | str) -> Submission:
    """Parse and check a submission directory; raise SubmissionError naming the problem."""
    directory = Path(directory)
    if not directory.is_dir():
        raise SubmissionError(f"{directory} is not a directory (a submission is a directory with agent.py "
                              "and submission.toml)")
    toml_path = directory / "submission.toml"
    if not toml_path.exists():
        raise SubmissionError(f"{directory} has no submission.toml")
    if not (directory / "agent.py").exists():
        raise SubmissionError(f"{directory} has no agent.py")
    try:
        data = tomllib.loads(toml_path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise SubmissionError(f"submission.toml is not valid TOML: {error}") from None
    for key, kind in REQUIRED.items():
        if key not in data:
            raise SubmissionError(f"submission.toml lacks {key!r} (needs: {', '.join(REQUIRED)}, and contact or url)")
        if not isinstance(data[key], kind):
            raise SubmissionError(f"submission.toml: {key} must be a {kind.__name__}, got {type(data[key]).__name__}")
    if not data["authors"] or not all(isinstance(a, str) and a.strip() for a in data["authors"]):
        raise SubmissionError("submission.toml: authors must be a non-empty list of names")
    if not (isinstance(data.get("contact"), str) or isinstance(data.get("url"), str)):
        raise SubmissionError("submission.toml needs a contact (email) or a url")
    if not NAME.match(data["name"]):
        raise SubmissionError(f"submission.toml: name {data['name']!r} must be 1-64 letters, digits, '.', '_' "
                              "or '-', starting with a letter or digit")
    _check_requirements(directory / "requirements.txt")
    metadata_ = {"authors": data["authors"], "contact": data.get("contact") or data.get("url"),
                 "description": data["description"], "licence": data["licence"]}
    return Submission(directory.resolve(), data["name"], data["suite"], metadata_)


def _check_requirements(path: Path) -> None:
    if not path.exists():
        return
    missing = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-"):
            continue
        name = re.split(r"[\s<>=!~;\[]", line, maxsplit=1)[0]
        try:
            metadata.version(name)
        except metadata.PackageNotFoundError:
            missing.append(name)
    if missing:
        raise SubmissionError(f"requirements.txt needs packages that are not installed: {', '.join(missing)} "
                              "(the harness never installs them: install them, then submit again)")


def hidden_salt() -> str | None:
    """The board's secret salt, from CEASELESS_HIDDEN_SALT or the file CEASELESS_HIDDEN_SALT_FILE."""
    if os.environ.get("CEASELESS_HIDDEN_SALT"):
        return os.environ["CEASELESS_HIDDEN_SALT"].strip()
    path = os.environ.get("CEASELESS_HIDDEN_SALT_FILE")
    if path:
        return Path(path).read_text().strip()
    return None


def data_dir(store: Store) -> Path:
    return store.path.parent / f"{store.path.stem}-files"


# -- bundles ---------------------------------------------------------------------------------------
def check_bundle(bundle: Path | str, suite: Suite, agent: AgentSpec, seeds: dict[str, list[int]]) -> list[dict]:
    """Read and check a results bundle against the suite, the agent's code and the seeds;
    return its run results. Raises SubmissionError naming the first problem found."""
    bundle = Path(bundle)
    manifest_path = bundle / "manifest.json"
    if not manifest_path.exists():
        raise SubmissionError(f"{bundle} is not a results bundle: no manifest.json")
    try:
        manifest = json.loads(manifest_path.read_text())
    except json.JSONDecodeError as error:
        raise SubmissionError(f"manifest.json is not valid JSON: {error}") from None
    if manifest.get("format") != BUNDLE_FORMAT:
        raise SubmissionError(f"manifest.json has format {manifest.get('format')!r}, expected {BUNDLE_FORMAT!r}")
    if manifest.get("suite", {}).get("name") != suite.name:
        raise SubmissionError(f"the bundle is for suite {manifest.get('suite', {}).get('name')!r}, not {suite.name}")
    if manifest["suite"].get("digest") != suite.digest():
        raise SubmissionError(f"the bundle was made with another version of suite {suite.name} "
                              "(its suite digest differs): re-run it with this Ceaseless")
    if manifest.get("agent", {}).get("digest") != agent.digest():
        raise SubmissionError("the bundle was produced by different agent code (its agent digest does not match "
                              "the submission's files)")
    if manifest.get("errors"):
        raise SubmissionError(f"the bundle records {len(manifest['errors'])} failed jobs; it is incomplete")
    if not manifest.get("official", False):
        raise SubmissionError("the bundle was run --in-process (debugging mode): it cannot be submitted")
    expected = {(entry.world_id, seed, label) for entry in suite.entries for seed in seeds[entry.world_id]
                for label, _ in suite.budgets(entry, "ladder")}
    results, seen = [], set()
    for item in manifest.get("runs", []):
        path = bundle / item["file"]
        if not path.exists():
            raise SubmissionError(f"the bundle lacks {item['file']}")
        if sha256_file(path) != item["sha256"]:
            raise SubmissionError(f"{item['file']} does not match its sha256 in manifest.json (altered?)")
        result = json.loads(path.read_text())
        if result.get("format") != RESULT_FORMAT:
            raise SubmissionError(f"{item['file']} has format {result.get('format')!r}, expected {RESULT_FORMAT!r}")
        spec = result["spec"]
        entry = suite.entry(spec["world_id"])
        beta = dict(suite.budgets(entry, "ladder")).get(spec["budget"])
        if (spec["steps"] != entry.steps or spec["config"] != entry.config_dict or beta is None
                or (spec["beta"] is None) != (not np.isfinite(beta))
                or (spec["beta"] is not None and not np.isclose(spec["beta"], beta))):
            raise SubmissionError(f"{item['file']} was not run with the suite's settings for {entry.world_id}")
        if result["agent"]["digest"] != agent.digest():
            raise SubmissionError(f"{item['file']} was produced by different agent code")
        key = (spec["world_id"], spec["seed"], spec["budget"])
        if key not in expected:
            raise SubmissionError(f"{item['file']} is a run the suite does not ask for (world, seed, budget) = {key}")
        seen.add(key)
        results.append((result, item["sha256"]))
    missing = expected - seen
    if missing:
        raise SubmissionError(f"the bundle lacks {len(missing)} of the suite's runs, e.g. {sorted(missing)[0]}")
    broken = checks.problems([result for result, _ in results])
    if broken:
        more = f" (and {len(broken) - 1} more)" if len(broken) > 1 else ""
        raise SubmissionError(f"the bundle's results are not consistent (edited?): {broken[0]}{more}")
    return results


def _ensure_references(store: Store, suite: Suite, seeds: dict[str, list[int]], on_world=None) -> list[tuple]:
    """Reference returns the store lacks, computed here (never taken from a bundle)."""
    jobs = []
    for entry in suite.entries:
        wanted = [s for s in seeds[entry.world_id]
                  if store.reference(entry.world_id, entry.config_dict, entry.steps, s) is None]
        if wanted:
            jobs.append((entry.world_id, entry.config_dict, wanted, entry.steps))
    new = []
    workers = min(len(jobs), os.cpu_count() or 1)
    if workers > 1:  # one world per process: the quickstart computes every world's references
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            done = pool.map(references, *zip(*jobs))
            outcomes = []
            for index, outcome in enumerate(done):
                if on_world is not None:
                    on_world(index, jobs[index][0])
                outcomes.append(outcome)
    else:
        outcomes = []
        for index, job in enumerate(jobs):
            if on_world is not None:
                on_world(index, job[0])
            outcomes.append(references(*job))
    for (world_id, config, _, steps), found in zip(jobs, outcomes):
        for seed, ref in found.items():
            new.append((world_id, config, steps, seed, ref.G_fallback, ref.G_oracle, ref.curve_oracle))
    return new


def ensure_references(store: Store, suite: Suite, seeds: dict[str, list[int]], progress: bool = True) -> None:
    """Compute and store the fallback and oracle returns of every (world, seed) the store lacks."""
    bar = None
    if progress:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        bar = Progress(TextColumn("references {task.fields[world]}"), BarColumn(), MofNCompleteColumn(),
                       TimeElapsedColumn())
        task = bar.add_task("references", total=len(suite.entries), world="")
        bar.start()
    def on_world(index: int, world_id: str) -> None:
        bar.update(task, completed=index, world=world_id.split("/")[-1])

    try:
        found = _ensure_references(store, suite, seeds, on_world if bar is not None else None)
        with store.transaction() as cursor:
            for reference in found:
                store.add_reference(cursor, *reference)
    finally:
        if bar is not None:
            bar.update(task, completed=len(suite.entries), world="done")
            bar.stop()


def record(store: Store, *, name: str, suite: Suite, agent: AgentSpec, checked: list, status: str,
           seeds: dict[str, list[int]], kind: str = "submission", metadata: dict[str, Any] | None = None,
           source: str = "", hidden_seeds: bool = False, results: str | None = None) -> None:
    """Write one checked submission, its runs and any missing references in one transaction."""
    new_references = _ensure_references(store, suite, seeds)
    with store.transaction() as cursor:
        submission_id = store.add_submission(
            cursor, name=name, suite=suite.name, suite_digest=suite.digest(), agent_digest=agent.digest(),
            status=status, kind=kind, hidden_seeds=hidden_seeds, metadata=metadata, source=source,
            manifest={"results": results, "seeds": seeds, "agent": agent.to_json()})
        for result, digest in checked:
            store.add_run(cursor, submission_id, result, digest)
        for reference in new_references:
            store.add_reference(cursor, *reference)


def submit(directory: Path | str, store: Store, *, suite_name: str | None = None, results: Path | str | None = None,
           workers: int | None = None, backend: str = "local", progress: bool | None = None,
           kind: str = "submission", salt: str | None = None) -> dict[str, Any]:
    """Validate, run (or check ``results``), and record one submission; returns a summary."""
    submission = read_submission(directory)
    suite = get_suite(suite_name or submission.suite)
    if suite.name != submission.suite:
        raise SubmissionError(f"submission.toml targets suite {submission.suite}, not {suite.name}")
    if store.submission(submission.name) is not None:
        raise SubmissionError(f"a submission named {submission.name!r} already exists; choose another name")
    salt = hidden_salt() if salt is None else salt
    seeds = {entry.world_id: suite.seeds(salt=salt, world_id=entry.world_id) for entry in suite.entries}
    agent = submission.agent
    files = data_dir(store)
    if results is not None:
        checked = check_bundle(results, suite, agent, seeds)
        status = "unverified"
    else:
        bundle = files / "bundles" / submission.name
        if bundle.exists():
            shutil.rmtree(bundle)
        manifest = evaluate(agent, suite, bundle, budget="ladder", workers=workers, backend=backend,
                            salt=salt, progress=progress)
        if manifest["errors"]:
            first = manifest["errors"][0]["error"]
            raise SubmissionError(f"{len(manifest['errors'])} runs failed in the harness: {first}")
        checked = check_bundle(bundle, suite, agent, seeds)
        status = "verified"  # run by this harness, on these seeds
    source = files / "submissions" / submission.name
    if source.exists():
        shutil.rmtree(source)
    shutil.copytree(submission.directory, source, ignore=shutil.ignore_patterns("__pycache__"))
    try:
        record(store, name=submission.name, suite=suite, agent=AgentSpec.parse(str(source)), checked=checked,
               status=status, seeds=seeds, kind=kind, metadata=submission.metadata, source=str(source),
               hidden_seeds=salt is not None, results=str(results) if results else None)
    except Exception:
        shutil.rmtree(source, ignore_errors=True)
        raise
    return {"name": submission.name, "status": status, "runs": len(checked), "suite": suite.name,
            "hidden_seeds": salt is not None}


#: verify's tolerances for a re-run on a budget (see :func:`verify` and benchmarks/verify_rates.py).
CPU_TOLERANCE = 0.5  # relative difference of CPU per call...
CPU_FLOOR_US = 40.0  # ...or this many microseconds per call, whichever is larger
Z_TOLERANCE = 0.1  # |z(re-run) - z(original)| on a budget, plus Z_PER_SKIPPED x the skipped fraction:
Z_PER_SKIPPED = 1.0  # which steps a run skips is up to CPU noise, and so is G, in proportion to them


def verify(name: str, store: Store, *, fraction: float = 0.15, seed: int = 0, cpu_tolerance: float = CPU_TOLERANCE,
           cpu_floor_us: float = CPU_FLOOR_US, z_tolerance: float = Z_TOLERANCE,
           workers: int | None = None) -> dict[str, Any]:
    """Check every run of a submission against the invariants of honest results
    (:mod:`~ceaseless.leaderboard.board.checks`), then re-run a random ``fraction`` (10-20%) of them
    and compare. Unlimited-track runs must reproduce the transcript hash exactly. A run on a budget
    must land within ``z_tolerance`` of the original z, plus ``Z_PER_SKIPPED`` times the fraction of
    steps either run skipped (which steps are skipped is up to CPU noise, and so is G, in
    proportion), and use CPU per call within ``cpu_tolerance``
    (relative) or ``cpu_floor_us`` (absolute), whichever is larger: the relative part catches CPU
    under-reported by a third or more; the floor keeps an agent that costs a few microseconds per
    call from failing on noise: on this machine class, a cheap run evaluated beside another (the
    local pool's two workers) and re-run alone differs by up to 27 us per call
    (benchmarks/verify_rates.py). Below the floor a forged CPU figure changes only the board's CPU
    column: the score comes from G, which the z check and the invariants guard. Re-runs go through
    the same code path (:func:`~ceaseless.leaderboard.harness.runner.run`: the same CPU placement,
    hardening and overhead calibration) as ``evaluate``'s and ``submit``'s."""
    if not 0.10 <= fraction <= 0.20:
        raise ValueError(f"fraction={fraction} must be in [0.10, 0.20]")
    row = store.submission(name)
    if row is None:
        raise SubmissionError(f"no submission named {name!r}")
    runs = store.runs_of(name)
    manifest = json.loads(row["manifest"])
    agent = AgentSpec.from_json(manifest["agent"]) if manifest.get("agent") else AgentSpec.parse(row["source"])
    if agent.digest() != row["agent_digest"]:
        raise SubmissionError(f"the stored code of {name} no longer matches its digest")
    broken = checks.problems([store.run_result(original) for original in runs])
    outcomes = [{"run_id": problem.split(":", 1)[0], "outcome": "mismatch", "detail": problem} for problem in broken]
    rng = np.random.default_rng(seed)
    count = max(1, round(fraction * len(runs)))
    chosen = [] if broken else [runs[i] for i in sorted(rng.choice(len(runs), size=count, replace=False))]
    workdir = data_dir(store) / "verify" / name
    shutil.rmtree(workdir, ignore_errors=True)
    for original in chosen:
        result = json.loads(original["result"])
        spec = RunSpec.from_json({**result["spec"], "agent": agent.to_json()})
        again = run(spec, workdir)
        measured: dict[str, float] = {}
        if spec.unlimited:
            ok = again["transcript_hash"] == original["transcript_hash"]
            detail = "transcript hash matches" if ok else "transcript hash differs"
        else:
            reference = store.reference(spec.world_id, dict(spec.config), spec.steps, spec.seed)
            span = reference["G_oracle"] - reference["G_fallback"]
            dz = abs(again["G"] - original["G"]) / span
            before, after = original["cpu_us_per_call"], again["cpu_us_per_call"]
            allowed = max(cpu_tolerance * before, cpu_floor_us)
            skipped = max(again["skipped_fraction"], original["skipped_fraction"])
            z_allowed = z_tolerance + Z_PER_SKIPPED * skipped
            ok = dz <= z_allowed and abs(after - before) <= allowed
            detail = (f"|dz| = {dz:.4f} (allowed {z_allowed:.3g}), CPU {after:.1f} against {before:.1f} us/call "
                      f"(allowed +-{allowed:.1f})")
            measured = {"dz": dz, "cpu_us_before": before, "cpu_us_after": after}
        outcomes.append({"run_id": original["run_id"], "outcome": "match" if ok else "mismatch", "detail": detail,
                         **measured})
    accepted = all(outcome["outcome"] == "match" for outcome in outcomes)
    with store.transaction() as cursor:
        for outcome in outcomes:
            store.add_verification(cursor, row["id"], outcome["run_id"], outcome["outcome"], outcome["detail"])
        store.set_status(cursor, row["id"], "verified" if accepted else "rejected")
    shutil.rmtree(workdir, ignore_errors=True)
    return {"name": name, "accepted": accepted, "checked": len(outcomes), "outcomes": outcomes}
