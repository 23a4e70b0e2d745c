"""Ceaseless worlds: simulated worlds that never stop changing.

Importing this package registers every world with gymnasium, so that
``gymnasium.make("ceaseless/Forager-v0")`` and ``gymnasium.make_vec(..., num_envs=N)`` work.
"""

from worlds.core import CeaselessEnv, CeaselessVectorEnv, World
from worlds.registry import WORLDS, register_worlds

register_worlds()

__all__ = ["WORLDS", "CeaselessEnv", "CeaselessVectorEnv", "World", "register_worlds"]
