"""The batched world base and its gymnasium adapters.

A :class:`World` is a batch of independent instances of one continuing world. Its state and
parameters are numpy arrays with a leading batch axis, and one :meth:`World.step` advances every
instance at once:

    rewards = world._act(actions)      # the transition at step t, under the parameters of step t
    world.engine.advance()             # the change processes move to step t + 1
    observations = world._observe()    # what each instance sees at step t + 1

A world never terminates by itself and has no time limit: death, respawn or a new map are events
inside the stream. :class:`CeaselessEnv` is the gymnasium ``Env`` view of a batch of one and
:class:`CeaselessVectorEnv` a native gymnasium ``VectorEnv`` over the whole batch.

Diagnostics channel (harness only)
----------------------------------
``info`` carries what the agent must never see: ``t`` (steps taken), ``regime`` (the recurring
regime id), ``hidden`` (the current hidden parameters) and ``change_points`` (the abrupt changes
that took effect at step ``t``, i.e. from the next action on). The Ceaseless harness reads them
for its metrics and never forwards them to an agent. Use them for analysis, not for acting.
"""

from __future__ import annotations

import dataclasses
import json
import zlib
from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode
from gymnasium.vector.utils import batch_space

from ceaseless.worlds import rng
from ceaseless.worlds.change import ChangeEngine, Process


# --------------------------------------------------------------------------------------------
# Configs: frozen dataclasses whose fields declare their allowed range.
# --------------------------------------------------------------------------------------------
def param(default: Any, low: float | None = None, high: float | None = None, doc: str = "") -> Any:
    """A config field with an allowed closed range ``[low, high]`` (``None``: unbounded)."""
    return dataclasses.field(default=default, metadata={"range": (low, high), "doc": doc})


@dataclasses.dataclass(frozen=True)
class WorldConfig:
    """Fields every world has."""

    stationary: bool = param(False, doc="freeze every change process at its step-0 value")


def make_config(config_class: type, overrides: Mapping[str, Any], owner: str) -> Any:
    """Build and validate a config, raising ``ValueError`` that names the offending value and
    the allowed range (unknown names list the known ones)."""
    fields = {f.name: f for f in dataclasses.fields(config_class)}
    for name, value in overrides.items():
        if name not in fields:
            raise ValueError(f"{owner}: unknown config {name}={value!r}; known: {', '.join(sorted(fields))}")
        field = fields[name]
        kind = type(field.default)
        if kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise ValueError(f"{owner}: {name}={value!r} must be a bool (True or False)")
            continue
        if kind is int:
            ok = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
            if not ok:
                raise ValueError(f"{owner}: {name}={value!r} must be an integer")
        elif kind is float:
            ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
            if not ok or not np.isfinite(value):
                raise ValueError(f"{owner}: {name}={value!r} must be a finite number")
        low, high = field.metadata.get("range", (None, None))
        if (low is not None and value < low) or (high is not None and value > high):
            raise ValueError(
                f"{owner}: {name}={value!r} is outside the allowed range "
                f"[{'-inf' if low is None else low}, {'inf' if high is None else high}]"
            )
    cleaned = {k: (type(fields[k].default)(v)) for k, v in overrides.items()}
    config = config_class(**cleaned)
    check = getattr(config, "check", None)
    if check is not None:
        check()
    return config


def config_table(config_class: type) -> list[tuple[str, Any, str, str]]:
    """(name, default, allowed range, doc) for each field: what ``ceaseless worlds`` prints."""
    rows = []
    for f in dataclasses.fields(config_class):
        low, high = f.metadata.get("range", (None, None))
        allowed = "bool" if isinstance(f.default, bool) else f"[{low}, {high}]"
        rows.append((f.name, f.default, allowed, f.metadata.get("doc", "")))
    return rows


