"""What defines one run (:class:`RunSpec`), the agent's seed, and how run files are written."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ceaseless.leaderboard.harness.protocol import PROTOCOL_VERSION, AgentSpec
from ceaseless.worlds.suites import ProbeSettings

RESULT_FORMAT = "ceaseless-run/1"


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
    #: On the unlimited track: the ladder's (label, beta) rungs whose credit the run replays from its
    #: own costs, so that a rung on which the agent is never short of credit need not be re-run.
    replay: tuple[tuple[str, float], ...] = ()
    #: The world-model probes of this run (:mod:`~ceaseless.leaderboard.harness.probes`): the suite's
    #: settings (v2 suites), or None: no probes (v1 suites, whose run specs stay as they were).
    probes: ProbeSettings | None = None

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
        if not self.replay:
            del data["replay"]  # runs without replay keep the spec they always had
        else:
            data["replay"] = [[label, beta] for label, beta in self.replay]
        if self.probes is None:
            del data["probes"]  # runs without probes keep the spec they always had
        else:
            data["probes"] = self.probes.to_json()
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RunSpec:
        data = dict(data)
        data["agent"] = AgentSpec.from_json(data["agent"])
        data["config"] = tuple(sorted(data.get("config", {}).items()))
        data["beta"] = float("inf") if data["beta"] is None else float(data["beta"])
        data["replay"] = tuple((str(label), float(beta)) for label, beta in data.get("replay", ()))
        data["probes"] = ProbeSettings(**data["probes"]) if data.get("probes") else None
        return cls(**data)


def agent_seed(spec: RunSpec, restart: int) -> int:
    """The agent's seed: derived from the run seed (so the agent cannot read the world's seed
    from it) and the restart count (so a restarted agent does not replay its failure)."""
    digest = hashlib.sha256(f"agent|{spec.world_id}|{spec.seed}|{restart}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


def atomic_write(path: Path, write: Callable[[Path], None]) -> None:
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
    atomic_write(path, lambda p: p.write_text(json.dumps(data, sort_keys=True, default=json_default, **options)))


def json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")


def versions() -> dict[str, str]:
    import gymnasium

    from ceaseless import __version__

    return {"ceaseless": __version__, "protocol": str(PROTOCOL_VERSION), "python": platform.python_version(),
            "numpy": np.__version__, "gymnasium": gymnasium.__version__}
