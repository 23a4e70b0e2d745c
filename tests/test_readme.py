"""The README's promises: two commands near the top, CI runs the second, the example agent works."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from ceaseless.leaderboard.harness.protocol import AgentSpec
from ceaseless.leaderboard.harness.runner import run
from ceaseless.leaderboard.harness.runspec import RunSpec

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_the_first_block_holds_exactly_the_two_commands():
    first = code_blocks("bash")[0].strip().splitlines()
    assert len(first) == 2
    assert first[0].endswith("pip install -e . && ceaseless quickstart")
    assert first[1].endswith('pip install -e ".[test]" && pytest')
    assert README.index("```bash") < 400, "the commands must be near the top"


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "grep -E '^python3 -m venv .venv .*pytest' README.md" in ci
    assert "ruff check" in ci


def test_the_example_agent_learns_without_a_fault(tmp_path):
    example = next(block for block in code_blocks("python") if "def make_agent" in block)
    assert len([line for line in example.splitlines() if line.strip()]) <= 30
    (tmp_path / "agent.py").write_text(example)
    for world in ("ceaseless/ShiftingMaze-v0", "ceaseless/Forager-v0", "ceaseless/DriftingBandit-v0"):
        spec = RunSpec(agent=AgentSpec.parse(str(tmp_path / "agent.py")), world_id=world, seed=0, steps=3000,
                       budget="unlimited", beta=float("inf"), in_process=True)
        result = run(spec, tmp_path / "out")
        assert not result["faults"], result["faults"]


def test_no_placeholder_is_left_in_the_readme():
    placeholders = re.findall(r"^[A-Z][A-Z_]{5,}$", README, flags=re.M)
    assert not placeholders, f"README.md still holds placeholders: {placeholders}"


def _own_loop_example(marker: str) -> str:
    return next(block for block in code_blocks("python") if "def run(env)" in block and marker in block)


@pytest.mark.parametrize("marker, world", [("zlib", "ceaseless/ShiftingMaze-v0"),
                                           ("stable_baselines3", "ceaseless/CraftingEconomy-v0")])
def test_the_own_loop_examples_play_a_stream_without_a_fault(tmp_path, marker, world):
    if marker == "stable_baselines3" and os.environ.get("CEASELESS_REQUIRE_DEEP") != "1":
        pytest.importorskip("stable_baselines3", reason="the deep extra is not installed")
    (tmp_path / "agent.py").write_text(_own_loop_example(marker))
    spec = RunSpec(agent=AgentSpec.parse(str(tmp_path / "agent.py")), world_id=world, seed=0, steps=1500,
                   budget="unlimited", beta=float("inf"))
    result = run(spec, tmp_path / "out")
    assert not result["faults"] and result["steps_skipped"] == 0, result["faults"]
