"""Suites: frozen, complete, consistent with the worlds, hidden seeds provable from a salt."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from ceaseless import worlds
from ceaseless.worlds.suites import CORE_V1, LADDER, QUICK_V1, SUITES, TUNING_SEEDS, UNLIMITED, get_suite


@pytest.mark.parametrize("suite", list(SUITES.values()), ids=list(SUITES))
def test_every_world_is_in_every_suite_with_its_fallback(suite):
    assert {entry.world_id for entry in suite.entries} == set(worlds.WORLDS)
    for entry in suite.entries:
        world = worlds.WORLDS[entry.world_id](num_envs=1, **entry.config_dict)
        world.reset([0])
        assert np.array_equal(world.fallback_action()[0], np.asarray(entry.fallback)), entry.world_id
        assert entry.beta0 > 0 and entry.steps > 0


def test_budgets():
    entry = QUICK_V1.entry("Forager-v0")
    ladder = QUICK_V1.budgets(entry, "ladder")
    assert [label for label, _ in ladder] == ["x0.125", "x0.25", "x0.5", "x1", "x2", "x4", UNLIMITED]
    assert [beta for _, beta in ladder[:-1]] == [entry.beta0 * 2.0**k for k in LADDER]
    assert QUICK_V1.budgets(entry, "beta0") == [("x1", entry.beta0)]
    with pytest.raises(ValueError, match="budget='all'"):
        QUICK_V1.budgets(entry, "all")


def test_hidden_seeds_come_from_the_salt_whose_hash_is_committed():
    salt = "a test salt, not the board's"
    suite = dataclasses.replace(QUICK_V1, hidden_salt_sha256=hashlib.sha256(salt.encode()).hexdigest())
    hidden = suite.seeds(3, salt=salt, world_id="ceaseless/Forager-v0")
    assert hidden == suite.seeds(3, salt=salt, world_id="ceaseless/Forager-v0")
    assert hidden != suite.seeds(3, salt=salt, world_id="ceaseless/ShiftingMaze-v0")
    assert not set(hidden) & set(suite.public_seeds) and not set(hidden) & set(TUNING_SEEDS)
    with pytest.raises(ValueError, match="does not match"):
        QUICK_V1.seeds(3, salt=salt)
    assert not set(QUICK_V1.public_seeds) & set(TUNING_SEEDS)


def test_a_suite_digest_changes_with_its_content():
    assert QUICK_V1.digest() != CORE_V1.digest()
    assert QUICK_V1.digest() == get_suite("quick-v1").digest()
    changed = dataclasses.replace(QUICK_V1, public_seeds=(0, 1, 3))
    assert changed.digest() != QUICK_V1.digest()
    with pytest.raises(ValueError, match="unknown suite"):
        get_suite("quick-v0")
