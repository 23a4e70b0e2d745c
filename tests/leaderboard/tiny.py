"""Small suites and submissions for the leaderboard tests (fast to run end to end)."""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path

from ceaseless.worlds.suites import QUICK_V1, Suite

AGENTS = Path(__file__).parent / "agents"


def tiny_suite(directory: Path, steps: int = 600, seeds: tuple[int, ...] = (0, 1),
               worlds: tuple[str, ...] = ("ceaseless/DriftingBandit-v0", "ceaseless/ShiftingMaze-v0"),
               name: str = "tiny-v1") -> tuple[Path, Suite]:
    """A suite of a few worlds and short streams, written as a JSON file (``--suite`` accepts it)."""
    entries = tuple(dataclasses.replace(e, steps=steps) for e in QUICK_V1.entries if e.world_id in worlds)
    suite = dataclasses.replace(QUICK_V1, name=name, entries=entries, public_seeds=seeds, description="tests")
    path = Path(directory) / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(suite.to_json()))
    return path, suite


def submission(directory: Path, name: str, suite: str, agent: str = "qlearner.py", toml_extra: str = "") -> Path:
    """A submission directory with agent.py (copied from tests/leaderboard/agents) and a toml."""
    directory = Path(directory) / name
    directory.mkdir(parents=True)
    shutil.copy(AGENTS / agent, directory / "agent.py")
    (directory / "submission.toml").write_text(
        f'name = "{name}"\nauthors = ["Test Author"]\ncontact = "test@example.org"\n'
        f'description = "a test agent"\nlicence = "MIT"\nsuite = "{suite}"\n{toml_extra}')
    return directory
