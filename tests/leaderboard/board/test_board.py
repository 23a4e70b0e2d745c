"""The board's rendering: terminal table, Markdown, CSV and the HTML page (also in a real browser)."""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ceaseless.leaderboard.board import plots, render, table
from ceaseless.leaderboard.board.publish import publish
from ceaseless.leaderboard.scoring.ranking import BoardOptions
from tests.leaderboard.boardfixtures import EntrySpec, build_store

WORLDS = ("Bandit", "Forager", "Maze")
ENTRIES = (
    EntrySpec("alpha", 0.9, cpu_us=200.0),
    EntrySpec("bravo", 0.6, status="unverified", cpu_us=20.0),
    EntrySpec("charlie", 0.61, cpu_us=80.0),
    EntrySpec("gappy", 0.45, cpu_us=30.0),  # a missing x2 run: ranked, but no compute-AUC
    EntrySpec("ppo", 0.3, kind="baseline", cpu_us=10.0, faults=1),
    EntrySpec("partial", 0.5),  # a missing run at beta0: incomplete, not ranked
    EntrySpec("cheater", 0.99, status="rejected"),
)
OMIT = [("partial", "Maze", 2, "x1"), ("gappy", "Forager", 1, "x2")]
OPTIONS = BoardOptions(reps=500)


@pytest.fixture(scope="module")
def store_path(tmp_path_factory) -> Path:
    return build_store(tmp_path_factory.mktemp("board") / "board.sqlite", ENTRIES, worlds=WORLDS, omit=OMIT)


