"""The board's plots (matplotlib PNGs for the HTML page): score vs budget, the Pareto front of
score vs CPU per step, learning curves with change points, and the per-world heatmap.

matplotlib is imported inside the functions, through ``matplotlib.figure.Figure`` (no pyplot, no
global backend switch), so that the text formats of the board never load it.
"""

from __future__ import annotations

import html as _html
import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ceaseless.leaderboard.board import store
from ceaseless.leaderboard.board.table import world_name
from ceaseless.leaderboard.scoring import ranking
from ceaseless.worlds.suites import UNLIMITED

if TYPE_CHECKING:
    from ceaseless.leaderboard.board.table import Board

__all__ = ["draw"]

X1 = ranking.X1
HEATMAP_ROWS = 40  # entries in the per-world heatmap (the table holds everyone)
PARETO_LABELS = 12  # names written next to points of the Pareto front
ANNOTATED_CELLS = 150  # the heatmap writes its values in the cells up to this many cells

def _colours(entries: Sequence[str]) -> dict[str, Any]:
    from matplotlib import colormaps

    palette = colormaps["tab10" if len(entries) <= 10 else "tab20"]
    return {entry: palette(i % palette.N) for i, entry in enumerate(entries)}


def draw(board: Board, out: Path, *, top: int) -> list[tuple[str, str, str, str]]:
    """Draw the plots into ``out``; (id, file, alt text, caption) of each."""
    ranked = board.ranked
    if ranked.empty:
        return []
    best = ranked.head(max(1, top))
    colours = _colours(list(best["entry"]))
    figures = []
    drawn = _plot_budgets(board, best, colours, out / "score_vs_budget.png")
    if drawn:
        figures.append(("score-vs-budget", "score_vs_budget.png", "Score versus compute budget",
                        f"<b>Score vs compute budget</b> (top {len(best)}): IQM of z at each budget of the ladder "
                        "in agent CPU µs per world step (log axis; dashed line: β0; “∞”: the unlimited track), "
                        "with the 95% interval at β0. The area under each line, over the ladder, is the entry's "
                        "compute-AUC."
                        + (f" Dashed black: the reference entry {_html.escape(board.reference)}."
                           if board.reference in set(ranked["entry"]) else "")))
    if _plot_pareto(ranked, out / "pareto.png"):
        figures.append(("pareto", "pareto.png", "Pareto front of score versus CPU per step",
                        f"<b>Score vs CPU per step</b> (all {len(ranked)} ranked entries): Score@β0 against the "
                        "mean CPU microseconds per agent call at β0 (log axis). The Pareto front (no other entry "
                        "is both cheaper and better) is highlighted and labelled; hollow markers are unverified."))
    curves = _plot_curves(board, best, colours, out / "learning_curves.png")
    if curves:
        figures.append(("learning-curves", "learning_curves.png", "Learning curves per world",
                        f"<b>Learning curves</b> (top {len(best)} at β0): mean reward per step over the stream, "
                        "averaged over seeds, per world; grey: the oracle. Vertical lines: the change points of "
                        "the first seed (coloured by kind)."))
    rows = _plot_heatmap(board, ranked, out / "per_world.png")
    if rows:
        figures.append(("per-world", "per_world.png", "Per-world heatmap of mean z",
                        f"<b>Per world</b> (top {rows} of {len(ranked)}): mean z over seeds at β0 for each entry "
                        "and world. A row that is dark on one world only is a specialist."))
    return figures


