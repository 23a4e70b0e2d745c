"""Versioned suites: which worlds, with which config, for how long, on which budget and seeds.

A suite version is frozen: any change to its entries makes a new version, and scores compare only
within one suite version. Public seeds are for development; official boards run on hidden seeds
derived from a secret salt that is not in this repository -- the suite stores only the salt's
sha256, so a board can later prove which seeds it used by revealing the salt.

**How many seeds.** The board separates two entries when the paired difference of their
Score@beta0 (worlds fixed, seeds resampled within each world) excludes 0, at the Bonferroni level
over all pairs of entries (:mod:`ceaseless.leaderboard.scoring.paired`). Its standard error is
``sigma / sqrt(seeds)``. On the committed v1 results (``python benchmarks/power_analysis.py``) the
median pair of the 10 baselines has ``sigma`` = 0.055 z on quick-v1's 50,000-step streams and
0.034 z on core-v1's 100,000-step ones. To separate a paired difference of 0.05 z with 80% power
takes, per world, **11 seeds for one comparison and 22 on a board of 10 entries** on quick-length
streams (5 and 10 on core-length ones); boards simulated from that pair were separated 87% and 83%
of the time. The v1 suites' 3 seeds separate 0.10 z (one comparison) and 0.17 z (board). The next
versions therefore carry :data:`V2_PUBLIC_SEEDS` = 11 public seeds (development: an agent against
a baseline) and :data:`V2_HIDDEN_SEEDS` = 22 hidden ones (official boards:
``suite.seeds(V2_HIDDEN_SEEDS, salt=...)``), sized for the noisier streams so that either suite
meets the target. Seeds needed grow as ``(sigma / delta)^2``: rerun the script when streams change.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LADDER = (-3, -2, -1, 0, 1, 2)  # v1 budgets: beta0 * 2**k
LADDER_V2 = tuple(range(-3, 8))  # v2: beta0 / 8 .. beta0 * 128, three decades and more
UNLIMITED = "unlimited"
BUDGET_CHOICES = ("ladder", "beta0", "unlimited", "beta0+unlimited")


@dataclass(frozen=True)
class SuiteEntry:
    """One world of a suite. ``beta0`` is the agent's CPU budget per world step, in seconds;
    ``fallback`` is the world's fallback action (what happens when the agent is absent or slow)."""

    world_id: str
    steps: int
    beta0: float
    fallback: Any
    config: tuple[tuple[str, Any], ...] = ()

    @property
    def config_dict(self) -> dict[str, Any]:
        return dict(self.config)

    @property
    def short_name(self) -> str:
        return self.world_id.split("/")[-1]


@dataclass(frozen=True)
class ProbeSettings:
    """The world-model probes of a suite's runs: at ``count`` times drawn from the run's seed (never
    in the first ``skip_fraction`` of the stream) the harness asks the agent what reward it expects
    from each of ``plans`` action plans of ``horizon`` steps, then plays every plan out on a copy
    of the world. ``budget`` x plans x horizon x beta is the probe's own CPU budget; the naive
    predictor is the agent's mean reward over the last ``naive_window`` steps."""

    count: int = 50
    plans: int = 8
    horizon: int = 16
    budget: float = 1.0
    skip_fraction: float = 0.01
    naive_window: int = 1000

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "plans": self.plans, "horizon": self.horizon, "budget": self.budget,
                "skip_fraction": self.skip_fraction, "naive_window": self.naive_window}


