"""The world-model probes: counterfactual questions at unannounced times, answered against the truth.

An agent may define ``predict(plans) -> predictions`` (a ``run(env)`` loop: ``env.predict_fn``).
``plans`` is ``(K, H) + action_shape`` in the action space's dtype: K candidate plans of H
actions each, starting now; the answer is ``(K, H)``: the reward the agent expects at each step of
each plan. At probe times drawn from the run's seed (:func:`probe_times`: ``count`` of them,
uniform over the stream after its first ``skip_fraction``, the same for every agent on a seed,
never announced) the harness, right after the agent answered the step's call and before the world
steps:

1. snapshots the world (``get_state``, which includes every random stream);
2. draws K plans uniformly over the action space from a generator seeded by (world, run seed,
   probe index) -- the same plans for every agent (:func:`draw_plans`);
3. asks ``predict`` (within the run's per-call timeout, ``call_timeout``, as every call); its CPU
   is metered like every call (outside the agent, protocol overhead subtracted) against the probe's
   own budget of ``budget * K * H * beta`` CPU-seconds (unlimited on the unlimited track): see
   *Compute* below;
4. plays every plan out on a separate world restored from the snapshot (``set_state``), so the
   plans share the exogenous randomness and differ only by their actions.

The main world is not touched and the outcomes are never sent to the agent: the stream goes on as
if no probe had happened (a deterministic agent's transcript is the same with probes on or off,
as long as no predict goes over its budget on a finite budget: see *Compute*).

Invalid answers count as the naive prediction (the mean reward per step of the stream's last
``naive_window`` steps) and are counted by kind: ``late`` (over the probe budget), ``nonfinite``,
``shape``, ``raised`` (predict raised: not a control fault, the agent goes on), ``crashed`` /
``timeout`` (the process died or hung: an ordinary fault as well, with its penalty and restart),
``absent`` (no agent to ask: retired, or restarted and not yet started), ``unsupported`` (a
``run(env)`` loop without ``predict_fn``). An agent that never answers -- no ``predict``, or a loop
that never set ``predict_fn`` -- has no ``world_model`` entry at all. Per probe the record keeps
sufficient statistics (:func:`~ceaseless.leaderboard.scoring.world_model.probe_summary`), not the
K x H arrays, so a saturated rung can be rescored under its own probe budget (:func:`record`);
unlimited runs keep them in their record.

Compute. The rule, precisely: let ``c`` be the CPU a probe's ``predict`` used (as metered, faults
included) and ``b`` the probe budget. ``min(c, b)`` is free: never charged to the control clock, so
answering costs no control reward. The excess ``max(c - b, 0)`` is charged to the control clock at
the probe's step (``clock.charge``, on finite budgets), as if a call had used it, *and* an answer
over ``b`` counts as naive (``late``). The run record's ``world_model.excess_cpu_seconds`` is the
total so charged. So the CPU predict can give the agent's control for free is at most ``count``
probe budgets per run (50 x 128 = 6,400 steps of budget on the v2 suites, against a 50,000-step
stream's); no late answer's CPU, up to the per-call timeout, is free any more. On the unlimited
track nothing is ever charged; there the saturation rule
(:func:`~ceaseless.leaderboard.harness.saturation.is_saturated`) does not claim a rung on which any
probe used more than the rung's probe budget divided by the saturation margin (2), since on that
rung the probe could have cost control credit.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from typing import Any

import numpy as np
from gymnasium import spaces

from ceaseless import worlds
from ceaseless.leaderboard.harness.runspec import RunSpec
from ceaseless.leaderboard.harness.sandbox import AgentFault, InProcessAgent, SandboxedAgent
from ceaseless.leaderboard.scoring.world_model import as_naive, probe_summary, scores_from_summaries
from ceaseless.worlds.suites import ProbeSettings

#: Faults inside predict that end the agent process: these are control faults too (restart).
FATAL = ("crashed", "timeout", "child_process")


def measure_predict_overhead(observation_space, action_space, plans: np.ndarray, calls: int = 100) -> float:
    """Median CPU seconds the do-nothing agent's process spends on a PREDICT of ``plans``' shape
    (decoding the plans, encoding K x H zeros): subtracted from every predict's charge."""
    agent = SandboxedAgent(None, observation_space, action_space, 0, overhead_seconds=0.0)
    try:
        agent.predict_overhead_seconds = 0.0
        agent.start(np.zeros(agent.observation_wire.shape, agent.observation_wire.dtype))
        costs = np.array([agent.predict(plans)[1] for _ in range(calls)])
    finally:
        agent.close()
    return float(np.median(costs))


_PREDICT_OVERHEAD: dict[str, float] = {}


def predict_overhead(world, plans: np.ndarray) -> float:
    """A PREDICT's protocol CPU for this world's spaces and plans' shape (measured once per process,
    like the step's: :func:`~ceaseless.leaderboard.harness.clock.protocol_overhead`)."""
    key = json.dumps([str(world.observation_space), str(world.action_space), list(plans.shape)])
    if key not in _PREDICT_OVERHEAD:
        _PREDICT_OVERHEAD[key] = measure_predict_overhead(world.observation_space, world.action_space, plans)
    return _PREDICT_OVERHEAD[key]


