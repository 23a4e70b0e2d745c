"""The SQLite store of submissions, runs, references and verifications.

SQLite from the standard library, in a file the user chooses (default: the user's data
directory, ``$XDG_DATA_HOME/ceaseless/board.sqlite``). Every write is one transaction
(``BEGIN IMMEDIATE``), the journal is in WAL mode and writers wait for each other
(``busy_timeout``), so two ``ceaseless submit`` processes at once cannot corrupt it, and a write
that fails leaves the store exactly as it was. pandas reads it for analysis: :func:`load`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ceaseless.leaderboard.scoring import metrics

SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    authors TEXT NOT NULL DEFAULT '',
    contact TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    licence TEXT NOT NULL DEFAULT '',
    suite TEXT NOT NULL,
    suite_digest TEXT NOT NULL,
    agent_digest TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('verified', 'unverified', 'rejected')),
    kind TEXT NOT NULL DEFAULT 'submission' CHECK (kind IN ('submission', 'baseline')),
    hidden_seeds INTEGER NOT NULL DEFAULT 0,
    official INTEGER NOT NULL DEFAULT 1,
    created TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    manifest TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    run_id TEXT NOT NULL,
    world_id TEXT NOT NULL,
    config TEXT NOT NULL DEFAULT '{}',
    seed INTEGER NOT NULL,
    budget TEXT NOT NULL,
    beta REAL,
    steps INTEGER NOT NULL,
    G REAL NOT NULL,
    cpu_seconds REAL NOT NULL,
    cpu_us_per_call REAL NOT NULL,
    skipped_fraction REAL NOT NULL,
    peak_memory INTEGER NOT NULL,
    faults INTEGER NOT NULL,
    recovery_steps REAL,
    retention_gain REAL,
    plasticity_trend REAL,
    final_window REAL,
    transcript_hash TEXT NOT NULL,
    file_sha256 TEXT NOT NULL,
    UNIQUE (submission_id, world_id, seed, budget)
);
CREATE INDEX IF NOT EXISTS runs_by_submission ON runs (submission_id);
CREATE TABLE IF NOT EXISTS run_results (
    run_pk INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    result TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS curves (
    run_pk INTEGER PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
    points TEXT NOT NULL,
    change_points TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS refs (
    world_id TEXT NOT NULL,
    config TEXT NOT NULL,
    steps INTEGER NOT NULL,
    seed INTEGER NOT NULL,
    G_fallback REAL NOT NULL,
    G_oracle REAL,
    curve_oracle TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (world_id, config, steps, seed)
);
CREATE TABLE IF NOT EXISTS verifications (
    id INTEGER PRIMARY KEY,
    submission_id INTEGER NOT NULL REFERENCES submissions(id) ON DELETE CASCADE,
    created TEXT NOT NULL,
    run_id TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('match', 'mismatch', 'error')),
    detail TEXT NOT NULL DEFAULT ''
);
"""


class StoreError(ValueError):
    """A write the store refuses (e.g. a duplicate name); the store is unchanged."""


