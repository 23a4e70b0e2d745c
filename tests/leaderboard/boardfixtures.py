"""Synthetic stores for the board's tests and benchmark.

:func:`build_store` writes a store (the schema of :mod:`ceaseless.leaderboard.board.store`) with direct SQL:
submissions, one run per (entry, world, seed, budget), the run's learning curve and change
points, and the references (fallback and oracle returns and the oracle's curve) of every
(world, seed). Scores follow a simple model, so tests know the expected order:

    z = skill * (1 + 0.1 * log2(budget multiple)) + world offset + noise * N(0, 1)

and ``G = G_fallback + z * (G_oracle - G_fallback)``; the unlimited budget counts as x8.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ceaseless.leaderboard.board.store import Store

LADDER = ("x0.125", "x0.25", "x0.5", "x1", "x2", "x4", "unlimited")
STEPS = 20_000


@dataclass(frozen=True)
class EntrySpec:
    name: str
    skill: float
    status: str = "verified"  # verified / unverified / rejected
    kind: str = "submission"  # submission / baseline
    cpu_us: float = 50.0  # CPU microseconds per call
    skipped: float = 0.01  # fraction of steps skipped
    faults: int = 0  # faults per run
    suite: str = "quick-v1"


def _multiple(budget: str) -> float:
    return 8.0 if budget == "unlimited" else float(budget[1:])


def _curve(rng: np.random.Generator, level: float, points: int, change_steps: Sequence[int]) -> list[float]:
    """Mean reward per chunk: ``level`` with a dip after every change point, plus noise."""
    x = np.linspace(0, STEPS, points, endpoint=False)
    curve = np.full(points, level)
    for step in change_steps:
        after = x >= step
        curve[after] -= 0.3 * np.exp(-(x[after] - step) / 800.0)
    curve += rng.normal(0.0, 0.03, points)
    return np.round(curve, 4).tolist()


def build_store(path: Path | str, entries: Iterable[EntrySpec], *, worlds: Sequence[str] = ("World0", "World1"),
                seeds: Sequence[int] = (0, 1, 2), budgets: Sequence[str] = LADDER, noise: float = 0.05,
                curve_points: int = 100, curve_budgets: Sequence[str] | None = ("x1",), other_curve_points: int = 10,
                omit: Iterable[tuple[str, str, int, str]] = (), oracle_worlds: Sequence[str] | None = None,
                share_curves: bool = False, result_bytes: int = 0, seed: int = 0) -> Path:
    """Write a synthetic store at ``path`` and return the path.

    - ``worlds`` are short names; the store holds ``ceaseless/<name>-v0``.
    - Runs at ``curve_budgets`` (None: all) get curves of ``curve_points`` points; other runs get
      ``other_curve_points`` (the board reads only beta0's curves).
    - ``omit``: (entry, world short name, seed, budget) runs left out (incomplete entries).
    - ``oracle_worlds``: worlds whose references include an oracle curve (default: all).
    - ``share_curves``: entries of similar skill share their curves (quick to build at large
      sizes; the board reads only the top entries' curves).
    - ``result_bytes``: the size of each run's ``result`` JSON (real ones hold the spec, versions
      and per-change diagnostics: a few kB), which makes the runs table as big as a real one.
    """
    path = Path(path)
    entries = list(entries)
    rng = np.random.default_rng(seed)
    world_ids = [f"ceaseless/{w}-v0" for w in worlds]
    omitted = {(e, f"ceaseless/{w}-v0", s, b) for e, w, s, b in omit}
    oracle_worlds = list(worlds) if oracle_worlds is None else list(oracle_worlds)
    Store(path).close()  # the schema
    connection = sqlite3.connect(path, isolation_level=None)
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=OFF")
    connection.execute("BEGIN")
    change_steps = {}
    for w, world_id in enumerate(world_ids):
        for s in seeds:
            g_fallback, g_oracle = 0.1 * w, 0.1 * w + 1.0
            steps = sorted(int(v) for v in rng.integers(1000, STEPS, 3))
            change_steps[world_id, s] = steps
            oracle = worlds[w] in oracle_worlds
            curve = _curve(rng, g_oracle, curve_points, steps) if oracle else []
            connection.execute("INSERT INTO refs VALUES (?, '{}', ?, ?, ?, ?, ?)",
                               (world_id, STEPS, s, g_fallback, g_oracle if oracle else None, json.dumps(curve)))
    world_offset = rng.normal(0.0, 0.05, len(world_ids))
    runs, curves, pk = [], [], 0
    shapes: dict[tuple, str] = {}
    result = json.dumps({"padding": "x" * max(0, result_bytes - 15)}) if result_bytes else "{}"
    for index, entry in enumerate(entries):
        cursor = connection.execute(
            "INSERT INTO submissions (name, suite, suite_digest, agent_digest, status, kind, created) "
            "VALUES (?, ?, 'digest', ?, ?, ?, '2024-01-01T00:00:00Z')",
            (entry.name, entry.suite, f"agent{index}", entry.status, entry.kind))
        submission = cursor.lastrowid
        for w, world_id in enumerate(world_ids):
            for s in seeds:
                g_fallback = 0.1 * w
                cps = [{"step": step, "kind": "switch", "magnitude": 1.0, "process": "arms", "regime": 0}
                       for step in change_steps[world_id, s]]
                for budget in budgets:
                    if (entry.name, world_id, s, budget) in omitted:
                        continue
                    z = (entry.skill * (1.0 + 0.1 * np.log2(_multiple(budget))) + world_offset[w]
                         + noise * rng.normal())
                    g = g_fallback + z
                    pk += 1
                    runs.append((pk, submission, f"{entry.name}-{world_id}-{s}-{budget}", world_id, s, budget,
                                 None if budget == "unlimited" else 20e-6 * _multiple(budget), STEPS, g,
                                 entry.cpu_us * 1e-6 * STEPS, entry.cpu_us, entry.skipped, 1 << 20, entry.faults,
                                 "hash", "sha", result))
                    full = curve_budgets is None or budget in curve_budgets
                    level = round(float(np.clip(entry.skill, -1, 2)), 1 if share_curves else 3)
                    key = (world_id, s, int(level * 10) if share_curves else entry.name, full)
                    if key not in shapes:
                        shapes[key] = json.dumps({"points": _curve(rng, g_fallback + level,
                                                                   curve_points if full else other_curve_points,
                                                                   change_steps[world_id, s]), "steps": STEPS})
                    curves.append((pk, shapes[key], json.dumps(cps)))
        if len(runs) > 50_000:
            _flush(connection, runs, curves)
    _flush(connection, runs, curves)
    connection.execute("COMMIT")
    connection.close()
    return path


def _flush(connection: sqlite3.Connection, runs: list, curves: list) -> None:
    connection.executemany(
        "INSERT INTO runs (id, submission_id, run_id, world_id, config, seed, budget, beta, steps, G, cpu_seconds, "
        "cpu_us_per_call, skipped_fraction, peak_memory, faults, transcript_hash, file_sha256) "
        "VALUES (?, ?, ?, ?, '{}', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", [run[:-1] for run in runs])
    connection.executemany("INSERT INTO run_results VALUES (?, ?)", [(run[0], run[-1]) for run in runs])
    connection.executemany("INSERT INTO curves VALUES (?, ?, ?)", curves)
    runs.clear()
    curves.clear()


def many_entries(count: int, seed: int = 0) -> list[EntrySpec]:
    """``count`` entries with spread-out skills, CPU costs and a few unverified ones and baselines."""
    rng = np.random.default_rng(seed)
    skills = rng.uniform(-0.2, 1.0, count)
    return [EntrySpec(name=f"agent-{i:04d}", skill=float(skills[i]),
                      status="unverified" if i % 7 == 3 else "verified",
                      kind="baseline" if i % 100 == 0 else "submission",
                      cpu_us=float(10 ** rng.uniform(0.5, 3.5)), skipped=float(rng.uniform(0, 0.2)),
                      faults=int(i % 50 == 1))
            for i in range(count)]
