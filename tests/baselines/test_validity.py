"""The validity check runs end to end (at a small size here; benchmarks/validity.py at full size
makes the claim, see the README's table)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import scaled

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_validity_script_on_the_bandit(tmp_path):
    command = [sys.executable, str(ROOT / "benchmarks" / "validity.py"), "--worlds", "DriftingBandit-v0",
               "--seeds", str(scaled(10, 4)), "--steps", str(scaled(50_000, 20_000)), "--learners", "sample-average",
               "ucb-discounted", "--out", str(tmp_path), "--work", str(tmp_path / "work")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600)
    report = json.loads((tmp_path / "validity.json").read_text())
    verdict = report["verdicts"]["ceaseless/DriftingBandit-v0"]
    assert verdict["best_learner"] in ("sample-average", "ucb-discounted")
    # The bandit changes fast enough that a learner frozen after 10% of even a short stream loses.
    assert verdict["checks"]["learner beats frozen twin (95% CI excludes 0)"], verdict
    assert verdict["checks"]["oracle >= every learner"]
    assert done.returncode == (0 if report["passed"] else 1)
    assert "| DriftingBandit-v0 |" in (tmp_path / "validity.md").read_text()
