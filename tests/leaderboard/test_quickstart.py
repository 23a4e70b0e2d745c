"""The main job: committed baseline bundles are checked, recorded and published."""

from __future__ import annotations

import csv
import io
import json
import shutil
import tarfile

import pytest

from ceaseless.leaderboard import quickstart
from ceaseless.leaderboard.board import shipped
from ceaseless.leaderboard.harness.evaluate import evaluate
from ceaseless.leaderboard.harness.protocol import SubmissionError
from tests.leaderboard.tiny import tiny_suite

BOARD = (("random", "ceaseless.baselines.random_agent", {}), ("fallback", "ceaseless.baselines.fallback", {}),
         ("sample-average", "ceaseless.baselines.sample_average", {}))


@pytest.fixture(scope="module")
def archives(tmp_path_factory):
    """Archives of three baselines on a tiny suite, as run_baselines.py writes them."""
    base = tmp_path_factory.mktemp("committed")
    suite_path, suite = tiny_suite(base, steps=800)
    (base / "results" / suite.name).mkdir(parents=True)
    for name, module, options in BOARD:
        bundle = base / "bundles" / name
        evaluate(quickstart.baseline_spec(module, options), suite, bundle, budget="ladder", workers=2,
                 progress=False)
        with tarfile.open(base / "results" / suite.name / f"{name}.tar.gz", "w:gz") as tar:
            for path in sorted(bundle.rglob("*")):
                if path.is_file() and path.parts[len(bundle.parts)] in ("manifest.json", "references.json", "runs"):
                    tar.add(path, arcname=str(path.relative_to(bundle)))
    return base, suite_path, suite


@pytest.fixture
def committed(tmp_path, monkeypatch, archives):
    """A private copy of the archives, where quickstart looks for committed results."""
    base, suite_path, suite = archives
    shutil.copytree(base / "results", tmp_path / "results")
    monkeypatch.setattr(quickstart, "BOARD", BOARD)
    monkeypatch.setattr(quickstart, "REFERENCE", "sample-average")
    monkeypatch.setattr(shipped, "RESULTS", tmp_path / "results")
    return suite_path, suite


def test_quickstart_loads_checks_and_publishes(tmp_path, committed):
    suite_path, _ = committed
    out = tmp_path / "out"
    assert quickstart.quickstart(out, suite_name=str(suite_path)) == 0
    ranked = list(csv.DictReader(io.StringIO((out / "board" / "board.csv").read_text())))
    assert sorted(row["entry"] for row in ranked) == sorted(name for name, _, _ in BOARD)
    assert all(row["rank"] and row["complete"] == "True" for row in ranked), ranked
    page = (out / "board" / "index.html").read_text()
    for name, _, _ in BOARD:
        assert f"<td>{name}</td>" in page, name  # a row of the table, not a word of the explanations
    from ceaseless.leaderboard.board.store import load

    frame = load(out / "board.sqlite")
    assert set(frame["entry"]) == {name for name, _, _ in BOARD} and frame["z"].notna().all()
    assert set(frame["kind"]) == {"baseline"}


def test_an_altered_committed_bundle_is_refused(tmp_path, committed):
    suite_path, suite = committed
    archive = tmp_path / "results" / suite.name / "fallback.tar.gz"
    unpacked = tmp_path / "unpacked"
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    run = sorted((unpacked / "runs").glob("*.json"))[0]
    data = json.loads(run.read_text())
    data["G"] += 0.5
    run.write_text(json.dumps(data))
    with tarfile.open(archive, "w:gz") as tar:
        for path in sorted(unpacked.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(unpacked)))
    with pytest.raises(SubmissionError, match="does not match its sha256"):
        quickstart.quickstart(tmp_path / "out", suite_name=str(suite_path))
