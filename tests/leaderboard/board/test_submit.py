"""Submissions: validation, recording, results bundles from elsewhere, tampering, verification."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from ceaseless.leaderboard.board.store import Store, load
from ceaseless.leaderboard.board.submit import submit, verify
from ceaseless.leaderboard.harness.evaluate import evaluate
from ceaseless.leaderboard.harness.protocol import SubmissionError
from tests.leaderboard.tiny import submission, tiny_suite


def dump(path: Path) -> list:
    """Every row of every table: to show a refused write changed nothing."""
    connection = sqlite3.connect(path)
    tables = [r[0] for r in connection.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
    rows = [(t, connection.execute(f"SELECT * FROM {t} ORDER BY 1").fetchall()) for t in tables]
    connection.close()
    return rows


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return tiny_suite(tmp_path_factory.mktemp("suite"))


@pytest.fixture(scope="module")
def recorded(tmp_path_factory, tiny):
    """A store holding one submission (copied by each test that changes it)."""
    suite_path, suite = tiny
    base = tmp_path_factory.mktemp("recorded")
    store = Store(base / "board.sqlite")
    submit(submission(base, "first", suite.name), store, suite_name=str(suite_path), workers=2, progress=False)
    store.close()
    return base


def copy_store(recorded: Path, tmp_path: Path) -> Store:
    """A private copy of the recorded store, made with sqlite's backup API (a file copy races with
    another connection checkpointing and removing the -wal/-shm files)."""
    target = tmp_path / "store" / "board.sqlite"
    target.parent.mkdir()
    with closing(sqlite3.connect(recorded / "board.sqlite")) as source, closing(sqlite3.connect(target)) as copy:
        source.backup(copy)
    return Store(target)


def test_submit_runs_records_and_scores(recorded):
    with Store(recorded / "board.sqlite") as store:
        row = store.submission("first")
    assert row["status"] == "verified" and row["suite"] == "tiny-v1" and not row["hidden_seeds"]
    frame = load(store.path)
    assert len(frame) == 2 * 2 * 7 and frame["z"].notna().all()
    assert set(frame["budget"]) == {"x0.125", "x0.25", "x0.5", "x1", "x2", "x4", "unlimited"}


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda d: (d / "submission.toml").write_text("name = [unclosed"), "not valid TOML"),
        (lambda d: (d / "submission.toml").unlink(), "has no submission.toml"),
        (lambda d: (d / "agent.py").unlink(), "has no agent.py"),
        (lambda d: (d / "submission.toml").write_text((d / "submission.toml").read_text().replace("licence", "x")),
         "lacks 'licence'"),
        (lambda d: (d / "submission.toml").write_text((d / "submission.toml").read_text().replace(
            'name = "bad"', 'name = "has spaces"')), "must be 1-64 letters"),
        (lambda d: (d / "requirements.txt").write_text("a-package-nobody-installed==1.0\n"),
         "not installed: a-package-nobody-installed"),
        (lambda d: (d / "agent.py").write_text("def make_agent(o, a):\n    return None\n"), "make_agent must accept"),
    ],
)
def test_malformed_submissions_leave_the_store_unchanged(tmp_path, tiny, recorded, change, message):
    suite_path, suite = tiny
    store = copy_store(recorded, tmp_path)
    before = dump(store.path)
    directory = submission(tmp_path, "bad", suite.name)
    change(directory)
    with pytest.raises((SubmissionError, ValueError)) as error:
        submit(directory, store, suite_name=str(suite_path), workers=2, progress=False)
    assert message in str(error.value)
    assert dump(store.path) == before


def test_a_duplicate_name_is_refused_before_anything_runs(tmp_path, tiny, recorded):
    suite_path, suite = tiny
    store = copy_store(recorded, tmp_path)
    before = dump(store.path)
    other = submission(tmp_path / "other", "first", suite.name)
    with pytest.raises(SubmissionError, match="already exists"):
        submit(other, store, suite_name=str(suite_path), workers=2, progress=False)
    assert dump(store.path) == before


@pytest.fixture(scope="module")
def remote(tmp_path_factory, tiny):
    """A results bundle produced 'elsewhere' (here: by evaluate) for a submission directory."""
    _, suite = tiny
    base = tmp_path_factory.mktemp("remote")
    directory = submission(base, "remote", suite.name, agent="steady.py")
    from ceaseless.leaderboard.harness.protocol import AgentSpec

    evaluate(AgentSpec.parse(str(directory)), suite, base / "bundle", budget="ladder", workers=2, progress=False)
    return base


@pytest.fixture
def bundle(tmp_path, remote):
    """A private copy of the remote submission and its bundle."""
    shutil.copytree(remote, tmp_path / "remote-copy")
    return tmp_path / "remote-copy" / "remote", tmp_path / "remote-copy" / "bundle"


def _tamper_run(bundle_dir: Path) -> None:
    path = sorted((bundle_dir / "runs").glob("*.json"))[0]
    data = json.loads(path.read_text())
    data["G"] += 1.0
    path.write_text(json.dumps(data))


def _drop_run(bundle_dir: Path) -> None:
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    manifest["runs"] = manifest["runs"][1:]
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest))


def _other_suite(bundle_dir: Path) -> None:
    manifest = json.loads((bundle_dir / "manifest.json").read_text())
    manifest["suite"]["digest"] = "0" * 64
    (bundle_dir / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize(
    "tamper, message",
    [
        (_tamper_run, "does not match its sha256"),
        (_drop_run, "lacks 1 of the suite's runs"),
        (_other_suite, "another version of suite"),
        (lambda b: (b / "manifest.json").write_text("{"), "not valid JSON"),
    ],
)
def test_tampered_bundles_are_rejected_and_change_nothing(tmp_path, tiny, bundle, tamper, message):
    suite_path, _ = tiny
    directory, out = bundle
    store = Store(tmp_path / "board.sqlite")
    before = dump(store.path)
    tamper(out)
    with pytest.raises(SubmissionError, match=message):
        submit(directory, store, suite_name=str(suite_path), results=out)
    assert dump(store.path) == before


def test_a_bundle_from_other_code_is_rejected(tmp_path, tiny, bundle):
    suite_path, _ = tiny
    directory, out = bundle
    with open(directory / "agent.py", "a") as handle:
        handle.write("\n# changed after the run\n")
    with pytest.raises(SubmissionError, match="different agent code"):
        submit(directory, Store(tmp_path / "board.sqlite"), suite_name=str(suite_path), results=out)


def test_results_from_elsewhere_are_unverified_until_verified(tmp_path, tiny, bundle):
    suite_path, _ = tiny
    directory, out = bundle
    store = Store(tmp_path / "board.sqlite")
    summary = submit(directory, store, suite_name=str(suite_path), results=out)
    assert summary["status"] == "unverified"
    report = verify("remote", store, fraction=0.2, seed=3)
    assert report["checked"] == round(0.2 * 28)
    assert report["accepted"], report
    assert store.submission("remote")["status"] == "verified"


@pytest.mark.parametrize("kept, forgery, detail", [
    # Unlimited runs must reproduce their transcript exactly: forge the recorded hash.
    ("budget = 'unlimited'", "UPDATE runs SET transcript_hash = 'forged'", "transcript hash differs"),
    # Budgeted runs are compared on CPU too: claim a third of the CPU actually spent, consistently.
    ("budget != 'unlimited'", "UPDATE runs SET cpu_us_per_call = cpu_us_per_call / 3, cpu_seconds = cpu_seconds / 3",
     "us/call (allowed"),
    # A careless forger: the CPU per call no longer matches the CPU over the calls (no re-run needed).
    ("budget != 'unlimited'", "UPDATE runs SET cpu_us_per_call = cpu_us_per_call / 3", "is not the CPU over"),
    # An edited G no longer agrees with the run's learning curve (no re-run needed).
    ("budget != 'unlimited'", "UPDATE runs SET G = G + 0.01", "learning curve averages"),
], ids=["transcript", "cpu", "careless-cpu", "G"])
def test_forged_results_fail_verification(tmp_path, tiny, bundle, kept, forgery, detail):
    """As a bundle doctored elsewhere would be: every sampled run is a mismatch naming why."""
    suite_path, _ = tiny
    directory, out = bundle
    store = Store(tmp_path / "board.sqlite")
    submit(directory, store, suite_name=str(suite_path), results=out)
    with store.transaction() as cursor:  # only the forged kind of run in the draw
        cursor.execute(f"DELETE FROM runs WHERE NOT ({kept})")
        cursor.execute(forgery)
    report = verify("remote", store, fraction=0.2, seed=0)
    assert report["outcomes"] and all(o["outcome"] == "mismatch" for o in report["outcomes"])
    assert all(detail in o["detail"] for o in report["outcomes"])
    assert not report["accepted"]
    assert store.submission("remote")["status"] == "rejected"
    shutil.rmtree(out)
