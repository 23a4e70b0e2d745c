"""The board's rendering: a terminal table, GitHub Markdown, CSV and a static HTML page.

Each renderer takes a :class:`~ceaseless.leaderboard.board.table.Board`: :func:`rich_table` (a
``rich.table.Table`` to print with colours), :func:`table_text` (the same as a string),
:func:`markdown`, :func:`csv_text` and :func:`html`. The usual entry point, which loads a store and
renders several formats at once, is :func:`ceaseless.leaderboard.board.publish.publish`.

Every format shows, per entry: rank, tier, entry, a marker (verified / unverified / baseline /
incomplete), Score@beta0 with its 95% interval on the suite's worlds, the interval across worlds (a
robustness check), compute-AUC, the compute multiplier, P(>next) over the next entry down, CPU
microseconds per agent call, the percentage of steps skipped and the faults, all at beta0. A tier
shared by several entries (no paired difference from the tier's leader is significant: their order
is not established) is marked ``=`` after the tier number; the terminal table also draws a line
between tiers. The table always holds every entry; the HTML plots draw only the ``top`` entries
where more lines would be unreadable.

The plots of the HTML page live in :mod:`~ceaseless.leaderboard.board.plots`; matplotlib is
imported only when :func:`html` draws them. Speed (``benchmarks/test_board_speed.py``): 1,000
entries x 10 worlds x 10 seeds x 7 budgets load, score and render (table and HTML) in about 9 s
on one core, of which loading the store takes about 3.5 s, scoring 2.1 s (two bootstraps of 2,000
reps: worlds fixed for the ranking, worlds resampled for the across-worlds column; 0.8 s together,
the paired comparisons included), the table 0.6 s and the HTML page 1.7 s.
"""

from __future__ import annotations

import html as _html
import io
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd

from ceaseless.leaderboard.board.table import DASH, Board

__all__ = ["FORMATS", "csv_text", "html", "markdown", "rich_table",
           "table_text"]

FORMATS = ("table", "markdown", "csv", "html")

COLUMNS = ("#", "Tier", "Entry", "Status", "Score@β0 [95% CI]", "Across worlds [95%]", "Compute-AUC", "Multiplier",
           "P(>next)", "CPU µs/call", "Skipped", "Faults")

#: What a tier and P(>next) mean, in one sentence under every format's table.
_TIERS = ("A tier marked “=” is shared: no entry's paired difference from its tier's leader is significant "
          "(corrected for multiple comparisons). P(>next): how sure the board is that the score is above the next "
          "entry's.")

EXPLANATIONS = (
    ("z", "The normalised score of one run: (G − G<sub>fallback</sub>) / (G<sub>oracle</sub> − G<sub>fallback</sub>), "
          "where G is the mean reward per step over the whole stream on the same world and seed. 0 is no better "
          "than the world's fallback policy (what happens when the agent is absent or too slow), 1 is as good as "
          "the privileged oracle that reads the hidden state. It can go below 0 or above 1."),
    ("Score@β0", "The rank: the interquartile mean (IQM, the mean of the middle half) of z over every "
                 "(world, seed) run at the standard CPU budget β0. Its 95% interval keeps the suite's worlds as "
                 "they are and resamples the seeds within each world (stratified bootstrap), with the standard "
                 "error corrected for few seeds (× √(n/(n−1)), Student's t). The IQM drops the best and worst "
                 "quarter of runs, so a world holding less than a quarter of them (one of seven) cannot decide it, "
                 "however extreme its z."),
    ("Across worlds", "A robustness check, not the ranking interval: the 95% bootstrap interval when the worlds are "
                      "resampled too. It answers “would the score hold on another set of worlds like these?”, a "
                      "question about the suite rather than the entry; it is wide when worlds differ a lot (a "
                      "resample may hold one extreme world twice)."),
    ("Compute-AUC", "How good an agent is across budgets: the mean IQM of z over the budget ladder "
                    "β0/8 … 4β0 on a log<sub>2</sub> budget axis. “—” when some budget of the ladder is missing."),
    ("Multiplier", "How much more budget the reference entry needs to reach this entry's Score@β0, read off the "
                   "reference's score-vs-budget curve. Above 1: this entry does more with the same compute; below 1: "
                   "it is more compute-hungry than the reference. “n/a” without a reference entry; censored at the "
                   "ends of the ladder (“≤”, “&gt;”)."),
    ("P(&gt;next)", "How sure the board is that this entry's Score@β0 is above the next one's, on these worlds: "
                    "from the paired difference of the two scores, both entries' seeds resampled together within "
                    "each world (0.5: no evidence either way; 1: certain). One comparison, not corrected for the "
                    "others."),
    ("Tiers", "Walking down the ranking, each entry is compared with its tier's leader; it starts a new tier when "
              "the interval of their paired difference excludes 0. Those intervals are corrected for multiple "
              "comparisons (Bonferroni over every pair of entries, since the pairs are chosen by the ranking "
              "itself), so the chance that any tier boundary on the board is spurious is at most 5%. Entries "
              "of one tier are not told apart; a shared tier is marked “=”."),
    ("Diagnostics", "CPU µs per agent call, the percentage of steps the agent skipped because it was over budget "
                    "(the fallback acted instead) and the number of faults (crashes, timeouts) over all runs, at β0. "
                    "They are not ranked."),
    ("Status", "verified: run by the Ceaseless harness, or re-run in part by <code>ceaseless verify</code> with "
               "matching results; unverified: results produced elsewhere and not (yet) re-run; baseline: a "
               "reference agent shipped with Ceaseless; incomplete: some runs at β0 are missing (or lack "
               "references), so the entry cannot be ranked."),
)


# ------------------------------------------------------------------------------------------------------------------
# Cells: the text of every column, shared by all formats
# ------------------------------------------------------------------------------------------------------------------


def _number(value: Any, spec: str = ".3f") -> str:
    if value is None or value is pd.NA:
        return DASH
    value = float(value)
    return DASH if math.isnan(value) else format(value, spec)


def _interval(low: Any, high: Any) -> str:
    """``[low, high]``, or a dash when there is no interval (one seed per world)."""
    return f"[{_number(low)}, {_number(high)}]" if _finite(low) and _finite(high) else DASH


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
            f"{row['score']:.3f} {_interval(row['ci_low'], row['ci_high'])}" if ranked else DASH,
            _interval(row.get("ci_worlds_low"), row.get("ci_worlds_high")) if ranked else DASH,
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
                  caption="\n".join(["Score@β0: IQM of normalised score z (0 = fallback, 1 = oracle) at budget β0; "
                                      "95% CI on these worlds (seeds resampled); across worlds: worlds resampled too.",
                                      _TIERS, *board.notes]),
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
                  "budget β0, with its 95% interval on these worlds (seeds resampled within each world); “Across "
                  f"worlds” resamples the worlds too, as a robustness check. {_TIERS}"]
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
    from ceaseless.leaderboard.board.plots import draw

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
{esc(_TIERS)}</p>
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
