"""The shipped baselines' committed results, as a store the board can show beside any other.

Ceaseless ships a results bundle per baseline and suite (``leaderboard/results/baselines/<suite>/
<name>.tar.gz``, made by ``python scripts/run_baselines.py``). :func:`baseline_store` records them
once into a cached store in the user's data directory (every file checked against its manifest
and against the installed baseline code; the normalisation references taken from the bundles,
which is what makes it take seconds: ``ceaseless quickstart`` recomputes them instead), and
:func:`with_baselines` lays them beside the entries of a user's store. A bundle whose agent code no
longer matches the installed code (a baseline edited in a checkout) is left out with a note.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tarfile
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ceaseless import __version__
from ceaseless.leaderboard.board.store import Store, default_path
from ceaseless.leaderboard.board.submit import check_bundle, record
from ceaseless.leaderboard.harness.protocol import AgentSpec, SubmissionError
from ceaseless.worlds.suites import Suite

#: Where the committed bundles live (installed with the package).
RESULTS = Path(__file__).resolve().parents[1] / "results" / "baselines"
METADATA = {"authors": ["Ceaseless"], "contact": "https://github.com/ceaseless", "licence": "Apache-2.0",
            "description": "reference baseline"}


def committed_bundles(suite_name: str) -> dict[str, Path]:
    """Board name -> committed archive, for every baseline with results on ``suite_name``."""
    return {path.name.removesuffix(".tar.gz"): path for path in sorted((RESULTS / suite_name).glob("*.tar.gz"))}


def unpack(archive: Path, into: Path) -> Path:
    """Extract a bundle archive into ``into`` (a fresh directory) and return it."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into


def bundle_agent(bundle: Path) -> AgentSpec:
    """The agent spec a bundle's manifest names."""
    return AgentSpec.from_json(json.loads((bundle / "manifest.json").read_text())["agent"]["spec"])


def bundle_seeds(bundle: Path, seeds: dict[str, list[int]]) -> dict[str, list[int]]:
    """The seeds a committed bundle was run on, when they are the first public seeds of every
    world (the deep baselines, too costly for every seed, are committed on fewer); else ``seeds``."""
    own = json.loads((bundle / "manifest.json").read_text()).get("seeds") or {}
    if set(own) == set(seeds) and all(own[w] and own[w] == seeds[w][:len(own[w])] for w in seeds):
        return {world: list(own[world]) for world in seeds}
    return seeds


def _seed_count(seeds: dict[str, list[int]]) -> str:
    counts = sorted({len(v) for v in seeds.values()})
    return "/".join(str(c) for c in counts)


def _cache_path(suite: Suite, archives: dict[str, Path]) -> Path:
    """The cached store's file: named by the suite, this version and the archives' bytes, so a new
    bundle or a new Ceaseless builds a new one."""
    hasher = hashlib.sha256(f"{__version__}|{suite.digest()}".encode())
    for name, path in archives.items():
        hasher.update(name.encode())
        hasher.update(hashlib.sha256(path.read_bytes()).digest())
    return default_path().parent / "baselines" / f"{suite.name}-{hasher.hexdigest()[:16]}.sqlite"


def _add_bundle_references(store: Store, bundle: Path) -> None:
    """The bundle's own fallback and oracle returns (``references.json``, hashed in its manifest)."""
    references = json.loads((bundle / "references.json").read_text())
    with store.transaction() as cursor:
        for key, by_seed in references.items():
            world_id, steps, config = key.split("@", 2)
            for seed, ref in by_seed.items():
                store.add_reference(cursor, world_id, json.loads(config), int(steps), int(seed), ref["G_fallback"],
                                    ref["G_oracle"], ref.get("curve_oracle") or [])


def baseline_store(suite: Suite) -> tuple[Path | None, list[str]]:
    """The cached store of the committed baselines on ``suite`` (built on first use) and notes
    about bundles left out. ``(None, notes)`` when the suite has no committed results."""
    archives = committed_bundles(suite.name)
    if not archives:
        return None, [f"No committed baseline results for {suite.name}."]
    path = _cache_path(suite, archives)
    notes_path = path.with_suffix(".notes.json")
    if path.exists() and notes_path.exists():
        return path, json.loads(notes_path.read_text())
    path.parent.mkdir(parents=True, exist_ok=True)
    seeds = {entry.world_id: suite.seeds(world_id=entry.world_id) for entry in suite.entries}
    notes: list[str] = []
    with tempfile.TemporaryDirectory(dir=path.parent) as work:
        building = Path(work) / "store.sqlite"
        with Store(building) as store:
            for name, archive in archives.items():
                bundle = unpack(archive, Path(work) / name)
                try:
                    agent = bundle_agent(bundle)
                    own = bundle_seeds(bundle, seeds)
                    checked = check_bundle(bundle, suite, agent, own)
                    if own != seeds:
                        notes.append(f"baseline {name} has committed results on {_seed_count(own)} of the suite's "
                                     f"{_seed_count(seeds)} public seeds per world: shown, not ranked")
                except (SubmissionError, KeyError, ValueError) as error:
                    notes.append(f"baseline {name} left out: its committed results do not match this code ({error})")
                    continue
                _add_bundle_references(store, bundle)
                record(store, name=name, suite=suite, agent=agent, checked=checked, status="verified", seeds=own,
                       kind="baseline", metadata=METADATA, source=f"committed results {archive.name}")
        notes_path.write_text(json.dumps(notes))
        os.replace(building, path)  # another process building the same cache writes the same content
    return path, notes


