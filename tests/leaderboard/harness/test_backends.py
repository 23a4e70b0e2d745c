"""Backends: the local pool and a local Ray instance give identical unlimited-track results."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ceaseless.leaderboard.harness.evaluate import evaluate
from ceaseless.leaderboard.harness.protocol import AgentSpec
from tests.leaderboard.tiny import tiny_suite

AGENTS = Path(__file__).parents[1] / "agents"


def _runs(directory: Path) -> dict[str, dict]:
    return {path.name: json.loads(path.read_text()) for path in sorted((directory / "runs").glob("*.json"))}


def test_local_and_ray_backends_agree_on_the_unlimited_track(tmp_path):
    if os.environ.get("CEASELESS_REQUIRE_RAY") != "1":  # CI requires it; a plain test install may lack it
        pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
    agent = AgentSpec.parse(str(AGENTS / "qlearner.py"))
    _, suite = tiny_suite(tmp_path, steps=3000)
    common = {"seeds": 2, "budget": "unlimited", "workers": 2, "progress": False}
    local = evaluate(agent, suite, tmp_path / "local", backend="local", **common)
    on_ray = evaluate(agent, suite, tmp_path / "ray", backend="ray", **common)
    assert not local["errors"] and not on_ray["errors"], (local["errors"], on_ray["errors"])
    a, b = _runs(tmp_path / "local"), _runs(tmp_path / "ray")
    assert a.keys() == b.keys() and len(a) == 2 * len(suite.entries)
    for name in a:
        for key in ("transcript_hash", "G", "change_points", "curve", "steps_skipped"):
            assert a[name][key] == b[name][key], (name, key)
    references = [json.loads((tmp_path / d / "references.json").read_text()) for d in ("local", "ray")]
    assert references[0] == references[1]


def test_an_evaluation_bundle_lists_every_run_with_its_hash(tmp_path):
    agent = AgentSpec.parse(str(AGENTS / "qlearner.py"))
    _, suite = tiny_suite(tmp_path / "suite", steps=1000)
    manifest = evaluate(agent, suite, tmp_path / "out", seeds=1, budget="ladder", workers=2, progress=False)
    assert len(manifest["runs"]) == len(suite.entries) * 7
    assert manifest["suite"] == {"name": "tiny-v1", "digest": suite.digest()}
    from ceaseless.leaderboard.harness.evaluate import sha256_file

    for entry in manifest["runs"]:
        assert sha256_file(tmp_path / "out" / entry["file"]) == entry["sha256"]
    with pytest.raises(FileExistsError, match="--resume"):
        evaluate(agent, suite, tmp_path / "out", seeds=1, budget="unlimited", progress=False)


def test_every_path_that_runs_an_agent_meters_it_alike(tmp_path):
    """One meter everywhere: the same budgeted spec through the local pool (evaluate, submit),
    a direct run in this process (verify) and Ray is placed, hardened and calibrated alike, so the
    CPU it is charged agrees."""
    from ceaseless.leaderboard.harness.backends import LocalBackend, make_backend
    from ceaseless.leaderboard.harness.runner import run
    from ceaseless.leaderboard.harness.runspec import RunSpec

    spec = RunSpec(agent=AgentSpec.parse(str(AGENTS / "steady.py")), world_id="ceaseless/DriftingBandit-v0", seed=0,
                   steps=1500, budget="x4", beta=2e-3)
    job = {"kind": "run", "spec": spec.to_json(), "directory": str(tmp_path / "pool")}
    paths = {"local pool": next(iter(LocalBackend(1).map([job])))["result"], "direct": run(spec, tmp_path / "direct")}
    if os.environ.get("CEASELESS_REQUIRE_RAY") == "1" or _has_ray():
        ray_backend = make_backend("ray", workers=1)
        try:
            paths["ray"] = next(iter(ray_backend.map([{**job, "directory": str(tmp_path / "ray")}])))["result"]
        finally:
            ray_backend.shutdown()
    for name, result in paths.items():
        meter = result["meter"]
        assert meter["complete"] and meter["pinned_cpu"] and not meter["harness_dumpable"], (name, meter)
        assert result["official"] and result["steps_skipped"] == 0, name
    charged = {name: result["cpu_us_per_call"] for name, result in paths.items()}
    # The agent burns 300 us of thread CPU per call; every path charges that, give or take the
    # per-call noise of a shared machine.
    for value in charged.values():
        assert value == pytest.approx(300, rel=0.15), charged
    assert max(charged.values()) - min(charged.values()) < 30, charged


def _has_ray() -> bool:
    try:
        import ray  # noqa: F401
    except ImportError:
        return False
    return True
