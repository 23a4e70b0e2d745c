"""Registration of every world with gymnasium under the ``ceaseless/`` namespace.

Registering imports no world module: each id names its class, which is imported when an
environment is first made (or :data:`WORLDS` is first read). ``import ceaseless`` registers the
ids, and it runs in every agent process, so it stays cheap.
"""

from __future__ import annotations

import importlib
from functools import partial
from typing import TYPE_CHECKING, Any

import gymnasium as gym

if TYPE_CHECKING:
    from ceaseless.worlds.core import World

#: Every single-agent world (and single-agent view of a multi-agent world) by gymnasium id, in
#: listing order: ``"module:class"``. A test checks each class's ``id`` against its key.
WORLD_CLASSES: dict[str, str] = {
    "ceaseless/DriftingBandit-v0": "ceaseless.worlds.bandit:DriftingBandit",
    "ceaseless/Forager-v0": "ceaseless.worlds.forager:Forager",
    "ceaseless/CraftingEconomy-v0": "ceaseless.worlds.economy:CraftingEconomy",
    "ceaseless/PredictionStream-v0": "ceaseless.worlds.prediction:PredictionStream",
    "ceaseless/DriftingControl-v0": "ceaseless.worlds.control:DriftingControl",
    "ceaseless/ShiftingMaze-v0": "ceaseless.worlds.maze:ShiftingMaze",
    "ceaseless/Commons-v0": "ceaseless.worlds.commons:Commons",
}


def world_class(world_id: str) -> type[World]:
    """The world class registered as ``world_id`` (its module is imported now)."""
    try:
        module, name = WORLD_CLASSES[world_id].split(":")
    except KeyError:
        raise KeyError(f"unknown world {world_id!r}; the worlds are {', '.join(WORLD_CLASSES)}") from None
    return getattr(importlib.import_module(module), name)


def _make_env(world_id: str, **kwargs: Any) -> gym.Env:
    return world_class(world_id).make_env(**kwargs)


def _make_vector_env(world_id: str, **kwargs: Any) -> gym.vector.VectorEnv:
    return world_class(world_id).make_vector_env(**kwargs)


_WORLDS: dict[str, type[World]] | None = None


def __getattr__(name: str) -> Any:
    """``WORLDS``: every world class by gymnasium id (imports every world module on first use)."""
    global _WORLDS
    if name == "WORLDS":
        if _WORLDS is None:
            _WORLDS = {world_id: world_class(world_id) for world_id in WORLD_CLASSES}
        return _WORLDS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def register_worlds() -> None:
    """Register each world's ``Env`` and native ``VectorEnv`` (idempotent)."""
    for world_id in WORLD_CLASSES:
        if world_id in gym.registry:
            continue
        gym.register(
            id=world_id,
            entry_point=partial(_make_env, world_id),
            vector_entry_point=partial(_make_vector_env, world_id),
            max_episode_steps=None,
            order_enforce=True,
        )