# --------------------------------------------------------------------------------------------
# Actions
# --------------------------------------------------------------------------------------------
def check_discrete_actions(actions: Any, space: spaces.Discrete, num_envs: int) -> np.ndarray:
    """``(num_envs,)`` int64 actions, or ``ValueError`` naming the bad value and the range."""
    array = np.asarray(actions)
    if array.shape != (num_envs,):
        raise ValueError(f"actions must have shape ({num_envs},), got {array.shape}")
    integral = array.dtype.kind in "iu" or (array.dtype.kind == "f" and np.all(np.mod(array, 1) == 0))
    if not integral:
        bad = array.ravel()[0] if array.size else array
        raise ValueError(
            f"action {bad!r} is not an integer; allowed: integers in [{space.start}, {space.start + space.n - 1}]"
        )
    array = array.astype(np.int64, copy=False)
    low, high = int(space.start), int(space.start + space.n - 1)
    invalid = (array < low) | (array > high)
    if invalid.any():
        i = int(np.flatnonzero(invalid)[0])
        raise ValueError(f"action {array[i]!r} (instance {i}) is outside the allowed range [{low}, {high}]")
    return array


def check_box_actions(actions: Any, space: spaces.Box, num_envs: int) -> np.ndarray:
    """``(num_envs, *shape)`` float actions inside the box, or ``ValueError`` naming the bad value."""
    array = np.asarray(actions, dtype=np.float64)
    expected = (num_envs, *space.shape)
    if array.shape != expected:
        raise ValueError(f"actions must have shape {expected}, got {array.shape}")
    invalid = ~np.isfinite(array) | (array < space.low) | (array > space.high)
    if invalid.any():
        index = tuple(int(i) for i in np.argwhere(invalid)[0])
        low = np.broadcast_to(space.low, space.shape)[index[1:]]
        high = np.broadcast_to(space.high, space.shape)[index[1:]]
        raise ValueError(
            f"action component {array[index]!r} at {index} is outside the allowed range [{low}, {high}]"
        )
    return array


