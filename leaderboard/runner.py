"""One stream: world <-> agent under the compute clock, with faults, checkpoints and a transcript.

The compute clock. Every world step adds ``beta`` CPU-seconds of credit. The run starts with
``start_credit`` to pay for the agent's start-up (imports, building its model); from the first
step on, credit is capped at ``credit_cap_steps`` steps of budget, so neither unused start credit
nor idle steps can be hoarded for later. After each
call the harness charges the CPU the agent's process used (read from outside it, protocol overhead
subtracted). While credit is negative the world does not wait: it steps with the fallback action
and the agent misses those steps; at its next call it gets their summed reward and ``elapsed``.
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

import hashlib
import json
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

import worlds
from leaderboard import metrics
from leaderboard.protocol import PROTOCOL_VERSION, AgentSpec
from leaderboard.sandbox import AgentFault, InProcessAgent, SandboxedAgent, measure_overhead

RESULT_FORMAT = "ceaseless-run/1"
FLUSH = 4096  # steps per transcript block (checkpoints fall on block boundaries)


@dataclass(frozen=True)
class RunSpec:
    """Everything that defines one run."""

    agent: AgentSpec
    world_id: str
    seed: int
    steps: int
    budget: str  # "unlimited" or "x<multiple of beta0>"
    beta: float  # CPU seconds of credit per world step (inf: unlimited)
    config: tuple[tuple[str, Any], ...] = ()
    suite: str = ""
    suite_digest: str = ""
    start_credit: float = 10.0
    credit_cap_steps: int = 1000
    fault_penalty_steps: int = 1000  # a fault costs this many steps of budget (besides the restart)
    max_faults: int = 3
    call_timeout: float = 10.0
    memory_limit: int = 4 << 30
    checkpoint_every: int = 0  # 0: about 20 checkpoints per run
    in_process: bool = False

    @property
    def run_id(self) -> str:
        world = self.world_id.split("/")[-1]
        return f"{world}-seed{self.seed}-{self.budget}"

    @property
    def unlimited(self) -> bool:
        return not np.isfinite(self.beta)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["agent"] = self.agent.to_json()
        data["config"] = dict(self.config)
        data["beta"] = None if self.unlimited else self.beta
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        data = dict(data)
        data["agent"] = AgentSpec.from_json(data["agent"])
        data["config"] = tuple(sorted(data.get("config", {}).items()))
        data["beta"] = float("inf") if data["beta"] is None else float(data["beta"])
        return cls(**data)


def agent_seed(spec: RunSpec, restart: int) -> int:
    """The agent's seed: derived from the run seed (so the agent cannot read the world's seed
    from it) and the restart count (so a restarted agent does not replay its failure)."""
    digest = hashlib.sha256(f"agent|{spec.world_id}|{spec.seed}|{restart}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


class ComputeClock:
    """Credit in CPU seconds: earned per world step, spent by the agent's calls. The start credit
    pays for start-up only: the cap of ``cap_steps`` steps of budget applies from the first step."""

    def __init__(self, beta: float, start_credit: float, cap_steps: int) -> None:
        self.beta = beta
        self.unlimited = not np.isfinite(beta)
        self.cap = beta * cap_steps if not self.unlimited else float("inf")
        self.credit = float("inf") if self.unlimited else float(start_credit)

    def earn(self) -> None:
        if not self.unlimited:
            self.credit = min(self.credit + self.beta, self.cap)

    def charge(self, seconds: float) -> None:
        if not self.unlimited:
            self.credit -= seconds

    @property
    def can_act(self) -> bool:
        return self.credit >= 0.0


_OVERHEAD: dict[str, float] = {}


def protocol_overhead(world) -> float:
    """Per-call CPU of the protocol for this world's spaces (measured once per process)."""
    key = json.dumps([str(world.observation_space), str(world.action_space)])
    if key not in _OVERHEAD:
        _OVERHEAD[key] = measure_overhead(world.observation_space, world.action_space)
    return _OVERHEAD[key]


