"""Registration of every world with gymnasium under the ``ceaseless/`` namespace."""

from __future__ import annotations

import gymnasium as gym

from worlds.bandit import DriftingBandit
from worlds.commons import Commons
from worlds.control import DriftingControl
from worlds.core import World
from worlds.economy import CraftingEconomy
from worlds.forager import Forager
from worlds.maze import ShiftingMaze
from worlds.prediction import PredictionStream

# Every single-agent world (and single-agent view of a multi-agent world), in listing order.
WORLD_CLASSES: tuple[type[World], ...] = (
    DriftingBandit,
    Forager,
    CraftingEconomy,
    PredictionStream,
    DriftingControl,
    ShiftingMaze,
    Commons,
)

#: Every world by gymnasium id.
WORLDS: dict[str, type[World]] = {cls.id: cls for cls in WORLD_CLASSES}


def register_worlds() -> None:
    """Register each world's ``Env`` and native ``VectorEnv`` (idempotent)."""
    for world_id, world_class in WORLDS.items():
        if world_id in gym.registry:
            continue
        gym.register(
            id=world_id,
            entry_point=world_class.make_env,
            vector_entry_point=world_class.make_vector_env,
            max_episode_steps=None,
            order_enforce=True,
        )
