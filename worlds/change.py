"""Change processes: how a world's hidden parameters keep moving, as seeded, batched data.

Every world declares its non-stationarity as a few named processes from this module. A process
maps a per-instance key and a step count to a parameter trajectory: it never stops, it is the same
for every batch size, and its whole state is a dict of plain arrays, so it checkpoints exactly.

The kinds, after NS-Gym's "when x how" split:

=============  ==============================================================  ==============
process        what it does                                                    change points
=============  ==============================================================  ==============
RandomWalk     slow drift, reflected into ``[low, high]``                       none (gradual)
Ornstein...    slow drift pulled back toward a mean, clipped to ``[low, high]`` none (gradual)
Switch         abrupt jumps, periodic or Poisson: resample, permute or negate  "switch"
Season         a fixed set of regimes visited in a cycle, so regimes recur     "season"
Novelty        content never seen before replaces the oldest content slot      "novelty"
=============  ==============================================================  ==============

Processes are generated a *block* of steps at a time (``ChangeEngine.block_length``), vectorised
over batch and time, so a world pays a few array operations per block rather than per step.
Randomness comes from :mod:`ceaseless.worlds.rng`: a process's draws for step ``t`` depend only on its key
and ``t``, and every process computes the same floats whatever the block boundaries are, so the
block length can suit the batch size (long blocks for one instance, short for thousands) while
instance ``i`` of any batch stays bit-for-bit the stream of its seed.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ceaseless.worlds import rng

State = dict[str, np.ndarray]


@dataclass(frozen=True)
class ChangePoint:
    """A realised abrupt change: at ``step`` the parameters of ``process`` jumped."""

    step: int
    kind: str
    magnitude: float
    process: str


@dataclass
class Block:
    """A process's output for steps ``[t0, t0 + length)`` of every instance.

    ``outputs`` maps an output name to an array ``(batch, length, *shape)``; ``events`` marks
    change points ``(batch, length)``; ``magnitude`` is the size of each (max absolute change).
    """

    outputs: dict[str, np.ndarray]
    events: np.ndarray
    magnitude: np.ndarray


def _lane_keys(keys: np.ndarray, lane: int) -> np.ndarray:
    """An independent key per purpose ("lane") of a process, derived from its key."""
    return rng.random_bits(keys, np.uint64(0xC0FFEE00 + lane))


def _uniform(keys: np.ndarray, lane: int, steps: np.ndarray, width: int) -> np.ndarray:
    """Uniform draws ``(batch, len(steps), width)`` for each instance, step and coordinate."""
    counters = np.asarray(steps, dtype=np.uint64)[:, None] * np.uint64(width) + np.arange(
        width, dtype=np.uint64
    )
    return rng.uniform(_lane_keys(keys, lane)[:, None, None], counters[None])


def _noise(keys: np.ndarray, lane: int, steps: np.ndarray, width: int) -> np.ndarray:
    """Unit-variance noise ``(batch, len(steps), width)``; see :func:`ceaseless.worlds.rng.standard_noise`."""
    counters = np.asarray(steps, dtype=np.uint64)[:, None] * np.uint64(width) + np.arange(
        width, dtype=np.uint64
    )
    return rng.standard_noise(_lane_keys(keys, lane)[:, None, None], counters[None])


def _check_range(owner: str, name: str, value: float, low: float, high: float) -> None:
    if not (low <= value <= high):
        raise ValueError(f"{owner}: {name}={value!r} is outside the allowed range [{low}, {high}]")


class Process(ABC):
    """A never-ending, seeded, batched trajectory of one parameter array of shape ``shape``."""

    kind: ClassVar[str]

    def __init__(self, shape: tuple[int, ...] | int) -> None:
        self.shape = (shape,) if isinstance(shape, int) else tuple(shape)
        self.size = int(np.prod(self.shape, dtype=np.int64))

    @abstractmethod
    def init(self, keys: np.ndarray) -> State:
        """State at step 0 for instances with these keys ``(batch,)``."""

    @abstractmethod
    def generate(self, state: State, keys: np.ndarray, t0: int, length: int) -> tuple[Block, State]:
        """Output for steps ``[t0, t0 + length)`` and the state at ``t0 + length``."""

    def _shaped(self, values: np.ndarray) -> np.ndarray:
        return values.reshape(values.shape[:2] + self.shape)


class RandomWalk(Process):
    """Gaussian-like random walk, reflected at the bounds.

    The walk takes a step of unit-variance noise times ``step_size * sqrt(interval)`` every
    ``interval`` world steps and moves linearly in between (``interval=1``: a step every world
    step; larger intervals give the same slow drift for a fraction of the cost). Reflection is
    exact at the steps: the walk runs unbounded in the state and is folded into ``[low, high]``,
    which is the same as bouncing off the walls.
    """

    kind = "drift"

    def __init__(self, shape, step_size: float, low: float, high: float, interval: int = 1) -> None:
        super().__init__(shape)
        _check_range("RandomWalk", "step_size", step_size, 0.0, np.inf)
        _check_range("RandomWalk", "interval", interval, 1, 1_000_000)
        if not low < high:
            raise ValueError(f"RandomWalk: low={low!r} must be below high={high!r}")
        self.step_size, self.low, self.high = float(step_size), float(low), float(high)
        self.interval = int(interval)

    def init(self, keys):
        start = _uniform(keys, 0, np.zeros(1), self.size)[:, 0]
        return {"position": self.low + (self.high - self.low) * start}  # at knot 0

    def _fold(self, position: np.ndarray) -> np.ndarray:
        width = self.high - self.low
        phase = np.mod(position - self.low, 2.0 * width)
        return self.low + np.where(phase > width, 2.0 * width - phase, phase)

    def generate(self, state, keys, t0, length):
        # The state is the unbounded walk at knot t0 // interval. Summing knots sequentially from
        # the state (cumsum with the state as first term) gives the same floats whatever the
        # block boundaries are, so every batch size sees the same walk.
        first, last = t0 // self.interval, (t0 + length - 1) // self.interval + 1
        scale = self.step_size * np.sqrt(float(self.interval))
        increments = scale * _noise(keys, 1, np.arange(first + 1, last + 1), self.size)
        positions = np.cumsum(np.concatenate([state["position"][:, None, :], increments], axis=1), axis=1)
        folded = self._fold(positions)  # knots first..last, reflected
        steps = np.arange(t0, t0 + length)
        if self.interval == 1:
            walk = folded[:, :length]
        else:  # move linearly between reflected knots
            index = steps // self.interval - first
            frac = ((steps % self.interval) / self.interval)[None, :, None]
            walk = folded[:, index] + (folded[:, index + 1] - folded[:, index]) * frac
        batch = len(keys)
        block = Block(
            {"value": self._shaped(walk)},
            np.zeros((batch, length), dtype=bool),
            np.zeros((batch, length)),
        )
        next_knot = (t0 + length) // self.interval - first
        return block, {"position": np.array(positions[:, next_knot])}


class OrnsteinUhlenbeck(Process):
    """Mean-reverting drift ``x[t+1] = x[t] + reversion * (mean - x[t]) + volatility * noise``,
    output clipped to ``[low, high]``."""

    kind = "drift"

    def __init__(
        self, shape, mean: float, reversion: float, volatility: float, low: float, high: float
    ) -> None:
        super().__init__(shape)
        _check_range("OrnsteinUhlenbeck", "reversion", reversion, 0.0, 1.0)
        _check_range("OrnsteinUhlenbeck", "volatility", volatility, 0.0, np.inf)
        if not low < high:
            raise ValueError(f"OrnsteinUhlenbeck: low={low!r} must be below high={high!r}")
        self.mean, self.reversion, self.volatility = float(mean), float(reversion), float(volatility)
        self.low, self.high = float(low), float(high)

    def init(self, keys):
        start = _uniform(keys, 0, np.zeros(1), self.size)[:, 0]
        return {"position": self.low + (self.high - self.low) * start}

    def generate(self, state, keys, t0, length):
        # Step by step (vectorised over the batch), so the floats do not depend on where the
        # blocks start: every batch size sees the same trajectory.
        noise = self.volatility * _noise(keys, 1, np.arange(t0 + 1, t0 + length + 1), self.size)
        position = state["position"].copy()
        out = np.empty((len(keys), length, self.size))
        for k in range(length):
            out[:, k] = position
            position += self.reversion * (self.mean - position) + noise[:, k]
        block = Block(
            {"value": self._shaped(np.clip(out, self.low, self.high))},
            np.zeros((len(keys), length), dtype=bool),
            np.zeros((len(keys), length)),
        )
        return block, {"position": position}


def _event_mask(keys: np.ndarray, t0: int, length: int, period: int | None, rate: float | None):
    """Where events fall in ``[t0, t0 + length)``: every ``period`` steps or Poisson at ``rate``
    per step (a Bernoulli trial each step). Never at step 0, the start of the stream."""
    steps = np.arange(t0, t0 + length)
    if period is not None:
        mask = np.broadcast_to((steps % period == 0) & (steps > 0), (len(keys), length))
        return np.array(mask)
    return (_uniform(keys, 2, steps, 1)[..., 0] < rate) & (steps > 0)


class Switch(Process):
    """Abrupt jumps of a piecewise-constant parameter.

    When: every ``period`` steps, or at Poisson times with ``rate`` events per step.
    How (``update``): ``"resample"`` draws fresh values uniform in ``[low, high]``, ``"permute"``
    shuffles the coordinates, ``"negate"`` flips signs. ``scope="one"`` changes a single random
    coordinate per event instead of all of them (not for ``"permute"``). ``"negate"`` starts at +1.
    """

    kind = "switch"
    UPDATES = ("resample", "permute", "negate")

    def __init__(
        self,
        shape,
        low: float = 0.0,
        high: float = 1.0,
        *,
        period: int | None = None,
        rate: float | None = None,
        update: str = "resample",
        scope: str = "all",
    ) -> None:
        super().__init__(shape)
        if (period is None) == (rate is None):
            raise ValueError("Switch: give exactly one of period (steps) or rate (events per step)")
        if period is not None:
            _check_range("Switch", "period", period, 1, np.inf)
        if rate is not None:
            _check_range("Switch", "rate", rate, 0.0, 1.0)
        if update not in self.UPDATES:
            raise ValueError(f"Switch: update={update!r} is not one of {self.UPDATES}")
        if scope not in ("all", "one") or (update == "permute" and scope == "one"):
            raise ValueError(f"Switch: scope={scope!r} must be 'all' or 'one' ('all' for permute)")
        self.low, self.high, self.period, self.rate = float(low), float(high), period, rate
        self.update, self.scope = update, scope

    def init(self, keys):
        if self.update == "negate":
            return {"value": np.ones((len(keys), self.size))}
        start = _uniform(keys, 0, np.zeros(1), self.size)[:, 0]
        return {"value": self.low + (self.high - self.low) * start}

    def _apply(self, value: np.ndarray, keys: np.ndarray, step: int) -> np.ndarray:
        """The new value of the instances in ``value`` (rows) after an event at ``step``."""
        draws = _uniform(keys, 3, np.array([step]), self.size + 1)[:, 0]
        new = value.copy()
        if self.update == "permute":
            return np.take_along_axis(value, np.argsort(draws[:, : self.size], axis=1), axis=1)
        if self.scope == "all":
            chosen = np.ones_like(value, dtype=bool)
        else:
            which = np.minimum((draws[:, -1] * self.size).astype(np.int64), self.size - 1)
            chosen = np.arange(self.size) == which[:, None]
        if self.update == "negate":
            np.negative(new, out=new, where=chosen)
        else:
            fresh = self.low + (self.high - self.low) * draws[:, : self.size]
            new[chosen] = fresh[chosen]
        return new

    def generate(self, state, keys, t0, length):
        events = _event_mask(keys, t0, length, self.period, self.rate)
        value = state["value"].copy()
        magnitude = np.zeros((len(keys), length))
        event_steps = np.flatnonzero(events.any(axis=0))
        if len(event_steps) == 0:  # the common case: a read-only view, no copies
            values = np.broadcast_to(value[:, None, :], (len(keys), length, self.size))
            return Block({"value": self._shaped(values)}, events, magnitude), {"value": value}
        values = np.repeat(value[:, None, :], length, axis=1)
        for k in event_steps:
            rows = np.flatnonzero(events[:, k])
            new = self._apply(value[rows], keys[rows], t0 + k)
            magnitude[rows, k] = np.abs(new - value[rows]).max(axis=1)
            value[rows] = new
            values[rows, k:] = new[:, None, :]
        return Block({"value": self._shaped(values)}, events, magnitude), {"value": value}


class Season(Process):
    """``num_regimes`` fixed parameter vectors (drawn once per instance, uniform in
    ``[low, high]``) visited in order, ``period`` steps each, then again from the first: regimes
    recur, so an agent that retains what it learned in a season gains when it comes back."""

    kind = "season"

    def __init__(self, shape, num_regimes: int, period: int, low: float, high: float) -> None:
        super().__init__(shape)
        _check_range("Season", "num_regimes", num_regimes, 1, 10_000)
        _check_range("Season", "period", period, 1, np.inf)
        self.num_regimes, self.period = int(num_regimes), int(period)
        self.low, self.high = float(low), float(high)

    def init(self, keys):
        draws = _uniform(keys, 0, np.arange(self.num_regimes), self.size)
        return {"regimes": self.low + (self.high - self.low) * draws}

    def regime(self, steps: np.ndarray | int) -> np.ndarray:
        """Which regime is active at these steps (the same for every instance)."""
        return (np.asarray(steps) // self.period) % self.num_regimes

    def generate(self, state, keys, t0, length):
        steps = np.arange(t0, t0 + length)
        regime = self.regime(steps)
        regimes = state["regimes"]
        values = np.take(regimes, regime, axis=1)
        boundary = (steps % self.period == 0) & (steps > 0)
        magnitude = np.zeros((len(keys), length))
        for k in np.flatnonzero(boundary):
            jump = regimes[:, regime[k]] - regimes[:, self.regime(steps[k] - 1)]
            magnitude[:, k] = np.abs(jump).max(axis=1)
        events = np.repeat(boundary[None, :], len(keys), axis=0)
        regime_ids = np.repeat(regime[None, :], len(keys), axis=0)
        block = Block({"value": self._shaped(values), "regime": regime_ids}, events, magnitude)
        return block, state


class Novelty(Process):
    """Content never seen before: ``slots`` content vectors (uniform in ``[low, high]``), each
    with a unique id; at every event (periodic or Poisson) the oldest slot is replaced by fresh
    content with the next id. Outputs ``value`` ``(slots, *shape)`` and ``content`` ids ``(slots,)``.
    """

    kind = "novelty"

    def __init__(
        self,
        shape,
        slots: int,
        low: float = 0.0,
        high: float = 1.0,
        *,
        period: int | None = None,
        rate: float | None = None,
    ) -> None:
        super().__init__(shape)
        if (period is None) == (rate is None):
            raise ValueError("Novelty: give exactly one of period (steps) or rate (events per step)")
        _check_range("Novelty", "slots", slots, 1, 10_000)
        self.slots, self.low, self.high = int(slots), float(low), float(high)
        self.period, self.rate = period, rate

    def _content(self, keys: np.ndarray, content_ids: np.ndarray) -> np.ndarray:
        """The content vector of each content id (per instance): ``(batch, n, size)``."""
        counters = content_ids.astype(np.uint64)[..., None] * np.uint64(self.size) + np.arange(
            self.size, dtype=np.uint64
        )
        draws = rng.uniform(_lane_keys(keys, 4)[:, None, None], counters)
        return self.low + (self.high - self.low) * draws

    def init(self, keys):
        ids = np.broadcast_to(np.arange(self.slots), (len(keys), self.slots)).copy()
        return {"content": ids, "value": self._content(keys, ids), "created": np.full(len(keys), self.slots)}

    def generate(self, state, keys, t0, length):
        events = _event_mask(keys, t0, length, self.period, self.rate)
        content, value, created = (state[k].copy() for k in ("content", "value", "created"))
        magnitude = np.zeros((len(keys), length))
        event_steps = np.flatnonzero(events.any(axis=0))
        if len(event_steps) == 0:  # the common case: read-only views, no copies
            contents = np.broadcast_to(content[:, None], (len(keys), length, *content.shape[1:]))
            values = np.broadcast_to(value[:, None], (len(keys), length, *value.shape[1:]))
        else:
            contents = np.repeat(content[:, None], length, axis=1)
            values = np.repeat(value[:, None], length, axis=1)
        for k in event_steps:
            rows = np.flatnonzero(events[:, k])
            slot = created[rows] % self.slots
            fresh = self._content(keys[rows], created[rows][:, None])[:, 0]
            magnitude[rows, k] = np.abs(fresh - value[rows, slot]).max(axis=1)
            content[rows, slot] = created[rows]
            value[rows, slot] = fresh
            created[rows] += 1
            contents[rows, k:] = content[rows][:, None]
            values[rows, k:] = value[rows][:, None]
        outputs = {
            "value": values.reshape(values.shape[:3] + self.shape),
            "content": contents,
        }
        return Block(outputs, events, magnitude), {"content": content, "value": value, "created": created}


class ChangeEngine:
    """Runs a world's named processes over a batch, one block of steps at a time.

    The world reads the current values with :meth:`value` (or whole blocks with :meth:`block`),
    calls :meth:`advance` once per world step, and gets the realised change points from
    :meth:`change_points`. With ``stationary=True`` every process holds its step-0 value forever
    and no change point ever occurs: the control condition for "does change hurt frozen agents?".
    """

    def __init__(self, processes: Mapping[str, Process], block_length: int, stationary: bool = False):
        if block_length < 1:
            raise ValueError(f"block_length={block_length} must be at least 1")
        self.processes = dict(processes)
        self.block_length = int(block_length)
        self.stationary = bool(stationary)
        seasons = [name for name, p in self.processes.items() if isinstance(p, Season)]
        self._season = seasons[0] if seasons else None
        #: When a list, every realised change point of instance 0 is appended to it as its block is
        #: generated (ahead of time: consumers keep those with step < the current step).
        self.log: list[ChangePoint] | None = None
        self.t = 0
        self.block_start = 0
        self._keys: np.ndarray | None = None
        self._block_states: dict[str, State] = {}  # at block_start: what a checkpoint stores
        self._next_states: dict[str, State] = {}  # at the end of the current block
        self._blocks: dict[str, Block] = {}

    # -- lifecycle -----------------------------------------------------------------------------
    def reset(self, keys: np.ndarray) -> None:
        """Start every process at step 0. ``keys``: ``(batch, len(processes))`` uint64."""
        keys = np.asarray(keys, dtype=np.uint64)
        if keys.ndim != 2 or keys.shape[1] < len(self.processes):
            raise ValueError(f"keys must have shape (batch, >= {len(self.processes)}), got {keys.shape}")
        self._keys = keys
        self._block_states = {
            name: process.init(keys[:, j]) for j, (name, process) in enumerate(self.processes.items())
        }
        self.t = self.block_start = 0
        self._generate()

    def advance(self) -> bool:
        """Move to the next step; returns True when a new block was generated."""
        self.t += 1
        if self.t - self.block_start < self.block_length:
            return False
        self.block_start = self.t
        self._block_states = self._next_states
        self._generate()
        return True

    def _generate(self) -> None:
        """Fill the block starting at ``block_start`` from the states at that step."""
        keys, length = self._keys, self.block_length
        self._next_states = {}
        for j, (name, process) in enumerate(self.processes.items()):
            state = self._block_states[name]
            if self.stationary:
                first, _ = process.generate(state, keys[:, j], 0, 1)
                outputs = {k: np.repeat(v, length, axis=1) for k, v in first.outputs.items()}
                no_events = np.zeros((len(keys), length), dtype=bool)
                block, next_state = Block(outputs, no_events, np.zeros((len(keys), length))), state
            else:
                block, next_state = process.generate(state, keys[:, j], self.block_start, length)
            self._blocks[name] = block
            self._next_states[name] = next_state
        self._any_event = np.zeros((len(keys), length), dtype=bool)
        for block in self._blocks.values():
            self._any_event |= block.events
        if self.log is not None and self._any_event[0].any():
            for name, process in self.processes.items():
                block = self._blocks[name]
                for k in np.flatnonzero(block.events[0]):
                    self.log.append(ChangePoint(self.block_start + int(k), process.kind,
                                                float(block.magnitude[0, k]), name))

    # -- reading -------------------------------------------------------------------------------
    @property
    def offset(self) -> int:
        """Index of the current step inside the current block."""
        return self.t - self.block_start

    def value(self, name: str, output: str = "value") -> np.ndarray:
        """Current value of a process output, ``(batch, *shape)`` (a view: do not modify)."""
        return self._blocks[name].outputs[output][:, self.t - self.block_start]

    def block(self, name: str, output: str = "value") -> np.ndarray:
        """The whole current block of a process output, ``(batch, block_length, *shape)``."""
        return self._blocks[name].outputs[output]

    def block_events(self, name: str) -> np.ndarray:
        """``(batch, block_length)`` change points of one process in the current block."""
        return self._blocks[name].events

    def changed(self) -> np.ndarray:
        """``(batch,)``: did any process change abruptly at the current step?"""
        return self._any_event[:, self.t - self.block_start]

    def any_change_in_block(self) -> np.ndarray:
        """``(batch, block_length)`` mask of abrupt changes in the current block."""
        return self._any_event

    def change_points(self, instance: int) -> tuple[ChangePoint, ...]:
        """The abrupt changes of one instance at the current step."""
        k = self.t - self.block_start
        if not self._any_event[instance, k]:
            return ()
        return tuple(
            ChangePoint(self.t, process.kind, float(self._blocks[name].magnitude[instance, k]), name)
            for name, process in self.processes.items()
            if self._blocks[name].events[instance, k]
        )

    def season_process(self) -> Season | None:
        """The Season process that defines the regime id, if the world has one."""
        return self.processes[self._season] if self._season is not None else None

    def regime_of(self, instance: int) -> int:
        """The recurring regime id of one instance (see :meth:`regime`)."""
        if self._season is None:
            return 0
        return int(self._blocks[self._season].outputs["regime"][instance, self.t - self.block_start])

    def regime(self) -> np.ndarray:
        """``(batch,)`` id of the recurring regime: the index of the first Season process's
        current season, or 0 if the world has no seasons."""
        if self._season is None:
            return np.zeros(len(self._keys), dtype=np.int64)
        return self._blocks[self._season].outputs["regime"][:, self.t - self.block_start]

    # -- checkpoints ---------------------------------------------------------------------------
    def get_state(self) -> dict[str, np.ndarray]:
        """Plain arrays from which :meth:`set_state` rebuilds this engine exactly."""
        state = {"t": np.array(self.t), "block_start": np.array(self.block_start), "keys": self._keys.copy()}
        for name, process_state in self._block_states.items():
            for field, array in process_state.items():
                state[f"{name}.{field}"] = np.array(array, copy=True)
        return state

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        self._keys = np.array(state["keys"], dtype=np.uint64)
        self.t, self.block_start = int(state["t"]), int(state["block_start"])
        self._block_states = {
            name: {
                field[len(name) + 1 :]: np.array(array, copy=True)
                for field, array in state.items()
                if field.startswith(name + ".")
            }
            for name in self.processes
        }
        self._generate()
