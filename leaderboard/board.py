"""The board's rendering: a terminal table, GitHub Markdown, CSV and a static HTML page.

The usual entry point is :func:`publish`::

    from leaderboard.board import publish

    out = publish("board.sqlite", formats=("table", "html"), out_dir="site", reference="ppo")
    print(out["table"])             # the terminal table, as plain text
    out["html"]                     # Path of site/index.html (plots and board.csv next to it)
    out["board"]                    # the board DataFrame (one row per entry)

It loads the runs (:func:`leaderboard.store.load`), scores them (:func:`leaderboard.scoring.board`)
and renders each requested format. The steps are also available one by one:

- :func:`build` (from a store) or :func:`from_runs` (from a runs DataFrame) make a :class:`Board`:
  the scored entries in rank order, then the *incomplete* ones (entries missing some (world, seed)
  run at beta0, or whose runs have no reference: they cannot be compared fairly, so they are
  listed without a rank). Rejected submissions are left out.
- :func:`rich_table` (a ``rich.table.Table`` to print with colours), :func:`table_text` (the same
  as a string), :func:`markdown`, :func:`csv_text` and :func:`html` render a board.

Every format shows, per entry: rank, tier, entry, a marker (verified / unverified / baseline /
incomplete), Score@beta0 with its 95% interval, compute-AUC, the compute multiplier, P(improvement)
over the next entry down, CPU microseconds per agent call, the percentage of steps skipped and the
faults, all at beta0. A tier shared by several entries (their intervals overlap: their order is not
significant) is marked ``=`` after the tier number; the terminal table also draws a line between
tiers. The table always holds every entry; the HTML plots draw only the ``top`` entries where more
lines would be unreadable.

The plots of the HTML page live in :mod:`leaderboard.plots`; matplotlib is imported only when
:func:`html` draws them. Speed (``benchmarks/test_board_speed.py``): 1,000 entries x 10
worlds x 10 seeds x 7 budgets load, score and render (table and HTML) in about 9-10 s on one core,
of which :func:`leaderboard.store.load` takes about 6 s, scoring 0.7 s, the table 0.6 s and the
HTML page 1.5 s.
"""

from __future__ import annotations

import html as _html
import io
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from leaderboard import scoring, store

__all__ = ["FORMATS", "Board", "build", "csv_text", "from_runs", "html", "markdown", "publish", "rich_table",
           "table_text"]

FORMATS = ("table", "markdown", "csv", "html")
X1 = scoring.X1
DASH = "—"

COLUMNS = ("#", "Tier", "Entry", "Status", "Score@β0 [95% CI]", "Compute-AUC", "Multiplier", "P(>next)",
           "CPU µs/call", "Skipped", "Faults")

EXPLANATIONS = (
    ("z", "The normalised score of one run: (G − G<sub>fallback</sub>) / (G<sub>oracle</sub> − G<sub>fallback</sub>), "
          "where G is the mean reward per step over the whole stream on the same world and seed. 0 is no better "
          "than the world's fallback policy (what happens when the agent is absent or too slow), 1 is as good as "
          "the privileged oracle that reads the hidden state. It can go below 0 or above 1."),
    ("Score@β0", "The rank: the interquartile mean (IQM, the mean of the middle half) of z over every "
                 "(world, seed) run at the standard CPU budget β0, with a 95% stratified bootstrap interval "
                 "that resamples worlds as well as seeds."),
    ("Compute-AUC", "How good an agent is across budgets: the mean IQM of z over the budget ladder "
                    "β0/8 … 4β0 on a log<sub>2</sub> budget axis. “—” when some budget of the ladder is missing."),
    ("Multiplier", "How much more budget the reference entry needs to reach this entry's Score@β0, read off the "
                   "reference's score-vs-budget curve. Above 1: this entry does more with the same compute; below 1: "
                   "it is more compute-hungry than the reference. “n/a” without a reference entry; censored at the "
                   "ends of the ladder (“≤”, “&gt;”)."),
    ("P(&gt;next)", "The probability of improvement over the entry ranked just below: the chance that a run of this "
                    "entry beats a run of the next one on a randomly chosen world (0.5: no evidence either way)."),
    ("Tiers", "Entries whose 95% intervals overlap the tier leader's share a tier: their order within the tier is "
              "not significant. A shared tier is marked “=”."),
    ("Diagnostics", "CPU µs per agent call, the percentage of steps the agent skipped because it was over budget "
                    "(the fallback acted instead) and the number of faults (crashes, timeouts) over all runs, at β0. "
                    "They are not ranked."),
    ("Status", "verified: run by the Ceaseless harness, or re-run in part by <code>ceaseless verify</code> with "
               "matching results; unverified: results produced elsewhere and not (yet) re-run; baseline: a "
               "reference agent shipped with Ceaseless; incomplete: some runs at β0 are missing (or lack "
               "references), so the entry cannot be ranked."),
)


