"""Ceaseless leaderboard: the evaluation harness, scoring, submissions and the board."""

__version__ = "0.1.0"
