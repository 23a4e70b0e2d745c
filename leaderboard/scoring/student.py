"""Student's t distribution for whole degrees of freedom: its CDF and quantiles, without scipy.

The board's paired comparisons refer a bootstrap standard error to t with ``worlds * (seeds - 1)``
degrees of freedom (:mod:`~ceaseless.leaderboard.scoring.comparisons`), so only whole degrees of
freedom are needed. For those the CDF has a closed form, a finite series in ``cos(theta)`` with
``theta = arctan(|t| / sqrt(df))`` (Abramowitz and Stegun 26.7.3-4); quantiles invert it by
bisection on ``theta``. Both are exact to rounding, far into the tails (the Bonferroni levels of a
board of a thousand entries, about 1e-7).
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

__all__ = ["t_cdf", "t_quantile"]


def _check_df(df: int) -> int:
    if isinstance(df, bool) or not isinstance(df, int | np.integer) or df < 1:
        raise ValueError(f"degrees of freedom must be a positive integer; got {df!r}")
    return int(df)


def _two_sided(theta: np.ndarray, df: int) -> np.ndarray:
    """``P(|T| <= sqrt(df) tan(theta))`` for ``theta`` in [0, pi/2]."""
    sin, cos2 = np.sin(theta), np.cos(theta) ** 2
    if df % 2 == 0:  # sin(theta) * (1 + 1/2 cos^2 + 1*3/(2*4) cos^4 + ... up to cos^(df-2))
        term, total = np.ones_like(theta), np.ones_like(theta)
        for k in range(1, df // 2):
            term = term * cos2 * (2 * k - 1) / (2 * k)
            total = total + term
        return np.clip(sin * total, 0.0, 1.0)
    # Odd: 2/pi * (theta + sin(theta) * (cos + 2/3 cos^3 + 2*4/(3*5) cos^5 + ... up to cos^(df-2))).
    if df == 1:
        return np.clip(2.0 * theta / math.pi, 0.0, 1.0)
    cos = np.sqrt(cos2)
    term, total = cos, cos
    for k in range(1, (df - 1) // 2):
        term = term * cos2 * (2 * k) / (2 * k + 1)
        total = total + term
    return np.clip(2.0 / math.pi * (theta + sin * total), 0.0, 1.0)


def t_cdf(t: npt.ArrayLike, df: int) -> float | np.ndarray:
    """``P(T <= t)`` for Student's t with ``df`` (a positive integer) degrees of freedom.

    ``t`` may be an array; infinities give 0 and 1. Raises ValueError for NaN or a bad ``df``.
    """
    df = _check_df(df)
    x = np.asarray(t, dtype=float)
    if np.isnan(x).any():
        raise ValueError("t_cdf: t contains NaN")
    theta = np.arctan(np.abs(x) / math.sqrt(df))
    out = 0.5 + np.sign(x) * 0.5 * _two_sided(theta, df)
    return float(out) if out.ndim == 0 else out


def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom: ``t`` with ``P(T <= t) = p``.

    ``p`` must lie strictly between 0 and 1. Bisection on ``theta`` in (0, pi/2) to machine
    precision (at most 200 halvings of the bracket).
    """
    df = _check_df(df)
    if not 0.0 < p < 1.0:
        raise ValueError(f"t_quantile: p must lie strictly between 0 and 1; got {p!r}")
    if p == 0.5:
        return 0.0
    target = abs(2.0 * p - 1.0)  # P(|T| <= t) for the upper quantile
    low, high = 0.0, math.pi / 2
    for _ in range(200):
        middle = 0.5 * (low + high)
        if middle in (low, high):
            break
        if float(_two_sided(np.asarray(middle), df)) < target:
            low = middle
        else:
            high = middle
    t = math.sqrt(df) * math.tan(0.5 * (low + high))
    return t if p > 0.5 else -t