# ------------------------------------------------------------------------------------------------------------------
# The board
# ------------------------------------------------------------------------------------------------------------------


@dataclass
class Board:
    """A scored board, ready to render.

    ``frame`` has one row per entry: the columns of :func:`leaderboard.scoring.board` (NaN for
    incomplete entries), plus ``status`` (verified/unverified), ``kind`` (submission/baseline),
    ``complete`` (ranked or not), ``runs`` (runs with a defined z) and ``runs_expected`` (the
    (world, seed, budget) cells of the board), and ``suite``. Ranked entries come first, by rank.
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
          options: scoring.BoardOptions | None = None) -> Board:
    """Load the runs of ``store_path`` (only ``suite`` if given) and score them."""
    runs = store.load(store_path, suite=suite)
    return from_runs(runs, suite=suite, reference=reference, options=options, store_path=store_path)


def from_runs(runs: pd.DataFrame, *, suite: str | None = None, reference: str | None = None,
              options: scoring.BoardOptions | None = None, store_path: Path | str | None = None) -> Board:
    """Score a runs DataFrame (the columns of :func:`leaderboard.store.load`) into a :class:`Board`.

    Raises ValueError if the runs mix several suites and ``suite`` does not pick one (scores
    compare only within one suite version).
    """
    options = options or scoring.BoardOptions()
    if reference is not None:
        options = scoring.BoardOptions(reps=options.reps, confidence=options.confidence, seed=options.seed,
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
        runs = runs.assign(z=scoring.normalise(runs)) if len(runs) else runs.assign(z=np.float64(0.0))
    valid = np.isfinite(runs["z"].to_numpy(dtype=np.float64))
    if (~valid).any():
        # z is undefined without the (world, seed)'s fallback and oracle returns (e.g. a world
        # without an oracle): say which worlds lose runs, and whether entirely.
        lost = runs.loc[~valid, "world_id"].value_counts()
        total = runs["world_id"].value_counts()
        whole = [_short(w) for w in lost.index if lost[w] == total[w]]
        some = [f"{_short(w)} ({lost[w]} runs)" for w in lost.index if lost[w] < total[w]]
        if whole:
            notes.append(f"No reference (oracle) returns for {', '.join(sorted(whole))}: z is undefined there, so "
                         "the scores leave it out.")
        if some:
            notes.append(f"Runs without reference returns were left out: {', '.join(sorted(some))}.")
    scored_runs = runs if valid.all() else runs[valid]
    # Only entries with a full (world, seed) rectangle at beta0 are ranked. They are picked here
    # (scoring.board would drop the others at beta0 but trip over them at another budget).
    complete, _, worlds = scoring.rectangles(scored_runs, X1) if len(scored_runs) else ([], None, [])
    if not complete:
        worlds = list(scored_runs.loc[scored_runs["budget"] == X1, "world_id"].unique())
    ranked_runs = scored_runs
    if len(complete) < scored_runs["entry"].nunique():
        ranked_runs = scored_runs[scored_runs["entry"].isin(set(complete))]
    scored = scoring.board(ranked_runs, options) if complete else None
    if scored is None:
        scored = pd.DataFrame({"entry": pd.Series(dtype=object), "score": pd.Series(dtype=float),
                               "rank": pd.Series(dtype=float), "tier": pd.Series(dtype=float)})
        for column in ("ci_low", "ci_high", "compute_auc", "compute_multiplier", "p_improvement_next"):
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

    leading = ["rank", "tier", "entry", "status", "kind", "complete", "score", "ci_low", "ci_high"]
    frame = scored[leading + [c for c in scored.columns if c not in leading]].reset_index(drop=True)
    frame["rank"] = frame["rank"].astype("Int64")
    frame["tier"] = frame["tier"].astype("Int64")
    if reference is not None and reference not in set(frame.loc[frame["complete"], "entry"]):
        notes.append(f"The reference entry {reference!r} is not ranked on this board: compute multipliers are n/a.")
    seeds = int(frame["seeds"].dropna().iloc[0]) if "seeds" in frame and frame["seeds"].notna().any() else 0
    return Board(frame=frame, runs=runs, store_path=Path(store_path) if store_path else None, suite=suite,
                 reference=reference, worlds=worlds, seeds=seeds, notes=notes)


# ------------------------------------------------------------------------------------------------------------------
# Cells: the text of every column, shared by all formats
# ------------------------------------------------------------------------------------------------------------------


def _number(value: Any, spec: str = ".3f") -> str:
    if value is None or value is pd.NA:
        return DASH
    value = float(value)
    return DASH if math.isnan(value) else format(value, spec)


def _tier_sizes(frame: pd.DataFrame) -> dict[int, int]:
    tiers = frame["tier"].dropna()
    return {int(t): int(n) for t, n in tiers.value_counts().items()}


def _status(row: pd.Series) -> str:
    """The marker: verified / unverified / baseline (+ unverified) / incomplete (runs)."""
    parts = ["baseline"] if row["kind"] == "baseline" else []
    if row["status"] == "unverified" or not parts:
        parts.append(str(row["status"]))
    text = ", ".join(parts)
    if not row["complete"]:
        text += f", incomplete ({int(row['runs'])}/{int(row['runs_expected'])} runs)"
    return text


def _cells(board: Board) -> list[list[str]]:
    """Every row's cells, in the order of :data:`COLUMNS`."""
    sizes = _tier_sizes(board.frame)
    rows = []
    for _, row in board.frame.iterrows():
        ranked = bool(row["complete"])
        tier = int(row["tier"]) if ranked else None
        rows.append([
            str(int(row["rank"])) if ranked else DASH,
            (f"{tier}=" if sizes.get(tier, 0) > 1 else str(tier)) if ranked else DASH,
            str(row["entry"]),
            _status(row),
            f"{row['score']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]" if ranked else DASH,
            _number(row.get("compute_auc")),
            str(row["compute_multiplier_text"]) if ranked else DASH,
            _number(row.get("p_improvement_next"), ".2f"),
            _number(row.get("cpu_us_per_call"), ",.1f"),
            _number(100.0 * row["skipped_fraction"], ".1f") + "%" if _finite(row.get("skipped_fraction")) else DASH,
            _number(row.get("faults"), ".0f"),
        ])
    return rows


