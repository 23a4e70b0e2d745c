"""The board's front door: load a store, score it and render it in the formats asked for.

    from ceaseless.leaderboard.board.publish import publish

    out = publish("board.sqlite", formats=("table", "html"), out_dir="site", reference="ppo")
    print(out["table"])             # the terminal table, as plain text
    out["html"]                     # Path of site/index.html (plots and board.csv next to it)
    out["board"]                    # the board DataFrame (one row per entry)

It builds the board (:func:`ceaseless.leaderboard.board.table.build`), optionally beside the shipped
baselines (:mod:`ceaseless.leaderboard.board.shipped`), and renders each format with
:mod:`ceaseless.leaderboard.board.render`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ceaseless.leaderboard.board import store
from ceaseless.leaderboard.board.render import FORMATS, csv_text, html, markdown, table_text
from ceaseless.leaderboard.board.shipped import board_source
from ceaseless.leaderboard.board.table import Board, build
from ceaseless.leaderboard.scoring import ranking

__all__ = ["publish"]


def publish(store_path: Path | str | None, *, out_dir: Path | str | None = None,
            formats: Sequence[str] = ("table",), suite: str | None = None, reference: str | None = None,
            top: int = 10, options: ranking.BoardOptions | None = None, width: int = 180,
            baselines: bool = False) -> dict[str, Any]:
    """Load, score and render the board of ``store_path`` (None: the default store).

    With ``baselines`` the shipped baselines' committed results on the suite are shown beside the
    store's entries, or alone when the store has none (see
    :func:`ceaseless.leaderboard.board.shipped.board_source`).

    ``formats`` (any of :data:`FORMATS`) selects the outputs; the result maps each to its
    rendering, plus:

    - ``"board"``: the board DataFrame (see :class:`Board`); ``"notes"``: remarks about it
      (rejected submissions left out, runs without references, a reference that is not ranked);
    - ``"printed"``: the texts a command line prints (the table; the Markdown and CSV when no
      ``out_dir``);
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
    with board_source(path, suite, baselines) as (source, suite, notes):
        board = build(source, suite=suite, reference=reference, options=options)
        board.notes[:0] = notes
        return _render(board, formats, out_dir, top, width)


def _render(board: Board, formats: Sequence[str], out_dir: Path | str | None, top: int, width: int) -> dict[str, Any]:
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
    for name, render, filename in (("markdown", markdown, "board.md"), ("csv", csv_text, "board.csv")):
        if name in formats:  # printed without out_dir, written into it with one
            result[name] = render(board)
            if out is None:
                result["printed"].append(result[name])
            else:
                write(filename, result[name])
    if "html" in formats:
        result["html"] = html(board, out, top=top)
        result["files"].append(result["html"])
    return result
