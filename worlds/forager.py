"""Forager: an endless, procedurally generated 2-D world of items whose worth keeps changing."""

from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium import spaces
from numpy.lib.stride_tricks import as_strided

from ceaseless.worlds import render, rng
from ceaseless.worlds.change import Novelty, RandomWalk, Season, Switch
from ceaseless.worlds.core import World, WorldConfig, param

STAY, UP, RIGHT, DOWN, LEFT = range(5)
MOVES = np.array([[0, 0], [-1, 0], [0, 1], [1, 0], [0, -1]], dtype=np.int64)  # (row, col)
_MOVES = [tuple(int(x) for x in move) for move in MOVES]
CHUNK = 8  # the map is generated a chunk of CHUNK x CHUNK cells at a time
CHUNKS = 4  # each instance remembers a torus of CHUNKS x CHUNKS chunks around itself
MEMORY = CHUNK * CHUNKS
NO_TAG = np.iinfo(np.int64).min
NEVER = np.iinfo(np.int64).max // 2


@dataclasses.dataclass(frozen=True)
class ForagerConfig(WorldConfig):
    view_size: int = param(5, 3, 15, "side of the egocentric window (odd)")
    num_colors: int = param(6, 2, 16, "appearance channels; several item types share a colour")
    item_types: int = param(4, 2, 16, "item types alive at once")
    density: float = param(0.15, 0.0, 1.0, "chance that a newly generated cell bears an item")
    regrow_time: int = param(100, 1, 10**7, "mean steps before a once-harvested cell bears again")
    recovery_time: int = param(500, 1, 10**7, "a cell left alone this long forgets its harvests")
    season_period: int = param(10_000, 1, None, "steps per season")
    num_seasons: int = param(4, 1, 100, "seasons in the cycle (they recur)")
    flip_rate: float = param(1 / 5000, 0.0, 1.0, "Poisson rate of one item type's worth flipping sign")
    novelty_rate: float = param(1 / 20_000, 0.0, 1.0, "Poisson rate of a new item type appearing")
    drift: float = param(0.002, 0.0, 1.0, "random-walk step size of each item type's worth")

    def check(self) -> None:
        if self.view_size % 2 == 0:
            raise ValueError(f"Forager: view_size={self.view_size} must be odd, in [3, 15]")