def _finite(value: Any) -> bool:
    try:
        return value is not None and math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _summary(board: Board) -> str:
    ranked, total = len(board.ranked), len(board.frame)
    parts = [f"suite {board.suite}" if board.suite else None,
             f"{ranked} ranked entr{'y' if ranked == 1 else 'ies'}" + (f" of {total}" if total != ranked else ""),
             f"{len(board.worlds)} world{'s' if len(board.worlds) != 1 else ''} x {board.seeds} "
             f"seed{'s' if board.seeds != 1 else ''} at β0" if ranked else None,
             f"multiplier vs {board.reference}" if board.reference else "no reference entry (multiplier n/a)"]
    return "; ".join(p for p in parts if p)


# ------------------------------------------------------------------------------------------------------------------
# Terminal, Markdown, CSV
# ------------------------------------------------------------------------------------------------------------------


def rich_table(board: Board) -> Any:
    """The board as a ``rich.table.Table`` (print it with ``rich.console.Console().print``)."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    table = Table(title=f"Ceaseless board: {_summary(board)}", box=box.HORIZONTALS, title_justify="left",
                  caption="\n".join(["Score@β0: IQM of normalised score z (0 = fallback, 1 = oracle) at budget β0, "
                                      "95% CI. Tier '=': shared tier (intervals overlap; order not significant).",
                                      *board.notes]),
                  caption_justify="left")
    rows = _cells(board)
    for i, name in enumerate(COLUMNS):
        # Widths fixed from the contents: rich then need not measure every cell (a third faster).
        width = max([len(name), *(len(cells[i]) for cells in rows)]) if rows else None
        if width is not None and name == "Entry":
            width = min(width, 40)
        table.add_column(name, justify="left" if name in ("Entry", "Status", "Tier") else "right",
                         no_wrap=name != "Entry", overflow="fold", width=width)
    tiers = board.frame["tier"].tolist()
    for index, (cells, row) in enumerate(zip(rows, board.frame.itertuples(index=False))):
        status_style = ("dim red" if not row.complete else "bold yellow" if row.status == "unverified"
                        else "cyan" if row.kind == "baseline" else "green")
        texts = [Text(c) for c in cells]
        texts[3].stylize(status_style)
        if row.complete and row.status == "unverified":
            texts[2].stylize("yellow")
        next_tier = tiers[index + 1] if index + 1 < len(tiers) else None
        end_section = bool(row.complete) and (next_tier is None or pd.isna(next_tier) or next_tier != row.tier)
        table.add_row(*texts, style="dim" if not row.complete else None, end_section=end_section)
    if board.frame.empty:
        table.add_row("", "", Text("no runs in the store", style="dim"), *[""] * (len(COLUMNS) - 3))
    return table


def table_text(board: Board, *, width: int = 180, color: bool = False) -> str:
    """The terminal table as a string (ANSI colours only if ``color``)."""
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, width=width, color_system="truecolor" if color else None,
                      force_terminal=color, legacy_windows=False, soft_wrap=False)
    console.print(rich_table(board))
    return "\n".join(line.rstrip() for line in buffer.getvalue().splitlines()) + "\n"


def _markdown_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def markdown(board: Board) -> str:
    """The table as GitHub Markdown, with a one-line summary above and the notes below."""
    lines = [f"**Ceaseless board**: {_summary(board)}.", "",
             "| " + " | ".join(COLUMNS) + " |",
             "|" + "|".join("---" if name in ("Entry", "Status", "Tier") else "---:" for name in COLUMNS) + "|"]
    for cells in _cells(board):
        cells = list(cells)
        if cells[3].startswith("unverified") or ", unverified" in cells[3]:
            cells[3] = f"**{cells[3]}**"
        lines.append("| " + " | ".join(_markdown_cell(c) for c in cells) + " |")
    lines += ["", "Score@β0: IQM of the normalised score z (0 = fallback, 1 = oracle) over every (world, seed) at "
                  "budget β0, with its 95% bootstrap interval. A tier marked `=` is shared: the entries' intervals "
                  "overlap and their order is not significant."]
    lines += [f"{note}" for note in board.notes]
    return "\n".join(lines) + "\n"


def csv_text(board: Board) -> str:
    """The board DataFrame as CSV (every column, full precision)."""
    return board.frame.to_csv(index=False)


# ------------------------------------------------------------------------------------------------------------------
# HTML and plots
# ------------------------------------------------------------------------------------------------------------------

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2em auto;max-width:1200px;
padding:0 1em;color:#222;line-height:1.45}
h1{margin-bottom:.2em}.summary{color:#555;margin-top:0}
table{border-collapse:collapse;font-size:.9em;width:100%}
th,td{padding:.25em .6em;border-bottom:1px solid #e4e4e4;white-space:nowrap}
th{background:#f3f3f3;position:sticky;top:0;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
tr.tier-odd td{background:#fafbff}tr.tier-end td{border-bottom:2px solid #9aa}
tr.incomplete td{color:#999}
.status-unverified{color:#a15c00;font-weight:bold}.status-baseline{color:#1d6f86}.status-verified{color:#2a7a2a}
.status-incomplete{color:#b22}
.tablewrap{max-height:80vh;overflow:auto;border:1px solid #ddd}
figure{margin:2em 0}figure img{max-width:100%;height:auto;border:1px solid #eee}
figcaption{color:#444;font-size:.95em}dl dt{font-weight:bold;margin-top:.6em}dl dd{margin-left:1.2em}
img.broken{outline:3px solid #d33}.notes{color:#a15c00}
"""

