"""Saturated rungs: budgets on which the agent is never short of credit cost no run of their own.

A run on budget ``beta`` in which every call was made (the credit never went below 0, no fault)
showed the agent exactly what the unlimited run showed it, so a deterministic agent (as the
protocol asks agents to be) acted the same: the same transcript, bit for bit, and the same reward.
The ladder need not run such a rung again. The rule, precisely:

    The unlimited run of a (world, seed) replays the compute clock from its own per-call CPU
    (:class:`~ceaseless.leaderboard.harness.clock.CreditReplay`: the same start credit, start-up
    charge and cap) at **half** of each rung's budget. Rung ``beta`` is *saturated* when that
    replay at ``beta / 2`` never goes below 0 and the unlimited run had no fault, no restart and
    no early end of a ``run(env)`` loop. A saturated rung's result is the unlimited run's, with
    the rung's own spec and transcript hash, flagged ``saturated`` with the evidence (the lowest
    credit the replay reached, in CPU-seconds and in steps of the replayed budget). Every other
    rung is run.

The factor of two is the margin for noise: the replay uses one measurement of the agent's costs,
and a real run at ``beta`` measures them again. An agent whose costs were within its budget only
narrowly, or which fell behind even once (a burst that outran the credit cap), has its rung run.
The transcript hash of a saturated rung is computed during the unlimited run, over the same
blocks with the rung's identity, so a re-run of the rung (``ceaseless verify``) can match it
exactly.

World-model probes do not touch the stream, but on a finite budget a probe's CPU beyond its probe
budget (``budget * K * H * beta``) is charged to the control clock (see
:mod:`~ceaseless.leaderboard.harness.probes`), which the replay does not model. So, with the same
margin: rung ``beta`` is not saturated when any probe's ``predict`` used more CPU on the unlimited
run than ``budget * K * H * beta / 2`` (the evidence keeps the largest, ``max_probe_cpu_seconds``,
and each rung's ``probe_budget_seconds``). A saturated rung's ``world_model`` is recomputed from
the unlimited run's per-probe records under the rung's own probe budget (with this rule no probe
of a saturated rung is ``late`` or charged).
"""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

import numpy as np

from ceaseless.leaderboard.harness.clock import CreditReplay
from ceaseless.leaderboard.harness.probes import budget_seconds
from ceaseless.leaderboard.harness.runspec import RunSpec
from ceaseless.worlds.suites import ProbeSettings

MARGIN = 2.0  # a rung is saturated when the replay at beta / MARGIN never goes into debt


def transcript_seed(spec: RunSpec, budget: str | None = None) -> str:
    """The first link of a run's transcript hash chain: what the stream is, on which budget."""
    identity = [spec.world_id, dict(spec.config), spec.seed, spec.steps, spec.budget if budget is None else budget]
    return hashlib.blake2b(json.dumps(identity, sort_keys=True).encode(), digest_size=32).hexdigest()


def chain(previous: str, blocks: list[bytes]) -> str:
    digest = hashlib.blake2b(bytes.fromhex(previous), digest_size=32)
    for block in blocks:
        digest.update(block)
    return digest.hexdigest()


class RungTracker:
    """During an unlimited run: the credit replay and the transcript hashes of the ladder's rungs."""

    def __init__(self, spec: RunSpec) -> None:
        self.rungs = dict(spec.replay)
        self.probe_budgets = {label: budget_seconds(spec.probes, beta) if spec.probes is not None else None
                              for label, beta in self.rungs.items()}
        self.replay = CreditReplay({label: beta / MARGIN for label, beta in self.rungs.items()},
                                   spec.start_credit, spec.credit_cap_steps)
        self.hashes = {label: transcript_seed(spec, label) for label in self.rungs}
        self.valid = True  # a fault or restart ends the claim: the rungs are run

    def block(self, costs: np.ndarray, blocks: list[bytes]) -> None:
        if self.valid:
            self.replay.feed(costs)
        self.hashes = {label: chain(value, blocks) for label, value in self.hashes.items()}

    def state(self) -> dict[str, Any]:
        return {"replay": self.replay.state(), "hashes": self.hashes, "valid": self.valid}

    def load(self, state: dict[str, Any]) -> None:
        self.replay.load(state["replay"])
        self.hashes = dict(state["hashes"])
        self.valid = bool(state["valid"])

    def evidence(self, max_probe_cpu: float = 0.0) -> dict[str, Any]:
        """For the result file: per rung, the replayed budget, the lowest credit, the probe budget
        and the hash; ``max_probe_cpu``: the most CPU one probe's predict used."""
        return {
            "valid": self.valid, "margin": MARGIN, "max_probe_cpu_seconds": float(max_probe_cpu),
            "rungs": {label: {"beta": beta, "replayed_beta": beta / MARGIN,
                              "lowest_credit_seconds": self.replay.lowest[label],
                              "lowest_credit_steps": self.replay.lowest[label] / (beta / MARGIN),
                              "probe_budget_seconds": self.probe_budgets[label],
                              "transcript_hash": self.hashes[label]}
                      for label, beta in self.rungs.items()},
        }


def is_saturated(unlimited: dict[str, Any], budget: str) -> bool:
    """Whether ``unlimited``'s replay shows rung ``budget`` saturated (the rule above)."""
    replay = unlimited.get("replay") or {}
    rung = (replay.get("rungs") or {}).get(budget)
    return bool(replay.get("valid")) and rung is not None and rung["lowest_credit_seconds"] >= 0.0 \
        and not unlimited["faults"] and not unlimited.get("restarts") and unlimited.get("loop_returned_at") is None \
        and unlimited["steps_skipped"] == 0 and _probes_within(unlimited, rung)


def _probes_within(unlimited: dict[str, Any], rung: dict[str, Any]) -> bool:
    """Whether every probe's CPU on the unlimited run was within the rung's probe budget / MARGIN
    (a record from before ``probe_budget_seconds`` existed: from its spec and per-probe log)."""
    probes = (unlimited.get("spec") or {}).get("probes")
    if not probes:
        return True
    probe_budget = rung.get("probe_budget_seconds") or budget_seconds(ProbeSettings(**probes), rung["beta"])
    log = (unlimited.get("world_model") or {}).get("per_probe") or []
    cpu = max([unlimited["replay"].get("max_probe_cpu_seconds", 0.0)] + [p["cpu"] for p in log])
    return cpu <= probe_budget / MARGIN


def saturated_result(unlimited: dict[str, Any], spec: RunSpec) -> dict[str, Any]:
    """The result of rung ``spec``, saturated: the unlimited run's, under the rung's spec and hash."""
    if not is_saturated(unlimited, spec.budget):
        raise ValueError(f"{spec.run_id} is not saturated by {unlimited['run_id']}")
    rung = unlimited["replay"]["rungs"][spec.budget]
    result = copy.deepcopy(unlimited)
    del result["replay"]
    result.update({
        "run_id": spec.run_id, "spec": spec.to_json(), "transcript_hash": rung["transcript_hash"],
        "saturated": {"from": unlimited["run_id"], "rule": f"replay at beta/{MARGIN:g} never in debt",
                      "replayed_beta": rung["replayed_beta"], "lowest_credit_seconds": rung["lowest_credit_seconds"],
                      "lowest_credit_steps": rung["lowest_credit_steps"]},
        "wall_seconds": 0.0,
    })
    if "world_model" in unlimited and spec.probes is not None:
        from ceaseless.leaderboard.harness.probes import record

        result["world_model"] = record(unlimited["world_model"]["per_probe"], spec.probes, spec.beta, per_probe=False)
    return result
