"""pytest-benchmark suites for the harness: per-step overhead with a do-nothing agent
(in-process and isolated) next to the raw world loop. See harness_overhead.py for the table."""

from __future__ import annotations

import pytest

from benchmarks.harness_overhead import harness_us, raw_us

WORLD = "ceaseless/Forager-v0"
STEPS = 4096


def test_raw_world_loop(benchmark):
    benchmark.extra_info["steps"] = STEPS
    benchmark(raw_us, WORLD, STEPS)


@pytest.mark.parametrize("in_process", [True, False], ids=["in-process", "isolated"])
def test_harness_with_a_do_nothing_agent(benchmark, tmp_path, in_process):
    benchmark.extra_info["steps"] = STEPS
    benchmark.pedantic(harness_us, args=(WORLD, STEPS, in_process, tmp_path), rounds=3, iterations=1)