# Marks each image once it has loaded (data-loaded="yes"/"no") and filters the table by entry name.
_JS = """
window.addEventListener('load', function () {
  document.querySelectorAll('img').forEach(function (img) {
    var ok = img.complete && img.naturalWidth > 0;
    img.setAttribute('data-loaded', ok ? 'yes' : 'no');
    if (!ok) { img.classList.add('broken'); }
  });
  document.body.setAttribute('data-ready', 'yes');
});
function filterBoard(text) {
  text = text.toLowerCase();
  document.querySelectorAll('#board tbody tr').forEach(function (row) {
    row.style.display = row.getAttribute('data-entry').toLowerCase().indexOf(text) >= 0 ? '' : 'none';
  });
}
"""


def _diagnostics_table(board: Board) -> str:
    """The diagnostics of every ranked entry as an HTML table."""
    esc = _html.escape
    columns = (("recovery_steps", "Recovery (steps)", ".0f"), ("retention_gain_z", "Retention gain (z)", "+.3f"),
               ("plasticity_trend_z", "Plasticity trend (z)", "+.3f"), ("final_window_z", "Final-window z", ".3f"),
               ("skipped_fraction", "Skipped", ".1%"), ("peak_memory", "Peak memory (MB)", ".0f"),
               ("faults", "Faults", ".0f"))
    frame = board.frame
    head = "<th>Entry</th>" + "".join(f"<th>{esc(title)}</th>" for _, title, _ in columns)
    rows = []
    for _, row in frame.iterrows():
        cells = []
        for column, _, spec in columns:
            value = row.get(column)
            if column == "peak_memory" and _finite(value):
                value = value / 1e6
            cells.append(f'<td class="num">{esc(_number(value, spec))}</td>')
        rows.append(f"<tr><td>{esc(str(row['entry']))}</td>{''.join(cells)}</tr>")
    return f'<table id="diagnostics"><thead><tr>{head}</tr></thead><tbody>{"".join(rows)}</tbody></table>'