@dataclass(frozen=True)
class Suite:
    name: str
    description: str
    entries: tuple[SuiteEntry, ...]
    public_seeds: tuple[int, ...]
    hidden_salt_sha256: str
    start_credit: float = 10.0  # CPU seconds for the agent's start-up (not kept beyond the cap)
    credit_cap_steps: int = 1000  # from the first step, credit never exceeds this many steps of budget
    fault_penalty_steps: int = 1000  # a fault costs this many steps of budget (besides the restart)
    max_faults: int = 3
    call_timeout: float = 10.0  # seconds for one agent call
    memory_limit: int = 4 << 30  # bytes of address space for the agent process
    ladder: tuple[int, ...] = field(default=LADDER)
    probes: ProbeSettings | None = None  # world-model probes (v2 suites); None: no probes (v1)

    def entry(self, world_id: str) -> SuiteEntry:
        for entry in self.entries:
            if entry.world_id == world_id or entry.short_name == world_id:
                return entry
        raise ValueError(f"suite {self.name} has no world {world_id!r}; it has "
                         f"{', '.join(e.world_id for e in self.entries)}")

    def budgets(self, entry: SuiteEntry, which: str = "ladder") -> list[tuple[str, float]]:
        """(label, beta) pairs: ``ladder`` = beta0 * 2**k for k in the ladder plus unlimited;
        ``beta0`` = just beta0; ``unlimited`` = just the unlimited track; ``beta0+unlimited``: both."""
        if which == "unlimited":
            return [(UNLIMITED, float("inf"))]
        if which == "beta0":
            return [(budget_label(0), entry.beta0)]
        if which == "beta0+unlimited":
            return [(budget_label(0), entry.beta0), (UNLIMITED, float("inf"))]
        if which == "ladder":
            return [(budget_label(k), entry.beta0 * 2.0**k) for k in self.ladder] + [(UNLIMITED, float("inf"))]
        raise ValueError(f"budget={which!r} is not one of {', '.join(BUDGET_CHOICES)}")

    def seeds(self, count: int | None = None, salt: str | None = None, world_id: str = "") -> list[int]:
        """Public seeds, or hidden ones when ``salt`` is given (checked against the stored hash)."""
        n = len(self.public_seeds) if count is None else count
        if n < 1:
            raise ValueError(f"seeds={n} must be at least 1")
        if salt is None:
            if n > len(self.public_seeds):
                raise ValueError(f"suite {self.name} has {len(self.public_seeds)} public seeds, asked for {n}")
            return list(self.public_seeds[:n])
        if hashlib.sha256(salt.encode()).hexdigest() != self.hidden_salt_sha256:
            raise ValueError(f"the salt does not match suite {self.name}'s committed hash "
                             f"{self.hidden_salt_sha256[:12]}...")
        return [hidden_seed(salt, self.name, world_id, i) for i in range(n)]

    def digest(self) -> str:
        """sha256 of the suite's definition: results carry it, so a bundle for another suite
        version (or a tampered one) is recognised."""
        return hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name, "description": self.description, "public_seeds": list(self.public_seeds),
            "hidden_salt_sha256": self.hidden_salt_sha256, "start_credit": self.start_credit,
            "credit_cap_steps": self.credit_cap_steps, "fault_penalty_steps": self.fault_penalty_steps,
            "max_faults": self.max_faults, "call_timeout": self.call_timeout,
            "memory_limit": self.memory_limit, "ladder": list(self.ladder),
            "entries": [{"world_id": e.world_id, "steps": e.steps, "beta0": e.beta0, "fallback": e.fallback,
                         "config": dict(e.config)} for e in self.entries],
            **({"probes": self.probes.to_json()} if self.probes is not None else {}),  # v1 digests unchanged
        }


def suite_from_json(data: dict[str, Any], description: str = "") -> Suite:
    """A suite from its :meth:`Suite.to_json` form (e.g. a private suite kept in a file)."""
    entries = tuple(
        SuiteEntry(e["world_id"], steps=int(e["steps"]), beta0=float(e["beta0"]), fallback=e["fallback"],
                   config=tuple(sorted((e.get("config") or {}).items())))
        for e in data["entries"]
    )
    return Suite(
        name=data["name"], description=description or data.get("description", ""), entries=entries,
        public_seeds=tuple(data["public_seeds"]), hidden_salt_sha256=data["hidden_salt_sha256"],
        start_credit=float(data.get("start_credit", 10.0)), credit_cap_steps=int(data.get("credit_cap_steps", 1000)),
        fault_penalty_steps=int(data.get("fault_penalty_steps", 1000)), max_faults=int(data.get("max_faults", 3)),
        call_timeout=float(data.get("call_timeout", 10.0)), memory_limit=int(data.get("memory_limit", 4 << 30)),
        ladder=tuple(data.get("ladder", LADDER)),
        probes=ProbeSettings(**data["probes"]) if data.get("probes") else None,
    )


def budget_label(k: int) -> str:
    """``x1`` for beta0, ``x0.125`` for beta0 / 8, ..."""
    return f"x{2.0**k:g}"


