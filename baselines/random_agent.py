"""Random agent: every action drawn uniformly at random from the action space.

The floor of the board. It learns nothing and ignores every observation and reward; a learner
that does not beat it on a world has learned nothing useful there.

Actions:
- ``Discrete(n, start)``: uniform over ``start .. start + n - 1``.
- ``MultiDiscrete``: each component uniform over its own range.
- ``Box`` with finite bounds: uniform in ``[low, high]`` per component (integer Boxes: uniform
  over the integers in the bounds).
Anything else (a Box with an infinite bound, Dict, Tuple, ...) raises ``UnsupportedSpace``.
Observations of any space are accepted (and ignored).

Hyper-parameters: none. ``freeze_after`` is accepted and ignored (there is nothing to freeze),
so that every baseline takes the same options.

All randomness comes from ``np.random.default_rng(seed)``: the same seed gives the same actions.
``checkpoint()``/``restore()`` save and restore the generator's state, so a resumed run draws
exactly the actions the uninterrupted one would have.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
from gymnasium import spaces

from ceaseless.baselines.common import UnsupportedSpace


class RandomAgent:
    def __init__(self, action_space: spaces.Space, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        space = action_space
        if isinstance(space, spaces.Discrete):
            start, n = int(space.start), int(space.n)
            self._draw = lambda: start + int(self.rng.integers(n))
        elif isinstance(space, spaces.MultiDiscrete):
            start, nvec, dtype = np.asarray(space.start), np.asarray(space.nvec), space.dtype
            self._draw = lambda: (start + self.rng.integers(nvec)).astype(dtype)
        elif isinstance(space, spaces.Box):
            low, high = np.asarray(space.low, np.float64), np.asarray(space.high, np.float64)
            if not (np.isfinite(low).all() and np.isfinite(high).all()):
                raise UnsupportedSpace(f"random_agent: a Box action space needs finite bounds to draw uniformly, "
                                       f"got {space}")
            dtype = space.dtype
            if np.issubdtype(dtype, np.integer):
                low_int, high_int = np.ceil(low).astype(np.int64), np.floor(high).astype(np.int64)
                self._draw = lambda: self.rng.integers(low_int, high_int, endpoint=True).astype(dtype)
            else:
                # low + span * u, u in [0, 1), lies in [low, high] in float64; the bounds are values of ``dtype``,
                # so rounding to ``dtype`` (monotone, to the nearest) never leaves them.
                span, shape = high - low, space.shape
                self._draw = lambda: (low + span * self.rng.random(shape)).astype(dtype)
        else:
            raise UnsupportedSpace(f"random_agent: actions must be Discrete, MultiDiscrete or a Box with finite "
                                   f"bounds, got {space}")

    def start(self, observation: Any) -> Any:
        return self._draw()

    def step(self, reward: float, observation: Any, elapsed: int = 1) -> Any:
        return self._draw()

    def checkpoint(self) -> bytes:
        return json.dumps({"rng": self.rng.bit_generator.state}).encode()

    def restore(self, data: bytes) -> None:
        self.rng.bit_generator.state = json.loads(data.decode())["rng"]


def make_agent(observation_space: spaces.Space, action_space: spaces.Space, seed: int,
               freeze_after: int | None = None) -> RandomAgent:
    """A uniform random agent; ``freeze_after`` is ignored (it learns nothing)."""
    return RandomAgent(action_space, seed)
