"""The agent protocol: malformed submissions get a clear error before any run starts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from ceaseless.leaderboard.harness.evaluate import check_submission, evaluate
from ceaseless.leaderboard.harness.protocol import AgentSpec, SubmissionError, WireFormat, load_factory
from ceaseless.worlds.suites import QUICK_V1

AGENTS = Path(__file__).parents[1] / "agents"


@pytest.mark.parametrize(
    "file, message",
    [
        ("no_make_agent.py", "defines neither make_agent"),
        ("bad_signature.py", "make_agent must accept (observation_space, action_space, seed)"),
        ("import_error.py", "importing the submission failed: ModuleNotFoundError"),
        ("no_step.py", "has no step() method"),
        ("raises_in_make_agent.py", "this agent does not support Discrete"),
        ("does_not_exist.py", "does not exist"),
    ],
)
@pytest.mark.parametrize("in_process", [False, True])
def test_malformed_submissions_are_refused_with_a_clear_message(file, message, in_process):
    with pytest.raises(SubmissionError) as error:
        check_submission(AgentSpec.parse(str(AGENTS / file)), QUICK_V1, in_process=in_process)
    assert message in str(error.value)


def test_nothing_is_written_for_a_refused_submission(tmp_path):
    out = tmp_path / "bundle"
    with pytest.raises(SubmissionError):
        evaluate(AgentSpec.parse(str(AGENTS / "no_step.py")), QUICK_V1, out, seeds=1, budget="unlimited",
                 steps=100, progress=False)
    assert not (out / "manifest.json").exists() and not (out / "runs").exists()


def test_a_directory_submission_needs_agent_py(tmp_path):
    with pytest.raises(SubmissionError, match=r"has no agent\.py"):
        load_factory(AgentSpec.parse(str(tmp_path)))
    (tmp_path / "agent.py").write_text((AGENTS / "qlearner.py").read_text())
    assert callable(load_factory(AgentSpec.parse(str(tmp_path))))


def test_module_names_work_too():
    factory = load_factory(AgentSpec.parse("tests.leaderboard.agents.qlearner"))
    from gymnasium import spaces

    agent = factory(spaces.Discrete(1), spaces.Discrete(3), 0)
    assert agent.start(0) in range(3)


def test_a_package_modules_digest_covers_only_the_code_it_imports(tmp_path, monkeypatch):
    package = tmp_path / "digestpkg"
    (package / "sub").mkdir(parents=True)
    files = {
        "__init__.py": "",
        "helper.py": "X = 1\n",
        "other.py": "Y = 2\n",
        "a.py": "from digestpkg.helper import X\n",
        "b.py": "from . import other\n",
        "sub/__init__.py": "",
        "sub/c.py": "from ..helper import X\nimport numpy\n",
    }
    for name, text in files.items():
        (package / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))

    def names(module):
        return sorted(str(p.relative_to(package)) for p in AgentSpec.parse(module).source_files())

    assert names("digestpkg.a") == ["__init__.py", "a.py", "helper.py"]
    assert names("digestpkg.b") == ["__init__.py", "b.py", "other.py"]
    assert names("digestpkg.sub.c") == ["__init__.py", "helper.py", "sub/__init__.py", "sub/c.py"]

    def digests():
        return {m: AgentSpec.parse(f"digestpkg.{m}").digest() for m in ("a", "b", "sub.c")}

    before = digests()
    (package / "other.py").write_text("Y = 3\n")  # only b imports it
    after = digests()
    assert after["b"] != before["b"] and after["a"] == before["a"] and after["sub.c"] == before["sub.c"]
    (package / "helper.py").write_text("X = 2\n")  # a and sub.c import it
    again = digests()
    assert again["a"] != after["a"] and again["sub.c"] != after["sub.c"] and again["b"] == after["b"]
    (package / "__init__.py").write_text("Z = 0\n")  # runs on every import
    assert all(d != again[m] for m, d in digests().items())
    assert AgentSpec.parse("digestpkg.a", variant="x").digest() != AgentSpec.parse("digestpkg.a").digest()


def test_wire_format_round_trips_and_refuses_bad_actions():
    from gymnasium import spaces

    discrete = WireFormat.of(spaces.Discrete(4))
    assert discrete.decode(discrete.encode(3)) == 3
    assert discrete.decode(discrete.encode(np.int32(2))) == 2
    assert discrete.decode(discrete.encode(1.0)) == 1
    for bad in (1.5, float("nan"), [1, 2], "x", None):
        with pytest.raises(ValueError):
            discrete.encode(bad)
    box = WireFormat.of(spaces.Box(-1, 1, (2, 3), np.float32))
    value = np.arange(6, dtype=np.float32).reshape(2, 3) / 10
    assert np.array_equal(box.decode(box.encode(value)), value)
    assert np.array_equal(box.decode(box.encode(value.tolist())), value)
    with pytest.raises(ValueError, match="shape"):
        box.encode(np.zeros(5))
    multi = WireFormat.of(spaces.MultiDiscrete([3, 4, 5]))
    assert np.array_equal(multi.decode(multi.encode([2, 3, 4])), [2, 3, 4])


@pytest.mark.parametrize("space", ["discrete", "box", "multidiscrete"])
def test_spaces_cross_to_the_agent_unchanged(space):
    from gymnasium import spaces as gs

    from ceaseless.leaderboard.harness.protocol import describe_space, space_from_description

    original = {"discrete": gs.Discrete(7, start=2), "box": gs.Box(-1.0, np.array([1.0, 2.0]), (2,), np.float32),
                "multidiscrete": gs.MultiDiscrete([11, 11, 3])}[space]
    assert space_from_description(describe_space(original)) == original
