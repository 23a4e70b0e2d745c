"""The board on a fresh install shows the shipped baselines; beside a user's entries too."""

from __future__ import annotations

import csv
import io
import shutil
import tarfile

import pytest

from ceaseless.baselines import BOARD
from ceaseless.baselines.deep import BOARD as DEEP_BOARD
from ceaseless.leaderboard import cli
from ceaseless.leaderboard.board import shipped
from ceaseless.leaderboard.board.store import Store, load
from ceaseless.leaderboard.board.submit import check_bundle, record
from ceaseless.worlds.suites import get_suite

SUITE = get_suite(shipped.BOARD_SUITE)
SEEDS = {entry.world_id: SUITE.seeds(world_id=entry.world_id) for entry in SUITE.entries}
#: Every baseline the board shows: the numpy ones and the deep ones with committed results.
SHOWN = [name for name, _, _ in BOARD] + [name for name, _, _ in DEEP_BOARD
                                         if name in shipped.committed_bundles(SUITE.name)]


@pytest.fixture(scope="module")
def data_home(tmp_path_factory):
    """One user data directory for the module: the baselines' cached store is built once."""
    return tmp_path_factory.mktemp("xdg")


@pytest.fixture
def fresh(monkeypatch, data_home):
    monkeypatch.setenv("XDG_DATA_HOME", str(data_home))
    store = data_home / "ceaseless" / "board.sqlite"
    for stale in store.parent.glob("board.sqlite*"):
        stale.unlink()
    return store


def _csv(capsys, *arguments: str) -> list[dict[str, str]]:
    """The rows `ceaseless board --format csv` prints (its notes go to stderr: see _notes)."""
    assert cli.main(["board", "--format", "csv", *arguments]) == 0
    printed = capsys.readouterr()
    _csv.notes = printed.err
    return list(csv.DictReader(io.StringIO(printed.out)))


def _user_entry(store_path, name: str, archive_name: str = "random", tmp_path=None) -> None:
    """Record a committed bundle under another name, as a user's submission."""
    bundle = shipped.unpack(shipped.committed_bundles(SUITE.name)[archive_name], tmp_path / name)
    agent = shipped.bundle_agent(bundle)
    with Store(store_path) as store:
        shipped._add_bundle_references(store, bundle)
        record(store, name=name, suite=SUITE, agent=agent, checked=check_bundle(bundle, SUITE, agent, SEEDS),
               status="unverified", seeds=SEEDS)


def test_a_fresh_install_lists_every_baseline(fresh, capsys):
    rows = _csv(capsys)
    deep = {name for name, _, _ in DEEP_BOARD if name in shipped.committed_bundles(SUITE.name)}
    assert sorted(row["entry"] for row in rows) == sorted([name for name, _, _ in BOARD] + list(deep))
    assert {row["kind"] for row in rows} == {"baseline"}
    assert all(row["rank"] for row in rows if row["entry"] not in deep)  # the numpy baselines are all ranked
    assert all(not row["rank"] for row in rows if row["entry"] in deep)  # on fewer seeds: shown, not ranked
    assert all(f"baseline {name} has committed results on" in _csv.notes for name in deep)
    assert "showing the shipped baselines" in _csv.notes and "ceaseless submit" in _csv.notes
    assert not fresh.exists(), "showing the board must not create the user's store"


def test_a_fresh_table_says_how_to_add_an_entry(fresh, capsys):
    assert cli.main(["board"]) == 0
    out = capsys.readouterr().out
    assert "sarsa-lambda" in out and "ceaseless submit" in out


def test_baselines_stand_beside_the_users_entries_and_can_be_hidden(fresh, capsys, tmp_path):
    _user_entry(fresh, "mine", tmp_path=tmp_path)
    rows = _csv(capsys)
    kinds = {row["entry"]: row["kind"] for row in rows}
    assert kinds.pop("mine") == "submission"
    assert sorted(kinds) == sorted(SHOWN) and set(kinds.values()) == {"baseline"}
    mine = next(row for row in rows if row["entry"] == "mine")
    random = next(row for row in rows if row["entry"] == "random")
    assert float(mine["score"]) == pytest.approx(float(random["score"]))  # the same runs score the same
    assert [row["entry"] for row in _csv(capsys, "--no-baselines")] == ["mine"]
    assert set(load(fresh)["entry"]) == {"mine"}, "the user's store is left as it was"


def test_a_users_entry_shadows_the_baseline_of_its_name(fresh, capsys, tmp_path):
    _user_entry(fresh, "random", archive_name="fallback", tmp_path=tmp_path)
    rows = [row for row in _csv(capsys) if row["entry"] == "random"]
    assert len(rows) == 1 and rows[0]["kind"] == "submission"
    assert "shown instead of the baseline of the same name" in _csv.notes
    assert cli.main(["board"]) == 0
    assert "shown instead of the baseline of the same name" in capsys.readouterr().out


def test_a_bundle_that_does_not_match_the_code_is_left_out_with_a_note(fresh, monkeypatch, tmp_path, capsys):
    results = tmp_path / "results"
    shutil.copytree(shipped.RESULTS / SUITE.name, results / SUITE.name)
    archive = results / SUITE.name / "random.tar.gz"
    work = tmp_path / "edit"
    with tarfile.open(archive) as tar:
        tar.extractall(work, filter="data")
    run = sorted((work / "runs").glob("*.json"))[0]
    run.write_text(run.read_text() + " ")  # one byte more: its sha256 no longer matches the manifest
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(work.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(work)))
    monkeypatch.setattr(shipped, "RESULTS", results)
    rows = _csv(capsys)
    assert "random" not in {row["entry"] for row in rows} and len(rows) == len(SHOWN) - 1
    assert "baseline random left out" in _csv.notes
