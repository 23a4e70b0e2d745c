"""The board as data: the scored entries of a store, in rank order (:class:`Board`).

:func:`build` (from a store) or :func:`from_runs` (from a runs DataFrame) load the runs
(:func:`ceaseless.leaderboard.board.store.load`), score them
(:func:`ceaseless.leaderboard.scoring.ranking.board`) and return a :class:`Board`: the scored
entries in rank order, then the *incomplete* ones (entries missing some (world, seed) run at beta0,
or whose runs have no reference: they cannot be compared fairly, so they are listed without a
rank). Rejected submissions are left out. :mod:`~ceaseless.leaderboard.board.render` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ceaseless.leaderboard.board import store
from ceaseless.leaderboard.scoring import ranking

__all__ = ["Board", "build", "from_runs"]

X1 = ranking.X1
DASH = "—"


# ------------------------------------------------------------------------------------------------------------------
# The board
# ------------------------------------------------------------------------------------------------------------------


@dataclass
class Board:
    """A scored board, ready to render.

    ``frame`` has one row per entry: the columns of :func:`ceaseless.leaderboard.scoring.ranking.board` (NaN for
    incomplete entries: Score@beta0 and its interval on the suite's worlds, the interval across worlds, P(>next),
    the tier and the paired differences behind it, ...), plus ``status`` (verified/unverified), ``kind``
    (submission/baseline), ``complete`` (ranked or not), ``runs`` (runs with a defined z) and ``runs_expected``
    (the (world, seed, budget) cells of the board), and ``suite``. Ranked entries come first, by rank.
    """

    frame: pd.DataFrame
    runs: pd.DataFrame
    store_path: Path | None = None
    suite: str | None = None
    reference: str | None = None
    worlds: list[str] = field(default_factory=list)
    seeds: int = 0
    notes: list[str] = field(default_factory=list)

    @property
    def ranked(self) -> pd.DataFrame:
        return self.frame[self.frame["complete"]]

    @property
    def incomplete(self) -> pd.DataFrame:
        return self.frame[~self.frame["complete"]]


def build(store_path: Path | str, *, suite: str | None = None, reference: str | None = None,
          options: ranking.BoardOptions | None = None) -> Board:
    """Load the runs of ``store_path`` (only ``suite`` if given) and score them."""
    runs = store.load(store_path, suite=suite)
    return from_runs(runs, suite=suite, reference=reference, options=options, store_path=store_path)


def from_runs(runs: pd.DataFrame, *, suite: str | None = None, reference: str | None = None,
              options: ranking.BoardOptions | None = None, store_path: Path | str | None = None) -> Board:
    """Score a runs DataFrame (the columns of :func:`ceaseless.leaderboard.board.store.load`) into a :class:`Board`.

    Raises ValueError if the runs mix several suites and ``suite`` does not pick one (scores
    compare only within one suite version).
    """
    options = options or ranking.BoardOptions()
    if reference is not None:
        options = ranking.BoardOptions(reps=options.reps, confidence=options.confidence, seed=options.seed,
                                       reference=reference)
    reference = options.reference
    notes: list[str] = []
    if "suite" in runs and len(runs):
        if suite is not None and (runs["suite"] != suite).any():
            runs = runs[runs["suite"] == suite]
        suites = sorted(runs["suite"].dropna().unique())
        if len(suites) > 1:
            raise ValueError(f"the runs belong to several suites ({', '.join(suites)}); scores compare only within "
                             "one suite version: choose one with suite=...")
        suite = suites[0] if suites else suite
    if "status" in runs:
        rejected = runs.loc[runs["status"] == "rejected", "entry"].nunique()
        if rejected:
            notes.append(f"{rejected} rejected submission{'s' if rejected > 1 else ''} not shown.")
            runs = runs[runs["status"] != "rejected"]
    runs = runs.reset_index(drop=True)
    # Diagnostics that are NULL in every run come back as object columns; make them numbers.
    for column in ("cpu_us_per_call", "skipped_fraction", "peak_memory", "faults", "recovery_steps", "retention_gain",
                   "plasticity_trend", "final_window"):
        if column in runs and runs[column].dtype == object:
            runs[column] = runs[column].astype(np.float64)
    if "z" not in runs:
        runs = runs.assign(z=ranking.normalise(runs)) if len(runs) else runs.assign(z=np.float64(0.0))
    valid = np.isfinite(runs["z"].to_numpy(dtype=np.float64))
    if (~valid).any():
        # z is undefined without the (world, seed)'s fallback and oracle returns (e.g. a world
        # without an oracle): say which worlds lose runs, and whether entirely.
        lost = runs.loc[~valid, "world_id"].value_counts()
        total = runs["world_id"].value_counts()
        whole = [world_name(w) for w in lost.index if lost[w] == total[w]]
        some = [f"{world_name(w)} ({lost[w]} runs)" for w in lost.index if lost[w] < total[w]]
        if whole:
            notes.append(f"No reference (oracle) returns for {', '.join(sorted(whole))}: z is undefined there, so "
                         "the scores leave it out.")
        if some:
            notes.append(f"Runs without reference returns were left out: {', '.join(sorted(some))}.")
    scored_runs = runs if valid.all() else runs[valid]
    # Only entries with a full (world, seed) rectangle at beta0 are ranked. They are picked here
    # (ranking.board would drop the others at beta0 but trip over them at another budget).
    complete, _, worlds = ranking.rectangles(scored_runs, X1) if len(scored_runs) else ([], None, [])
    if not complete:
        worlds = list(scored_runs.loc[scored_runs["budget"] == X1, "world_id"].unique())
    ranked_runs = scored_runs
    if len(complete) < scored_runs["entry"].nunique():
        ranked_runs = scored_runs[scored_runs["entry"].isin(set(complete))]
    scored = ranking.board(ranked_runs, options) if complete else None
    if scored is None:
        scored = pd.DataFrame({"entry": pd.Series(dtype=object), "score": pd.Series(dtype=float),
                               "rank": pd.Series(dtype=float), "tier": pd.Series(dtype=float)})
        for column in ("ci_low", "ci_high", "ci_worlds_low", "ci_worlds_high", "compute_auc", "compute_multiplier",
                       "p_improvement_next"):
            scored[column] = pd.Series(dtype=float)
        scored["compute_multiplier_text"] = pd.Series(dtype=object)
    scored["complete"] = True

    # Entries missing from the scored board: incomplete, listed after the ranked ones.
    ranked_entries = set(scored["entry"])
    missing = [e for e in runs["entry"].unique() if e not in ranked_entries]
    if missing:
        extra = pd.DataFrame({"entry": missing, "complete": False})
        at = runs[(runs["budget"] == X1) & runs["entry"].isin(missing)]
        diagnostics = {c: ("sum" if c == "faults" else "mean") for c in
                       ("cpu_us_per_call", "skipped_fraction", "faults") if c in at}
        if diagnostics and len(at):
            extra = extra.join(at.groupby("entry")[list(diagnostics)].agg(diagnostics), on="entry")
        scored = pd.concat([scored, extra], ignore_index=True)
        scored["compute_multiplier_text"] = scored["compute_multiplier_text"].fillna(DASH)
        scored["complete"] = scored["complete"].astype(bool)

    # Status, kind, suite and run counts per entry.
    first = runs.drop_duplicates("entry").set_index("entry")
    for column, default in (("status", "verified"), ("kind", "submission"), ("suite", suite or "")):
        values = first[column] if column in first else pd.Series(default, index=first.index)
        scored[column] = scored["entry"].map(values).fillna(default).to_numpy() if len(scored) else []
    cells = scored_runs[["world_id", "seed", "budget"]].drop_duplicates()
    scored["runs"] = scored["entry"].map(scored_runs.groupby("entry").size()).fillna(0).astype(int)
    scored["runs_expected"] = len(cells)

    leading = ["rank", "tier", "entry", "status", "kind", "complete", "score", "ci_low", "ci_high", "ci_worlds_low",
               "ci_worlds_high"]
    frame = scored[leading + [c for c in scored.columns if c not in leading]].reset_index(drop=True)
    frame["rank"] = frame["rank"].astype("Int64")
    frame["tier"] = frame["tier"].astype("Int64")
    if reference is not None and reference not in set(frame.loc[frame["complete"], "entry"]):
        notes.append(f"The reference entry {reference!r} is not ranked on this board: compute multipliers are n/a.")
    seeds = int(frame["seeds"].dropna().iloc[0]) if "seeds" in frame and frame["seeds"].notna().any() else 0
    if seeds == 1:
        notes.append("One seed per world: seed noise cannot be measured, so there is no interval on these worlds and "
                     "every entry shares one tier.")
    return Board(frame=frame, runs=runs, store_path=Path(store_path) if store_path else None, suite=suite,
                 reference=reference, worlds=worlds, seeds=seeds, notes=notes)


def world_name(world_id: str) -> str:
    """"ceaseless/Forager-v0" -> "Forager-v0"."""
    return str(world_id).split("/")[-1]