def with_baselines(store_path: Path, baselines_path: Path, into: Path) -> tuple[Path, list[str]]:
    """A store at ``into`` holding everything in ``store_path`` plus the baselines of
    ``baselines_path`` whose names the user's store does not already use. Neither input changes."""
    source = sqlite3.connect(f"file:{store_path}?mode=ro", uri=True)
    target = sqlite3.connect(into)
    try:
        source.backup(target)
    finally:
        source.close()
    shadowed: list[str] = []
    try:
        target.execute("ATTACH DATABASE ? AS base", (f"file:{baselines_path}?mode=ro",))
        columns = {table: [row[1] for row in target.execute(f"PRAGMA base.table_info({table})")]
                   for table in ("submissions", "runs", "run_results", "curves")}
        taken = {row[0] for row in target.execute("SELECT name FROM main.submissions")}
        run_offset = target.execute("SELECT COALESCE(MAX(id), 0) FROM main.runs").fetchone()[0]
        with target:
            for base_id, name in target.execute("SELECT id, name FROM base.submissions").fetchall():
                if name in taken:
                    shadowed.append(name)
                    continue
                fields = [c for c in columns["submissions"] if c != "id"]
                cursor = target.execute(f"INSERT INTO main.submissions ({', '.join(fields)}) SELECT "
                                        f"{', '.join(fields)} FROM base.submissions WHERE id = ?", (base_id,))
                new_id = cursor.lastrowid
                run_fields = [c for c in columns["runs"] if c not in ("id", "submission_id")]
                target.execute(f"INSERT INTO main.runs (id, submission_id, {', '.join(run_fields)}) SELECT id + ?, ?, "
                               f"{', '.join(run_fields)} FROM base.runs WHERE submission_id = ?",
                               (run_offset, new_id, base_id))
                for table in ("run_results", "curves"):
                    rest = [c for c in columns[table] if c != "run_pk"]
                    target.execute(f"INSERT INTO main.{table} (run_pk, {', '.join(rest)}) SELECT run_pk + ?, "
                                   f"{', '.join(f'x.{c}' for c in rest)} FROM base.{table} AS x JOIN base.runs AS r "
                                   "ON r.id = x.run_pk WHERE r.submission_id = ?", (run_offset, base_id))
            target.execute("INSERT OR IGNORE INTO main.refs SELECT * FROM base.refs")
    finally:
        target.close()
    notes = [f"The store's own entr{'y' if len(shadowed) == 1 else 'ies'} {', '.join(sorted(shadowed))} "
             "shown instead of the baseline of the same name."] if shadowed else []
    return into, notes


#: The suite a board shows when neither the caller nor the store says which.
BOARD_SUITE = "quick-v2"


def _store_suites(path: Path) -> set[str]:
    """The suites a store's submissions belong to (none for a missing or empty store)."""
    if not path.exists():
        return set()
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return {row[0] for row in connection.execute("SELECT DISTINCT suite FROM submissions")}
    except sqlite3.DatabaseError:
        return set()
    finally:
        connection.close()


@contextmanager
def board_source(store_path: Path, suite: str | None, baselines: bool = True) -> Iterator[tuple[Path, str | None,
                                                                                               list[str]]]:
    """The store a board is built from, its suite and notes about it, for as long as the board is
    being rendered. Without ``baselines``: the user's store as it is. With them: the committed
    baselines of the suite beside the store's entries (the store's entries first where a name is
    taken twice), or the baselines alone when the store is missing or has no entry on the suite."""
    if not baselines:
        yield store_path, suite, []
        return
    from ceaseless.worlds.suites import get_suite

    suites = _store_suites(store_path)
    if suite is None and len(suites) > 1:
        raise ValueError(f"the store holds several suites ({', '.join(sorted(suites))}); scores compare only "
                         "within one suite version: choose one with suite=... (--suite)")
    try:
        chosen = get_suite(suite or (next(iter(suites)) if suites else BOARD_SUITE))
    except (KeyError, ValueError, FileNotFoundError):  # a private suite: no baselines were committed for it
        yield store_path, suite, []
        return
    base, notes = baseline_store(chosen)
    if base is None:
        yield store_path, chosen.name, notes
        return
    if chosen.name not in suites:
        notes.append(f"No entries on {chosen.name} in {store_path} yet: showing the shipped baselines. Add yours "
                     "with `ceaseless submit DIR` (a directory with agent.py and submission.toml; see the README).")
        yield base, chosen.name, notes
        return
    with tempfile.TemporaryDirectory() as work:
        combined, more = with_baselines(store_path, base, Path(work) / "board.sqlite")
        yield combined, chosen.name, notes + more