def _seed(*parts: Any) -> int:
    return int.from_bytes(hashlib.sha256("|".join(map(str, parts)).encode()).digest()[:8], "little")


def probe_times(spec: RunSpec) -> np.ndarray:
    """The sorted steps at which ``spec``'s run is probed (empty without probes)."""
    settings = spec.probes
    if settings is None or settings.count <= 0:
        return np.zeros(0, dtype=np.int64)
    first = min(spec.steps - 1, int(np.ceil(settings.skip_fraction * spec.steps)))
    rng = np.random.default_rng(_seed("probe-times", spec.world_id, spec.seed))
    count = min(settings.count, spec.steps - first)
    return np.sort(rng.choice(np.arange(first, spec.steps), size=count, replace=False)).astype(np.int64)


def budget_seconds(settings: ProbeSettings, beta: float) -> float:
    """A probe's CPU budget on a rung of ``beta`` CPU-seconds per step (inf: unlimited)."""
    return settings.budget * settings.plans * settings.horizon * beta if np.isfinite(beta) else float("inf")


def draw_plans(space: spaces.Space, plans: int, horizon: int, seed: int) -> np.ndarray:
    """K plans of H actions, uniform over ``space`` (its own structure, not ``space.sample()``)."""
    rng = np.random.default_rng(seed)
    if isinstance(space, spaces.Discrete):
        return rng.integers(space.start, space.start + space.n, size=(plans, horizon), dtype=np.int64)
    if isinstance(space, spaces.MultiDiscrete):
        drawn = rng.integers(0, space.nvec, size=(plans, horizon, *space.shape))
        return (drawn + getattr(space, "start", 0)).astype(space.dtype)
    if isinstance(space, spaces.Box):
        if not (np.isfinite(space.low).all() and np.isfinite(space.high).all()):
            raise ValueError(f"cannot draw uniform plans over an unbounded {space}")
        drawn = rng.uniform(space.low, space.high, size=(plans, horizon, *space.shape))
        return np.clip(drawn.astype(space.dtype), space.low, space.high)
    raise ValueError(f"no plans for {space}")


