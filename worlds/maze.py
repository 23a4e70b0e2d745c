"""ShiftingMaze: Sutton & Barto's blocking and shortcut mazes, made endless and procedural."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np
from gymnasium import spaces

from ceaseless.worlds import render, rng
from ceaseless.worlds.change import Novelty, Season, Switch
from ceaseless.worlds.core import World, WorldConfig, param

STAY, UP, RIGHT, DOWN, LEFT = range(5)
MOVES = np.array([[0, 0], [-1, 0], [0, 1], [1, 0], [0, -1]], dtype=np.int64)  # (row, col)
_DR, _DC = (0, -1, 0, 1, 0), (0, 0, 1, 0, -1)
FAR = 1 << 20  # the distance of what cannot be reached
_NONE = np.uint64(2**64 - 1)  # "no edge" for a component's cheapest edge
_EXCLUDED = np.uint64(1 << 63)  # added to the weight of edges a repair should avoid
REGEN, BLOCK, SHORTCUT = range(3)  # maze events, in the order they apply at one step
CANDIDATES = 16  # route cuts tried side by side by a blocking event


@dataclasses.dataclass(frozen=True)
class MazeConfig(WorldConfig):
    rows: int = param(5, 2, 15, "junction rows: the grid is 2*rows+1 cells high, walls included")
    cols: int = param(5, 2, 15, "junction columns: the grid is 2*cols+1 cells wide, walls included")
    loops: float = param(0.2, 0.0, 1.0, "chance that a wall between junctions left by a fresh maze's tree opens")
    num_goals: int = param(4, 1, 100, "goal positions in the seasonal cycle (they recur)")
    goal_period: int = param(2000, 1, None, "steps before the goal moves to the next position of its cycle")
    block_rate: float = param(1 / 4000, 0.0, 0.1, "Poisson rate per step of a wall closing the shortest route")
    shortcut_rate: float = param(1 / 4000, 0.0, 0.1, "Poisson rate per step of a shortcut opening")
    regen_rate: float = param(1 / 40_000, 0.0, 0.1, "Poisson rate per step of a whole new maze")


# --------------------------------------------------------------------------------------------
# Mazes as lattices. Junctions sit at odd (row, col) cells and are always open; pillars at even
# (row, col) cells and the border are always walls; the cells between two junctions are the
# edges of the lattice: ``h[b, r, c]`` opens junction (r, c) to (r, c + 1), ``v[b, r, c]``
# opens (r, c) to (r + 1, c). Every function below works on a batch of lattices at once.
# --------------------------------------------------------------------------------------------
def lattice(wall: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The open edges ``(h, v)`` of grids ``wall`` ``(n, H, W)`` (new arrays)."""
    return ~wall[:, 1::2, 2:-1:2], ~wall[:, 2:-1:2, 1::2]


