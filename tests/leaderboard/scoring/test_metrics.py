"""Per-run metrics on hand-made reward curves with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from ceaseless.leaderboard.scoring.metrics import (
    change_responses,
    downsample,
    final_window,
    plasticity_trend,
    retention_gain,
)


def point(step, kind="switch", regime=0):
    return {"step": step, "kind": kind, "magnitude": 1.0, "process": "p", "regime": regime}


def test_drop_and_recovery_after_a_change():
    curve = np.ones(5000)
    curve[1000:1300] = 0.0  # the change costs everything for 300 steps
    (response,) = change_responses(curve, 1, 5000, [point(1000)], window=100)
    assert response.drop == 1.0
    assert response.recovery_steps == 400  # the end of the first whole window back at the old level


def test_no_recovery_before_the_next_change_is_none():
    curve = np.ones(3000)
    curve[1000:] = 0.0
    responses = change_responses(curve, 1, 3000, [point(1000), point(2000)], window=100)
    assert responses[0].recovery_steps is None and responses[1].drop == 0.0


def test_the_curve_resolution_is_respected():
    fine = np.ones(6000)
    fine[3000:3600] = 0.0
    coarse = fine.reshape(-1, 20).mean(axis=1)  # 20 steps per point
    (response,) = change_responses(coarse, 20, 6000, [point(3000)], window=200)
    assert response.drop == 1.0 and response.recovery_steps == 800


def test_retention_gain_compares_a_season_with_its_first_visit():
    curve = np.zeros(5000)
    early = {1000: 0.2, 2000: 0.1, 3000: 0.6, 4000: 0.3}  # reward early in each season's visit
    for step, value in early.items():
        curve[step: step + 100] = value
    seasons = [point(1000, "season", 1), point(2000, "season", 0), point(3000, "season", 1),
               point(4000, "season", 0)]
    # Regime 1: 0.6 - 0.2 on its return; regime 0: 0.3 - 0.1. The mean gain: 0.3.
    assert retention_gain(curve, 1, seasons, window=100) == pytest.approx(0.3)
    assert retention_gain(curve, 1, seasons[:2], window=100) is None  # nothing recurred yet


def test_plasticity_trend_is_positive_when_later_changes_hurt_more():
    curve = np.ones(10_000)
    steps = [2000, 4000, 6000, 8000]
    for i, step in enumerate(steps):
        curve[step: step + 100] = 1.0 - 0.2 * (i + 1)
    responses = change_responses(curve, 1, 10_000, [point(s) for s in steps], window=100)
    assert plasticity_trend(responses, 10_000) > 0


def test_final_window_and_downsample():
    curve = np.concatenate([np.zeros(900), np.ones(100)])
    assert final_window(curve) == 1.0
    assert np.allclose(downsample(np.arange(10.0), 5), [0.5, 2.5, 4.5, 6.5, 8.5])