def default_path() -> Path:
    base = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return base / "ceaseless" / "board.sqlite"


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Store:
    """A connection to one store file (created on first use)."""

    def __init__(self, path: Path | str | None = None) -> None:
        self.path = Path(path) if path else default_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.connection = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
        self.connection.row_factory = sqlite3.Row
        self.connection.execute("PRAGMA busy_timeout=60000")
        self._enable_wal()
        self.connection.execute("PRAGMA foreign_keys=ON")
        with self.transaction() as cursor:  # two processes creating the same store: one wins, both fine
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    cursor.execute(statement)
            cursor.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
        found = self.connection.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if int(found[0]) != SCHEMA_VERSION:
            raise StoreError(f"{self.path} has schema version {found[0]}; this Ceaseless reads {SCHEMA_VERSION}")

    def _enable_wal(self, patience: float = 60.0) -> None:
        """Switch to WAL. The switch needs the file to itself and SQLite does not wait for it (no
        busy handler), so two processes opening a new store at once retry here instead of failing."""
        deadline = time.monotonic() + patience
        while True:
            try:
                self.connection.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Cursor]:
        """One atomic write: committed at the end, rolled back entirely on any error."""
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        try:
            yield cursor
        except BaseException:
            cursor.execute("ROLLBACK")
            raise
        else:
            cursor.execute("COMMIT")

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: Any) -> None:
        self.close()

    # -- reads ---------------------------------------------------------------------------------------
    def submission(self, name: str) -> sqlite3.Row | None:
        return self.connection.execute("SELECT * FROM submissions WHERE name = ?", (name,)).fetchone()

    def submissions(self) -> list[sqlite3.Row]:
        return self.connection.execute("SELECT * FROM submissions ORDER BY id").fetchall()

    def runs_of(self, name: str) -> list[sqlite3.Row]:
        return self.connection.execute(
            "SELECT runs.*, run_results.result, curves.points AS curve FROM runs "
            "JOIN submissions ON submissions.id = runs.submission_id JOIN run_results ON run_results.run_pk = runs.id "
            "LEFT JOIN curves ON curves.run_pk = runs.id WHERE submissions.name = ? ORDER BY runs.id",
            (name,)).fetchall()

    def run_result(self, row: sqlite3.Row) -> dict[str, Any]:
        """A stored run (a row of :meth:`runs_of`) as its result dict, with the numbers the board
        reads taken from their columns (the ones a forger of the store would edit) and its curve."""
        result = json.loads(row["result"])
        for column in ("G", "cpu_seconds", "cpu_us_per_call", "skipped_fraction", "transcript_hash", "steps"):
            result[column] = row[column]
        if row["curve"] is not None:
            result["curve"] = json.loads(row["curve"])
        return result

    def reference(self, world_id: str, config: dict[str, Any], steps: int, seed: int) -> sqlite3.Row | None:
        return self.connection.execute(
            "SELECT * FROM refs WHERE world_id=? AND config=? AND steps=? AND seed=?",
            (world_id, _config_key(config), steps, seed)).fetchone()

    # -- writes --------------------------------------------------------------------------------------
    def add_submission(self, cursor: sqlite3.Cursor, *, name: str, suite: str, suite_digest: str,
                       agent_digest: str, status: str, kind: str = "submission", hidden_seeds: bool = False,
                       official: bool = True, metadata: dict[str, Any] | None = None, source: str = "",
                       manifest: dict[str, Any] | None = None) -> int:
        metadata = metadata or {}
        if cursor.execute("SELECT 1 FROM submissions WHERE name = ?", (name,)).fetchone():
            raise StoreError(f"a submission named {name!r} already exists; choose another name")
        cursor.execute(
            "INSERT INTO submissions (name, authors, contact, description, licence, suite, suite_digest, "
            "agent_digest, status, kind, hidden_seeds, official, created, source, manifest) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (name, ", ".join(metadata.get("authors", [])), metadata.get("contact", ""),
             metadata.get("description", ""), metadata.get("licence", ""), suite, suite_digest, agent_digest,
             status, kind, int(hidden_seeds), int(official), now(), source, json.dumps(manifest or {})))
        return int(cursor.lastrowid)

    def add_run(self, cursor: sqlite3.Cursor, submission_id: int, result: dict[str, Any], file_sha256: str) -> None:
        spec = result["spec"]
        # Diagnostics are recomputed here from the run's stored curve and change points (at the
        # curve's resolution), so every entry's are computed the same way, whoever ran it.
        points = result["curve"]["points"]
        diagnostics = metrics.summarise(np.asarray(points), max(1, result["steps"] // max(1, len(points))),
                                        result["steps"], result["change_points"])
        cursor.execute(
            "INSERT INTO runs (submission_id, run_id, world_id, config, seed, budget, beta, steps, G, cpu_seconds, "
            "cpu_us_per_call, skipped_fraction, peak_memory, faults, recovery_steps, retention_gain, "
            "plasticity_trend, final_window, transcript_hash, file_sha256) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (submission_id, result["run_id"], spec["world_id"], _config_key(spec.get("config", {})), spec["seed"],
             spec["budget"], spec["beta"],
             result["steps"], result["G"], result["cpu_seconds"], result["cpu_us_per_call"],
             result["skipped_fraction"], result["peak_memory_bytes"], len(result["faults"]),
             diagnostics.get("mean_recovery_steps"), diagnostics.get("retention_gain"),
             diagnostics.get("plasticity_trend"), diagnostics.get("final_window"), result["transcript_hash"],
             file_sha256))
        run_pk = cursor.lastrowid
        # The full result lives in its own table: the board's scans of `runs` stay narrow.
        cursor.execute("INSERT INTO run_results (run_pk, result) VALUES (?, ?)",
                       (run_pk, json.dumps({k: v for k, v in result.items() if k not in ("curve", "change_points")})))
        cursor.execute("INSERT INTO curves (run_pk, points, change_points) VALUES (?, ?, ?)",
                       (run_pk, json.dumps(result["curve"]), json.dumps(result["change_points"])))

    def add_reference(self, cursor: sqlite3.Cursor, world_id: str, config: dict[str, Any], steps: int, seed: int,
                      g_fallback: float, g_oracle: float | None, curve_oracle: list[float]) -> None:
        cursor.execute("INSERT OR REPLACE INTO refs VALUES (?, ?, ?, ?, ?, ?, ?)",
                       (world_id, _config_key(config), steps, seed, g_fallback, g_oracle, json.dumps(curve_oracle)))

    def add_verification(self, cursor: sqlite3.Cursor, submission_id: int, run_id: str, outcome: str,
                         detail: str) -> None:
        cursor.execute("INSERT INTO verifications (submission_id, created, run_id, outcome, detail) "
                       "VALUES (?, ?, ?, ?, ?)", (submission_id, now(), run_id, outcome, detail))

    def set_status(self, cursor: sqlite3.Cursor, submission_id: int, status: str) -> None:
        cursor.execute("UPDATE submissions SET status = ? WHERE id = ?", (status, submission_id))


