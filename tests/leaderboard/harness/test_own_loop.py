"""run(env) submissions: code that owns its loop is evaluated unchanged, through the same meter."""

from __future__ import annotations

from pathlib import Path

import pytest

from ceaseless.leaderboard.harness.evaluate import check_submission
from ceaseless.leaderboard.harness.protocol import AgentSpec, StreamEnd, SubmissionError, load_entry
from ceaseless.leaderboard.harness.runner import run
from ceaseless.leaderboard.harness.runspec import RunSpec
from tests.leaderboard.tiny import tiny_suite

AGENTS = Path(__file__).parents[1] / "agents"
BANDIT = "ceaseless/DriftingBandit-v0"
MAZE = "ceaseless/ShiftingMaze-v0"


def _spec(world: str = BANDIT, steps: int = 2000, budget: str = "unlimited", beta: float = float("inf"),
          credit_cap_steps: int = 1000, **options) -> RunSpec:
    return RunSpec(agent=AgentSpec.parse(str(AGENTS / "own_loop.py"), **options), world_id=world, seed=0,
                   steps=steps, budget=budget, beta=beta, credit_cap_steps=credit_cap_steps)


def test_a_loop_that_owns_the_env_plays_the_whole_stream(tmp_path):
    result = run(_spec(MAZE), tmp_path / "a")
    assert not result["faults"] and result["official"] and result["loop_returned_at"] is None
    assert result["steps"] == 2000 and result["steps_skipped"] == 0 and result["cpu_seconds"] > 0
    again = run(_spec(MAZE), tmp_path / "b")
    assert again["transcript_hash"] == result["transcript_hash"], "deterministic on the unlimited track"


def test_an_update_longer_than_the_credit_makes_the_world_move_on(tmp_path):
    """Every 200 steps the loop spends 20 ms (a batch update); at 0.5 ms per step and a credit cap of
    10 steps (5 ms), the world steps on the fallback for about 30 steps meanwhile, and the loop sees
    elapsed > 1."""
    result = run(_spec(steps=3000, budget="x1", beta=0.5e-3, credit_cap_steps=10, update_every=200,
                       update_cpu=0.02), tmp_path)
    assert not result["faults"]
    skipped = result["steps_skipped"]
    updates = (3000 - skipped) // 200  # the loop counts the steps it acted on
    # Each update leaves 20 ms - (at most 5 ms of credit) = 15 ms or more of debt: 30 steps or more.
    assert 28 * updates <= skipped <= 40 * updates, (skipped, updates)
    assert result["cpu_seconds"] >= updates * 0.02


def test_a_loop_that_returns_early_leaves_the_rest_to_the_fallback(tmp_path):
    result = run(_spec(return_at=500), tmp_path)
    assert not result["faults"] and result["loop_returned_at"] == 500
    assert result["steps_skipped"] == 2000 - 500


def test_a_loop_that_raises_is_a_fault_and_restarts(tmp_path):
    result = run(_spec(crash_at=100), tmp_path)
    assert result["faults"][0]["kind"] == "raised" and result["faults"][0]["step"] == 100
    assert "deliberate failure in the loop" in result["faults"][0]["message"]
    assert result["restarts"] >= 1


def test_the_streams_end_gets_through_a_careless_except(tmp_path):
    """StreamEnd derives from BaseException: `except Exception` in the loop does not keep it alive."""
    assert issubclass(StreamEnd, BaseException) and not issubclass(StreamEnd, Exception)
    result = run(_spec(steps=300, swallow=True), tmp_path)
    assert not result["faults"] and result["steps_skipped"] == 0


@pytest.mark.parametrize("source, message", [
    ("def run(env):\n    pass\n\ndef make_agent(o, a, s):\n    pass\n", "defines both make_agent and run"),
    ("def run():\n    pass\n", r"run must accept \(env\)"),
    ("run = 3\n", "run is not callable"),
    ("x = 1\n", "defines neither make_agent"),
])
def test_malformed_own_loop_submissions_are_refused(tmp_path, source, message):
    path = tmp_path / "agent.py"
    path.write_text(source)
    with pytest.raises(SubmissionError, match=message):
        load_entry(AgentSpec.parse(str(path)))
    _, suite = tiny_suite(tmp_path / "suite", steps=100)
    with pytest.raises(SubmissionError, match=message):
        check_submission(AgentSpec.parse(str(path)), suite)


def test_an_own_loop_submission_cannot_run_in_process(tmp_path):
    _, suite = tiny_suite(tmp_path, steps=100)
    with pytest.raises(SubmissionError, match="own process"):
        check_submission(AgentSpec.parse(str(AGENTS / "own_loop.py")), suite, in_process=True)
