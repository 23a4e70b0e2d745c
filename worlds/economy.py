"""CraftingEconomy: gather, craft and sell in a market whose prices and recipes never hold still."""

from __future__ import annotations

import dataclasses

import numpy as np
from gymnasium import spaces

from ceaseless.worlds import render
from ceaseless.worlds.change import Novelty, RandomWalk, Season, Switch
from ceaseless.worlds.core import World, WorldConfig, param

WAIT = 0
MAX_INPUT = 3  # a recipe takes 1..3 units of its first input and 0..2 of its second
MAX_OUTPUT = 2  # and makes 1..2 units of its output
# A recipe, as stored in the world's tables: (input 1, quantity 1, input 2, quantity 2, output, yield).
IN1, Q1, IN2, Q2, OUT, YIELD = range(6)
MARKET_LOW, MARKET_HIGH = 0.3, 2.0  # range of a kind's market level (crashes and booms)
DRIFT_LOW, DRIFT_HIGH = 0.75, 1.25  # range of a kind's slow price drift


@dataclasses.dataclass(frozen=True)
class EconomyConfig(WorldConfig):
    num_raw: int = param(3, 1, 8, "raw resource kinds (gathered)")
    num_products: int = param(2, 1, 16, "craftable kinds (intermediates and products)")
    recipe_slots: int = param(3, 1, 32, "recipes available at once (crafting actions)")
    capacity: int = param(9, 4, 99, "most units of each kind the inventory holds")
    sell_limit: int = param(99, 1, 99, "most units one sell action sells")
    gather_cost: float = param(0.05, 0.0, 10.0, "cost of gathering one unit of a raw resource")
    raw_price: float = param(0.1, 0.0, 100.0, "base price of every raw resource")
    product_price: float = param(0.5, 0.001, 100.0, "base price of the first craftable kind")
    price_growth: float = param(1.5, 1.0, 2.0, "base price ratio of each craftable kind to the previous one")
    season_swing: float = param(0.5, 0.0, 0.9, "seasonal price factor lies in [1 - swing, 1 + swing]")
    season_period: int = param(5000, 1, None, "steps per market season")
    num_seasons: int = param(4, 1, 100, "market seasons in the cycle (they recur)")
    shock_rate: float = param(1 / 3000, 0.0, 1.0, "Poisson rate per step of one kind's market crashing or booming")
    drift: float = param(0.005, 0.0, 1.0, "random-walk step size of each kind's price drift factor")
    novelty_rate: float = param(1 / 4000, 0.0, 1.0, "Poisson rate per step of a new recipe replacing the oldest")


def decode_recipes(draws: np.ndarray, num_raw: int, num_products: int) -> np.ndarray:
    """Recipes ``(..., 6)`` int64 from uniform content draws ``(..., 6)`` in [0, 1).

    The output is a craftable kind; the inputs are two different kinds of a lower index (raw
    resources or other craftable kinds), so recipes form an acyclic graph: nothing is made from
    itself, and chains raw -> intermediate -> product appear. The second input's quantity may be
    0 (a one-input recipe); it is always 0 when only one kind lies below the output.
    """
    def pick(u: np.ndarray, n: np.ndarray | int) -> np.ndarray:  # floor(u * n), never n itself
        return np.minimum((u * n).astype(np.int64), np.maximum(np.asarray(n) - 1, 0))

    out = num_raw + pick(draws[..., 0], num_products)
    in1 = pick(draws[..., 1], out)
    two = out >= 2
    other = pick(draws[..., 2], out - 1)
    in2 = np.where(two, other + (other >= in1), in1)
    q1 = 1 + pick(draws[..., 3], MAX_INPUT)
    q2 = np.where(two, pick(draws[..., 4], MAX_INPUT), 0)
    qo = 1 + pick(draws[..., 5], MAX_OUTPUT)
    return np.stack([in1, q1, in2, q2, out, qo], axis=-1)


