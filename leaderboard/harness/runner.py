"""One stream: world <-> agent under the compute clock, with faults, checkpoints and a transcript.

The compute clock (:mod:`~ceaseless.leaderboard.harness.clock`): every world step earns ``beta``
CPU-seconds of credit and each call spends what the agent used; while credit is negative the world
steps with the fallback action, and at its next call the agent gets the missed steps' summed reward
and ``elapsed``.
On the unlimited track (``beta = inf``) nothing is ever skipped and a deterministic agent gives
the same transcript, bit for bit, every time.

Faults. An agent that raises, crashes, returns an invalid action, exceeds the per-call timeout or
starts a child process is recorded (step, kind, message); the world continues on the fallback
action; the agent is restarted with fresh state and charged its startup CPU plus a penalty. After
``max_faults`` faults the rest of the run is fallback.

Checkpoints. Every ``checkpoint_every`` steps the world state, the agent's own checkpoint (if it
has one), the clock, the metric accumulators and the transcript hash go to one file, written
atomically; ``run(..., resume=True)`` continues a killed run from there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from ceaseless import worlds
from ceaseless.leaderboard.harness.clock import ComputeClock, protocol_overhead
from ceaseless.leaderboard.harness.meter import one_cpu_with_the_agent
from ceaseless.leaderboard.harness.probes import Probes, record
from ceaseless.leaderboard.harness.references import Reference, references  # noqa: F401  (their old home)
from ceaseless.leaderboard.harness.runspec import (
    RESULT_FORMAT,
    RunSpec,
    agent_seed,
    atomic_write,
    json_default,
    versions,
    write_json,
)
from ceaseless.leaderboard.harness.sandbox import AgentDone, AgentFault, InProcessAgent, SandboxedAgent
from ceaseless.leaderboard.harness.saturation import RungTracker, chain, transcript_seed
from ceaseless.leaderboard.scoring import metrics

FLUSH = 4096  # steps per transcript block (checkpoints fall on block boundaries)


class Run:
    """The state of one run in progress (everything a checkpoint holds)."""

    def __init__(self, spec: RunSpec, directory: Path) -> None:
        self.spec = spec
        self.directory = Path(directory)
        self.world = worlds.WORLDS[spec.world_id](num_envs=1, **dict(spec.config))
        self.world.engine.log = []
        self.clock = ComputeClock(spec.beta, spec.start_credit, spec.credit_cap_steps)
        self.bucket = metrics.bucket_size(spec.steps)
        self.bucket_sums = np.zeros(-(-spec.steps // self.bucket))
        self.t = 0
        self.total_reward = 0.0
        self.pending_reward = 0.0
        self.elapsed = 0
        self.needs_start = True
        self.skipped = 0
        self.cpu_seconds = 0.0
        self.startup_cpu_seconds = 0.0
        self.faults: list[dict[str, Any]] = []
        self.restarts = 0
        self.resumes = 0
        self.fresh_agent_resumes = 0
        self.change_points: list[dict[str, Any]] = []
        # The transcript's hash chain starts from what the stream is (not from where the agent's
        # files are, nor how it was run), so a re-run elsewhere can be compared exactly.
        self.hash = transcript_seed(spec)
        self.rungs = RungTracker(spec) if spec.unlimited and spec.replay else None
        self.probes = Probes(spec) if spec.probes is not None else None  # the world-model track
        self.peak_memory = 0
        self.wall_seconds = 0.0
        self.agent = None
        self.observation = None
        self.overhead = 0.0
        self.unconfined_starts = 0  # agent processes that ran without the no-process filter
        self.loop_returned_at: int | None = None  # a run(env) loop that returned early: when
        self.hardened = True
        self.pinned_cpu: int | None = None

    # -- files -------------------------------------------------------------------------------------------
    @property
    def checkpoint_path(self) -> Path:
        return self.directory / "checkpoints" / f"{self.spec.run_id}.npz"

    @property
    def result_path(self) -> Path:
        return self.directory / "runs" / f"{self.spec.run_id}.json"

    @property
    def log_path(self) -> Path:
        return self.directory / "logs" / f"{self.spec.run_id}.log"

    _SCALARS = ("t", "total_reward", "pending_reward", "elapsed", "needs_start", "skipped", "cpu_seconds",
                "startup_cpu_seconds", "faults", "restarts", "resumes", "fresh_agent_resumes", "change_points",
                "hash", "peak_memory", "wall_seconds", "unconfined_starts", "loop_returned_at")

    def save(self) -> None:
        """Write a checkpoint (atomically: a kill leaves the previous one intact)."""
        blob = self.agent.checkpoint() if self.agent is not None and not self.needs_start else None
        state = {f"world/{k}": v for k, v in self.world.get_state().items()}
        scalars = {name: getattr(self, name) for name in self._SCALARS}
        scalars["credit"] = None if self.clock.unlimited else self.clock.credit
        scalars["rungs"] = self.rungs.state() if self.rungs is not None else None
        scalars["probes"] = self.probes.state() if self.probes is not None else None
        if self.probes is not None:
            state["run/recent_rewards"] = self.probes.recent
        state["run/scalars"] = np.array(json.dumps(scalars, default=json_default))
        state["run/spec"] = np.array(json.dumps(self.spec.to_json(), sort_keys=True))
        state["run/bucket_sums"] = self.bucket_sums
        state["run/agent"] = np.frombuffer(blob, dtype=np.uint8) if blob is not None else np.zeros(0, np.uint8)
        state["run/has_agent"] = np.array(blob is not None)

        def write(path: Path) -> None:
            with open(path, "wb") as handle:
                np.savez(handle, **state)

        atomic_write(self.checkpoint_path, write)

    def load(self) -> bytes | None:
        """Restore from the checkpoint; returns the agent's own checkpoint bytes, if any."""
        with np.load(self.checkpoint_path, allow_pickle=False) as saved:
            state = {k: saved[k] for k in saved.files}
        if json.loads(str(state["run/spec"])) != json.loads(json.dumps(self.spec.to_json(), sort_keys=True)):
            raise ValueError(f"checkpoint {self.checkpoint_path} belongs to another run spec")
        self.world.engine.log = []  # the restored block logs its change points again...
        self.world.set_state({k[len("world/"):]: v for k, v in state.items() if k.startswith("world/")})
        scalars = json.loads(str(state["run/scalars"]))
        for name in self._SCALARS:
            setattr(self, name, scalars.get(name, getattr(self, name)))
        if scalars["credit"] is not None:
            self.clock.credit = scalars["credit"]
        if self.rungs is not None and scalars.get("rungs") is not None:
            self.rungs.load(scalars["rungs"])
        if self.probes is not None and scalars.get("probes") is not None:
            self.probes.load(scalars["probes"], state["run/recent_rewards"])
        self.bucket_sums = np.array(state["run/bucket_sums"])
        # ...and those before the checkpoint are already recorded.
        self.world.engine.log = [point for point in self.world.engine.log if point.step >= self.t]
        self.observation = self.world.observe()[0]
        return bytes(state["run/agent"]) if bool(state["run/has_agent"]) else None

    # -- the agent --------------------------------------------------------------------------------------
    def _start_agent(self) -> None:
        """A fresh agent process (or object); its startup CPU is charged to the clock."""
        kind = InProcessAgent if self.spec.in_process else SandboxedAgent
        self.agent = kind(
            self.spec.agent, self.world.observation_space, self.world.action_space,
            agent_seed(self.spec, self.restarts), memory_limit=self.spec.memory_limit,
            call_timeout=self.spec.call_timeout, overhead_seconds=self.overhead, log_path=self.log_path,
        )
        self.startup_cpu_seconds += self.agent.startup_cpu_seconds
        self.clock.charge(self.agent.startup_cpu_seconds)
        if self.rungs is not None:
            self.rungs.replay.charge(self.agent.startup_cpu_seconds)
        if not self.spec.in_process:
            self.unconfined_starts += self.agent.confinement is None
            self.hardened = self.hardened and self.agent.hardened
        self.needs_start = True

    def _fault(self, fault: AgentFault) -> None:
        """Record a fault, charge the penalty and restart the agent (or retire it)."""
        self.faults.append({"step": self.t, "kind": fault.kind, "message": fault.message[-4000:]})
        if self.rungs is not None:
            self.rungs.valid = False  # the rungs are run: a fault's restart is not replayed
        self._stop_agent()
        self.clock.charge(self.spec.fault_penalty_steps * self.spec.beta if not self.spec.unlimited else 0.0)
        if len(self.faults) >= self.spec.max_faults:
            return  # the rest of the run is fallback
        self.restarts += 1
        try:
            self._start_agent()
        except AgentFault as again:
            self._fault(again)

    def _stop_agent(self) -> None:
        if self.agent is not None:
            self.peak_memory = max(self.peak_memory, self.agent.peak_memory())
            self.agent.close()
            self.agent = None

    # -- the stream ----------------------------------------------------------------------------------------
    def execute(self, resume: bool, progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        spec = self.spec
        started = time.perf_counter()
        self.directory.mkdir(parents=True, exist_ok=True)
        blob = None
        if resume and self.checkpoint_path.exists():
            blob = self.load()
            self.resumes += 1
        else:
            self.observation = self.world.reset([spec.seed])[0]
        if not spec.in_process:
            self.overhead = protocol_overhead(self.world)
        if len(self.faults) < spec.max_faults and self.loop_returned_at is None:
            try:
                self._start_agent()
                if blob is not None and self.agent.capabilities.get("checkpoint"):
                    self.agent.restore(blob)
                    self.needs_start = False
                elif self.t > 0:
                    self.fresh_agent_resumes += 1
            except AgentFault as fault:
                if self.t == 0 and not self.faults:
                    raise  # a submission that cannot even start is refused before the run
                self._fault(fault)
        every = spec.checkpoint_every or max(FLUSH, (spec.steps // 20) // FLUSH * FLUSH)
        every = max(FLUSH, every // FLUSH * FLUSH)
        try:
            while self.t < spec.steps:
                end = min(spec.steps, (self.t // FLUSH + 1) * FLUSH)
                self._stream(end)
                if progress is not None:
                    progress(self.t)
                if self.t % every == 0 and self.t < spec.steps:
                    if self.agent is not None:
                        try:
                            self.agent.check_children()
                        except AgentFault as fault:
                            self._fault(fault)
                    self.wall_seconds += time.perf_counter() - started
                    started = time.perf_counter()
                    self.save()
            if self.agent is not None:
                try:
                    self.agent.check_children()
                except AgentFault as fault:
                    self._fault(fault)
        finally:
            self._stop_agent()
        self.wall_seconds += time.perf_counter() - started
        return self._result()

    def _stream(self, end: int) -> None:
        """Steps ``t .. end - 1``: the hot loop, then one transcript block."""
        world, clock = self.world, self.clock
        fallback = world.fallback_action()[0]
        start = self.t
        n = end - start
        observations = np.empty((n, *np.shape(self.observation)), dtype=np.asarray(self.observation).dtype)
        actions = np.empty((n, *np.shape(fallback)), dtype=np.asarray(fallback).dtype)
        rewards = np.empty(n)
        elapsed_log = np.zeros(n, dtype=np.int64)
        skipped_log = np.zeros(n, dtype=bool)
        costs = np.zeros(n)
        check = self._action_checker()
        probes = self.probes
        probe_at = (probes.next_time(start) - start) if probes is not None and probes.next_time(start) >= 0 else -1
        step_world = world.step_one
        observation = self.observation
        pending, elapsed = self.pending_reward, self.elapsed
        unlimited = clock.unlimited
        for i in range(n):
            if not unlimited:
                clock.earn()
            agent = self.agent
            if agent is not None and (unlimited or clock.credit >= 0.0):
                try:
                    if self.needs_start:
                        action, cpu = agent.start(observation)
                        self.needs_start = False
                    else:
                        action, cpu = agent.step(pending, observation, elapsed)
                    if not unlimited:
                        clock.credit -= cpu
                    costs[i] = cpu
                    self.cpu_seconds += cpu
                    check(action)
                    elapsed_log[i] = elapsed
                    pending, elapsed = 0.0, 0
                except AgentFault as fault:
                    self.t = start + i
                    self._fault(fault)
                    pending, elapsed = 0.0, 0
                    action = fallback
                    skipped_log[i] = True
                except AgentDone:  # a run(env) loop returned: the rest of the stream is the fallback's
                    self.loop_returned_at = start + i
                    if self.rungs is not None:
                        self.rungs.valid = False
                    self._stop_agent()
                    action = fallback
                    skipped_log[i] = True
            else:
                action = fallback
                skipped_log[i] = True
            if i == probe_at:  # after the step's call, before the world steps (see probes.py)
                self.t = start + i
                probes.probe(self, start + i, rewards[:i])
                following = probes.next_time(start + i + 1)
                probe_at = following - start if following >= 0 else -1
            observations[i] = observation
            actions[i] = action
            observation, reward = step_world(action)
            rewards[i] = reward
            pending += reward
            elapsed += 1
        self.observation = observation
        self.pending_reward, self.elapsed = pending, elapsed
        self.t = end
        self.skipped += int(skipped_log.sum())
        self.total_reward += float(rewards.sum())
        if probes is not None:
            probes.block_done(rewards)
        np.add.at(self.bucket_sums, np.arange(start, end) // self.bucket, rewards)
        blocks = [np.ascontiguousarray(array).tobytes()
                  for array in (observations, actions, rewards, elapsed_log, skipped_log)]
        self.hash = chain(self.hash, blocks)
        if self.rungs is not None:
            self.rungs.block(costs[~skipped_log], blocks)
        self._collect_change_points(end)

    def _action_checker(self) -> Callable[[Any], None]:
        """A fast validity check of an agent's (decoded) action; raises AgentFault."""
        space = self.world.action_space
        if hasattr(space, "n"):
            low, high = int(space.start), int(space.start + space.n)

            def check(action) -> None:
                if not (type(action) is int and low <= action < high):
                    raise AgentFault("bad_action",
                                     f"action {action!r} is outside the allowed range [{low}, {high - 1}]")

            return check

        def check_box(action) -> None:
            try:
                self.world.check_actions(np.asarray(action)[None])
            except ValueError as error:
                raise AgentFault("bad_action", str(error)) from None

        return check_box

    def _collect_change_points(self, end: int) -> None:
        engine = self.world.engine
        season = engine.season_process()
        for point in engine.log:
            if point.step < end:
                regime = int(season.regime(point.step)) if season is not None else 0
                self.change_points.append({"step": point.step, "kind": point.kind, "magnitude": point.magnitude,
                                           "process": point.process, "regime": regime})
        engine.log = [point for point in engine.log if point.step >= end]

    # -- the result ------------------------------------------------------------------------------------------
    def _meter(self) -> dict[str, Any]:
        """How the CPU was measured, and whether the meter was complete (nothing could escape it)."""
        if self.spec.in_process:
            return {"clock": "wall clock inside the harness (debugging)", "complete": False}
        return {
            "clock": "the agent process's CPU clock (all threads), read by the harness",
            "processes": "refused by a seccomp filter" if self.unconfined_starts == 0
            else "no seccomp: children looked for at checkpoints only",
            "complete": self.unconfined_starts == 0,
            "pinned_cpu": self.pinned_cpu is not None,
            "harness_dumpable": not self.hardened,
            "protocol_overhead_us": 1e6 * self.overhead,
        }

    def _result(self) -> dict[str, Any]:
        spec = self.spec
        counts = np.bincount(np.minimum(np.arange(spec.steps) // self.bucket, len(self.bucket_sums) - 1))
        fine = self.bucket_sums / counts
        self.change_points.sort(key=lambda cp: cp["step"])
        result = {
            "format": RESULT_FORMAT,
            "run_id": spec.run_id,
            "spec": spec.to_json(),
            "agent": {"name": spec.agent.name, "digest": spec.agent.digest()},
            "official": not spec.in_process and self.unconfined_starts == 0,
            "isolation": "in-process (debug, unofficial)" if spec.in_process else "own process",
            "meter": self._meter(),
            "G": self.total_reward / spec.steps,
            "steps": spec.steps,
            "cpu_seconds": self.cpu_seconds,
            "cpu_us_per_call": 1e6 * self.cpu_seconds / max(1, spec.steps - self.skipped),
            "startup_cpu_seconds": self.startup_cpu_seconds,
            "protocol_overhead_us": 1e6 * self.overhead,
            "steps_skipped": self.skipped,
            "skipped_fraction": self.skipped / spec.steps,
            "peak_memory_bytes": self.peak_memory,
            "faults": self.faults,
            "restarts": self.restarts,
            "loop_returned_at": self.loop_returned_at,
            "resumes": self.resumes,
            "fresh_agent_resumes": self.fresh_agent_resumes,
            "change_points": self.change_points,
            "curve": {"points": metrics.chunk_means(self.bucket_sums, counts).tolist(), "steps": spec.steps,
                      "exact": True},
            "diagnostics": metrics.summarise(fine, self.bucket, spec.steps, self.change_points),
            "transcript_hash": self.hash,
            **({"replay": self.rungs.evidence(self.probes.max_cpu if self.probes else 0.0)} if self.rungs else {}),
            **({"world_model": model} if (model := self._world_model()) is not None else {}),
            "versions": versions(),
            "wall_seconds": self.wall_seconds,
        }
        return result

    def _world_model(self) -> dict[str, Any] | None:
        spec = self.spec
        return record(self.probes.log, spec.probes, spec.beta, spec.unlimited) if self.probes is not None else None


def run(spec: RunSpec, directory: Path | str, resume: bool = False,
        progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run one stream to the end and write its result file; returns the result."""
    state = Run(spec, Path(directory))
    if resume and state.result_path.exists():
        result = json.loads(state.result_path.read_text())
        if result.get("spec") == json.loads(json.dumps(spec.to_json(), default=json_default)):
            return result
    with one_cpu_with_the_agent() as cpu:  # the same meter on every path: see one_cpu_with_the_agent
        state.pinned_cpu = cpu
        result = state.execute(resume=resume, progress=progress)
    write_json(state.result_path, result, compact=True)
    if state.checkpoint_path.exists():
        state.checkpoint_path.unlink()
    return result