def _atomic_write(path: Path, write: Callable[[Path], None]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(Path(temporary))
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def write_json(path: Path, data: Any, compact: bool = False) -> None:
    """Write JSON atomically (a kill leaves the old file or the new one, never half of one)."""
    options = {"separators": (",", ":")} if compact else {"indent": 1}
    _atomic_write(path, lambda p: p.write_text(json.dumps(data, sort_keys=True, default=_json_default, **options)))


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def versions() -> dict[str, str]:
    import gymnasium

    from leaderboard import __version__

    return {"ceaseless": __version__, "protocol": str(PROTOCOL_VERSION), "python": platform.python_version(),
            "numpy": np.__version__, "gymnasium": gymnasium.__version__}


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
        identity = [spec.world_id, dict(spec.config), spec.seed, spec.steps, spec.budget]
        self.hash = hashlib.blake2b(json.dumps(identity, sort_keys=True).encode(), digest_size=32).hexdigest()
        self.peak_memory = 0
        self.wall_seconds = 0.0
        self.agent = None
        self.observation = None
        self.overhead = 0.0

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
                "hash", "peak_memory", "wall_seconds")

    def save(self) -> None:
        """Write a checkpoint (atomically: a kill leaves the previous one intact)."""
        blob = self.agent.checkpoint() if self.agent is not None and not self.needs_start else None
        state = {f"world/{k}": v for k, v in self.world.get_state().items()}
        scalars = {name: getattr(self, name) for name in self._SCALARS}
        scalars["credit"] = None if self.clock.unlimited else self.clock.credit
        state["run/scalars"] = np.array(json.dumps(scalars, default=_json_default))
        state["run/spec"] = np.array(json.dumps(self.spec.to_json(), sort_keys=True))
        state["run/bucket_sums"] = self.bucket_sums
        state["run/agent"] = np.frombuffer(blob, dtype=np.uint8) if blob is not None else np.zeros(0, np.uint8)
        state["run/has_agent"] = np.array(blob is not None)

        def write(path: Path) -> None:
            with open(path, "wb") as handle:
                np.savez(handle, **state)

        _atomic_write(self.checkpoint_path, write)

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
            setattr(self, name, scalars[name])
        if scalars["credit"] is not None:
            self.clock.credit = scalars["credit"]
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
        self.needs_start = True

    def _fault(self, fault: AgentFault) -> None:
        """Record a fault, charge the penalty and restart the agent (or retire it)."""
        self.faults.append({"step": self.t, "kind": fault.kind, "message": fault.message[-4000:]})
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
        if len(self.faults) < spec.max_faults:
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
        check = self._action_checker()
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
            else:
                action = fallback
                skipped_log[i] = True
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
        np.add.at(self.bucket_sums, np.arange(start, end) // self.bucket, rewards)
        digest = hashlib.blake2b(bytes.fromhex(self.hash), digest_size=32)
        for array in (observations, actions, rewards, elapsed_log, skipped_log):
            digest.update(np.ascontiguousarray(array).tobytes())
        self.hash = digest.hexdigest()
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
            "official": not spec.in_process,
            "isolation": "in-process (debug, unofficial)" if spec.in_process else "own process",
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
            "resumes": self.resumes,
            "fresh_agent_resumes": self.fresh_agent_resumes,
            "change_points": self.change_points,
            "curve": {"points": metrics.downsample(fine).tolist(), "steps": spec.steps},
            "diagnostics": metrics.summarise(fine, self.bucket, spec.steps, self.change_points),
            "transcript_hash": self.hash,
            "versions": versions(),
            "wall_seconds": self.wall_seconds,
        }
        return result


def run(spec: RunSpec, directory: Path | str, resume: bool = False,
        progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Run one stream to the end and write its result file; returns the result."""
    state = Run(spec, Path(directory))
    if resume and state.result_path.exists():
        result = json.loads(state.result_path.read_text())
        if result.get("spec") == json.loads(json.dumps(spec.to_json(), default=_json_default)):
            return result
    result = state.execute(resume=resume, progress=progress)
    write_json(state.result_path, result, compact=True)
    if state.checkpoint_path.exists():
        state.checkpoint_path.unlink()
    return result


@dataclass
class Reference:
    """Mean reward per step of the fallback and the oracle on one seed (for normalisation)."""

    G_fallback: float
    G_oracle: float | None
    curve_fallback: list[float] = field(default_factory=list)
    curve_oracle: list[float] = field(default_factory=list)


def references(world_id: str, config: dict[str, Any], seeds: list[int], steps: int) -> dict[int, Reference]:
    """Fallback and oracle runs of a world on each seed, all seeds batched in one world."""
    world_class = worlds.WORLDS[world_id]
    bucket = metrics.bucket_size(steps)
    results: dict[str, np.ndarray] = {}
    curves: dict[str, np.ndarray] = {}
    for policy in ("fallback", "oracle"):
        if policy == "oracle" and not world_class.has_oracle:
            continue
        world = world_class(num_envs=len(seeds), **config)
        world.reset(seeds)
        sums = np.zeros((len(seeds), -(-steps // bucket)))
        chooser = world.fallback_action if policy == "fallback" else world.oracle_action
        for t in range(steps):
            sums[:, t // bucket] += world.step(chooser())[1]
        counts = np.bincount(np.minimum(np.arange(steps) // bucket, sums.shape[1] - 1))
        results[policy] = sums.sum(axis=1) / steps
        curves[policy] = sums / counts
    return {
        seed: Reference(
            float(results["fallback"][i]),
            float(results["oracle"][i]) if "oracle" in results else None,
            metrics.downsample(curves["fallback"][i]).tolist(),
            metrics.downsample(curves["oracle"][i]).tolist() if "oracle" in curves else [],
        )
        for i, seed in enumerate(seeds)
    }