@pytest.fixture(scope="module")
def published(store_path, tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("site")
    result = publish(store_path, out_dir=out, formats=render.FORMATS, reference="ppo", options=OPTIONS)
    result["out"] = out
    return result


def _row(table: str, entry: str) -> str:
    lines = [line for line in table.splitlines() if re.search(rf"\s{re.escape(entry)}\s", line)]
    assert len(lines) == 1, (entry, lines)
    return lines[0]


# -- the board DataFrame --------------------------------------------------------------------------------------------
def test_frame_ranks_complete_entries_and_lists_incomplete_ones_last(published):
    frame = published["board"]
    assert list(frame["entry"]) == ["alpha", "charlie", "bravo", "gappy", "ppo", "partial"] or \
        list(frame["entry"]) == ["alpha", "bravo", "charlie", "gappy", "ppo", "partial"]
    assert "cheater" not in set(frame["entry"])  # rejected submissions are not shown
    assert any("rejected" in note for note in published["notes"])
    ranked = frame[frame["complete"]]
    assert list(ranked["rank"]) == [1, 2, 3, 4, 5]
    assert (np.diff(ranked["score"].to_numpy()) <= 0).all()
    partial = frame.set_index("entry").loc["partial"]
    assert not partial["complete"] and pd.isna(partial["rank"]) and np.isnan(partial["score"])
    assert partial["runs"] == partial["runs_expected"] - 1
    gappy = frame.set_index("entry").loc["gappy"]
    assert gappy["complete"] and np.isnan(gappy["compute_auc"])
    assert frame.set_index("entry").loc["ppo", "compute_multiplier_text"] == "1.00x"
    assert set(frame["status"]) == {"verified", "unverified"}
    assert frame.set_index("entry").loc["ppo", "kind"] == "baseline"


# -- the terminal table ---------------------------------------------------------------------------------------------
def test_table_shows_every_column_in_rank_order(published):
    table = published["table"]
    for heading in ("#", "Tier", "Entry", "Status", "Score@β0 [95% CI]", "Across worlds [95%]", "Compute-AUC",
                    "Multiplier", "P(>next)", "CPU µs/call", "Skipped", "Faults"):
        assert heading in table
    lines = table.splitlines()
    positions = [lines.index(_row(table, name)) for name in ("alpha", "bravo", "gappy", "ppo", "partial")]
    assert positions == sorted(positions)
    alpha = _row(table, "alpha")
    frame = published["board"].set_index("entry")
    assert f"{frame.loc['alpha', 'score']:.3f} [{frame.loc['alpha', 'ci_low']:.3f}, " in alpha
    assert f"[{frame.loc['alpha', 'ci_worlds_low']:.3f}, {frame.loc['alpha', 'ci_worlds_high']:.3f}]" in alpha
    assert "200.0" in alpha and "1.0%" in alpha
    assert "\x1b[" not in table  # plain text unless colours are asked for


def test_markers_unverified_baseline_incomplete(published):
    table = published["table"]
    assert "unverified" in _row(table, "bravo")
    assert "unverified" not in _row(table, "charlie") and "verified" in _row(table, "charlie")
    assert "baseline" in _row(table, "ppo")
    assert "9" in _row(table, "ppo").split()[-1]  # faults: 1 per run, 3 worlds x 3 seeds at beta0
    partial = _row(table, "partial")
    assert "incomplete (62/63 runs)" in partial
    assert partial.split()[0] == "—"  # no rank


def test_ties_are_visible(published):
    frame = published["board"].set_index("entry")
    # bravo (0.60) and charlie (0.61) cannot be told apart (their paired difference is not
    # significant): they share a tier, marked "=".
    assert frame.loc["bravo", "tier"] == frame.loc["charlie", "tier"] == 2
    assert frame.loc["alpha", "tier"] == 1
    table = published["table"]
    for entry in ("bravo", "charlie"):
        assert _row(table, entry).split()[1] == "2="
    assert _row(table, "alpha").split()[1] == "1"
    assert "|  2=  |" not in published["markdown"]  # markdown cells are single-spaced
    assert "| 2= | bravo |" in published["markdown"] and "| 2= | charlie |" in published["markdown"]


def test_table_in_colour_and_as_a_rich_renderable(store_path):
    result = table.build(store_path, options=OPTIONS)
    coloured = render.table_text(result, color=True)
    assert "\x1b[" in coloured
    from rich.console import Console

    console = Console(file=io.StringIO(), width=200, color_system=None)
    console.print(render.rich_table(result))
    assert "alpha" in console.file.getvalue()


# -- reference, single entry, empty and incomplete boards --------------------------------------------------------------
def test_no_reference_entry_gives_na_multipliers(store_path):
    result = publish(store_path, formats=("table", "markdown"), options=OPTIONS)
    ranked = result["board"][result["board"]["complete"]]
    assert (ranked["compute_multiplier_text"] == "n/a").all()
    assert "n/a" in _row(result["table"], "alpha")
    assert "no reference entry" in result["markdown"]


def test_a_reference_that_is_not_ranked_is_noted(store_path):
    result = publish(store_path, reference="partial", options=OPTIONS)
    assert any("partial" in note and "n/a" in note for note in result["notes"])


def test_single_entry(tmp_path):
    path = build_store(tmp_path / "one.sqlite", [EntrySpec("solo", 0.5)], worlds=("Bandit",), seeds=(0, 1, 2))
    result = publish(path, out_dir=tmp_path / "site", formats=render.FORMATS, reference="solo", options=OPTIONS)
    row = _row(result["table"], "solo")
    assert row.split()[:2] == ["1", "1"]  # a tier of one: no "="
    assert "1.00x" in row and "—" in row  # its own reference; nobody below it
    assert (tmp_path / "site" / "index.html").exists()
    assert len(pd.read_csv(io.StringIO(result["csv"]))) == 1


def test_one_seed_per_world_tells_nobody_apart(tmp_path):
    path = build_store(tmp_path / "one_seed.sqlite", [EntrySpec("a", 0.9), EntrySpec("b", 0.1)],
                       worlds=("Bandit", "Maze"), seeds=(0,))
    result = publish(path, formats=("table",), options=OPTIONS)
    ranked = result["board"]
    assert ranked["tier"].tolist() == [1, 1] and ranked["ci_low"].isna().all()
    assert ranked["ci_worlds_low"].notna().all()  # worlds can still be resampled
    assert any("One seed per world" in note for note in result["notes"])
    assert _row(result["table"], "a").split()[:2] == ["1", "1="]


def test_only_incomplete_entries(tmp_path):
    path = build_store(tmp_path / "holes.sqlite", [EntrySpec("a", 0.5), EntrySpec("b", 0.4)], worlds=("Bandit",),
                       omit=[("a", "Bandit", 0, "x1"), ("b", "Bandit", 1, "x1")])
    result = publish(path, out_dir=tmp_path / "site", formats=render.FORMATS, options=OPTIONS)
    assert not result["board"]["complete"].any()
    assert "incomplete" in _row(result["table"], "a") and "incomplete" in _row(result["table"], "b")
    page = (tmp_path / "site" / "index.html").read_text()
    assert "No ranked entries" in page and "<img" not in page


def test_empty_store(tmp_path):
    from ceaseless.leaderboard.board.store import Store

    Store(tmp_path / "empty.sqlite").close()
    result = publish(tmp_path / "empty.sqlite", formats=("table", "markdown", "csv"))
    assert result["board"].empty
    assert "no runs in the store" in result["table"]


def test_a_world_without_oracle_is_left_out_with_a_note(tmp_path):
    # Like Commons-v0: the store has no oracle return for it, so z is undefined there.
    path = build_store(tmp_path / "no_oracle.sqlite", [EntrySpec("a", 0.5), EntrySpec("b", 0.3)],
                       worlds=("Bandit", "Commons"), oracle_worlds=("Bandit",))
    result = publish(path, out_dir=tmp_path / "site", formats=("table", "html"), options=OPTIONS)
    assert result["board"]["complete"].all() and (result["board"]["worlds"] == 1).all()
    assert any("Commons-v0" in note for note in result["notes"])
    assert "Commons-v0" in result["table"]
    assert (tmp_path / "site" / "learning_curves.png").exists()


def test_several_suites_need_a_choice(tmp_path):
    path = build_store(tmp_path / "two.sqlite", [EntrySpec("a", 0.5), EntrySpec("b", 0.4, suite="full-v1")],
                       worlds=("Bandit",))
    with pytest.raises(ValueError, match="several suites"):
        publish(path)
    result = publish(path, suite="full-v1", options=OPTIONS)
    assert list(result["board"]["entry"]) == ["b"]


def test_publish_lists_what_to_print_and_the_files_written(published, store_path):
    out = published["out"]
    assert published["printed"] == [published["table"]]
    assert published["files"] == [out / "board.md", out / "board.csv", out / "index.html"]
    alone = publish(store_path, formats=("table", "markdown"), options=OPTIONS)
    assert alone["printed"] == [alone["table"], alone["markdown"]] and alone["files"] == []


def test_publish_checks_its_arguments(store_path):
    with pytest.raises(ValueError, match="unknown format"):
        publish(store_path, formats=("pdf",))
    with pytest.raises(ValueError, match="out_dir"):
        publish(store_path, formats=("html",))


# -- Markdown and CSV -----------------------------------------------------------------------------------------------
def test_markdown_is_a_well_formed_table(published):
    text = published["markdown"]
    rows = [line for line in text.splitlines() if line.startswith("|")]
    assert len(rows) == 2 + 6  # header, separator, six entries
    widths = {len(re.split(r"(?<!\\)\|", row)) for row in rows}
    assert widths == {len(render.COLUMNS) + 2}
    assert rows[1].startswith("|---:|---|---|---|---:|")
    assert "**unverified**" in next(row for row in rows if "| bravo |" in row)
    assert (published["out"] / "board.md").read_text() == text


def test_markdown_escapes_pipes(tmp_path):
    path = build_store(tmp_path / "pipe.sqlite", [EntrySpec("a|b", 0.5)], worlds=("Bandit",))
    text = publish(path, formats=("markdown",), options=OPTIONS)["markdown"]
    assert "| a\\|b |" in text


def test_csv_is_the_board_frame(published):
    frame = pd.read_csv(io.StringIO(published["csv"]))
    assert list(frame["entry"]) == list(published["board"]["entry"])
    for column in ("rank", "tier", "score", "ci_low", "ci_high", "ci_worlds_low", "ci_worlds_high", "compute_auc",
                   "compute_multiplier", "p_improvement_next", "diff_next", "diff_next_low", "diff_next_high",
                   "compared_with", "diff_leader", "diff_leader_low", "diff_leader_high", "cpu_us_per_call",
                   "skipped_fraction", "faults", "status", "kind", "complete", "iqm@x0.125", "iqm@x4",
                   "iqm@unlimited"):
        assert column in frame, column
    assert (published["out"] / "board.csv").exists()


# -- HTML -----------------------------------------------------------------------------------------------------------
PLOTS = ("score_vs_budget.png", "pareto.png", "learning_curves.png", "per_world.png")


def test_html_page_and_plots_are_written(published):
    out = published["out"]
    assert published["html"] == out / "index.html"
    page = (out / "index.html").read_text()
    for name in PLOTS:
        assert (out / name).stat().st_size > 1000, name
        assert f'src="{name}"' in page  # relative links
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # Self-contained: no external scripts, styles or fonts.
    assert "<script src" not in page and "<link" not in page and "http://" not in page and "https://" not in page
    for term in ("Score@β0", "Across worlds", "Compute-AUC", "Multiplier", "P(&gt;next)", "Tiers"):
        assert f"<dt>{term}</dt>" in page
    assert page.count('<tr class="') == 6
    # The diagnostics table: one row per entry, reward-valued columns normalised like z.
    diagnostics = page[page.index('<table id="diagnostics">'):]
    diagnostics = diagnostics[: diagnostics.index("</table>")]
    assert "Final-window z" in diagnostics and "Retention gain (z)" in diagnostics
    assert diagnostics.count("<tr><td>") == published["board"].shape[0]


def test_pareto_front():
    cost = np.array([10.0, 20.0, 5.0, 40.0, 20.0])
    score = np.array([0.5, 0.4, 0.2, 0.9, 0.6])
    assert list(plots._pareto_front(cost, score)) == [2, 0, 4, 3]


# -- a real browser ---------------------------------------------------------------------------------------------------
class _Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str | None]] = []
        self.rows = 0
        self.in_board = False
        self.body: dict[str, str | None] = {}

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag == "img":
            self.images.append(attributes)
        elif tag == "table" and attributes.get("id") == "board":
            self.in_board = True
        elif tag == "tr" and self.in_board and "data-entry" in attributes:
            self.rows += 1
        elif tag == "body":
            self.body = attributes

    def handle_endtag(self, tag):
        if tag == "table":
            self.in_board = False


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def test_page_renders_in_a_real_browser(published, tmp_path):
    binary = _chromium()
    if binary is None:
        if os.environ.get("CEASELESS_REQUIRE_BROWSER") == "1":
            pytest.fail("CEASELESS_REQUIRE_BROWSER=1 but neither chromium nor chromium-browser is on PATH")
        pytest.skip("no chromium or chromium-browser on PATH (apt-get install chromium); "
                    "set CEASELESS_REQUIRE_BROWSER=1 to make this a failure")
    page = published["out"] / "index.html"
    command = [binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage",
               f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000", "--dump-dom",
               page.resolve().as_uri()]
    done = subprocess.run(command, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    dom = _Dom()
    dom.feed(done.stdout)
    assert dom.body.get("data-ready") == "yes", "the page's load handler did not run"
    assert dom.rows == 6
    assert sorted(image["src"] for image in dom.images) == sorted(PLOTS)
    broken = [image["src"] for image in dom.images if image.get("data-loaded") != "yes"]
    assert not broken, f"images that did not load: {broken}"