def html(board: Board, out_dir: Path | str, *, top: int = 10) -> Path:
    """Write ``out_dir/index.html`` with the table, the plots (PNG files next to it) and ``board.csv``.

    The page is self-contained (no CDN, no scripts but a few inline lines); images are linked
    relatively, so the directory can be moved or served as is. Returns the path of index.html.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "board.csv").write_text(csv_text(board))
    from leaderboard.plots import draw

    figures = draw(board, out, top=top)
    esc = _html.escape
    sizes = _tier_sizes(board.frame)
    rows = []
    tiers = board.frame["tier"].tolist()
    for index, (cells, row) in enumerate(zip(_cells(board), board.frame.itertuples(index=False))):
        classes = []
        if row.complete:
            classes.append("tier-odd" if int(row.tier) % 2 else "tier-even")
            next_tier = tiers[index + 1] if index + 1 < len(tiers) else None
            if next_tier is not None and not pd.isna(next_tier) and next_tier != row.tier:
                classes.append("tier-end")
            if sizes.get(int(row.tier), 0) > 1:
                classes.append("tied")
        else:
            classes.append("incomplete")
        status_class = ("incomplete" if not row.complete else "unverified" if row.status == "unverified"
                        else "baseline" if row.kind == "baseline" else "verified")
        tds = []
        for column, cell in zip(COLUMNS, cells):
            if column == "Status":
                tds.append(f'<td class="status status-{status_class}">{esc(cell)}</td>')
            elif column in ("Entry", "Tier"):
                tds.append(f"<td>{esc(cell)}</td>")
            else:
                tds.append(f'<td class="num">{esc(cell)}</td>')
        rows.append(f'<tr class="{" ".join(classes)}" data-entry="{esc(str(row.entry))}">{"".join(tds)}</tr>')
    header = "".join(f"<th>{esc(c)}</th>" for c in COLUMNS)
    explanations = "\n".join(f"<dt>{term}</dt><dd>{text}</dd>" for term, text in EXPLANATIONS)
    figure_html = "\n".join(
        f'<figure id="{esc(name)}"><img src="{esc(file)}" alt="{esc(alt)}"><figcaption>{caption}</figcaption></figure>'
        for name, file, alt, caption in figures)
    notes = "".join(f'<p class="notes">{esc(n)}</p>' for n in board.notes)
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Ceaseless board{esc(' — ' + board.suite) if board.suite else ''}</title>
<style>{_CSS}</style>
<script>{_JS}</script>
</head>
<body>
<h1>Ceaseless board</h1>
<p class="summary">{esc(_summary(board))}. Generated {esc(time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime()))}.
The data: <a href="board.csv">board.csv</a>.</p>
{notes}
<h2>Ranking</h2>
<p><label>Filter entries: <input type="search" oninput="filterBoard(this.value)"></label>
A tier marked “=” is shared: those entries' intervals overlap and their order is not significant.</p>
<div class="tablewrap">
<table id="board">
<thead><tr>{header}</tr></thead>
<tbody>
{chr(10).join(rows)}
</tbody>
</table>
</div>
<h2>Diagnostics (not ranked)</h2>
<p>At budget β0, over every world and seed: mean steps to recover the pre-change reward level after a
change point; retention gain (z early in a season's later visits minus its first visit); plasticity
trend (slope of the drop after a change against the time of the change, z per lifetime: positive when
adaptation slows down); final-window z (the last 10% of the stream); steps skipped; peak memory of
the agent process; faults.</p>
<div class="tablewrap">
{_diagnostics_table(board)}
</div>
<h2>What the numbers mean</h2>
<dl>
{explanations}
</dl>
<h2>Plots</h2>
{figure_html or '<p>No ranked entries: nothing to plot.</p>'}
</body>
</html>
"""
    path = out / "index.html"
    path.write_text(page, encoding="utf-8")
    return path


