"""Rendering shared by every world: palette, grids of cells and bar charts as uint8 RGB arrays.

Everything is array work (``np.repeat`` of a small code grid), no drawing library needed.
"""

from __future__ import annotations

import numpy as np

# 16 distinguishable colours (item appearances, regimes...), then fixed UI colours.
PALETTE = np.array(
    [
        [230, 25, 75], [60, 180, 75], [255, 225, 25], [0, 130, 200], [245, 130, 48],
        [145, 30, 180], [70, 240, 240], [240, 50, 230], [210, 245, 60], [250, 190, 212],
        [0, 128, 128], [220, 190, 255], [170, 110, 40], [255, 250, 200], [128, 0, 0],
        [170, 255, 195],
    ],
    dtype=np.uint8,
)
BACKGROUND = np.array([24, 24, 28], dtype=np.uint8)
UNKNOWN = np.array([60, 60, 66], dtype=np.uint8)
WALL = np.array([120, 120, 128], dtype=np.uint8)
AGENT = np.array([255, 255, 255], dtype=np.uint8)
GOAL = np.array([255, 215, 0], dtype=np.uint8)


def grid_image(codes: np.ndarray, colours: np.ndarray, cell: int = 12) -> np.ndarray:
    """``(H*cell, W*cell, 3)`` image of a grid of colour codes (indices into ``colours``)."""
    pixels = colours[codes]
    return np.repeat(np.repeat(pixels, cell, axis=0), cell, axis=1)


def outline(image: np.ndarray, top: int, left: int, bottom: int, right: int, colour, width: int = 1) -> None:
    """Draw a rectangle outline in place (pixel coordinates, ``bottom``/``right`` exclusive)."""
    image[top : top + width, left:right] = colour
    image[bottom - width : bottom, left:right] = colour
    image[top:bottom, left : left + width] = colour
    image[top:bottom, right - width : right] = colour


def bar_image(values: np.ndarray, low: float, high: float, best: int | None = None,
              chosen: int | None = None, height: int = 96, bar: int = 16) -> np.ndarray:
    """Vertical bars of ``values`` around zero; ``best`` is drawn gold, ``chosen`` outlined."""
    values = np.asarray(values, dtype=np.float64)
    image = np.empty((height, bar * len(values), 3), dtype=np.uint8)
    image[:] = BACKGROUND
    rows = np.arange(height)[:, None]
    zero = round(high / (high - low) * (height - 1))
    level = np.round((high - np.clip(values, low, high)) / (high - low) * (height - 1)).astype(int)
    filled = (rows >= np.minimum(level, zero)) & (rows <= np.maximum(level, zero))  # (height, n)
    columns = np.repeat(filled, bar, axis=1)
    colour = np.repeat(np.where(values >= 0, 1, 0), bar)  # green up, red down
    image[columns] = PALETTE[colour[np.nonzero(columns)[1]]]
    image[zero, :] = UNKNOWN
    if best is not None:
        image[:, best * bar : (best + 1) * bar][columns[:, best * bar : (best + 1) * bar]] = GOAL
    if chosen is not None:
        outline(image, 0, chosen * bar, height, (chosen + 1) * bar, AGENT)
    return image