def _new_figure(width: float, height: float, *, left: float = 0.8, right: float = 0.25, bottom: float = 0.6,
                top: float = 0.45, wspace: float | None = None, hspace: float | None = None) -> Any:
    """A figure (no pyplot: no global state) with fixed margins in inches (a layout engine would
    measure every text of the figure, which costs more than the drawing)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    figure.subplots_adjust(left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height,
                           wspace=wspace, hspace=hspace)
    return figure


def _save(figure: Any, path: Path) -> None:
    figure.savefig(path, pil_kwargs={"compress_level": 3})


def _label(name: Any, limit: int = 28) -> str:
    text = str(name)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _plot_budgets(board: Board, best: pd.DataFrame, colours: dict[str, Any], path: Path) -> bool:
    ladder = [(label, float(np.log2(float(label[1:])))) for label in
              sorted({c[4:] for c in board.frame.columns if c.startswith("iqm@x")}, key=lambda v: float(v[1:]))]
    if not ladder:
        return False
    beta0_us, uniform = _beta0_us(board.suite)
    xs = beta0_us * 2.0 ** np.array([k for _, k in ladder])  # CPU microseconds per step: the user's unit
    unlimited_x = xs.max() * 2.0**1.5
    has_unlimited = f"iqm@{UNLIMITED}" in board.frame
    figure = _new_figure(9.0, 4.8, right=2.2)
    ax = figure.add_subplot()
    shown = best
    reference = board.frame[(board.frame["entry"] == board.reference) & board.frame["complete"]]
    if board.reference and not reference.empty and board.reference not in set(best["entry"]):
        shown = pd.concat([best, reference])
    curve = shown[[f"iqm@{label}" for label, _ in ladder]].to_numpy(dtype=float)
    unlimited = shown[f"iqm@{UNLIMITED}"].to_numpy(dtype=float) if has_unlimited else None
    for i, row in enumerate(shown[["entry", "score", "ci_low", "ci_high"]].itertuples(index=False)):
        is_reference = row.entry == board.reference
        colour = "black" if is_reference else colours.get(row.entry, "grey")
        ax.plot(xs, curve[i], "--" if is_reference else "-", marker="o", markersize=3.5, color=colour,
                label=_label(row.entry), linewidth=1.4)
        if unlimited is not None:
            ax.plot([xs.max(), unlimited_x], [curve[i, -1], unlimited[i]], ":", color=colour, linewidth=1.0)
            ax.plot([unlimited_x], [unlimited[i]], marker="D", markersize=4, color=colour)
        ax.errorbar([beta0_us], [row.score], yerr=[[row.score - row.ci_low], [row.ci_high - row.score]],
                    color=colour, capsize=3, linewidth=1.0)
    ax.set_xscale("log")
    ticks = list(xs) + ([unlimited_x] if has_unlimited else [])
    ax.set_xticks(ticks, [_microseconds(x) for x in xs] + (["∞"] if has_unlimited else []), fontsize=7)
    ax.minorticks_off()
    ax.axvline(beta0_us, color="#777", linewidth=0.8, linestyle="--")
    ax.annotate("β0", (beta0_us, 1.0), xycoords=("data", "axes fraction"), xytext=(3, -10),
                textcoords="offset points", fontsize=8, color="#555")
    # Scale to the curves (an outlying interval, e.g. a random agent's, would flatten them all).
    values = np.concatenate([curve.ravel(), unlimited.ravel() if unlimited is not None else [], [0.0, 1.0]])
    values = values[np.isfinite(values)]
    low, high = float(values.min()), float(values.max())
    margin = 0.08 * (high - low or 1.0)
    ax.set_ylim(low - margin, high + margin)
    ax.set_xlabel("compute budget: agent CPU µs per world step (log axis)"
                  + ("" if uniform else "; β0 differs by world: the median β0 x 2^k"))
    ax.set_ylabel("IQM of z")
    ax.axhline(0.0, color="#999", linewidth=0.6)
    ax.axhline(1.0, color="#999", linewidth=0.6, linestyle=":")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    ax.set_title("Score vs compute budget")
    _save(figure, path)
    return True


def _beta0_us(suite_name: str | None) -> tuple[float, bool]:
    """The suite's beta0 in microseconds (the median over worlds) and whether every world has it."""
    from ceaseless.worlds.suites import get_suite

    try:
        betas = [1e6 * entry.beta0 for entry in get_suite(suite_name).entries] if suite_name else []
    except ValueError:
        betas = []
    if not betas:
        return 100.0, False
    return float(np.median(betas)), len(set(betas)) == 1


def _microseconds(value: float) -> str:
    return f"{value / 1000:g} ms" if value >= 1000 else f"{value:g}"


def _pareto_front(cost: np.ndarray, score: np.ndarray) -> np.ndarray:
    """Indices of the points no other point beats on both (lower cost and higher score), by cost."""
    order = np.lexsort((-score, cost))
    front, best = [], -np.inf
    for i in order:
        if score[i] > best:
            front.append(i)
            best = score[i]
    return np.array(front, dtype=int)


