"""The committed baseline results match the code: the README's first command loads them.

``ceaseless quickstart`` refuses a results bundle made by other agent code or another version of
a suite, so a change to ``baselines/`` or to a world without re-running
``python scripts/run_baselines.py --suite quick-v1 --force`` (and ``--suite core-v1``) would break
the main job. This test says so at once, naming the stale archive.
"""

from __future__ import annotations

import tarfile

import pytest

from ceaseless.baselines import BOARD
from ceaseless.leaderboard.board.shipped import RESULTS
from ceaseless.leaderboard.board.submit import check_bundle
from ceaseless.leaderboard.quickstart import baseline_spec
from ceaseless.worlds.suites import get_suite


@pytest.mark.parametrize("suite_name", ["quick-v1", "core-v1"])
@pytest.mark.parametrize("name, module, options", BOARD, ids=[entry[0] for entry in BOARD])
def test_the_committed_bundle_is_complete_and_current(tmp_path, suite_name, name, module, options):
    suite = get_suite(suite_name)
    archive = RESULTS / suite.name / f"{name}.tar.gz"
    assert archive.exists(), f"{archive.name} is missing: python scripts/run_baselines.py --suite {suite.name}"
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    seeds = {entry.world_id: suite.seeds(world_id=entry.world_id) for entry in suite.entries}
    checked = check_bundle(tmp_path, suite, baseline_spec(module, options), seeds)
    expected = sum(len(seeds[entry.world_id]) * len(suite.budgets(entry)) for entry in suite.entries)
    assert len(checked) == expected
    assert all(result["official"] and not result["faults"] for result, _ in checked)
