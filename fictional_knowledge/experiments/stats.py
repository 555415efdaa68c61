"""Statistics of the experiments: percentile-bootstrap intervals, paired differences and a
vectorised Spearman correlation (for bootstrapping it)."""

from __future__ import annotations

import math
from typing import Any, Callable, Optional

import numpy as np


def _resample_stat(values: np.ndarray, stat: Callable, idx: np.ndarray) -> np.ndarray:
    try:  # vectorised when stat takes an axis (np.mean, np.median, spearman, ...)
        out = np.asarray(stat(values[idx], axis=1), dtype=float)
        if out.shape == (len(idx),):
            return out
    except TypeError:
        pass
    return np.array([stat(values[i]) for i in idx], dtype=float)


def bootstrap_ci(values: Any, stat: Callable = np.mean, n: int = 2000, seed: int = 0,
                 level: float = 0.95) -> tuple[float, float]:
    """Percentile bootstrap interval of ``stat(values)``. ``values`` is 1-D (units) or 2-D (rows are
    units resampled together, e.g. ``(k, p)`` pairs for a correlation). NaN statistics of
    degenerate resamples are ignored; all-NaN gives ``(nan, nan)``."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(values), size=(n, len(values)))
    stats = _resample_stat(values, stat, idx)
    stats = stats[~np.isnan(stats)]
    if not len(stats):
        return (math.nan, math.nan)
    alpha = (1 - level) / 2
    lo, hi = np.quantile(stats, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def diff_ci(a: Any, b: Any, stat: Callable = np.mean, n: int = 2000, seed: int = 0, level: float = 0.95,
            paired: bool = True) -> tuple[float, float]:
    """Bootstrap interval of ``stat(a) - stat(b)``. ``paired``: ``a[i]`` and ``b[i]`` belong to
    the same unit (same probe scored under two conditions) and are resampled together; otherwise
    each sample is resampled on its own."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired samples need equal lengths, got {len(a)} and {len(b)}")
        return bootstrap_ci(np.stack([a, b], axis=1), lambda x: stat(x[:, 0]) - stat(x[:, 1]), n, seed, level)
    if not len(a) or not len(b):
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    sa = _resample_stat(a, stat, rng.integers(0, len(a), size=(n, len(a))))
    sb = _resample_stat(b, stat, rng.integers(0, len(b), size=(n, len(b))))
    d = sa - sb
    d = d[~np.isnan(d)]
    alpha = (1 - level) / 2
    lo, hi = np.quantile(d, [alpha, 1 - alpha])
    return (float(lo), float(hi))


def spearman(x: Any, axis: Optional[int] = None) -> Any:
    """Spearman's rho of the two columns of ``x`` (``[n, 2]``), or of each ``[n, 2]`` slice along
    ``axis=1`` of a ``[r, n, 2]`` array (for :func:`bootstrap_ci`); NaN where a column is constant."""
    from scipy.stats import rankdata

    x = np.asarray(x, dtype=float)
    batched = x[None] if axis is None else x
    if batched.shape[1] < 2:
        out = np.full(len(batched), math.nan)
    else:
        ranks = rankdata(batched, axis=1)
        ranks -= ranks.mean(axis=1, keepdims=True)
        num = (ranks[..., 0] * ranks[..., 1]).sum(axis=1)
        den = np.sqrt((ranks[..., 0] ** 2).sum(axis=1) * (ranks[..., 1] ** 2).sum(axis=1))
        with np.errstate(invalid="ignore", divide="ignore"):
            out = np.where(den > 0, num / np.where(den > 0, den, 1), math.nan)
    return float(out[0]) if axis is None else out


def excludes_zero(ci: tuple[float, float]) -> bool:
    return not (math.isnan(ci[0]) or math.isnan(ci[1])) and (ci[0] > 0 or ci[1] < 0)



def fmt_ci(estimate: float, ci: tuple[float, float], digits: int = 3) -> str:
    return f"{estimate:.{digits}f} [{ci[0]:.{digits}f}, {ci[1]:.{digits}f}]"