def _config_key(config: dict[str, Any]) -> str:
    return json.dumps(config or {}, sort_keys=True)


def load(path: Path | str | None = None, suite: str | None = None) -> pd.DataFrame:
    """Every run with its submission and references, one row per run (pandas), plus ``z``.

    Reads only the columns the board needs (not the stored result JSON) and joins in pandas:
    a board of 700,000 runs loads in about two seconds."""
    store = Store(path)
    try:
        connection = store.connection
        connection.execute("PRAGMA mmap_size=1073741824")
        submissions = pd.read_sql_query(
            "SELECT id AS submission_id, name AS entry, status, kind, suite FROM submissions"
            + (" WHERE suite = ?" if suite else ""), connection, params=(suite,) if suite else ())
        runs = pd.read_sql_query(
            "SELECT id AS run_pk, submission_id, world_id, config, seed, budget, beta, steps, G, cpu_seconds, "
            "cpu_us_per_call, skipped_fraction, peak_memory, faults, recovery_steps, retention_gain, "
            "plasticity_trend, final_window FROM runs", connection)
        references = pd.read_sql_query("SELECT world_id, config, steps, seed, G_fallback, G_oracle FROM refs",
                                       connection)
    finally:
        store.close()
    frame = runs.merge(submissions, on="submission_id", how="inner")
    frame = frame.merge(references, on=["world_id", "config", "steps", "seed"], how="left")
    frame = frame.drop(columns=["submission_id"])
    if not frame.empty:
        span = frame["G_oracle"] - frame["G_fallback"]
        frame["z"] = (frame["G"] - frame["G_fallback"]) / span.where(span > 0)
    else:
        frame["z"] = pd.Series(dtype=float)
    return frame
