"""What the reference agents share: finite action sets, observation keys and features, the
online-prediction detector, and the frozen-twin switch.

Baselines speak only the agent protocol: they see the gymnasium spaces, observations, rewards and
``elapsed``, never a world's internals, and every random draw comes from their ``seed``.
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np
from gymnasium import spaces


class UnsupportedSpace(ValueError):
    """The agent cannot work with this observation or action space (the message says which)."""


# -- actions ------------------------------------------------------------------------------------------
class ActionSet:
    """A finite list of actions for a Discrete space (all of them) or a Box (a grid of ``levels``
    values per dimension, at most ``max_actions`` combinations), so value-based agents can choose
    by index: ``actions[i]`` is what the world receives."""

    def __init__(self, space: spaces.Space, levels: int = 5, max_actions: int = 125) -> None:
        if isinstance(space, spaces.Discrete):
            self.actions: list[Any] = [int(space.start + i) for i in range(int(space.n))]
        elif isinstance(space, spaces.Box) and len(space.shape) == 1:
            low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
            if not (np.isfinite(low).all() and np.isfinite(high).all()):
                raise UnsupportedSpace(f"a Box action space needs finite bounds, got {space}")
            grids = [np.linspace(lo, hi, levels) for lo, hi in zip(low, high)]
            if levels ** len(grids) > max_actions:
                raise UnsupportedSpace(f"{levels}^{len(grids)} discrete actions exceed {max_actions} for {space}")
            mesh = np.stack(np.meshgrid(*grids, indexing="ij"), axis=-1).reshape(-1, len(grids))
            self.actions = [row.astype(space.dtype) for row in mesh]
        else:
            raise UnsupportedSpace(f"actions must be Discrete or a 1-d Box, got {space}")
        self.n = len(self.actions)

    def __getitem__(self, index: int) -> Any:
        return self.actions[index]


# -- observations ---------------------------------------------------------------------------------------
class ObservationKeys:
    """Map observations to small integer states for tabular agents: exact values for discrete
    spaces, a rounded grid for Box spaces (``resolution`` cells per unit of the space's range),
    then a hash into ``table_size`` slots (collisions share a slot: the table stays bounded)."""

    def __init__(self, space: spaces.Space, table_size: int = 1 << 16, resolution: int = 4) -> None:
        if not isinstance(space, (spaces.Discrete, spaces.MultiDiscrete, spaces.Box)):
            raise UnsupportedSpace(f"observations must be Discrete, MultiDiscrete or Box, got {space}")
        self.space, self.table_size = space, table_size
        if isinstance(space, spaces.Box) and np.issubdtype(space.dtype, np.floating):
            low = np.where(np.isfinite(space.low), space.low, -1.0).astype(np.float64)
            high = np.where(np.isfinite(space.high), space.high, 1.0).astype(np.float64)
            self._low = low
            self._scale = resolution / np.maximum(high - low, 1e-9)
        else:
            self._low = None

    def __call__(self, observation: Any) -> int:
        if isinstance(self.space, spaces.Discrete):
            return int(observation) % self.table_size
        array = np.asarray(observation)
        if self._low is not None:
            array = np.floor((array - self._low) * self._scale).astype(np.int64)
        return zlib.crc32(np.ascontiguousarray(array).tobytes()) % self.table_size


class TileCoder:
    """Tile coding of a Box observation: ``tilings`` offset grids of ``tiles`` per dimension over
    the space's bounds (infinite bounds: [-1, 1], clipped), hashed into ``size`` features; returns
    the ``tilings`` active feature indices. Discrete and MultiDiscrete observations are one-hot
    coded instead (one active feature per component), and binary Box observations (integer dtype,
    values 0/1, e.g. Forager's colour channels) use one feature per set bit plus a bias feature
    (so the number of active features varies)."""

    def __init__(self, space: spaces.Space, tilings: int = 8, tiles: int = 6, size: int = 1 << 14) -> None:
        self.space, self.tilings, self.size = space, tilings, size
        if isinstance(space, spaces.Discrete):
            self.active = 1
            self._kind = "discrete"
        elif isinstance(space, spaces.MultiDiscrete):
            self.active = int(np.prod(space.shape))
            self._kind = "multidiscrete"
            self._offsets = np.concatenate([[0], np.cumsum(np.asarray(space.nvec).ravel())[:-1]])
        elif isinstance(space, spaces.Box) and np.issubdtype(space.dtype, np.integer) and np.all(space.high <= 1):
            self.active = None  # varies
            self._kind = "binary"
            self._bias = int(np.prod(space.shape)) % size
        elif isinstance(space, spaces.Box):
            self.active = tilings
            self._kind = "box"
            low = np.where(np.isfinite(space.low), space.low, -1.0).astype(np.float64).ravel()
            high = np.where(np.isfinite(space.high), space.high, 1.0).astype(np.float64).ravel()
            scale = tiles / np.maximum(high - low, 1e-9)
            # x -> (x - low) * scale, as one multiply-add; clipped to [0, tiles] in tile units.
            self._scale, self._offset, self._top = scale, -low * scale, float(tiles)
            dims = len(low)
            # Asymmetric offsets (Sutton & Barto 9.5.4): tiling t is shifted by t * (1, 3, 5, ...) / tilings.
            self._shift = (np.arange(tilings)[:, None] * (2 * np.arange(dims)[None, :] + 1) / tilings) % 1.0
            self._mix = np.array([1_000_003 ** i % (1 << 31) for i in range(dims)], dtype=np.int64)
            self._tiling_code = np.arange(tilings) * 7_919
        else:
            raise UnsupportedSpace(f"cannot tile-code {space}")

    def __call__(self, observation: Any) -> np.ndarray:
        if self._kind == "discrete":
            return np.array([int(observation) % self.size])
        if self._kind == "multidiscrete":
            return (self._offsets + np.asarray(observation).ravel()) % self.size
        if self._kind == "binary":
            return np.append(np.flatnonzero(np.asarray(observation).ravel()) % self.size, self._bias)
        units = np.asarray(observation, np.float64).ravel() * self._scale + self._offset
        units = np.minimum(np.maximum(units, 0.0), self._top)
        cells = (units + self._shift).astype(np.int64)  # non-negative: truncation is floor; (tilings, dims)
        return (cells @ self._mix + self._tiling_code) % self.size


# -- the online-prediction protocol ----------------------------------------------------------------------
class PredictionDetector:
    """Notices a world whose action is a prediction scored by ``-mean((action - y)^2)`` where the
    truth ``y`` is revealed as the last ``k`` values of the next observation (PredictionStream's
    documented protocol), from the first ``checks`` steps; until then, and if any step disagrees,
    the world is treated as a control task."""

    def __init__(self, observation_space: spaces.Space, action_space: spaces.Space, checks: int = 5) -> None:
        self.k = int(np.prod(action_space.shape)) if isinstance(action_space, spaces.Box) else 0
        size = int(np.prod(observation_space.shape)) if isinstance(observation_space, spaces.Box) else 0
        self.possible = self.k > 0 and size > self.k
        self.checks, self.agreed = checks, 0
        self.failed = not self.possible

    @property
    def prediction(self) -> bool:
        return not self.failed and self.agreed >= self.checks

    def update(self, action: Any, reward: float, observation: Any) -> None:
        if self.failed or self.agreed >= self.checks:
            return
        revealed = np.asarray(observation, np.float64).ravel()[-self.k:]
        predicted = np.asarray(action, np.float64).ravel()
        expected = -float(np.mean((predicted - revealed) ** 2))
        if abs(expected - reward) <= 1e-4 * (1.0 + abs(reward)):
            self.agreed += 1
        else:
            self.failed = True


# -- frozen twins ------------------------------------------------------------------------------------------
class Lifetime:
    """Counts the agent's steps and says whether it may still learn: ``freeze_after`` steps
    (None: never freeze) make the agent's frozen twin, which acts on what it learned so far."""

    def __init__(self, freeze_after: int | None) -> None:
        if freeze_after is not None and freeze_after < 0:
            raise ValueError(f"freeze_after={freeze_after} must be >= 0 or None")
        self.freeze_after, self.steps = freeze_after, 0

    def tick(self, elapsed: int = 1) -> bool:
        """Advance by ``elapsed`` world steps; True while learning is allowed."""
        self.steps += elapsed
        return self.freeze_after is None or self.steps <= self.freeze_after

    @property
    def learning(self) -> bool:
        return self.freeze_after is None or self.steps <= self.freeze_after