class Probes:
    """The probes of one run: when, the naive predictor's window, and the per-probe records."""

    def __init__(self, spec: RunSpec) -> None:
        self.spec, self.settings = spec, spec.probes
        self.times = probe_times(spec)
        self.budget = budget_seconds(self.settings, spec.beta)
        self.log: list[dict[str, Any]] = []  # per-probe summaries (checkpointed)
        self.recent = np.zeros(0)  # the stream's last naive_window rewards before the current block
        self.asked = False  # whether an agent of this run was ever able to answer
        self._copy = None  # one world on which plans are played out one by one...
        self._batch = None  # ...or K at once (None: not yet tried; False: not exact for this world)

    @property
    def max_cpu(self) -> float:
        """The most CPU one probe's predict used so far (0 without probes)."""
        return max((p["cpu"] for p in self.log), default=0.0)

    def next_time(self, t: int) -> int:
        """The first probe step >= t, or -1."""
        j = int(np.searchsorted(self.times, t))
        return int(self.times[j]) if j < len(self.times) else -1

    def block_done(self, rewards: np.ndarray) -> None:
        self.recent = np.concatenate((self.recent, rewards))[-self.settings.naive_window:]

    def state(self) -> dict[str, Any]:
        return {"log": self.log, "asked": self.asked}

    def load(self, state: dict[str, Any], recent: np.ndarray) -> None:
        self.log, self.asked, self.recent = list(state["log"]), bool(state["asked"]), np.array(recent, float)

    def play(self, snapshot: dict[str, np.ndarray], plans: np.ndarray) -> np.ndarray:
        """The true ``(K, H)`` rewards of ``plans`` from ``snapshot``: on a batch of K copies of the
        snapshot (one ``set_state``, H batched steps) when the first probe showed that batch to give
        exactly what K restores of one copy give; otherwise plan by plan on one restored copy."""
        if self._batch is None:
            self._batch = self._verified_batch(snapshot, plans)
        if self._batch is not False:
            return self._play_batch(self._batch, snapshot, plans)
        return self._play_each(snapshot, plans)

    def _world(self, instances: int):
        world = worlds.WORLDS[self.spec.world_id](num_envs=instances, **dict(self.spec.config))
        world.reset([self.spec.seed] * instances)
        return world

    def _play_each(self, snapshot: dict[str, np.ndarray], plans: np.ndarray) -> np.ndarray:
        if self._copy is None:
            self._copy = self._world(1)
        world, rewards = self._copy, np.empty(plans.shape[:2])
        rows = plans.tolist() if plans.ndim == 2 else list(plans)
        for k, plan in enumerate(rows):
            world.set_state(snapshot)
            step = world.step_one
            for h, action in enumerate(plan):
                rewards[k, h] = step(action)[1]
        return rewards

    @staticmethod
    def _play_batch(world, snapshot: dict[str, np.ndarray], plans: np.ndarray) -> np.ndarray:
        """K instances, each loaded with the one-instance snapshot (batched arrays repeated)."""
        template, k = world.get_state(), world.num_envs
        state = {}
        for key, value in snapshot.items():
            value = np.asarray(value)
            shape = template[key].shape
            if key == "meta.num_envs":
                state[key] = np.array(k)
            elif shape == value.shape:
                state[key] = value
            elif value.shape[:1] == (1,) and shape == (k, *value.shape[1:]):
                state[key] = np.repeat(value, k, axis=0)
            else:
                raise ValueError(f"cannot broadcast {key} {value.shape} to {shape}")
        world.set_state(state)
        return np.stack([world.step(plans[:, h])[1] for h in range(plans.shape[1])], axis=1)

    def _verified_batch(self, snapshot: dict[str, np.ndarray], plans: np.ndarray):
        try:
            world = self._world(plans.shape[0])
            if set(world.get_state()) != set(snapshot):
                return False
            same = np.array_equal(self._play_batch(world, snapshot, plans), self._play_each(snapshot, plans))
        except ValueError:
            return False
        return world if same else False

    def probe(self, run: Any, t: int, block_rewards: np.ndarray) -> None:
        """Probe ``run`` (a :class:`~ceaseless.leaderboard.harness.runner.Run`) at step ``t``."""
        agent = run.agent
        if agent is not None and not run.needs_start and not agent.capabilities.get("predict"):
            return  # an agent without predict is never asked
        if (agent is None or run.needs_start) and not self.asked:
            return
        s = self.settings
        window = np.concatenate((self.recent, block_rewards))[-s.naive_window:]
        naive = float(window.mean()) if window.size else 0.0
        snapshot = run.world.get_state()
        index = int(np.searchsorted(self.times, t))
        plans = draw_plans(run.world.action_space, s.plans, s.horizon,
                           _seed("probe-plans", self.spec.world_id, self.spec.seed, index))
        answer, cpu, invalid = None, 0.0, "absent"
        if agent is not None and not run.needs_start:
            self.asked = True
            try:
                if isinstance(agent, InProcessAgent):  # the test-only hook lives on this path alone
                    answer, cpu = agent.predict(plans, true_future=lambda p: self.play(snapshot, np.asarray(p)))
                else:
                    agent.predict_overhead_seconds = predict_overhead(run.world, plans)
                    answer, cpu = agent.predict(plans)
                invalid = _invalid(answer, cpu, (s.plans, s.horizon), self.budget)
            except AgentFault as fault:
                cpu = getattr(fault, "cpu", 0.0)
                invalid = fault.kind if fault.kind in FATAL else "raised"
                if fault.kind in FATAL:
                    run._fault(fault)
        excess = max(cpu - self.budget, 0.0)  # CPU beyond the probe budget is the control's (0 if unlimited)
        if excess > 0.0:
            run.clock.charge(excess)
        actual = self.play(snapshot, plans)
        summary = probe_summary(answer if invalid is None else np.full(actual.shape, naive), actual, naive)
        self.log.append({"t": int(t), "cpu": float(cpu), "invalid": invalid, **summary})


def _invalid(answer: np.ndarray | None, cpu: float, shape: tuple[int, int], budget: float) -> str | None:
    """Why an answer counts as the naive prediction, or None if it counts as it is."""
    if answer is None:
        return "unsupported"
    if answer.shape != shape:
        return "shape"
    if not np.isfinite(answer).all():
        return "nonfinite"
    return "late" if cpu > budget else None


def record(log: list[dict[str, Any]], settings: ProbeSettings, beta: float, per_probe: bool) -> dict[str, Any] | None:
    """The run record's ``world_model`` entry from the per-probe log, on a rung of ``beta`` (a
    saturated rung passes its own: probes over its budget become naive); None if never answered.
    ``per_probe`` keeps the log in the entry (about 1 kB a probe): the unlimited track does, since
    the saturated rungs are rescored from it."""
    if not log or all(p["invalid"] in ("unsupported", "absent") for p in log):
        return None
    budget = budget_seconds(settings, beta)
    probes = [{**as_naive(p), "invalid": "late"} if p["invalid"] is None and p["cpu"] > budget else p for p in log]
    result = scores_from_summaries(probes, settings.plans)
    result.update({
        "cpu_seconds": float(sum(p["cpu"] for p in probes)),
        "excess_cpu_seconds": float(sum(max(p["cpu"] - budget, 0.0) for p in probes)),  # charged to control
        "budget_seconds_per_probe": budget if np.isfinite(budget) else None,
        "plans": settings.plans, "horizon": settings.horizon,
        "invalid": dict(Counter(p["invalid"] for p in probes if p["invalid"] is not None)),
        **({"per_probe": probes} if per_probe else {}),
    })
    return result
