"""The store: atomic writes, WAL, concurrent writers, and pandas reading it."""

from __future__ import annotations

import multiprocessing
import shutil
import sqlite3
import subprocess
import sys

import pytest

from ceaseless.leaderboard.board.store import Store, StoreError, load
from tests.leaderboard.tiny import submission, tiny_suite


def _writer(path: str, prefix: str, count: int) -> None:
    store = Store(path)
    for i in range(count):
        with store.transaction() as cursor:
            submission_id = store.add_submission(cursor, name=f"{prefix}-{i}", suite="s", suite_digest="d",
                                                 agent_digest="a", status="unverified")
            for seed in range(5):
                cursor.execute("INSERT INTO runs (submission_id, run_id, world_id, seed, budget, steps, G, "
                               "cpu_seconds, cpu_us_per_call, skipped_fraction, peak_memory, faults, "
                               "transcript_hash, file_sha256) VALUES (?, ?, 'w', ?, 'x1', 1, 0, 0, 0, 0, "
                               "0, 0, 'h', 'f')", (submission_id, f"r{seed}", seed))
                cursor.execute("INSERT INTO run_results VALUES (?, '{}')", (cursor.lastrowid,))
    store.close()


def test_concurrent_writers_do_not_corrupt_the_store(tmp_path):
    path = str(tmp_path / "board.sqlite")
    Store(path).close()
    context = multiprocessing.get_context("spawn")
    writers = [context.Process(target=_writer, args=(path, f"p{i}", 40)) for i in range(2)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(120)
        assert writer.exitcode == 0
    connection = sqlite3.connect(path)
    assert connection.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert connection.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert connection.execute("SELECT COUNT(*) FROM submissions").fetchone()[0] == 80
    assert connection.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 400


def test_a_failed_write_leaves_nothing_behind(tmp_path):
    store = Store(tmp_path / "board.sqlite")
    with store.transaction() as cursor:
        store.add_submission(cursor, name="one", suite="s", suite_digest="d", agent_digest="a", status="verified")
    with pytest.raises(StoreError, match="already exists"), store.transaction() as cursor:
        store.add_submission(cursor, name="two", suite="s", suite_digest="d", agent_digest="a", status="verified")
        store.add_submission(cursor, name="one", suite="s", suite_digest="d", agent_digest="a", status="verified")
    assert [row["name"] for row in store.submissions()] == ["one"]


def test_two_submit_commands_at_once(tmp_path):
    suite_path, suite = tiny_suite(tmp_path, steps=300, seeds=(0,), worlds=("ceaseless/DriftingBandit-v0",))
    db = tmp_path / "board.sqlite"
    commands = []
    for name in ("alpha", "beta"):
        directory = submission(tmp_path, name, suite.name)
        commands.append([sys.executable, "-m", "ceaseless.leaderboard.cli", "submit", str(directory), "--suite",
                         str(suite_path), "--db", str(db), "--workers", "1"])
    processes = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for c in commands]
    outputs = [p.communicate(timeout=300) for p in processes]
    assert all(p.returncode == 0 for p in processes), outputs
    frame = load(db)
    assert sorted(frame["entry"].unique()) == ["alpha", "beta"]
    assert len(frame) == 2 * 7 and frame["z"].notna().all()
    shutil.rmtree(tmp_path / "board-files")
