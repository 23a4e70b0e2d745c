"""pytest-benchmark suite for the board: load, score and render a full-size board from its store.

The goal: 1,000 entries x 10 worlds x 10 seeds x 6 ladder budgets + unlimited (700,000 runs) are
loaded from the SQLite store, scored and rendered (terminal table and the HTML page with its
plots) in under 10 s on one core. The store is synthetic (``tests/leaderboard/boardfixtures.py``):
each run carries a ``result`` JSON of about real size (2.5 kB; real ones hold the spec, versions
and per-change diagnostics, 2-4 kB) and the beta0 runs carry 500-point learning curves, so the
tables are as big as a real store's; building it (about a minute, 3-4 GB) is not timed.

``test_publish`` times the whole thing; ``test_stage`` times each step alone (load = store.load,
score = scoring into a Board, table and html = rendering a scored Board). Every round's CPU time
(``time.process_time``) is recorded in ``extra_info``: on a shared machine it is the figure to
read, as wall time includes waiting for the CPU.

Run: ``pytest benchmarks/test_board_speed.py --benchmark-only`` (CI runs it once with
``--benchmark-disable``, which builds a small store to keep it working; timing goals are checked
by reading the figures, never by asserts).
"""

from __future__ import annotations

import time

import pytest

from ceaseless.leaderboard.board import render, store, table
from ceaseless.leaderboard.board.publish import publish
from tests.leaderboard.boardfixtures import build_store, many_entries

ENTRIES, WORLDS, SEEDS = 1000, 10, 10
RESULT_BYTES = 2500
ROUNDS = 3


@pytest.fixture(scope="module")
def board_store(request, tmp_path_factory):
    small = bool(request.config.getoption("benchmark_disable", False))
    entries, worlds, seeds = (30, 3, 3) if small else (ENTRIES, WORLDS, SEEDS)
    path = tmp_path_factory.mktemp("board_speed") / "board.sqlite"
    build_store(path, many_entries(entries), worlds=[f"World{i}" for i in range(worlds)], seeds=range(seeds),
                curve_points=500, share_curves=True, result_bytes=0 if small else RESULT_BYTES)
    yield path
    for file in path.parent.glob(path.name + "*"):
        file.unlink()


@pytest.fixture(scope="module")
def scored(board_store):
    return table.build(board_store, reference="agent-0000")


def _timed(benchmark, function):
    """Benchmark ``function`` for ROUNDS rounds, recording each round's CPU seconds."""
    cpu: list[float] = []

    def run():
        start = time.process_time()
        result = function()
        cpu.append(round(time.process_time() - start, 3))
        return result

    result = benchmark.pedantic(run, rounds=ROUNDS, iterations=1, warmup_rounds=0)
    benchmark.extra_info["cpu_seconds"] = cpu
    return result


def test_publish(benchmark, board_store, tmp_path):
    """store.load + scoring + the terminal table + the HTML page with its four plots."""
    benchmark.extra_info["shape"] = f"{ENTRIES} entries x {WORLDS} worlds x {SEEDS} seeds x 7 budgets"
    result = _timed(benchmark, lambda: publish(board_store, out_dir=tmp_path, formats=("table", "html"),
                                                      reference="agent-0000"))
    assert result["html"].exists() and "agent-0000" in result["table"]


@pytest.mark.parametrize("stage", ["load", "score", "table", "html"])
def test_stage(benchmark, board_store, scored, stage, tmp_path):
    functions = {
        "load": lambda: store.load(board_store),
        "score": lambda: table.from_runs(scored.runs, reference="agent-0000", store_path=board_store),
        "table": lambda: render.table_text(scored),
        "html": lambda: render.html(scored, tmp_path),
    }
    _timed(benchmark, functions[stage])
