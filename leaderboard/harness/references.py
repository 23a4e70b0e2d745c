"""Reference runs for normalisation: the fallback and the oracle on each seed, all seeds in one batch."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ceaseless import worlds
from ceaseless.leaderboard.scoring import metrics


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