def _plot_pareto(ranked: pd.DataFrame, path: Path) -> bool:
    if "cpu_us_per_call" not in ranked:
        return False
    data = ranked[np.isfinite(ranked["cpu_us_per_call"].to_numpy(dtype=float))
                  & (ranked["cpu_us_per_call"].to_numpy(dtype=float) > 0)]
    if data.empty:
        return False
    cost = data["cpu_us_per_call"].to_numpy(dtype=float)
    score = data["score"].to_numpy(dtype=float)
    unverified = (data["status"] == "unverified").to_numpy()
    front = _pareto_front(cost, score)
    figure = _new_figure(8.0, 5.0, left=0.9)
    ax = figure.add_subplot()
    ax.scatter(cost[~unverified], score[~unverified], s=12, color="#9a9a9a", label="entry", zorder=2)
    if unverified.any():
        ax.scatter(cost[unverified], score[unverified], s=12, facecolors="none", edgecolors="#9a9a9a",
                   label="entry (unverified)", zorder=2)
    ax.step(cost[front], score[front], where="post", color="#d62728", linewidth=1.2, zorder=3)
    ax.scatter(cost[front], score[front], s=30, color="#d62728", label="Pareto front", zorder=4)
    names = data["entry"].to_numpy()
    for n, i in enumerate(front[-PARETO_LABELS:]):  # the best end of the front; alternate sides to limit overlap
        ax.annotate(_label(names[i], 20), (cost[i], score[i]), textcoords="offset points", fontsize=7,
                    xytext=(5, -9) if n % 2 else (-5, 3), ha="left" if n % 2 else "right")
    ax.set_xscale("log")
    ax.set_xlabel("CPU µs per agent call at β0 (log axis)")
    ax.set_ylabel("Score@β0 (IQM of z)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, loc="lower right")
    ax.set_title("Score vs CPU per step")
    _save(figure, path)
    return True


def _read_curves(board: Board, run_pks: Sequence[int]) -> tuple[dict[int, tuple[list, int, list]], dict]:
    """Curves (points, steps, change points) of ``run_pks`` and the oracle curves of their
    (world, seed), keyed ``(world_id, seed) -> (points, steps)``."""
    if board.store_path is None or not run_pks:
        return {}, {}
    connection = store.Store(board.store_path).connection
    curves: dict[int, tuple[list, int, list]] = {}
    oracle: dict[tuple[str, int], tuple[list, int]] = {}
    try:
        for start in range(0, len(run_pks), 500):
            chunk = [int(pk) for pk in run_pks[start:start + 500]]
            marks = ",".join("?" * len(chunk))
            for pk, points, change_points in connection.execute(
                    f"SELECT run_pk, points, change_points FROM curves WHERE run_pk IN ({marks})", chunk):
                data = json.loads(points)
                if isinstance(data, dict):
                    values, steps = data.get("points", []), int(data.get("steps", 0) or 0)
                else:
                    values, steps = data, 0
                curves[pk] = (values, steps or len(values), json.loads(change_points))
            for world_id, seed, steps, curve in connection.execute(
                    "SELECT refs.world_id, refs.seed, refs.steps, refs.curve_oracle FROM runs JOIN refs ON "
                    "refs.world_id = runs.world_id AND refs.config = runs.config AND refs.steps = runs.steps AND "
                    f"refs.seed = runs.seed WHERE runs.id IN ({marks})", chunk):
                if (world_id, seed) not in oracle:
                    oracle[world_id, seed] = (json.loads(curve or "[]"), int(steps))
    finally:
        connection.close()
    return curves, oracle


def _mean_curve(curves: Iterable[tuple[list, int]]) -> tuple[np.ndarray, np.ndarray] | None:
    """The mean over seeds of curves (points, steps), on the grid of the longest: (steps, values)."""
    curves = [(np.asarray(points, dtype=float), steps) for points, steps in curves if len(points)]
    if not curves:
        return None
    points, steps = max(curves, key=lambda c: len(c[0]))
    grid = (np.arange(len(points)) + 0.5) * steps / len(points)
    stack = [values if len(values) == len(points) else
             np.interp(grid, (np.arange(len(values)) + 0.5) * s / len(values), values) for values, s in curves]
    return grid, np.mean(stack, axis=0)


def _plot_curves(board: Board, best: pd.DataFrame, colours: dict[str, Any], path: Path) -> bool:
    runs = board.runs
    if "run_pk" not in runs:
        return False
    at = runs[(runs["budget"] == X1) & runs["entry"].isin(set(best["entry"])) & runs["world_id"].isin(board.worlds)]
    curves, oracle = _read_curves(board, at["run_pk"].astype(int).tolist())
    if not curves:
        return False
    worlds = board.worlds
    columns = 1 if len(worlds) == 1 else 2
    rows = -(-len(worlds) // columns)
    legend_rows = -(-(len(best) + 4) // 6)
    figure = _new_figure(6.0 * columns, 2.6 * rows + 0.35 + 0.2 * legend_rows, left=0.75, bottom=0.55,
                         top=0.45 + 0.2 * legend_rows, wspace=0.18, hspace=0.45)
    axes = figure.subplots(rows, columns, squeeze=False, sharex=True).ravel()
    kinds_seen: dict[str, Any] = {}
    from matplotlib import colormaps

    kind_palette = colormaps["Set2"]
    by_world = {world: group for world, group in at.groupby("world_id", sort=False)}
    for ax, world in zip(axes, worlds):
        group = by_world.get(world)
        if group is None:
            ax.set_visible(False)
            continue
        seeds = sorted(group["seed"].unique())
        mean_oracle = _mean_curve(oracle.get((world, s), ([], 0)) for s in seeds)
        if mean_oracle is not None:
            ax.plot(*mean_oracle, color="#888", linewidth=1.0, zorder=1)
        first_seed_change_points: list = []
        for entry in best["entry"]:
            mine = group[group["entry"] == entry]
            found = [curves[pk] for pk in mine["run_pk"].astype(int) if pk in curves]
            mean = _mean_curve((points, steps) for points, steps, _ in found)
            if mean is not None:
                ax.plot(*mean, color=colours[entry], linewidth=0.9, zorder=2)
            if not first_seed_change_points:
                first = mine[mine["seed"] == seeds[0]]["run_pk"].astype(int)
                for pk in first:
                    if pk in curves and curves[pk][2]:
                        first_seed_change_points = curves[pk][2]
        by_kind: dict[str, list[float]] = {}
        for point in first_seed_change_points:
            by_kind.setdefault(str(point.get("kind", "change")), []).append(float(point["step"]))
        for kind, steps in by_kind.items():
            colour = kinds_seen.setdefault(kind, kind_palette(len(kinds_seen) % kind_palette.N))
            ax.vlines(steps, 0, 1, transform=ax.get_xaxis_transform(), colors=[colour], linewidth=0.7,
                      alpha=0.7, linestyles="--", zorder=0)
        ax.set_title(world_name(world), fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.25)
    for ax in axes[len(worlds):]:
        ax.set_visible(False)
    for ax in axes[len(worlds) - columns:len(worlds)]:
        ax.set_xlabel("step", fontsize=8)
        ax.xaxis.set_tick_params(labelbottom=True)
    for ax in axes[::columns]:
        ax.set_ylabel("mean reward / step", fontsize=8)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=colours[e], label=_label(e)) for e in best["entry"]]
    handles.append(Line2D([], [], color="#888", label="oracle"))
    handles += [Line2D([], [], color=c, linestyle="--", label=f"change: {k}") for k, c in kinds_seen.items()]
    figure.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1.0), ncols=min(6, len(handles)),
                  fontsize=7, frameon=False)
    _save(figure, path)
    return True


