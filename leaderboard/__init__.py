"""Ceaseless leaderboard, in three rooms and a front door.

- :mod:`~ceaseless.leaderboard.harness`: runs agents on worlds under the compute clock;
- :mod:`~ceaseless.leaderboard.scoring`: turns runs into metrics, scores and statistics;
- :mod:`~ceaseless.leaderboard.board`: the store, submissions and verification, the board;
- :mod:`~ceaseless.leaderboard.cli` and :mod:`~ceaseless.leaderboard.quickstart` on top.

Imports run one way: ``cli -> board -> scoring`` and ``cli -> harness -> scoring, worlds``;
``board`` uses ``harness`` only to run submissions and verification. This ``__init__`` imports
nothing, so a module that imports one room does not pull in the others.
"""

from ceaseless import __version__, load

__all__ = ["__version__", "load"]