def _pack(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """A unique int64 tag per global cell (for |row|, |col| < 2**31)."""
    return (rows << 32) ^ (cols & 0xFFFFFFFF)


class Forager(World):
    """An endless plane of items to eat; what each item is worth keeps changing.

    The plane is unbounded in every direction and generated on demand from the seed, an 8x8
    chunk at a time, when it first comes into view. Each instance remembers 4x4 chunks around
    itself; chunks left further behind are forgotten and generated anew (from the seed and the
    time) when seen again, so memorising a map does not pay.

    ## Observation
    ``Box(0, 1, (view_size, view_size, num_colors), uint8)``: an egocentric window, one channel
    per colour. Item *types* are hidden: several types share a colour, and look-alike types can be
    worth opposite amounts, so the world is partially observable.

    ## Actions
    ``Discrete(5)``: 0 stay, 1 up, 2 right, 3 down, 4 left.

    ## Reward
    Moving onto a cell with an item eats it: the reward is that item type's current worth.
    A harvested cell bears again (a freshly drawn type) after about ``regrow_time * h`` steps,
    ``h`` being how often it was harvested without a ``recovery_time`` rest: regions deplete
    where the agent forages, so it must keep moving.

    ## Non-stationarity
    - **season**: each item type's worth has a seasonal part; ``num_seasons`` seasons of
      ``season_period`` steps recur in a cycle.
    - **switch**: at Poisson times (``flip_rate``) one type's worth flips sign.
    - **drift**: each type's worth drifts (random walk, step ``drift``).
    - **novelty**: at Poisson times (``novelty_rate``) a new item type with a fresh colour and worth
      replaces the oldest one, everywhere at once.
    - **regions**: the map itself is new wherever the agent goes, and depletes where it forages.

    ## Reference policies
    Oracle: greedy on the true current worth of the items in view (nearest best item, else a
    deterministic wander). Fallback: stay.

    ## Diagnostics (harness only)
    ``hidden["worth"]`` per type slot, ``hidden["colour"]`` per slot, ``hidden["position"]``.
    """

    id = "ceaseless/Forager-v0"
    changes = ("item worths cycle through seasons, flip sign and drift; new item types appear; "
               "foraged regions deplete and the map is new wherever the agent goes")
    Config = ForagerConfig
    streams = ("spawn", "regrow", "wander")
    state_fields = ("position", "cell_code", "cell_ripe_at", "cell_harvests", "cell_last_harvest", "chunk_tag")

    def __init__(self, num_envs: int = 1, **config) -> None:
        super().__init__(num_envs, **config)
        c = self.config
        self.radius = r = c.view_size // 2
        self.observation_space = spaces.Box(0, 1, (c.view_size, c.view_size, c.num_colors), np.uint8)
        self.action_space = spaces.Discrete(5)
        # One-hot rows per colour code; the last code (num_colors) means "nothing here".
        self._one_hot = np.vstack([np.eye(c.num_colors, dtype=np.uint8), np.zeros((1, c.num_colors), np.uint8)])
        self._offsets = np.arange(-r, r + 1)
        # Window cells that, between them, lie in every chunk the window touches.
        probes = [-r, r] if c.view_size <= CHUNK + 1 else [-r, 0, r]
        self._probe_offsets = np.array(probes, dtype=np.int64)
        self._probe_list = [(dr, dc) for dr in probes for dc in probes]
        # Memory: a torus of MEMORY x MEMORY cells per instance. `cell_code` is what windows read:
        # 0 no item, +(m+1) a ripe item of slot m, -(m+1) one of slot m growing back until
        # `cell_ripe_at`. The first view_size-1 rows and columns of both are repeated after the
        # last, so that every window is a plain strided slice that never wraps around.
        batch, side = self.num_envs, MEMORY + c.view_size - 1
        self.position = np.zeros((batch, 2), dtype=np.int64)
        self.cell_code = np.zeros((batch, side, side), dtype=np.int8)
        self.cell_ripe_at = np.zeros((batch, side, side), dtype=np.int64)  # repeated like cell_code
        self.cell_harvests = np.zeros((batch, MEMORY, MEMORY), dtype=np.int32)
        self.cell_last_harvest = np.full((batch, MEMORY, MEMORY), -NEVER, dtype=np.int64)
        self.chunk_tag = np.full((batch, CHUNKS, CHUNKS), NO_TAG, dtype=np.int64)
        v, (sb, sr, sc) = c.view_size, self.cell_code.strides
        self._windows = as_strided(self.cell_code, (batch, MEMORY, MEMORY, v, v), (sb, sr, sc, sr, sc),
                                   writeable=False)
        self._table_base = (self._rows * (c.item_types + 1))[:, None, None]
        self._side = side
        self._chunk_base = (self._rows * CHUNKS * CHUNKS)[:, None, None]
        self._chunk_rows = np.repeat(np.arange(CHUNK), CHUNK)  # cells of a chunk, row-major
        self._chunk_cols = np.tile(np.arange(CHUNK), CHUNK)

    def make_processes(self):
        c = self.config
        n = c.item_types
        return {
            "season": Season(n, c.num_seasons, c.season_period, -1.0, 1.0),
            "flip": Switch(n, rate=c.flip_rate, update="negate", scope="one"),
            "drift": RandomWalk(n, c.drift, -0.5, 0.5, interval=16),
            # Per slot: (base worth draw, colour draw), both uniform in [0, 1).
            "novelty": Novelty(2, n, rate=c.novelty_rate),
        }

    # -- per-block tables ------------------------------------------------------------------------
    def _new_block(self) -> None:
        e, c = self.engine, self.config
        content = e.block("novelty", "content")  # (B, L, slots) ids
        draws = e.block("novelty")  # (B, L, slots, 2)
        base = 2.0 * draws[..., 0] - 1.0
        self._worth = e.block("flip") * (base + e.block("season")) + e.block("drift")
        # The first generation pairs up colours (types 0 and 1 look alike, ...); later types
        # take any colour, new or already in use.
        first = content < c.item_types
        colour = np.where(first, (content // 2) % c.num_colors,
                          np.minimum((draws[..., 1] * c.num_colors).astype(np.int64), c.num_colors - 1))
        nothing = np.full(colour.shape[:2] + (1,), c.num_colors, dtype=np.int64)
        # Indexed by a visible code: 0 -> nothing, m + 1 -> the colour of slot m.
        self._colour = np.concatenate([nothing, colour], axis=2)
        # Colours only change at novelty events: the one-hot table is rebuilt only then.
        self._novel = e.block_events("novelty").any(axis=0)
        self._table = None

    # -- the map -----------------------------------------------------------------------------------
    def _write_cells(self, b: np.ndarray, r: np.ndarray, c: np.ndarray, code: np.ndarray | int,
                     ripe_at: np.ndarray | int, harvests: np.ndarray | int, last_harvest: np.ndarray | int) -> None:
        """Set the state of torus cells (r, c) of instances b (1-d arrays), including the
        repeated copies of ``cell_code`` and ``cell_ripe_at``."""
        side, low = self._side, self.config.view_size - 1
        flat = (b * side + r) * side + c
        down = np.where(r < low, MEMORY * side, 0)  # offset of the repeated row, if any
        right = np.where(c < low, MEMORY, 0)
        copies = np.concatenate([flat, flat + down, flat + right, flat + down + right])
        self.cell_code.reshape(-1)[copies] = np.tile(np.broadcast_to(code, flat.shape), 4)
        self.cell_ripe_at.reshape(-1)[copies] = np.tile(np.broadcast_to(ripe_at, flat.shape), 4)
        plain = (b * MEMORY + r) * MEMORY + c
        self.cell_harvests.reshape(-1)[plain] = harvests
        self.cell_last_harvest.reshape(-1)[plain] = last_harvest

    def _reveal(self, instances: np.ndarray, chunk_rows: np.ndarray, chunk_cols: np.ndarray) -> None:
        """Make sure these global chunks are in memory, generating the missing ones from the
        seed (1-d arrays of equal length; each (instance, chunk) at most once)."""
        tags = _pack(chunk_rows, chunk_cols)
        tr, tc = chunk_rows % CHUNKS, chunk_cols % CHUNKS
        stale = self.chunk_tag[instances, tr, tc] != tags
        if not stale.any():
            return
        b, tags, chunk_rows, chunk_cols = instances[stale], tags[stale], chunk_rows[stale], chunk_cols[stale]
        self.chunk_tag[b, tr[stale], tc[stale]] = tags
        # Every cell of each new chunk, flattened: (n * CHUNK * CHUNK,) global coordinates.
        cell_rows = ((chunk_rows * CHUNK)[:, None] + self._chunk_rows).ravel()
        cell_cols = ((chunk_cols * CHUNK)[:, None] + self._chunk_cols).ravel()
        b = np.repeat(b, CHUNK * CHUNK)
        # Content depends on the instance, the cell and when it is generated.
        when = rng.random_bits(self.keys["spawn"][b], np.uint64(self.t))
        bits = rng.random_bits(when, _pack(cell_rows, cell_cols).astype(np.uint64))
        has_item = (bits >> np.uint64(32)) < np.uint64(int(self.config.density * 2**32))
        kind = ((bits & np.uint64(0xFFFFFFFF)) * np.uint64(self.config.item_types)) >> np.uint64(32)
        code = np.where(has_item, kind.astype(np.int8) + 1, 0).astype(np.int8)
        self._write_cells(b, cell_rows % MEMORY, cell_cols % MEMORY, code, 0, 0, -NEVER)

    def _reveal_window(self) -> None:
        """Generate the chunks that the current windows touch and memory lacks."""
        rows = (self.position[:, 0, None] + self._probe_offsets) // CHUNK  # (B, probes per axis)
        cols = (self.position[:, 1, None] + self._probe_offsets) // CHUNK
        torus = (rows % CHUNKS)[:, :, None] * CHUNKS + (cols % CHUNKS)[:, None, :]  # (B, n, n)
        tags = _pack(rows[:, :, None], cols[:, None, :])
        stale = self.chunk_tag.reshape(-1)[self._chunk_base + torus] != tags
        if not stale.any():
            return
        # A probe in the same chunk as the previous one along its axis asks for nothing new.
        stale[:, 1:, :] &= (rows[:, 1:] != rows[:, :-1])[:, :, None]
        stale[:, :, 1:] &= (cols[:, 1:] != cols[:, :-1])[:, None, :]
        b, i, j = np.nonzero(stale)
        self._reveal(b, rows[b, i], cols[b, j])

    def _view_codes(self) -> np.ndarray:
        """Visible code of every window cell ``(B, V, V)``: 0 nothing, m + 1 a ripe item of slot m."""
        top = (self.position[:, 0] - self.radius) % MEMORY
        left = (self.position[:, 1] - self.radius) % MEMORY
        codes = self._windows[self._rows, top, left]
        self._ripen(codes, top, left)
        return codes

    def _ripen(self, codes: np.ndarray, top: np.ndarray, left: np.ndarray) -> None:
        """In window codes, show growing items that are ripe by now and hide the others."""
        growing = np.flatnonzero(codes < 0)
        if len(growing) == 0:
            return
        v = self.config.view_size
        b, i, j = growing // (v * v), (growing // v) % v, growing % v
        side = self._side
        ripe = self.cell_ripe_at.reshape(-1)[(b * side + top[b] + i) * side + left[b] + j] <= self.t
        flat = codes.reshape(-1)
        flat[growing] = np.where(ripe, -flat[growing], 0)

    # -- dynamics ------------------------------------------------------------------------------------
    def _start(self) -> None:
        self.position[:] = 0
        self.chunk_tag[:] = NO_TAG
        self._reveal_window()

    def _act(self, actions):
        self.position += MOVES[actions]
        r, c = self.position[:, 0] % MEMORY, self.position[:, 1] % MEMORY
        code = self.cell_code[self._rows, r, c]
        eaten = (code > 0) | ((code < 0) & (self.cell_ripe_at[self._rows, r, c] <= self.t))
        worth = self._worth[:, self.engine.offset]
        rewards = np.where(eaten, worth[self._rows, np.abs(code) - 1], 0.0)
        if eaten.any():
            self._harvest(np.flatnonzero(eaten), r[eaten], c[eaten])
        self._reveal_window()
        return rewards

    def _harvest(self, b: np.ndarray, r: np.ndarray, c: np.ndarray) -> None:
        """Eat the items at these torus cells and schedule what grows back, and when."""
        rested = self.t - self.cell_last_harvest[b, r, c] > self.config.recovery_time
        harvests = np.where(rested, 0, self.cell_harvests[b, r, c]) + 1
        bits = rng.random_bits(self.keys["regrow"][b], np.uint64(self.t))
        jitter = (bits >> np.uint64(11)) * 2.0**-53
        delay = np.ceil(self.config.regrow_time * harvests * (0.5 + jitter)).astype(np.int64)
        kind = ((bits & np.uint64(0xFFFFFFFF)) * np.uint64(self.config.item_types)) >> np.uint64(32)
        self._write_cells(b, r, c, -(kind.astype(np.int8) + 1), self.t + delay, harvests, self.t)

    def _harvest_one(self, r: int, c: int) -> None:
        """:meth:`_harvest` for a batch of one, in plain Python (same numbers)."""
        t, config = self.t, self.config
        rested = t - int(self.cell_last_harvest[0, r, c]) > config.recovery_time
        harvests = (0 if rested else int(self.cell_harvests[0, r, c])) + 1
        bits = rng.random_bits_int(int(self.keys["regrow"][0]), t)
        jitter = (bits >> 11) * 2.0**-53
        delay = int(np.ceil(config.regrow_time * harvests * (0.5 + jitter)))
        code = -(((bits & 0xFFFFFFFF) * config.item_types >> 32) + 1)
        low = config.view_size - 1
        rows = (r, r + MEMORY) if r < low else (r,)
        cols = (c, c + MEMORY) if c < low else (c,)
        for row in rows:
            for col in cols:
                self.cell_code[0, row, col] = code
                self.cell_ripe_at[0, row, col] = t + delay
        self.cell_harvests[0, r, c] = harvests
        self.cell_last_harvest[0, r, c] = t

    def _observe(self):
        codes = self._view_codes()
        # Per instance, the one-hot row of each visible code: (B * (slots + 1), colours).
        table = self._table
        if table is None or self._novel[self.engine.offset]:
            table = self._one_hot[self._colour[:, self.engine.offset]].reshape(-1, self.config.num_colors)
            self._table = table
        return np.take(table, self._table_base + codes, axis=0)

    def step_one(self, action):
        """Fast path for a batch of one (held equal to :meth:`step` by a parity test)."""
        if (not self._reset_done or (type(action) is not int and not isinstance(action, np.integer))
                or not 0 <= action < 5):
            return super().step_one(action)
        t, k = self.t, self.t - self.engine.block_start
        move = _MOVES[action]
        row, col = int(self.position[0, 0]) + move[0], int(self.position[0, 1]) + move[1]
        self.position[0, 0], self.position[0, 1] = row, col
        r, c = row % MEMORY, col % MEMORY
        code = int(self.cell_code[0, r, c])
        reward = 0.0
        if code > 0 or (code < 0 and self.cell_ripe_at[0, r, c] <= t):
            reward = float(self._worth[0, k, abs(code) - 1])
            self._harvest_one(r, c)
        # The window can only need a new chunk when one of its sides crosses a chunk border.
        radius = self.radius
        if ((row - radius) // CHUNK != (row - move[0] - radius) // CHUNK
                or (row + radius) // CHUNK != (row - move[0] + radius) // CHUNK
                or (col - radius) // CHUNK != (col - move[1] - radius) // CHUNK
                or (col + radius) // CHUNK != (col - move[1] + radius) // CHUNK):
            tags = self.chunk_tag[0]
            for dr, dc in self._probe_list:
                chunk_row, chunk_col = (row + dr) // CHUNK, (col + dc) // CHUNK
                if tags[chunk_row % CHUNKS, chunk_col % CHUNKS] != (chunk_row << 32) ^ (chunk_col & 0xFFFFFFFF):
                    self._reveal_window()
                    break
        self.t += 1
        if self.engine.advance():
            self._new_block()
        top, left = (row - radius) % MEMORY, (col - radius) % MEMORY
        v = self.config.view_size
        # A cell's item shows once its ripening time has passed (fresh cells ripen at 0).
        ripe = self.cell_ripe_at[0, top : top + v, left : left + v] <= self.t
        codes = np.where(ripe, np.abs(self.cell_code[0, top : top + v, left : left + v]), 0)
        colour = self._colour[0, self.t - self.engine.block_start]
        return self._one_hot[colour[codes]], reward

    # -- diagnostics and reference policies ------------------------------------------------------
    def worth(self) -> np.ndarray:
        """Current worth of each item-type slot ``(B, item_types)``."""
        return self._worth[:, self.engine.offset]

    def hidden(self):
        return {
            "worth": self.worth(),
            "colour": self._colour[:, self.engine.offset, 1:],
            "position": self.position,
        }

    def fallback_action(self):
        return np.full(self.num_envs, STAY, dtype=np.int64)

    def oracle_action(self):
        """Head for the ripe item in view with the best worth per step of distance; if nothing
        in view is worth eating, wander in a direction that changes every 32 steps."""
        codes = self._view_codes()
        worth = self.worth()[self._rows[:, None, None], codes - 1]
        distance = np.abs(self._offsets)[:, None] + np.abs(self._offsets)[None, :]
        score = np.where((codes > 0) & (worth > 0) & (distance > 0), worth / np.maximum(distance, 1), -np.inf)
        flat = score.reshape(self.num_envs, -1)
        best = np.argmax(flat, axis=1)
        found = np.isfinite(flat[self._rows, best])
        dr = best // self.config.view_size - self.radius
        dc = best % self.config.view_size - self.radius
        toward = np.where(np.abs(dr) >= np.abs(dc), np.where(dr < 0, UP, DOWN), np.where(dc < 0, LEFT, RIGHT))
        bits = rng.random_bits(self.keys["wander"], np.uint64(self.t // 32))
        wander = 1 + (bits % np.uint64(4)).astype(np.int64)
        return np.where(found, toward, wander).astype(np.int64)

    # -- rendering ---------------------------------------------------------------------------------
    def _scene(self, index: int, radius: int = 7) -> np.ndarray:
        """Colour codes of the cells around instance ``index``: -2 unknown, -1 empty, else colour."""
        offsets = np.arange(-radius, radius + 1)
        rows = self.position[index, 0] + offsets[:, None]
        cols = self.position[index, 1] + offsets[None, :]
        rows, cols = np.broadcast_arrays(rows, cols)
        r, c = rows % MEMORY, cols % MEMORY
        known = self.chunk_tag[index, (rows // CHUNK) % CHUNKS, (cols // CHUNK) % CHUNKS] == _pack(
            rows // CHUNK, cols // CHUNK)
        code = self.cell_code[index, r, c].astype(np.int64)
        ripe = (code > 0) | ((code < 0) & (self.cell_ripe_at[index, r, c] <= self.t))
        colour = self._colour[index, self.engine.offset][np.where(ripe, np.abs(code), 0)]
        codes = np.where(colour == self.config.num_colors, -1, colour)
        return np.where(known, codes, -2)

    def render_rgb(self, index):
        radius, cell = 7, 12
        scene = self._scene(index, radius)
        colours = np.vstack([render.PALETTE, render.UNKNOWN, render.BACKGROUND])
        codes = np.where(scene == -2, len(render.PALETTE), np.where(scene == -1, len(render.PALETTE) + 1, scene))
        image = render.grid_image(codes, colours, cell)
        centre = radius * cell
        render.outline(image, centre + 2, centre + 2, centre + cell - 2, centre + cell - 2, render.AGENT, 2)
        lo, hi = (radius - self.radius) * cell, (radius + self.radius + 1) * cell
        render.outline(image, lo, lo, hi, hi, render.AGENT, 1)
        return image

    def render_ansi(self, index):
        scene = self._scene(index)
        symbols = np.array(list("abcdefghijklmnop") + ["?", "."])
        text = symbols[np.where(scene == -2, 16, np.where(scene == -1, 17, scene))]
        text[text.shape[0] // 2, text.shape[1] // 2] = "@"
        worth = " ".join(f"{w:+.2f}" for w in self.worth()[index])
        return f"t={self.t} worth=[{worth}]\n" + "\n".join("".join(row) for row in text) + "\n"