# --------------------------------------------------------------------------------------------
# The batched world
# --------------------------------------------------------------------------------------------
class World(ABC):
    """A batch of ``num_envs`` independent instances of one continuing world.

    Subclasses define the class attributes and the methods marked abstract; they keep their
    dynamic state in array attributes named in ``state_fields`` (checkpointed automatically).
    """

    id: ClassVar[str]  # e.g. "ceaseless/Forager-v0"
    changes: ClassVar[str]  # one line: what keeps changing
    Config: ClassVar[type] = WorldConfig
    block_budget: ClassVar[int] = 16384  # instances x steps of change generated at once
    streams: ClassVar[tuple[str, ...]] = ()  # the world's own random streams (beside processes)
    state_fields: ClassVar[tuple[str, ...]] = ()
    render_fps: ClassVar[int] = 30

    observation_space: spaces.Space
    action_space: spaces.Space

    def __init__(self, num_envs: int = 1, **config: Any) -> None:
        if not isinstance(num_envs, (int, np.integer)) or num_envs < 1:
            raise ValueError(f"num_envs={num_envs!r} must be a positive integer")
        self.num_envs = int(num_envs)
        self.config = make_config(self.Config, config, self.id)
        self.engine = ChangeEngine(self.make_processes(), self.block_length(), self.config.stationary)
        self.t = 0
        self.seeds = np.zeros(self.num_envs, dtype=np.int64)
        self.keys: dict[str, np.ndarray] = {}
        self._reset_done = False
        self._rows = np.arange(self.num_envs)

    def block_length(self) -> int:
        """Steps of change generated at once: long for one instance (cheap steps), short for
        large batches (arrays that stay in cache). Results do not depend on it."""
        steps = max(1, self.block_budget // self.num_envs)
        return int(min(256, max(8, 2 ** int(np.log2(steps)))))

    # -- what a world defines ------------------------------------------------------------------
    @abstractmethod
    def make_processes(self) -> dict[str, Process]:
        """The named change processes of this world (from ``self.config``)."""

    @abstractmethod
    def _start(self) -> None:
        """Initialise the world's own state arrays for step 0 (keys and engine are ready)."""

    @abstractmethod
    def _act(self, actions: np.ndarray) -> np.ndarray:
        """Apply valid actions at step ``t``; return rewards ``(num_envs,)`` float64."""

    @abstractmethod
    def _observe(self) -> np.ndarray:
        """Fresh observations ``(num_envs, *obs_shape)`` at the current step."""

    @abstractmethod
    def hidden(self) -> dict[str, np.ndarray]:
        """Current hidden parameters, each ``(num_envs, ...)`` (views; callers copy)."""

    @abstractmethod
    def fallback_action(self) -> np.ndarray:
        """What the world does when the agent is absent or too slow, ``(num_envs, ...)``."""

    def oracle_action(self) -> np.ndarray:
        """A privileged policy's actions from the hidden state (where a world has one)."""
        raise NotImplementedError(f"{self.id} has no oracle")

    has_oracle: ClassVar[bool] = True

    @abstractmethod
    def render_rgb(self, index: int) -> np.ndarray:
        """An ``(H, W, 3)`` uint8 picture of instance ``index``."""

    @abstractmethod
    def render_ansi(self, index: int) -> str:
        """A text picture of instance ``index``."""

    def check_actions(self, actions: Any) -> np.ndarray:
        if isinstance(self.action_space, spaces.Discrete):
            return check_discrete_actions(actions, self.action_space, self.num_envs)
        return check_box_actions(actions, self.action_space, self.num_envs)

    def _new_block(self) -> None:
        """Hook: the engine generated a new block (precompute per-block tables here)."""

    # -- running ---------------------------------------------------------------------------------
    def reset(self, seeds: Any) -> np.ndarray:
        """Start instance ``i`` at step 0 of the stream of ``seeds[i]``; return observations."""
        seeds = np.asarray(seeds, dtype=np.int64).reshape(-1)
        if seeds.shape != (self.num_envs,):
            raise ValueError(f"need {self.num_envs} seeds, got {seeds.size}")
        num_processes = len(self.engine.processes)
        keys = rng.derive_keys(seeds, num_processes + len(self.streams), zlib.crc32(self.id.encode()))
        self.seeds = seeds.copy()
        self.keys = {name: keys[:, num_processes + j] for j, name in enumerate(self.streams)}
        self.engine.reset(keys[:, :num_processes])
        self.t = 0
        self._new_block()
        self._start()
        self._reset_done = True
        return self._observe()

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray]:
        """One step of every instance: ``(observations, rewards)``."""
        if not self._reset_done:
            raise RuntimeError(f"{self.id}: call reset(seeds) before step()")
        actions = self.check_actions(actions)
        rewards = self._act(actions)
        self.t += 1
        if self.engine.advance():
            self._new_block()
        return self._observe(), rewards

    def observe(self) -> np.ndarray:
        """The current observations (e.g. after :meth:`set_state`), without stepping."""
        if not self._reset_done:
            raise RuntimeError(f"{self.id}: call reset(seeds) before observe()")
        return self._observe()

    def step_one(self, action: Any) -> tuple[np.ndarray, float]:
        """Step a batch of one with a single action: ``(observation, reward)``. Worlds may
        override this with a faster path; a parity test holds it equal to :meth:`step`."""
        observations, rewards = self.step(np.asarray(action)[None])
        return observations[0], float(rewards[0])

    # -- diagnostics (harness only) ------------------------------------------------------------
    def info(self, index: int) -> dict[str, Any]:
        """The diagnostics of instance ``index`` now (see the module docstring)."""
        return {
            "t": self.t,
            "regime": self.engine.regime_of(index),
            "hidden": {name: value[index].copy() for name, value in self.hidden().items()},
            "change_points": self.engine.change_points(index),
        }

    def batch_info(self) -> dict[str, Any]:
        """The diagnostics of every instance, in gymnasium's vector-info layout."""
        everyone = np.ones(self.num_envs, dtype=bool)
        hidden = {name: np.array(value) for name, value in self.hidden().items()}
        hidden.update({"_" + name: everyone.copy() for name in list(hidden)})
        changes = np.empty(self.num_envs, dtype=object)
        changes.fill(())
        for i in np.flatnonzero(self.engine.changed()):
            changes[i] = self.engine.change_points(int(i))
        return {
            "t": np.full(self.num_envs, self.t, dtype=np.int64), "_t": everyone.copy(),
            "regime": np.array(self.engine.regime(), dtype=np.int64), "_regime": everyone.copy(),
            "hidden": hidden, "_hidden": everyone.copy(),
            "change_points": changes, "_change_points": everyone.copy(),
        }

    # -- checkpoints -----------------------------------------------------------------------------
    def _config_json(self) -> str:
        return json.dumps(dataclasses.asdict(self.config), sort_keys=True)

    def get_state(self) -> dict[str, np.ndarray]:
        """The full state as plain arrays (savable with ``numpy.savez``)."""
        if not self._reset_done:
            raise RuntimeError(f"{self.id}: nothing to save before reset()")
        state = {
            "meta.world": np.array(self.id),
            "meta.config": np.array(self._config_json()),
            "meta.num_envs": np.array(self.num_envs),
            "t": np.array(self.t),
            "seeds": self.seeds.copy(),
        }
        state.update({f"keys.{name}": key.copy() for name, key in self.keys.items()})
        state.update({f"engine.{name}": value for name, value in self.engine.get_state().items()})
        state.update({f"world.{name}": np.array(getattr(self, name), copy=True) for name in self.state_fields})
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore a state from :meth:`get_state` of the same world, config and batch size."""
        for field, mine in (("meta.world", self.id), ("meta.config", self._config_json()),
                            ("meta.num_envs", self.num_envs)):
            if field not in state:
                raise ValueError(f"not a {self.id} state: missing {field!r}")
            theirs = state[field].item() if isinstance(state[field], np.ndarray) else state[field]
            if theirs != mine:
                raise ValueError(f"state is for {field}={theirs!r}, this world has {mine!r}")
        missing = [f"world.{name}" for name in self.state_fields if f"world.{name}" not in state]
        if missing:
            raise ValueError(f"state is missing {missing}")
        self.t = int(state["t"])
        self.seeds = np.array(state["seeds"], dtype=np.int64)
        self.keys = {name: np.array(state[f"keys.{name}"], dtype=np.uint64) for name in self.streams}
        self.engine.set_state({k[len("engine."):]: v for k, v in state.items() if k.startswith("engine.")})
        for name in self.state_fields:
            current = getattr(self, name)
            value = np.asarray(state[f"world.{name}"])
            if value.shape != current.shape:
                raise ValueError(f"state world.{name} has shape {value.shape}, expected {current.shape}")
            current[...] = value  # in place: views of the world's arrays stay valid
        self._new_block()
        self._reset_done = True

    # -- gymnasium entry points --------------------------------------------------------------------
    @classmethod
    def make_env(cls, render_mode: str | None = None, **config: Any) -> CeaselessEnv:
        """Entry point of ``gymnasium.make``."""
        return CeaselessEnv(cls, render_mode=render_mode, **config)

    @classmethod
    def make_vector_env(cls, num_envs: int = 1, render_mode: str | None = None, **config: Any) -> CeaselessVectorEnv:
        """Entry point of ``gymnasium.make_vec``."""
        config.pop("max_episode_steps", None)
        return CeaselessVectorEnv(cls, num_envs=num_envs, render_mode=render_mode, **config)


RENDER_MODES = ["ansi", "rgb_array"]


def _check_render_mode(render_mode: str | None) -> str | None:
    if render_mode is not None and render_mode not in RENDER_MODES:
        raise ValueError(f"render_mode={render_mode!r} is not one of {RENDER_MODES} or None")
    return render_mode


class CeaselessEnv(gym.Env):
    """The gymnasium ``Env`` of one instance of a world (a batch of one).

    ``reset(seed=s)`` starts the stream of seed ``s``; ``reset()`` without a seed starts a new
    stream whose seed is drawn from the env's own generator (deterministic after a seeded reset).
    ``terminated`` and ``truncated`` are always False: the stream never ends by itself.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 30}

    def __init__(self, world_class: type[World], render_mode: str | None = None, **config: Any) -> None:
        self.world = world_class(num_envs=1, **config)
        self.observation_space = self.world.observation_space
        self.action_space = self.world.action_space
        self.render_mode = _check_render_mode(render_mode)
        self.metadata = {**self.metadata, "render_fps": world_class.render_fps}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if seed is None:
            seed = int(self.np_random.integers(0, 2**63 - 1))
        observations = self.world.reset([seed])
        return observations[0], self.world.info(0)

    def step(self, action: Any):
        observation, reward = self.world.step_one(action)
        return observation, reward, False, False, self.world.info(0)

    def render(self):
        if self.render_mode == "rgb_array":
            return self.world.render_rgb(0)
        if self.render_mode == "ansi":
            return self.world.render_ansi(0)
        return None

    def get_state(self) -> dict[str, np.ndarray]:
        """World state plus this env's seed generator: everything needed to resume exactly."""
        state = self.world.get_state()
        state["env.np_random"] = np.array(json.dumps(self.np_random.bit_generator.state))
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self.world.set_state(state)
        if "env.np_random" in state:
            self.np_random.bit_generator.state = json.loads(str(state["env.np_random"]))


