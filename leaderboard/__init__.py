"""Ceaseless leaderboard: the evaluation harness, scoring, submissions and the board."""

from __future__ import annotations

__version__ = "0.1.0"


def load(path=None, suite: str | None = None):
    """Every run in a board store as a pandas DataFrame (one row per run, with ``z``)."""
    from leaderboard.store import load as _load

    return _load(path, suite)