def base_prices(config: EconomyConfig) -> np.ndarray:
    """Base price of each kind: raw resources, then craftable kinds ever dearer."""
    prices = [config.raw_price] * config.num_raw
    price = config.product_price
    for _ in range(config.num_products):
        prices.append(price)
        price = price * config.price_growth  # plain products: the same floats on every platform
    return np.array(prices, dtype=np.float64)


def price_ceiling(config: EconomyConfig) -> float:
    """The highest price any kind can reach (the same product order as the price tables)."""
    return float(base_prices(config).max() * (1.0 + config.season_swing) * MARKET_HIGH * DRIFT_HIGH)


def analyse_recipes(recipes: np.ndarray, config: EconomyConfig):
    """For each row of recipes ``(N, slots, 6)``: the fewest steps to make one unit of each kind
    from nothing, its money cost, and the recipe slot that does it (-1: no way), each ``(N, K)``.
    Inputs always have lower kinds than outputs, so one pass in kind order settles every kind."""
    n, _, _ = recipes.shape
    raw, kinds = config.num_raw, config.num_raw + config.num_products
    rows = np.arange(n)
    in1, q1, in2, q2, out, qo = (recipes[..., i] for i in range(6))
    steps = np.full((n, kinds), np.inf)
    money = np.zeros((n, kinds))
    producer = np.full((n, kinds), -1, dtype=np.int64)
    steps[:, :raw] = 1.0
    money[:, :raw] = config.gather_cost
    r2 = rows[:, None]
    has2 = q2 > 0
    for kind in range(raw, kinds):
        made = out == kind
        if not made.any():
            continue
        # Only lower kinds enter a recipe for `kind`: their figures are final by now.
        second = np.where(has2, steps[r2, in2], 0.0)
        cost = (1.0 + q1 * steps[r2, in1] + q2 * second) / qo
        spend = (q1 * money[r2, in1] + q2 * money[r2, in2]) / qo
        candidates = np.where(made, cost, np.inf)
        slot = np.argmin(candidates, axis=1)
        best = candidates[rows, slot]
        found = np.isfinite(best)
        steps[:, kind] = best
        money[:, kind] = np.where(found, spend[rows, slot], 0.0)
        producer[:, kind] = np.where(found, slot, -1)
    return steps, money, producer