class CeaselessVectorEnv(gym.vector.VectorEnv):
    """A native gymnasium ``VectorEnv``: the whole batch is one world, stepped in numpy.

    ``reset(seed=s)`` gives instance ``i`` the seed ``s + i`` (gymnasium's convention), so
    instance ``i`` equals ``CeaselessEnv`` reset with ``s + i``; a list of seeds is also accepted.
    Sub-environments never end, so no autoreset ever happens.
    """

    metadata = {"render_modes": RENDER_MODES, "render_fps": 30, "autoreset_mode": AutoresetMode.NEXT_STEP}

    def __init__(self, world_class: type[World], num_envs: int = 1, render_mode: str | None = None, **config: Any):
        self.world = world_class(num_envs=num_envs, **config)
        self.num_envs = self.world.num_envs
        self.single_observation_space = self.world.observation_space
        self.single_action_space = self.world.action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)
        self.render_mode = _check_render_mode(render_mode)
        self._terminated = np.zeros(self.num_envs, dtype=bool)

    def reset(self, *, seed: int | list[int] | None = None, options: dict[str, Any] | None = None):
        if seed is None:
            seeds = self.np_random.integers(0, 2**63 - 1 - self.num_envs, size=self.num_envs)
        elif isinstance(seed, (int, np.integer)):
            super().reset(seed=int(seed))
            seeds = int(seed) + np.arange(self.num_envs)
        else:
            seeds = np.asarray(seed, dtype=np.int64)
            if seeds.shape != (self.num_envs,):
                raise ValueError(f"need {self.num_envs} seeds, got {len(seed)}")
        observations = self.world.reset(seeds)
        return observations, self.world.batch_info()

    def step(self, actions: Any):
        observations, rewards = self.world.step(actions)
        return (observations, rewards, self._terminated.copy(), self._terminated.copy(),
                self.world.batch_info())

    def render(self):
        if self.render_mode == "rgb_array":
            return tuple(self.world.render_rgb(i) for i in range(self.num_envs))
        if self.render_mode == "ansi":
            return tuple(self.world.render_ansi(i) for i in range(self.num_envs))
        return None