def _short(world_id: str) -> str:
    return str(world_id).split("/")[-1]


# ------------------------------------------------------------------------------------------------------------------
# publish
# ------------------------------------------------------------------------------------------------------------------


def publish(store_path: Path | str | None, *, out_dir: Path | str | None = None,
            formats: Sequence[str] = ("table",), suite: str | None = None, reference: str | None = None,
            top: int = 10, options: scoring.BoardOptions | None = None, width: int = 180) -> dict[str, Any]:
    """Load, score and render the board of ``store_path`` (None: the default store).

    ``formats`` (any of :data:`FORMATS`) selects the outputs; the result maps each to its
    rendering, plus:

    - ``"board"``: the board DataFrame (see :class:`Board`); ``"notes"``: remarks about it
      (rejected submissions left out, runs without references, a reference that is not ranked);
    - ``"printed"``: the texts a command line prints (the table; the Markdown when no ``out_dir``);
    - ``"files"``: the files written (board.md, board.csv, index.html).

    The renderings:

    - ``"table"``: the terminal table, plain text ``width`` columns wide (for colours, print
      ``rich_table(build(...))`` with a rich Console, or use ``table_text(..., color=True)``);
    - ``"markdown"``: the table as GitHub Markdown (also written to ``out_dir/board.md``);
    - ``"csv"``: the board DataFrame as CSV text (also written to ``out_dir/board.csv``);
    - ``"html"``: the Path of ``out_dir/index.html`` (needs ``out_dir``), with its plots and
      board.csv next to it.

    ``top`` is how many entries the per-entry plots draw; the tables always hold every entry.
    ``suite`` picks one suite of the store (required when it holds several); ``reference`` is the
    entry that defines the compute multiplier (none, or not ranked: "n/a"). Raises ValueError for
    an unknown format, html without ``out_dir``, or a store mixing suites without ``suite``.
    """
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        raise ValueError(f"unknown format(s) {unknown}; choose from {', '.join(FORMATS)}")
    if "html" in formats and out_dir is None:
        raise ValueError("the html format needs out_dir (the page and its images are files)")
    if top < 1:
        raise ValueError(f"top={top} must be at least 1")
    path = Path(store_path) if store_path is not None else store.default_path()
    board = build(path, suite=suite, reference=reference, options=options)
    out = Path(out_dir) if out_dir is not None else None
    result: dict[str, Any] = {"board": board.frame, "notes": board.notes, "printed": [], "files": []}

    def write(name: str, text: str) -> None:
        assert out is not None
        out.mkdir(parents=True, exist_ok=True)
        (out / name).write_text(text, encoding="utf-8")
        result["files"].append(out / name)

    if "table" in formats:
        result["table"] = table_text(board, width=width)
        result["printed"].append(result["table"])
    if "markdown" in formats:
        result["markdown"] = markdown(board)
        if out is None:
            result["printed"].append(result["markdown"])
        else:
            write("board.md", result["markdown"])
    if "csv" in formats:
        result["csv"] = csv_text(board)
        if out is not None:
            write("board.csv", result["csv"])
    if "html" in formats:
        result["html"] = html(board, out, top=top)
        result["files"].append(result["html"])
    return result
