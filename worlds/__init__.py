"""Ceaseless worlds: simulated worlds that never stop changing.

Importing this package registers every world with gymnasium, so that
``gymnasium.make("ceaseless/Forager-v0")`` and ``gymnasium.make_vec(..., num_envs=N)`` work. The
world modules themselves are imported on first use (see :mod:`ceaseless.worlds.registry`).
"""

from __future__ import annotations

from typing import Any

from ceaseless.worlds.registry import register_worlds

register_worlds()

__all__ = ["WORLDS", "CeaselessEnv", "CeaselessVectorEnv", "World", "register_worlds"]


def __getattr__(name: str) -> Any:
    """``WORLDS`` and the core classes, imported when first asked for."""
    if name == "WORLDS":
        from ceaseless.worlds import registry

        return registry.WORLDS
    if name in ("CeaselessEnv", "CeaselessVectorEnv", "World"):
        from ceaseless.worlds import core

        return getattr(core, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
