"""Suites: frozen, complete, consistent with the worlds, hidden seeds provable from a salt."""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np
import pytest

from ceaseless import worlds
from ceaseless.worlds.suites import (
    CORE_V1,
    CORE_V2,
    LADDER,
    QUICK_V1,
    SUITES,
    TUNING_SEEDS,
    UNLIMITED,
    V2_PUBLIC_SEEDS,
    get_suite,
)


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


def test_the_v1_suites_are_frozen():
    """Committed v1 results carry these digests: v1 must never change."""
    assert QUICK_V1.digest() == "f738f4ea0578d50cca09cce396853eb35db28532fa15baf8a518f47417e23d64"
    assert CORE_V1.digest() == "25fdccc4c5d349ac08a08bf34b8320e4518281bac6c9140641f24c5bc7c7984e"


@pytest.mark.parametrize("name", ["quick-v2", "core-v2", "long-v1"])
def test_the_v2_ladder_spans_three_decades_on_every_world(name):
    suite = get_suite(name)
    for entry in suite.entries:
        betas = [beta for label, beta in suite.budgets(entry) if label != UNLIMITED]
        assert min(betas) <= 12.5e-6 and max(betas) >= 10e-3
        assert max(betas) / min(betas) >= 1000
        assert dict(suite.budgets(entry))["x1"] == entry.beta0
    assert len(suite.public_seeds) == (V2_PUBLIC_SEEDS if name != "long-v1" else 3)
    assert [e.steps for e in suite.entries] == [{"quick-v2": 50_000, "core-v2": 100_000,
                                                 "long-v1": 1_000_000}[name]] * len(suite.entries)


def test_beta0_and_unlimited_together():
    entry = CORE_V2.entries[0]
    assert [label for label, _ in CORE_V2.budgets(entry, "beta0+unlimited")] == ["x1", UNLIMITED]
    with pytest.raises(ValueError, match="beta0\\+unlimited"):
        CORE_V2.budgets(entry, "everything")