def _plot_heatmap(board: Board, ranked: pd.DataFrame, path: Path) -> int:
    best = ranked.head(HEATMAP_ROWS)
    runs = board.runs[board.runs["entry"].isin(set(best["entry"])) & np.isfinite(board.runs["z"])]
    if runs.empty:
        return 0
    table = ranking.per_world(runs).reindex(index=list(best["entry"]),
                                            columns=[w for w in board.worlds if w in set(runs["world_id"])])
    if table.empty or table.shape[1] == 0:
        return 0
    values = table.to_numpy(dtype=float)
    labels = [f"{r}. {_label(e)}" for r, e in zip(best["rank"], table.index)]
    left = 0.3 + 0.065 * max(len(label) for label in labels)
    width = left + min(12.0, 1.5 + 0.8 * table.shape[1])
    figure = _new_figure(width, 1.5 + 0.22 * len(table), left=left, right=0.2, bottom=1.0, top=0.4)
    ax = figure.add_subplot()
    finite = values[np.isfinite(values)]
    low, high = (min(0.0, finite.min()), max(1.0, finite.max())) if finite.size else (0.0, 1.0)
    image = ax.imshow(values, aspect="auto", cmap="viridis", vmin=low, vmax=high, interpolation="nearest")
    ax.set_yticks(range(len(table)), labels, fontsize=7)
    ax.set_xticks(range(table.shape[1]), [world_name(w) for w in table.columns], fontsize=8, rotation=30, ha="right")
    if values.size <= ANNOTATED_CELLS:
        for (i, j), value in np.ndenumerate(values):
            if np.isfinite(value):
                ax.text(j, i, f"{value:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if value < low + 0.6 * (high - low) else "black")
    figure.colorbar(image, ax=ax, label="mean z at β0", fraction=0.04, pad=0.02)
    ax.set_title(f"Mean z per world (top {len(table)} of {len(ranked)})", fontsize=10)
    _save(figure, path)
    return len(table)
