"""pytest-benchmark suites for the agents' own cost: a tabular and a linear baseline's step
in-process and isolated in its own process (net figures and the table: agent_cost.py and
isolation_cost.py)."""

from __future__ import annotations

import pytest

from benchmarks.agent_cost import agent_us
from benchmarks.isolation_cost import isolated_us, spec_of
from ceaseless.leaderboard.harness.protocol import load_factory
from ceaseless.worlds.suites import get_suite

ENTRY = {entry.short_name: entry for entry in get_suite("core-v1").entries}["DriftingControl-v0"]
STEPS = 2000


@pytest.mark.parametrize("name", ["q-learning", "sarsa-lambda"])
def test_agent_step_in_process(benchmark, name):
    benchmark.extra_info["steps"] = STEPS
    make_agent = load_factory(spec_of(name))
    benchmark.pedantic(agent_us, args=(make_agent, ENTRY.world_id, ENTRY.config_dict, STEPS, 0.0),
                       rounds=3, iterations=1)


@pytest.mark.parametrize("name", ["busy", "sarsa-lambda"])
def test_agent_step_isolated(benchmark, name):
    benchmark.extra_info["steps"] = STEPS
    charged, harness = benchmark.pedantic(isolated_us, args=(spec_of(name), ENTRY.world_id, ENTRY.config_dict, STEPS),
                                          rounds=1, iterations=1)
    assert charged > 0.0 and harness > 0.0