def hidden_seed(salt: str, suite: str, world_id: str, index: int) -> int:
    digest = hashlib.sha256(f"{salt}|{suite}|{world_id}|{index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


_HIDDEN_SALT_SHA256 = "c2bf0191b5d0c4cc9b77bc76681d2eab73eaa7a98de07daa1ec45c9f30eeff54"

def _entries(steps: int) -> tuple[SuiteEntry, ...]:
    """Every world at its default config. beta0: the agent's CPU budget per step (isolated, protocol
    overhead subtracted), sized so that the reference learners fit at beta0 (they cost 15-55 us
    per step) and the lower rungs of the ladder bite."""
    return (
        SuiteEntry("ceaseless/DriftingBandit-v0", steps=steps, beta0=50e-6, fallback=0),
        SuiteEntry("ceaseless/Forager-v0", steps=steps, beta0=100e-6, fallback=0),
        SuiteEntry("ceaseless/ShiftingMaze-v0", steps=steps, beta0=100e-6, fallback=0),
        SuiteEntry("ceaseless/DriftingControl-v0", steps=steps, beta0=100e-6, fallback=[0.0]),
        SuiteEntry("ceaseless/PredictionStream-v0", steps=steps, beta0=100e-6, fallback=[0.0, 0.0]),
        SuiteEntry("ceaseless/CraftingEconomy-v0", steps=steps, beta0=100e-6, fallback=0),
        SuiteEntry("ceaseless/Commons-v0", steps=steps, beta0=100e-6, fallback=0),
    )


QUICK_V1 = Suite(
    name="quick-v1",
    description="every world, 50,000-step streams: about a minute per budget on 2 cores for a cheap agent",
    entries=_entries(50_000),
    public_seeds=(0, 1, 2),
    hidden_salt_sha256=_HIDDEN_SALT_SHA256,
)

CORE_V1 = Suite(
    name="core-v1",
    description="the reference suite: every world, 100,000-step streams",
    entries=_entries(100_000),
    public_seeds=(0, 1, 2),
    hidden_salt_sha256=_HIDDEN_SALT_SHA256,
)

#: Seeds per world of the next suite versions (v2), from the power analysis in the module docstring:
#: 80% power for a paired difference of 0.05 z, one comparison (public) or on a board of 10 (hidden).
V2_PUBLIC_SEEDS = 11
V2_HIDDEN_SEEDS = 22


def _entries_v2(steps: int) -> tuple[SuiteEntry, ...]:
    """Every world at its default config, **beta0 = 100 us on every world** (v1 gave the bandit
    50 us). The v2 ladder is beta0 x 2^k for k = -3..7: 12.5 us to 12.8 ms per step on every world,
    so that it spans the numpy learners (2-60 us per call, all of which fit at beta0, as in v1)
    and deep ones (about 1 ms per call for a 2x128 network with one update per step), which first
    fit near the top. With the bandit at 50 us its top rung would have been 6.4 ms, under the
    10 ms a deep learner needs to be seen at full speed."""
    return tuple(SuiteEntry(e.world_id, steps=steps, beta0=100e-6, fallback=e.fallback, config=e.config)
                 for e in _entries(steps))


QUICK_V2 = Suite(
    name="quick-v2",
    description="every world, 50,000-step streams, the v2 ladder (12.5 us to 12.8 ms per step), 11 public seeds",
    entries=_entries_v2(50_000),
    public_seeds=tuple(range(V2_PUBLIC_SEEDS)),
    hidden_salt_sha256=_HIDDEN_SALT_SHA256,
    ladder=LADDER_V2,
    probes=ProbeSettings(),
)

CORE_V2 = Suite(
    name="core-v2",
    description="the reference suite: every world, 100,000-step streams, the v2 ladder "
                "(12.5 us to 12.8 ms per step), 11 public seeds",
    entries=_entries_v2(100_000),
    public_seeds=tuple(range(V2_PUBLIC_SEEDS)),
    hidden_salt_sha256=_HIDDEN_SALT_SHA256,
    ladder=LADDER_V2,
    probes=ProbeSettings(),
)

LONG_V1 = Suite(
    name="long-v1",
    description="every world at 10^6 steps on core's configs: loss of plasticity shows after 10^6 steps "
                "(Dohare et al., Nature 2024); for a cluster (--backend ray), resumable (--resume)",
    entries=_entries_v2(1_000_000),
    public_seeds=(0, 1, 2),
    hidden_salt_sha256=_HIDDEN_SALT_SHA256,
    ladder=LADDER_V2,
    probes=ProbeSettings(),
)

#: Seeds for choosing hyper-parameters: never used for evaluation (tune on these, and on the
#: first 10% of a stream only).
TUNING_SEEDS = (1000, 1001, 1002)

SUITES: dict[str, Suite] = {suite.name: suite for suite in (QUICK_V1, CORE_V1, QUICK_V2, CORE_V2, LONG_V1)}


def get_suite(name: str) -> Suite:
    """A suite by name, or from a JSON file (``Suite.to_json`` form) when ``name`` ends in .json."""
    if name.endswith(".json"):
        path = Path(name)
        if not path.exists():
            raise ValueError(f"suite file {name} does not exist")
        try:
            return suite_from_json(json.loads(path.read_text()))
        except (KeyError, TypeError, ValueError) as error:
            raise ValueError(f"suite file {name} is not a valid suite: {error}") from None
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; known: {', '.join(SUITES)} (or a suite .json file)")
    return SUITES[name]
