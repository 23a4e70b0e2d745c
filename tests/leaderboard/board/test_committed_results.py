"""The committed baseline results match the code: the README's first command loads them.

``ceaseless quickstart`` refuses a results bundle made by other agent code or another version of
a suite, so a change to ``baselines/`` or to a world without re-running
``python scripts/run_baselines.py --suite quick-v2 --force`` (and the other suites; ``--deep`` for
the deep baselines) would break the main job. This test says so at once, naming the stale archive.
"""

from __future__ import annotations

import tarfile

import pytest

from ceaseless.baselines import BOARD
from ceaseless.baselines.deep import BOARD as DEEP_BOARD
from ceaseless.leaderboard.board.shipped import RESULTS, bundle_seeds
from ceaseless.leaderboard.board.submit import check_bundle
from ceaseless.leaderboard.quickstart import baseline_spec
from ceaseless.worlds.suites import get_suite


@pytest.mark.parametrize("suite_name", ["quick-v1", "core-v1", "quick-v2"])
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


#: The deep baselines committed so far: on quick-v2 only, on the first public seeds (see the README).
#: stream-q-l2init, sb3-ppo and sb3-dqn have no committed results yet.
DEEP_SEEDS = {"stream-q": 3, "stream-ac": 3}
DEEP = [entry for entry in DEEP_BOARD if entry[0] in DEEP_SEEDS]


@pytest.mark.parametrize("name, module, options", DEEP, ids=[entry[0] for entry in DEEP])
def test_the_deep_baselines_committed_bundles_are_complete_on_their_seeds(tmp_path, name, module, options):
    suite = get_suite("quick-v2")
    archive = RESULTS / suite.name / f"{name}.tar.gz"
    assert archive.exists(), f"{archive.name} is missing: python scripts/run_baselines.py --suite quick-v2 --deep"
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path, filter="data")
    seeds = bundle_seeds(tmp_path, {entry.world_id: suite.seeds(world_id=entry.world_id) for entry in suite.entries})
    assert all(len(s) == DEEP_SEEDS[name] for s in seeds.values())
    checked = check_bundle(tmp_path, suite, baseline_spec(module, options), seeds)
    assert len(checked) == DEEP_SEEDS[name] * sum(len(suite.budgets(entry)) for entry in suite.entries)
    assert all(result["official"] and not result["faults"] for result, _ in checked)


def test_every_committed_deep_bundle_is_checked_here():
    committed = {path.name.removesuffix(".tar.gz") for path in (RESULTS / "quick-v2").glob("*.tar.gz")}
    assert committed & {name for name, _, _ in DEEP_BOARD} == set(DEEP_SEEDS)