def carve(h: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The grids ``(n, 2*rows+1, 2*cols+1)`` (True: wall) of lattices ``(h, v)``."""
    n, rows, cols = h.shape[0], h.shape[1], v.shape[2]
    wall = np.ones((n, 2 * rows + 1, 2 * cols + 1), dtype=bool)
    wall[:, 1::2, 1::2] = False
    wall[:, 1::2, 2:-1:2] = ~h
    wall[:, 2:-1:2, 1::2] = ~v
    return wall


def lattice_bfs(h: np.ndarray, v: np.ndarray, source: np.ndarray) -> np.ndarray:
    """Hops from junction ``source`` ``(n, 2)`` to every junction ``(n, rows, cols)`` (FAR if
    unreachable): breadth-first, one vectorised frontier expansion per distance."""
    n, rows, cols = h.shape[0], h.shape[1], v.shape[2]
    dist = np.full((n, rows, cols), FAR, dtype=np.int64)
    frontier = np.zeros((n, rows, cols), dtype=bool)
    frontier[np.arange(n), source[:, 0], source[:, 1]] = True
    dist[frontier] = 0
    seen = frontier.copy()
    hops = 0
    while True:
        hops += 1
        grown = np.zeros_like(frontier)
        grown[:, :, 1:] |= frontier[:, :, :-1] & h
        grown[:, :, :-1] |= frontier[:, :, 1:] & h
        grown[:, 1:] |= frontier[:, :-1] & v
        grown[:, :-1] |= frontier[:, 1:] & v
        grown &= ~seen
        if not grown.any():
            return dist
        seen |= grown
        dist[grown] = hops
        frontier = grown


def components(h: np.ndarray, v: np.ndarray, label: np.ndarray | None = None) -> np.ndarray:
    """Each junction's component id ``(n, rows, cols)``: the smallest junction index in it.

    Min-label propagation across open edges with pointer jumping. ``label`` may start from an
    earlier labelling of a subgraph (each label an index in the same component, not above its own).
    """
    n, rows, cols = h.shape[0], h.shape[1], v.shape[2]
    size = rows * cols
    if label is None:
        label = np.broadcast_to(np.arange(size).reshape(rows, cols), (n, rows, cols)).copy()
    while True:
        new = label.copy()
        np.minimum(new[:, :, :-1], np.where(h, label[:, :, 1:], size), out=new[:, :, :-1])
        np.minimum(new[:, :, 1:], np.where(h, label[:, :, :-1], size), out=new[:, :, 1:])
        np.minimum(new[:, :-1], np.where(v, label[:, 1:], size), out=new[:, :-1])
        np.minimum(new[:, 1:], np.where(v, label[:, :-1], size), out=new[:, 1:])
        flat = new.reshape(n, size)
        new = np.take_along_axis(flat, flat, axis=1).reshape(n, rows, cols)  # jump to the label's label
        if np.array_equal(new, label):
            return label
        label = new


def connect(h: np.ndarray, v: np.ndarray, wh: np.ndarray, wv: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Open closed edges until every junction is connected (Borůvka): each component opens its
    cheapest edge to another component, by the distinct uint64 weights ``(wh, wv)``, until one
    component is left. From an empty lattice this grows the minimum spanning tree of the weights
    (random weights: a random maze); from a cut lattice it repairs the cut. New arrays."""
    h, v = h.copy(), v.copy()
    n, rows, cols = h.shape[0], h.shape[1], v.shape[2]
    size = rows * cols
    base = (np.arange(n) * size)[:, None, None]
    label = None
    while True:
        label = components(h, v, label)
        if not label.any():  # every junction in component 0, in every instance
            return h, v
        left, right, top, bottom = label[:, :, :-1], label[:, :, 1:], label[:, :-1], label[:, 1:]
        cross_h = ~h & (left != right)
        cross_v = ~v & (top != bottom)
        if not (cross_h.any() or cross_v.any()):  # cannot happen on a full lattice; a guard
            return h, v
        cheapest = np.full(n * size, _NONE, dtype=np.uint64)
        for ends, weights, cross in ((left, wh, cross_h), (right, wh, cross_h), (top, wv, cross_v),
                                     (bottom, wv, cross_v)):
            np.minimum.at(cheapest, (base + ends)[cross], weights[cross])
        h |= cross_h & ((wh == cheapest[base + left]) | (wh == cheapest[base + right]))
        v |= cross_v & ((wv == cheapest[base + top]) | (wv == cheapest[base + bottom]))


def cell_distances(hops: np.ndarray, h: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Steps from every cell to the junction that ``hops`` measures from (FAR for walls)."""
    n, rows, cols = hops.shape
    dist = np.full((n, 2 * rows + 1, 2 * cols + 1), FAR, dtype=np.int64)
    dist[:, 1::2, 1::2] = 2 * hops
    dist[:, 1::2, 2:-1:2] = np.where(h, 2 * np.minimum(hops[:, :, :-1], hops[:, :, 1:]) + 1, FAR)
    dist[:, 2:-1:2, 1::2] = np.where(v, 2 * np.minimum(hops[:, :-1], hops[:, 1:]) + 1, FAR)
    return dist


def _through(from_s: np.ndarray, from_g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Length of the shortest route from s to g through each edge ``(h, v)``, given the hops of
    every junction from s and from g (FAR or more: no such route)."""
    through_h = np.minimum(from_s[:, :, :-1] + from_g[:, :, 1:], from_s[:, :, 1:] + from_g[:, :, :-1]) + 1
    through_v = np.minimum(from_s[:, :-1] + from_g[:, 1:], from_s[:, 1:] + from_g[:, :-1]) + 1
    return through_h, through_v


def _weights(bits: np.ndarray) -> np.ndarray:
    """Distinct weights from random bits ``(..., E)``: 51 random bits, then the edge index."""
    index = np.arange(bits.shape[-1], dtype=np.uint64)
    return ((bits >> np.uint64(13)) << np.uint64(12)) | index


class ShiftingMaze(World):
    """A maze whose walls keep moving: routes close, shortcuts open, goals move, mazes renew.

    Sutton & Barto's blocking maze (the learned route is walled off and a detour opens) and
    shortcut maze (a shorter route opens and nothing signals it), made endless: both happen at
    random times, forever, in procedurally generated mazes. An agent that learns a model of the
    maze and plans with it (Dyna-Q+ and kin) re-routes faster than one that only learns values.

    The grid is ``2*rows+1`` by ``2*cols+1`` cells with a wall border. Junctions (odd row, odd
    column) are always open and always connected to each other: every goal is always reachable.
    The start is a junction of the bottom row; goals are junctions of the rows above.

    ## Observation
    ``MultiDiscrete([H, W, H, W])`` (int64): the agent's (row, col) and the current goal's
    (row, col). The walls are not observed: the agent finds them by bumping into them (a move
    into a wall leaves it in place). Tabular agents can index on the four numbers.

    ## Actions
    ``Discrete(5)``: 0 stay, 1 up, 2 right, 3 down, 4 left.

    ## Reward
    1 when the agent reaches the goal (it is then put back on the start cell at once, inside
    the stream), 0 otherwise.

    ## Non-stationarity
    - **block** (Poisson, ``block_rate``): a wall segment closes every current shortest route
      from the start to the goal: all open cells at one distance along them (up to 16 distances
      are tried side by side, in random order: the first that makes the route longer wins, else
      the longest). If that cuts the maze, the wall across the cut that gives the longest new
      route opens (the gap moves, as in the blocking maze) and the rest is reconnected at random.
    - **shortcut** (Poisson, ``shortcut_rate``): the wall whose opening shortens the route from
      start to goal the most opens; if no single wall can, the one that shortens some cell's way
      to the goal the most (nothing lengthens; rarely, when no wall helps at all, nothing opens).
    - **season**: the goal moves through ``num_goals`` positions, ``goal_period`` steps each, in a
      cycle: goals recur, so what was learned about a goal pays again.
    - **novelty** (Poisson, ``regen_rate``): a whole new maze, never seen before, generated
      from the seed and the event's content id (a random spanning tree, plus a share ``loops`` of
      the remaining walls opened), with a new start; the agent is put on the new start.
    A wall that closes on the agent puts it back on the start. The maze's changes do not depend
    on the agent: they are planned a block of steps ahead, vectorised over the instances.

    ## Reference policies
    Oracle: a shortest path on the true current maze (distances by breadth-first search, cached
    and recomputed only when the maze or the goal changed). Fallback: stay.

    ## Diagnostics (harness only)
    ``hidden["wall"]`` the true grid (True: wall), ``hidden["goal"]``, ``hidden["start"]`` and
    ``hidden["position"]`` (row, col); regime: the goal's season.
    """

    id = "ceaseless/ShiftingMaze-v0"
    changes = ("walls close the shortest route and shortcuts open (Poisson), the goal cycles through "
               "recurring positions, and the whole maze is regenerated anew")
    Config = MazeConfig
    streams = ("maze", "change")
    state_fields = ("wall", "start", "position")

    def __init__(self, num_envs: int = 1, **config) -> None:
        super().__init__(num_envs, **config)
        c = self.config
        self.height, self.width = 2 * c.rows + 1, 2 * c.cols + 1
        h, w = self.height, self.width
        self.observation_space = spaces.MultiDiscrete([h, w, h, w])
        self.action_space = spaces.Discrete(5)
        batch = self.num_envs
        self.wall = np.ones((batch, h, w), dtype=bool)
        self.start = np.zeros((batch, 2), dtype=np.int64)
        self.position = np.zeros((batch, 2), dtype=np.int64)
        # Oracle cache: distance to the goal and the best move from every cell, valid where fresh.
        self._distance = np.full((batch, h, w), FAR, dtype=np.int64)
        self._action_map = np.zeros((batch, h, w), dtype=np.int64)
        self._fresh = np.zeros(batch, dtype=bool)
        # Maze changes of the current block: step offset -> (rows, walls, starts, regenerated).
        self._plan: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = {}
        self._plan_start = -1
        self._synced = -1  # the step the maze arrays are up to date with
        self._wall0, self._start0, self._position0 = self.wall[0], self.start[0], self.position[0]

    def make_processes(self):
        c = self.config
        return {
            "goal": Season(2, c.num_goals, c.goal_period, 0.0, 1.0),  # (row, col) draws of each goal
            "maze": Novelty(1, 1, rate=c.regen_rate),  # its content id seeds the maze
            "block": Switch(1, rate=c.block_rate),  # only the event times are used
            "shortcut": Switch(1, rate=c.shortcut_rate),
        }

    # -- per-block tables ------------------------------------------------------------------------
    def _new_block(self) -> None:
        e, c = self.engine, self.config
        draws = e.block("goal")  # (B, L, 2) uniform in [0, 1)
        row = np.minimum((draws[..., 0] * (c.rows - 1)).astype(np.int64), c.rows - 2)
        col = np.minimum((draws[..., 1] * c.cols).astype(np.int64), c.cols - 1)
        self._goal = np.stack([2 * row + 1, 2 * col + 1], axis=-1)  # (B, L, 2) cells
        self._goal_moves = e.block_events("goal").any(axis=0)
        self._goal_moves_any = bool(self._goal_moves.any())
        self._goal_list = self._goal[0].tolist() if self.num_envs == 1 else None
        self._plan_start = -1  # planned lazily, from the maze as it is when first needed

    # -- randomness --------------------------------------------------------------------------------
    def _draws(self, instances: np.ndarray, steps: np.ndarray, lane: int, width: int) -> np.ndarray:
        """``(n, width)`` random uint64 for maze changes at ``steps`` of ``instances``."""
        base = rng.random_bits(self.keys["change"][instances], rng.counter2(steps, lane, 8))
        return rng.random_bits(base[:, None], np.arange(width, dtype=np.uint64)[None])

    # -- maze changes (batches of lattices; junction coordinates) -----------------------------------
    def _generate(self, instances: np.ndarray, content: np.ndarray):
        """Fresh mazes from content ids: ``(h, v, start cell)``."""
        c = self.config
        rows, cols = c.rows, c.cols
        n_h, n_v = rows * (cols - 1), (rows - 1) * cols
        edges = n_h + n_v
        n = len(instances)
        base = rng.random_bits(self.keys["maze"][instances], np.asarray(content, dtype=np.uint64))
        bits = rng.random_bits(base[:, None], np.arange(2 * edges + 1, dtype=np.uint64)[None])
        weights = _weights(bits[:, :edges])
        h = np.zeros((n, rows, cols - 1), dtype=bool)
        v = np.zeros((n, rows - 1, cols), dtype=bool)
        h, v = connect(h, v, weights[:, :n_h].reshape(h.shape), weights[:, n_h:].reshape(v.shape))
        extra = (bits[:, edges : 2 * edges] >> np.uint64(11)) < np.uint64(int(c.loops * 2**53))
        h |= extra[:, :n_h].reshape(h.shape)
        v |= extra[:, n_h:].reshape(v.shape)
        start_col = (bits[:, 2 * edges] % np.uint64(cols)).astype(np.int64)
        start = np.stack([np.full(n, 2 * rows - 1), 2 * start_col + 1], axis=1)
        return h, v, start

    def _block(self, h, v, source, target, instances, steps):
        """Close every shortest route from ``source`` to ``target`` junctions; keep connected."""
        n = len(h)
        rows = np.arange(n)
        from_s, from_g = lattice_bfs(h, v, source), lattice_bfs(h, v, target)
        d = from_s[rows, target[:, 0], target[:, 1]]
        # Open edges on some shortest route, and their level (hops of their near end from the start).
        through_h, through_v = _through(from_s, from_g)
        on_h = h & (through_h == d[:, None, None])
        on_v = v & (through_v == d[:, None, None])
        level_h = np.minimum(from_s[:, :, :-1], from_s[:, :, 1:])
        level_v = np.minimum(from_s[:, :-1], from_s[:, 1:])
        # Every route crosses each level once: closing a level's edges cuts them all. Try up to
        # CANDIDATES random levels side by side (k lattices per instance) and keep the first that
        # makes the route longer, else the longest.
        width = int(d.max())
        keys = self._draws(instances, steps, 1, width) >> np.uint64(1)
        keys[np.arange(width) >= d[:, None]] = _NONE
        levels = np.argsort(keys, axis=1, kind="stable")[:, :CANDIDATES]
        k = levels.shape[1]
        valid = np.arange(k) < d[:, None]
        each, tries = np.repeat(rows, k), np.arange(n * k)
        level = levels.reshape(-1)[:, None, None]
        cut_h = on_h[each] & (level_h[each] == level)
        cut_v = on_v[each] & (level_v[each] == level)
        h_cut, v_cut = h[each] & ~cut_h, v[each] & ~cut_v
        bits = self._draws(instances, steps, 2, k * (h[0].size + v[0].size)).reshape(n * k, -1)
        # If the cut parts start from goal, the gap moves: the wall across the cut that gives the
        # longest new route opens (as in the blocking maze). Closing the rest of the maze's cuts
        # afterwards adds no cycle, so it cannot shorten that route.
        from_s, from_g = lattice_bfs(h_cut, v_cut, source[each]), lattice_bfs(h_cut, v_cut, target[each])
        apart = from_s[tries, target[each, 0], target[each, 1]] >= FAR
        through_h, through_v = _through(from_s, from_g)
        joins = np.concatenate([(~h[each] & (through_h < FAR)).reshape(n * k, -1),
                                (~v[each] & (through_v < FAR)).reshape(n * k, -1)], axis=1)
        length = np.concatenate([through_h.reshape(n * k, -1), through_v.reshape(n * k, -1)], axis=1)
        score = np.where(joins, length * 65536 + (bits >> np.uint64(48)).astype(np.int64), -1)
        best = np.argmax(score, axis=1)
        gap = np.flatnonzero(apart & (score[tries, best] >= 0))
        edges = np.concatenate([h_cut.reshape(n * k, -1), v_cut.reshape(n * k, -1)], axis=1)
        edges[gap, best[gap]] = True
        n_h = h[0].size
        weights = _weights(bits)
        wh = weights[:, :n_h].reshape(cut_h.shape) | np.where(cut_h, _EXCLUDED, np.uint64(0))
        wv = weights[:, n_h:].reshape(cut_v.shape) | np.where(cut_v, _EXCLUDED, np.uint64(0))
        h_new, v_new = connect(edges[:, :n_h].reshape(cut_h.shape), edges[:, n_h:].reshape(cut_v.shape), wh, wv)
        hops = lattice_bfs(h_new, v_new, source[each])
        detour = np.where(valid, hops[tries, target[each, 0], target[each, 1]].reshape(n, k), -1)
        longer = detour > d[:, None]
        pick = np.where(longer.any(axis=1), longer.argmax(axis=1), detour.argmax(axis=1))
        chosen = rows * k + pick
        return h_new[chosen], v_new[chosen]

    def _shortcut(self, h, v, source, target, instances, steps):
        """Open the closed edge that shortens the route from ``source`` to ``target`` most; if no
        single edge can, the one that shortens some junction's way to the target most."""
        n = len(h)
        rows = np.arange(n)
        from_s, from_g = lattice_bfs(h, v, source), lattice_bfs(h, v, target)
        d = from_s[rows, target[:, 0], target[:, 1]][:, None, None]
        through_h, through_v = _through(from_s, from_g)
        route = np.concatenate([np.where(h, 0, d - through_h).reshape(n, -1),
                                np.where(v, 0, d - through_v).reshape(n, -1)], axis=1)
        local_h = np.abs(from_g[:, :, :-1] - from_g[:, :, 1:]) - 1
        local_v = np.abs(from_g[:, :-1] - from_g[:, 1:]) - 1
        local = np.concatenate([np.where(h, 0, local_h).reshape(n, -1), np.where(v, 0, local_v).reshape(n, -1)], 1)
        ties = (self._draws(instances, steps, 3, route.shape[1]) >> np.uint64(48)).astype(np.int64)
        score = (np.maximum(route, 0) * 65536 + np.maximum(local, 0)) * 65536 + ties
        best = np.argmax(score, axis=1)
        opened = np.concatenate([h.reshape(n, -1), v.reshape(n, -1)], axis=1)
        useful = (route[rows, best] > 0) | (local[rows, best] > 0)
        opened[rows[useful], best[useful]] = True
        n_h = h[0].size
        return opened[:, :n_h].reshape(h.shape), opened[:, n_h:].reshape(v.shape)

    def _make_plan(self) -> None:
        """Work out this block's maze changes from the current maze, for every instance at once.

        The maze never depends on the agent, so the changes of a whole block are computed ahead:
        round ``r`` applies every instance's ``r``-th event of the block (one vectorised call per
        kind of event), so the cost is per block, not per event. Each instance's changes are
        applied in time order, so the result is the same whatever the block boundaries are."""
        e = self.engine
        self._plan, self._plan_start = {}, e.block_start
        k0 = self.t - e.block_start  # events at offsets >= k0 are still to come (k0 one now)
        events = [e.block_events(name)[:, k0:] for name in ("maze", "block", "shortcut")]
        if not any(event.any() for event in events):
            return
        events = np.stack(events, axis=2)
        b, k, kind = np.nonzero(events)  # sorted by instance, then step, then kind
        k += k0
        first = np.ones(len(b), dtype=bool)
        first[1:] = b[1:] != b[:-1]
        slot = np.cumsum(first) - 1  # each event's instance among those with events
        order = np.arange(len(b)) - np.flatnonzero(first)[slot]  # its rank within its instance
        instances = b[first]
        h, v = lattice(self.wall[instances])
        start = self.start[instances].copy()
        goal = self._goal[b, k] // 2
        content = e.block("maze", "content")[b, k, 0]
        steps = (e.block_start + k).astype(np.uint64)
        after_h, after_v = np.empty((len(b), *h.shape[1:]), bool), np.empty((len(b), *v.shape[1:]), bool)
        after_start = np.empty((len(b), 2), dtype=np.int64)
        for rank in range(int(order.max()) + 1):
            now = order == rank
            for which in (REGEN, BLOCK, SHORTCUT):
                sel = np.flatnonzero(now & (kind == which))
                if len(sel) == 0:
                    continue
                at = slot[sel]
                if which == REGEN:
                    h[at], v[at], start[at] = self._generate(b[sel], content[sel])
                else:
                    change = self._block if which == BLOCK else self._shortcut
                    h[at], v[at] = change(h[at], v[at], start[at] // 2, goal[sel], b[sel], steps[sel])
            sel = np.flatnonzero(now)
            after_h[sel], after_v[sel], after_start[sel] = h[slot[sel]], v[slot[sel]], start[slot[sel]]
        # One entry per (instance, step): the maze after its last event of that step.
        new_step = first.copy()
        new_step[1:] |= k[1:] != k[:-1]
        group = np.cumsum(new_step) - 1
        regenerated = np.zeros(group[-1] + 1, dtype=bool)
        regenerated[group[kind == REGEN]] = True
        last = np.ones(len(b), dtype=bool)
        last[:-1] = new_step[1:]
        for offset in np.unique(k[last]):
            idx = np.flatnonzero(last & (k == offset))
            self._plan[int(offset)] = (b[idx], carve(after_h[idx], after_v[idx]), after_start[idx],
                                       regenerated[group[idx]])

    def _sync(self) -> None:
        """Bring the maze up to the current step (once per step)."""
        if self._synced == self.t:
            return
        e = self.engine
        if self._plan_start != e.block_start:
            self._make_plan()
        k = self.t - e.block_start
        if self._goal_moves[k]:
            self._fresh[:] = False
        entry = self._plan.get(k)
        if entry is not None:
            rows, wall, start, regenerated = entry
            self.wall[rows] = wall
            self.start[rows] = start
            position = self.position[rows]
            displaced = regenerated | wall[np.arange(len(rows)), position[:, 0], position[:, 1]]
            self.position[rows[displaced]] = start[displaced]
            self._fresh[rows] = False
        self._synced = self.t

    # -- dynamics ------------------------------------------------------------------------------------
    def _start(self) -> None:
        content = self.engine.value("maze", "content")[:, 0]
        h, v, start = self._generate(self._rows, content)
        self.wall[:] = carve(h, v)
        self.start[:] = start
        self.position[:] = start
        self._fresh[:] = False
        self._synced = -1

    def _act(self, actions):
        target = self.position + MOVES[actions]
        blocked = self.wall[self._rows, target[:, 0], target[:, 1]]
        moved = np.where(blocked[:, None], self.position, target)
        reached = (moved == self._goal[:, self.engine.offset]).all(axis=1)
        self.position[:] = np.where(reached[:, None], self.start, moved)
        return reached.astype(np.float64)

    def _observe(self):
        self._sync()
        return np.concatenate([self.position, self._goal[:, self.engine.offset]], axis=1)

    def step_one(self, action):
        """Fast path for a batch of one (held equal to :meth:`step` by a parity test)."""
        if (not self._reset_done or self.num_envs != 1
                or (type(action) is not int and not isinstance(action, np.integer)) or not 0 <= action < 5):
            return super().step_one(action)
        position = self._position0
        row0, col0 = position.tolist()
        row, col = row0 + _DR[action], col0 + _DC[action]
        if self._wall0[row, col]:
            row, col = row0, col0
        goal = self._goal_list[self.t - self.engine.block_start]
        reward = 0.0
        if row == goal[0] and col == goal[1]:
            reward = 1.0
            row, col = self._start0.tolist()
        position[:] = row, col
        self.t += 1
        if self.engine.advance():
            self._new_block()
        if self._plan or self._plan_start != self.engine.block_start or self._goal_moves_any:
            self._sync()
            row, col = position.tolist()
        else:
            self._synced = self.t
        goal = self._goal_list[self.t - self.engine.block_start]
        return np.array((row, col, goal[0], goal[1]), dtype=np.int64), reward

    def set_state(self, state: Mapping[str, np.ndarray]) -> None:
        super().set_state(state)
        self._fresh[:] = False
        self._synced = self.t  # a saved maze is the maze of its step

    # -- diagnostics and reference policies ------------------------------------------------------
    def goal(self) -> np.ndarray:
        """Current goal cells ``(B, 2)``."""
        return self._goal[:, self.engine.offset]

    def _refresh(self) -> None:
        """Recompute the oracle's distances where the maze or the goal changed."""
        stale = np.flatnonzero(~self._fresh)
        if len(stale) == 0:
            return
        h, v = lattice(self.wall[stale])
        dist = cell_distances(lattice_bfs(h, v, self.goal()[stale] // 2), h, v)
        around = np.stack([dist[:, :-2, 1:-1], dist[:, 1:-1, 2:], dist[:, 2:, 1:-1], dist[:, 1:-1, :-2]])
        best = np.argmin(around, axis=0) + 1  # up, right, down, left: the first of the nearest
        best[dist[:, 1:-1, 1:-1] == 0] = STAY
        self._distance[stale] = dist
        self._action_map[stale, 1:-1, 1:-1] = best
        self._fresh[stale] = True

    def distance_map(self) -> np.ndarray:
        """Steps from every cell to the current goal on the current maze ``(B, H, W)`` (FAR for
        walls); cached, recomputed only for instances whose maze or goal changed."""
        self._refresh()
        return self._distance

    def route_length(self) -> np.ndarray:
        """Shortest-path steps from the start to the goal ``(B,)``."""
        return self.distance_map()[self._rows, self.start[:, 0], self.start[:, 1]]

    def hidden(self):
        return {"wall": self.wall, "goal": self.goal(), "start": self.start, "position": self.position}

    def fallback_action(self):
        return np.full(self.num_envs, STAY, dtype=np.int64)

    def oracle_action(self):
        """A step along a shortest path to the goal on the true current maze."""
        self._refresh()
        return self._action_map[self._rows, self.position[:, 0], self.position[:, 1]]

    # -- rendering ---------------------------------------------------------------------------------
    def render_rgb(self, index):
        cell = 16
        codes = self.wall[index].astype(np.int64)  # 0 floor, 1 wall, 2 start, 3 goal
        codes[tuple(self.start[index])] = 2
        codes[tuple(self.goal()[index])] = 3
        colours = np.stack([render.BACKGROUND, render.WALL, render.PALETTE[3], render.GOAL])
        image = render.grid_image(codes, colours, cell)
        row, col = (int(x) * cell for x in self.position[index])
        image[row + 4 : row + cell - 4, col + 4 : col + cell - 4] = render.AGENT
        return image

    def render_ansi(self, index):
        text = np.where(self.wall[index], "#", ".")
        text[tuple(self.start[index])] = "S"
        text[tuple(self.goal()[index])] = "G"
        text[tuple(self.position[index])] = "@"
        return (f"t={self.t} goal season={int(self.engine.regime()[index])}\n"
                + "\n".join("".join(row) for row in text) + "\n")