def plan_actions(recipes: np.ndarray, prices: np.ndarray, inventory: np.ndarray, config: EconomyConfig,
                 analysis=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The privileged greedy planner: ``(actions, target kind, its profit per step)``, each ``(N,)``.

    It knows the recipes ``(N, slots, 6)`` and the current prices ``(N, K)``. For every kind it
    takes the fastest way to make it from raw resources, scores it by profit per step
    ``(price - money cost) / (steps + selling steps)`` and works towards the best kind: sell it
    when the inventory cannot take another batch; else sell leftovers outside the plan that are
    worth more than a step of production; else gather or craft the deepest missing input. With
    no profitable kind it sells leftovers or waits. ``analysis`` may pass precomputed
    :func:`analyse_recipes` results for these recipes.
    """
    n = len(recipes)
    raw, kinds, slots = config.num_raw, config.num_raw + config.num_products, recipes.shape[1]
    rows = np.arange(n)
    steps, money, producer = analyse_recipes(recipes, config) if analysis is None else analysis
    selling = 1.0 / min(config.capacity, config.sell_limit)  # a sell step, shared by a full stock
    with np.errstate(invalid="ignore"):
        rate = np.where(np.isfinite(steps), (prices - money) / (steps + selling), -np.inf)
    target = np.argmax(rate, axis=1)
    best = rate[rows, target]
    active = best > 0.0

    # Kinds the plan needs: the target and, down the recipe graph, every input of its producers.
    needed = np.zeros((n, kinds), dtype=bool)
    needed[rows, target] = active
    for kind in range(kinds - 1, raw - 1, -1):
        slot = producer[:, kind]
        mark = needed[:, kind] & (slot >= 0)
        if mark.any():
            recipe = recipes[rows[mark], slot[mark]]
            needed[rows[mark], recipe[:, IN1]] = True
            needed[rows[mark], recipe[:, IN2]] |= recipe[:, Q2] > 0

    actions = np.full(n, WAIT, dtype=np.int64)
    sell_base = 1 + raw + slots
    # 1. The target's stock is full: sell it.
    made_by = recipes[rows, np.maximum(producer[rows, target], 0)]
    batch = np.where(target < raw, 1, made_by[:, YIELD])
    full = active & (inventory[rows, target] + batch > config.capacity)
    actions[full] = sell_base + target[full]
    pending = active & ~full
    # 2. Leftovers outside the plan worth more than a step of production: sell the dearest.
    worth = inventory * prices
    leftover = ~needed & (inventory > 0) & (worth > np.maximum(best, 0.0)[:, None])
    spare = leftover.any(axis=1) & ~full
    dearest = np.argmax(np.where(leftover, worth, -np.inf), axis=1)
    actions[spare] = sell_base + dearest[spare]
    pending &= ~spare
    # 3. Walk down from the target to the first thing that can be done now.
    current = target.copy()
    for _ in range(kinds - raw + 1):
        if not pending.any():
            break
        gather = pending & (current < raw)
        actions[gather] = 1 + current[gather]
        pending &= ~gather
        slot = np.maximum(producer[rows, current], 0)
        recipe = recipes[rows, slot]
        missing1 = inventory[rows, recipe[:, IN1]] < recipe[:, Q1]
        missing2 = inventory[rows, recipe[:, IN2]] < recipe[:, Q2]
        ready = pending & ~missing1 & ~missing2
        actions[ready] = 1 + raw + slot[ready]
        pending &= ~ready
        current = np.where(missing1, recipe[:, IN1], recipe[:, IN2])
    return actions, np.where(active, target, -1), best


class CraftingEconomy(World):
    """A crafting economy: gather raw resources, craft them into goods through recipes that come
    and go, and sell on a market whose prices drift, crash, boom and cycle through seasons.

    There are ``K = num_raw + num_products`` kinds of goods: raw resources (kinds
    ``0..num_raw-1``) and craftable kinds, each dearer than the one before. ``recipe_slots``
    recipes exist at a time; a recipe turns 1-3 units of one lower kind and 0-2 units of another
    into 1-2 units of its output, so goods are made in chains (raw -> intermediate -> product)
    and profit needs several steps of credit assignment: gather, craft, craft again, sell. The
    default economy is small (3 raw kinds, 2 craftable kinds, 3 recipe slots): chains of two
    crafts, and a market a learner can master before it moves on (with 5 craftable kinds and 6
    slots, learners were still learning the stationary market after 5,000 steps).

    ## Observation
    ``Box(0, high, (2 * K,), float32)``: the inventory count of each kind (``0..capacity``), then
    the current market price of each kind (``0..price ceiling``). Prices are public market data.
    The recipes are NOT observed: the agent learns what each craft action does by trying it and
    watching its inventory, and must notice when a recipe slot starts doing something else.

    ## Actions
    ``Discrete(1 + num_raw + recipe_slots + K)``:
    ``0`` wait; ``1 + i`` gather one unit of raw kind ``i``; ``1 + num_raw + j`` craft the recipe in
    slot ``j``; ``1 + num_raw + recipe_slots + k`` sell kind ``k`` (all held units, at most
    ``sell_limit``). A gather when that kind is at ``capacity`` does nothing and costs nothing; a
    craft whose inputs are not all held, or whose output would not fit under ``capacity``, does
    nothing and costs nothing (only the step is lost); selling nothing earns nothing.

    ## Reward
    Sales revenue ``price[k] * units sold`` minus ``gather_cost`` per unit gathered, bounded in
    ``[-gather_cost, min(capacity, sell_limit) * price ceiling]``. Crafting itself pays nothing:
    its worth shows only when the goods are sold.

    ## Non-stationarity
    The price of kind ``k`` is ``base[k] * season[k] * market[k] * drift[k]``:

    - **season**: ``num_seasons`` market seasons of ``season_period`` steps recur in a cycle;
      each gives every kind a factor in ``[1 - season_swing, 1 + season_swing]``.
    - **switch**: at Poisson times (``shock_rate``) one kind's market level crashes or booms to a
      fresh factor in ``[0.3, 2.0]``.
    - **drift**: each kind's price drifts (random walk, step ``drift``, in ``[0.75, 1.25]``).
    - **novelty**: at Poisson times (``novelty_rate``) a recipe never seen before (a new content
      id, its inputs, quantities and output drawn afresh) replaces the oldest recipe slot. The
      action that crafted the old recipe now crafts the new one; a new recipe often opens a
      better chain than any before, and an old profitable chain can vanish.

    ## Reference policies
    Oracle: a privileged greedy planner that knows the recipes and the prices
    (:func:`plan_actions`): it works towards the kind with the best profit per step and sells
    leftovers. Fallback: wait (earns nothing, costs nothing).

    ## Diagnostics (harness only)
    ``hidden["recipes"]`` ``(recipe_slots, 6)``: per slot (input 1, quantity 1, input 2,
    quantity 2, output, yield); ``hidden["recipe_ids"]``: the content id of each slot (ids only
    grow: a new id is a recipe never seen before); regime: the season. (Prices are observed.)
    """

    id = "ceaseless/CraftingEconomy-v0"
    changes = ("prices cycle through seasons, crash or boom and drift; recipes never seen before "
               "replace the oldest ones, so what each craft action makes keeps changing")
    Config = EconomyConfig
    streams = ()
    state_fields = ("inventory", "last_action")

    def __init__(self, num_envs: int = 1, **config) -> None:
        super().__init__(num_envs, **config)
        c = self.config
        self.num_kinds = k = c.num_raw + c.num_products
        self.price_high = price_ceiling(c)
        # A hair above the ceiling: interpolated drift may pass its bound by a rounding error.
        high = np.concatenate([np.full(k, c.capacity, np.float64), np.full(k, self.price_high * (1 + 1e-6))])
        self.observation_space = spaces.Box(0.0, high.astype(np.float32), (2 * k,), np.float32)
        self.action_space = spaces.Discrete(1 + c.num_raw + c.recipe_slots + k)
        self._sell_base = 1 + c.num_raw + c.recipe_slots
        self._base = base_prices(c)
        self.inventory = np.zeros((self.num_envs, k), dtype=np.int64)
        self.last_action = np.full(self.num_envs, -1, dtype=np.int64)
        self._flat_rows = self._rows * k

    def make_processes(self):
        c = self.config
        k = c.num_raw + c.num_products
        return {
            "season": Season(k, c.num_seasons, c.season_period, 1.0 - c.season_swing, 1.0 + c.season_swing),
            "market": Switch(k, MARKET_LOW, MARKET_HIGH, rate=c.shock_rate, update="resample", scope="one"),
            "drift": RandomWalk(k, c.drift, DRIFT_LOW, DRIFT_HIGH, interval=16),
            # Per recipe slot: six uniform draws that decode into a recipe (decode_recipes).
            "recipes": Novelty(6, c.recipe_slots, rate=c.novelty_rate),
        }

    # -- per-block tables ------------------------------------------------------------------------
    def _new_block(self) -> None:
        e, c = self.engine, self.config
        self._price = self._base * e.block("season") * e.block("market") * e.block("drift")  # (B, L, K)
        self._recipes = decode_recipes(e.block("recipes"), c.num_raw, c.num_products)  # (B, L, S, 6)
        self._analysis = None  # the oracle's view of this block's recipes, made when first asked

    # -- dynamics ----------------------------------------------------------------------------------
    def _start(self) -> None:
        self.inventory[:] = 0
        self.last_action[:] = -1

    def _act(self, actions):
        c, k = self.config, self.engine.offset
        raw, cap = c.num_raw, c.capacity
        rows, flat = self._rows, self.inventory.reshape(-1)
        self.last_action[:] = actions
        # Sell: all held units of the kind, at most sell_limit, at the current price.
        sell = actions >= self._sell_base
        kind = np.where(sell, actions - self._sell_base, 0)
        held = self.inventory[rows, kind]
        sold = np.where(sell, np.minimum(held, c.sell_limit), 0)
        rewards = sold * self._price[rows, k, kind]
        flat[self._flat_rows + kind] = held - sold
        # Gather: one unit of a raw kind, if there is room; pays the gather cost.
        gather = (actions >= 1) & (actions <= raw)
        kind = np.where(gather, actions - 1, 0)
        held = self.inventory[rows, kind]
        gathered = gather & (held < cap)
        flat[self._flat_rows + kind] = held + gathered
        rewards -= gathered * c.gather_cost
        # Craft: only with every input held and room for the output; else nothing happens.
        craft = (actions > raw) & (actions < self._sell_base)
        if craft.any():
            slot = np.where(craft, actions - 1 - raw, 0)
            recipe = self._recipes[rows, k, slot]
            in1, in2, out = (self._flat_rows + recipe[:, i] for i in (IN1, IN2, OUT))
            q1, q2, qo = recipe[:, Q1], recipe[:, Q2], recipe[:, YIELD]
            done = craft & (flat[in1] >= q1) & (flat[in2] >= q2) & (flat[out] + qo <= cap)
            flat[in1] -= done * q1
            flat[in2] -= done * q2  # a different kind whenever q2 > 0
            flat[out] += done * qo
        return rewards

    def _observe(self):
        observations = np.empty((self.num_envs, 2 * self.num_kinds), dtype=np.float32)
        observations[:, : self.num_kinds] = self.inventory
        observations[:, self.num_kinds :] = self._price[:, self.engine.offset]
        return observations

    def step_one(self, action):
        """Fast path for a batch of one (held equal to :meth:`step` by a parity test)."""
        if (not self._reset_done or (type(action) is not int and not isinstance(action, np.integer))
                or not 0 <= action < self.action_space.n):
            return super().step_one(action)
        c, k, a = self.config, self.t - self.engine.block_start, int(action)
        inventory = self.inventory[0]
        reward = 0.0
        if a >= self._sell_base:
            kind = a - self._sell_base
            held = int(inventory[kind])
            sold = min(held, c.sell_limit)
            reward = sold * float(self._price[0, k, kind])
            inventory[kind] = held - sold
        elif a > c.num_raw:
            in1, q1, in2, q2, out, qo = self._recipes[0, k, a - 1 - c.num_raw].tolist()
            if inventory[in1] >= q1 and inventory[in2] >= q2 and inventory[out] + qo <= c.capacity:
                inventory[in1] -= q1
                inventory[in2] -= q2
                inventory[out] += qo
        elif a > 0 and inventory[a - 1] < c.capacity:  # a gather (at capacity: nothing happens)
            inventory[a - 1] += 1
            reward = 0.0 - c.gather_cost
        self.last_action[0] = a
        self.t += 1
        if self.engine.advance():
            self._new_block()
        observation = np.empty(2 * self.num_kinds, dtype=np.float32)
        observation[: self.num_kinds] = inventory
        observation[self.num_kinds :] = self._price[0, self.t - self.engine.block_start]
        return observation, reward

    # -- diagnostics and reference policies ------------------------------------------------------
    def prices(self) -> np.ndarray:
        """Current price of each kind ``(num_envs, K)``."""
        return self._price[:, self.engine.offset]

    def recipes(self) -> np.ndarray:
        """Current recipes ``(num_envs, recipe_slots, 6)``: (in1, q1, in2, q2, out, yield)."""
        return self._recipes[:, self.engine.offset]

    def recipe_ids(self) -> np.ndarray:
        """Content id of each recipe slot ``(num_envs, recipe_slots)``; new recipes get new ids."""
        return self.engine.value("recipes", "content")

    def hidden(self):
        return {"recipes": self.recipes(), "recipe_ids": self.recipe_ids()}

    def fallback_action(self):
        return np.full(self.num_envs, WAIT, dtype=np.int64)

    def plan(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The oracle's ``(actions, target kind or -1, profit per step)`` now (see :func:`plan_actions`)."""
        e = self.engine
        if self._analysis is None:  # analyse the whole block at once: recipes change rarely
            length = self._recipes.shape[1]
            flat = self._recipes.reshape(self.num_envs * length, *self._recipes.shape[2:])
            self._analysis = tuple(a.reshape(self.num_envs, length, -1) for a in analyse_recipes(flat, self.config))
        analysis = tuple(a[:, e.offset] for a in self._analysis)
        return plan_actions(self.recipes(), self.prices(), self.inventory, self.config, analysis)

    def oracle_action(self):
        return self.plan()[0]

    # -- helpers for agents' code and tests ------------------------------------------------------------
    def gather_action(self, kind: int) -> int:
        return 1 + kind

    def craft_action(self, slot: int) -> int:
        return 1 + self.config.num_raw + slot

    def sell_action(self, kind: int) -> int:
        return self._sell_base + kind

    def kind_name(self, kind: int) -> str:
        raw = self.config.num_raw
        return f"r{kind}" if kind < raw else f"p{kind - raw}"

    # -- rendering ---------------------------------------------------------------------------------
    def render_rgb(self, index):
        c, bar = self.config, 16
        prices = render.bar_image(self.prices()[index], 0.0, self.price_high, bar=bar, height=64)
        held = render.bar_image(self.inventory[index].astype(np.float64), 0.0, float(c.capacity), bar=bar, height=48)
        # Recipe slots: one row each, cells coloured by kind: input 1, input 2 (if any), gap, output.
        codes = np.full((c.recipe_slots, 4), len(render.PALETTE), dtype=np.int64)
        recipes = self.recipes()[index]
        codes[:, 0] = recipes[:, IN1] % len(render.PALETTE)
        codes[:, 1] = np.where(recipes[:, Q2] > 0, recipes[:, IN2] % len(render.PALETTE), len(render.PALETTE))
        codes[:, 3] = recipes[:, OUT] % len(render.PALETTE)
        grid = render.grid_image(codes, np.vstack([render.PALETTE, render.BACKGROUND]), 12)
        width = max(prices.shape[1], grid.shape[1])
        parts = []
        for part in (prices, held, grid):
            padded = np.empty((part.shape[0] + 4, width, 3), dtype=np.uint8)
            padded[:] = render.BACKGROUND
            padded[2 : 2 + part.shape[0], : part.shape[1]] = part
            parts.append(padded)
        return np.concatenate(parts, axis=0)

    def render_ansi(self, index):
        lines = [f"t={self.t} season={int(self.engine.regime()[index])}", "kind  held   price"]
        prices, held = self.prices()[index], self.inventory[index]
        for kind in range(self.num_kinds):
            lines.append(f"{self.kind_name(kind):<5} {int(held[kind]):>4} {prices[kind]:>7.3f}")
        lines.append("recipes (hidden from the agent):")
        for slot, (recipe, content) in enumerate(zip(self.recipes()[index], self.recipe_ids()[index])):
            in1, q1, in2, q2, out, qo = (int(x) for x in recipe)
            inputs = f"{q1} {self.kind_name(in1)}" + (f" + {q2} {self.kind_name(in2)}" if q2 else "")
            lines.append(f"slot {slot} #{int(content)}: {inputs} -> {qo} {self.kind_name(out)}")
        return "\n".join(lines) + "\n"
