"""Ceaseless: worlds that never stop changing, and a leaderboard that scores continual learners
against the compute they spend.

The repository's folders install under this one name (``package-dir`` in ``pyproject.toml``):
``worlds/`` is :mod:`ceaseless.worlds`, ``baselines/`` is :mod:`ceaseless.baselines` and
``leaderboard/`` is :mod:`ceaseless.leaderboard`. ``import ceaseless`` registers every world with
gymnasium, so ``gymnasium.make("ceaseless/Forager-v0")`` works after it.
"""

from __future__ import annotations

__version__ = "0.1.0"

from ceaseless import worlds  # noqa: F401  (registers the worlds with gymnasium)


def load(path=None, suite: str | None = None):
    """Every run in a board store as a pandas DataFrame (one row per run, with ``z``); ``path``
    defaults to the user's store. See :func:`ceaseless.leaderboard.board.store.load`."""
    from ceaseless.leaderboard.board.store import load as _load

    return _load(path, suite)
