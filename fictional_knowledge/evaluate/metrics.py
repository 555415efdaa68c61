"""The seed papers' metrics as pure functions (numpy; scipy only for Spearman's p-value).

Chang et al. 2024 ("How Do Large Language Models Acquire Factual Knowledge During Pretraining?"),
with the definitions below. A probe's trajectory is two aligned sequences:
``steps`` (strictly increasing global steps) and ``losses`` (L(q) at each step: the per-token mean
of -log p over the target span). Then

- Δ(t) = L(0) − L(t); positive means the target became more likely;
- t_LAM = the logged step with the lowest loss among the steps in (t_inj, t_inj + window];
- effectivity E = L(t_inj) − L(t_LAM);
- retainability R(p, t) = (L(t_LAM + t) − L(0)) / (L(t_LAM) − L(0));
- decay constant α = −slope of a least-squares line R ≈ slope·log10(t) + intercept (t > 0);
  the anticipated x-intercept is −intercept/slope, a log10 value.

A row logged at step s holds the model after s optimizer updates, so L(t_inj) is the loss just
before the injected batch is trained on, as in the released code (``v[train_idx]``), and the
window starts one step later (``v[train_idx + 1 : train_idx + 51]``).

Also: TOFU's probability and truth ratio (Maini et al. 2024), Chen et al. 2024's exact-match
retention, and Wang et al. 2024's distributional memorization (Spearman correlation).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = [
    "DeltaCurve", "LAM", "RetainabilityCurve", "DecayFit", "IQRFilter", "TofuProbability",
    "TruthRatio", "Retention", "FrequencyCorrelation", "BootstrapDiff", "loss_at", "delta",
    "local_acquisition_maximum", "effectivity", "retainability", "fit_decay", "iqr_filter", "bootstrap_diff",
    "tofu_probability", "truth_ratio", "exact_match_retention", "distributional_memorization",
]


def _trajectory(steps: Sequence[int], losses: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    s = np.asarray(steps)
    l = np.asarray(losses, dtype=float)
    if s.ndim != 1 or l.ndim != 1:
        raise ValueError("steps and losses must be one-dimensional")
    if s.size == 0:
        raise ValueError("empty trajectory: no steps")
    if s.size != l.size:
        raise ValueError(f"steps and losses differ in length ({s.size} vs {l.size})")
    if not np.issubdtype(s.dtype, np.integer):
        if not np.all(np.isfinite(s.astype(float))) or np.any(s != np.round(s)):
            raise ValueError("steps must be integers")
        s = s.astype(np.int64)
    if np.any(np.diff(s) <= 0):
        raise ValueError("steps must be strictly increasing (one loss per step)")
    if not np.all(np.isfinite(l)):
        raise ValueError("losses must be finite numbers")
    return s, l


def _index_of(s: np.ndarray, step: int, what: str) -> int:
    i = int(np.searchsorted(s, step))
    if i >= s.size or s[i] != step:
        raise ValueError(f"{what} step {step} is not in the log (logged steps {s[0]}..{s[-1]}, "
                         f"{s.size} of them)")
    return i


def loss_at(steps: Sequence[int], losses: Sequence[float], step: int) -> float:
    """L at one logged step; ValueError if that step was not logged."""
    s, l = _trajectory(steps, losses)
    return float(l[_index_of(s, step, "requested")])


@dataclass(frozen=True)
class DeltaCurve:
    """Δ(t) = L(reference_step) − L(t) at every logged step (nats per token)."""
    steps: tuple[int, ...]
    delta: tuple[float, ...]
    reference_step: int
    reference_loss: float


def delta(steps: Sequence[int], losses: Sequence[float], reference_step: int = 0) -> DeltaCurve:
    """Improvement Δ(t) = L(0) − L(t) of one probe; L(0) is the loss at ``reference_step``."""
    s, l = _trajectory(steps, losses)
    l0 = float(l[_index_of(s, reference_step, "reference")])
    return DeltaCurve(tuple(int(x) for x in s), tuple(float(x) for x in l0 - l), reference_step, l0)


@dataclass(frozen=True)
class LAM:
    """The local acquisition maximum after one injection, and the effectivity it gives."""
    injection_step: int
    t_lam: int
    loss_at_injection: float
    loss_at_lam: float
    effectivity: float  # L(t_inj) − L(t_LAM), nats per token
    window: int


def local_acquisition_maximum(steps: Sequence[int], losses: Sequence[float], injection_step: int,
                              window: int = 50) -> LAM:
    """t_LAM: the logged step with the lowest loss in (injection_step, injection_step + window].

    Ties go to the earliest step. ValueError when the injection step is not logged or no step
    was logged inside the window."""
    if window < 1:
        raise ValueError(f"window must be a positive number of steps, got {window}")
    s, l = _trajectory(steps, losses)
    i = _index_of(s, injection_step, "injection")
    inside = np.flatnonzero((s > injection_step) & (s <= injection_step + window))
    if inside.size == 0:
        raise ValueError(f"no step logged in the {window} steps after injection step "
                         f"{injection_step}; t_LAM needs the steps right after an injection "
                         f"(e.g. ProbeLossCallback(steps=...))")
    j = int(inside[np.argmin(l[inside])])  # argmin returns the first minimum
    return LAM(injection_step, int(s[j]), float(l[i]), float(l[j]), float(l[i] - l[j]), window)


def effectivity(steps: Sequence[int], losses: Sequence[float], injection_step: int,
                window: int = 50) -> float:
    """E = L(t_inj) − L(t_LAM) for one injection (nats per token)."""
    return local_acquisition_maximum(steps, losses, injection_step, window).effectivity


@dataclass(frozen=True)
class RetainabilityCurve:
    """R(p, t) at t = s − t_LAM for every logged step s > t_LAM."""
    t_lam: int
    t: tuple[int, ...]
    r: tuple[float, ...]
    reference_loss: float
    loss_at_lam: float


def retainability(steps: Sequence[int], losses: Sequence[float], t_lam: int,
                  reference_step: int = 0) -> RetainabilityCurve:
    """R(p, t) = (L(t_LAM + t) − L(0)) / (L(t_LAM) − L(0)): 1 right at t_LAM, 0 once the probe
    is back at its starting loss. ValueError when L(t_LAM) == L(0) (nothing was acquired)."""
    s, l = _trajectory(steps, losses)
    l0 = float(l[_index_of(s, reference_step, "reference")])
    k = _index_of(s, t_lam, "t_LAM")
    denom = float(l[k]) - l0
    if denom == 0.0:
        raise ValueError(f"L(t_LAM) == L(0) == {l0!r} at t_LAM={t_lam}: retainability is undefined")
    after = slice(k + 1, None)
    return RetainabilityCurve(t_lam, tuple(int(x) for x in s[after] - t_lam),
                              tuple(float(x) for x in (l[after] - l0) / denom), l0, float(l[k]))


@dataclass(frozen=True)
class DecayFit:
    """Least-squares line R ≈ slope·log10(t) + intercept, t in steps after t_LAM.

    Units: ``slope``/``alpha`` are R per decade of steps; ``x_intercept_log10`` is log10 of a
    number of steps; ``x_intercept_steps`` = 10**x_intercept_log10 (steps after t_LAM);
    ``x_intercept_tokens`` = x_intercept_steps · batch_size · seq_len (training tokens), None
    unless both were given. The x-intercept fields are None unless slope < 0 (no decay, no
    forgetting time); ``x_intercept_steps``/``tokens`` are also None past 1e300.

    The released code (``analysis/forgetting_plot.py`` of kaistAI/factual-knowledge-acquisition)
    means to convert steps to tokens before fitting, but its 2048×2048 branch sits under
    ``if 'bsize' in args.exp_name or True:`` and is never reached, and the 128/512 branches only
    run when the experiment name contains "128" or "512". For the main runs the fitted x values
    therefore stayed in steps while the axis read "Tokens". Here the fit is always on log10(steps)
    and the token figure is a separate, explicit conversion. (Converting before the fit changes
    the intercept by slope·log10(batch·seq) but not the slope, so α is the same either way.)
    """
    slope: float
    intercept: float
    alpha: float
    r_squared: Optional[float]  # None when every R is equal (no variance to explain)
    n_points: int
    x_intercept_log10: Optional[float]
    x_intercept_steps: Optional[float]
    x_intercept_tokens: Optional[float]
    batch_size: Optional[int] = None
    seq_len: Optional[int] = None


def fit_decay(t: Sequence[float], r: Sequence[float], *, batch_size: Optional[int] = None,
              seq_len: Optional[int] = None) -> DecayFit:
    """Fit R against log10(t) by ordinary least squares; points with t <= 0 are left out."""
    tt = np.asarray(t, dtype=float)
    rr = np.asarray(r, dtype=float)
    if tt.shape != rr.shape or tt.ndim != 1:
        raise ValueError(f"t and r must be 1-D and the same length ({tt.shape} vs {rr.shape})")
    if not (np.all(np.isfinite(tt)) and np.all(np.isfinite(rr))):
        raise ValueError("t and r must be finite numbers")
    keep = tt > 0
    x, y = np.log10(tt[keep]), rr[keep]
    if x.size < 2 or np.ptp(x) == 0:
        raise ValueError(f"need at least two distinct t > 0 to fit a decay, got {x.size} point(s)")
    for name, v in (("batch_size", batch_size), ("seq_len", seq_len)):
        if v is not None and v <= 0:
            raise ValueError(f"{name} must be positive, got {v}")
    xm, ym = x.mean(), y.mean()
    slope = float(np.sum((x - xm) * (y - ym)) / np.sum((x - xm) ** 2))
    intercept = float(ym - slope * xm)
    ssr = float(np.sum((y - (slope * x + intercept)) ** 2))
    sst = float(np.sum((y - ym) ** 2))
    r2 = None if sst == 0.0 else 1.0 - ssr / sst
    xi = steps = tokens = None
    if slope < 0:
        xi = -intercept / slope
        steps = 10.0 ** xi if xi <= 300 else None
        if steps is not None and batch_size is not None and seq_len is not None:
            tokens = steps * batch_size * seq_len
    return DecayFit(slope, intercept, -slope, r2, int(x.size), xi, steps, tokens, batch_size,
                    seq_len)


@dataclass(frozen=True)
class IQRFilter:
    """Values kept by Tukey's fences [Q1 − factor·IQR, Q3 + factor·IQR] (bounds inclusive)."""
    kept: tuple[float, ...]
    mask: tuple[bool, ...]  # True where the input value was kept, in input order
    q1: float
    q3: float
    lower: float
    upper: float
    factor: float

    @property
    def n_removed(self) -> int:
        return len(self.mask) - len(self.kept)


def iqr_filter(values: Sequence[float], factor: float = 1.5) -> IQRFilter:
    """Drop outliers outside [Q1 − factor·IQR, Q3 + factor·IQR].

    Quartiles are ``numpy.percentile``'s default (linear interpolation), as in the released code.
    The paper states factor 1.5 (our default); the released code's ``remove_outliers_iqr`` uses
    ``multiplier=2.0``; pass ``factor=2.0`` to reproduce it."""
    v = np.asarray(values, dtype=float)
    if v.ndim != 1 or v.size == 0:
        raise ValueError("iqr_filter needs a non-empty 1-D sequence of values")
    if not np.all(np.isfinite(v)):
        raise ValueError("iqr_filter values must be finite numbers")
    if not factor >= 0:
        raise ValueError(f"IQR factor must be >= 0, got {factor}")
    q1, q3 = (float(q) for q in np.percentile(v, [25, 75]))
    lo, hi = q1 - factor * (q3 - q1), q3 + factor * (q3 - q1)
    mask = (v >= lo) & (v <= hi)
    return IQRFilter(tuple(float(x) for x in v[mask]), tuple(bool(m) for m in mask), q1, q3, lo,
                     hi, float(factor))


@dataclass(frozen=True)
class BootstrapDiff:
    """``statistic(a) − statistic(b)`` with a percentile-bootstrap interval."""
    diff: float
    low: float
    high: float
    level: float
    n_boot: int

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low > 0 or self.high < 0


def bootstrap_diff(a: Sequence[float], b: Sequence[float], statistic=np.mean, *, n_boot: int = 2000,
                   level: float = 0.95, seed: int = 0, batched: bool = False) -> BootstrapDiff:
    """The difference of ``statistic`` between two independent samples, and its percentile
    bootstrap interval at ``level``: each sample is resampled with replacement, on its own, from a
    ``numpy.random.default_rng(seed)`` generator (so the result is reproducible). ``batched``:
    ``statistic(matrix)`` returns one value per row (fast); otherwise it is called per resample."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if x.ndim != 1 or y.ndim != 1 or x.size < 2 or y.size < 2:
        raise ValueError("bootstrap_diff needs two 1-D samples of at least 2 values")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise ValueError("bootstrap_diff values must be finite numbers")
    if n_boot < 100 or not 0 < level < 1:
        raise ValueError("need n_boot >= 100 and 0 < level < 1")
    rng = np.random.default_rng(seed)
    ix = rng.integers(0, x.size, size=(n_boot, x.size))
    iy = rng.integers(0, y.size, size=(n_boot, y.size))
    if batched:
        diffs = np.asarray(statistic(x[ix]), dtype=float) - np.asarray(statistic(y[iy]), dtype=float)
        point = float(statistic(x[None, :])[0] - statistic(y[None, :])[0])
    else:
        diffs = np.array([statistic(x[i]) - statistic(y[j]) for i, j in zip(ix, iy)])
        point = float(statistic(x) - statistic(y))
    lo, hi = np.percentile(diffs, [50 * (1 - level), 50 * (1 + level)])
    return BootstrapDiff(point, float(lo), float(hi), level, n_boot)


# --- TOFU (Maini et al. 2024) -------------------------------------------------------------------

def _normalized(logliks: Sequence[float], lengths: Sequence[int], what: str) -> np.ndarray:
    ll = np.asarray(logliks, dtype=float)
    n = np.asarray(lengths)
    if ll.ndim != 1 or ll.size == 0:
        raise ValueError(f"{what}: need at least one log-likelihood")
    if n.shape != ll.shape:
        raise ValueError(f"{what}: {ll.size} log-likelihoods but {n.size} lengths")
    if not np.all(np.isfinite(ll)) or np.any(ll > 1e-9):
        raise ValueError(f"{what}: log-likelihoods must be finite and <= 0 (sums of log p)")
    if np.any(n <= 0) or np.any(n != np.round(n)):
        raise ValueError(f"{what}: token lengths must be positive integers")
    return ll / n  # log of P(a|q)^(1/|a|)


@dataclass(frozen=True)
class TofuProbability:
    normalized: tuple[float, ...]  # P(a_i|q)^(1/|a_i|) for every answer given
    probability: float  # P(a|q)^(1/|a|) of the answer at answer_index
    share: Optional[float]  # that value over the sum across choices; None with a single answer


def tofu_probability(logliks: Sequence[float], lengths: Sequence[int],
                     answer_index: int = 0) -> TofuProbability:
    """TOFU's "Probability" (Maini et al. 2024, arXiv:2401.06121, sec. 2.5.1).

    ``logliks[i]`` is log P(a_i|q), the SUM of token log-probs of answer i; ``lengths[i]`` its
    token count. On the forget/retain sets TOFU reports P(a|q)^(1/|a|); on multiple-choice sets
    it divides the correct answer's length-normalized probability by the sum over all choices
    (``aggregate_eval_stat.py`` of locuslab/tofu computes exp(−mean token loss) for both)."""
    norm = np.exp(_normalized(logliks, lengths, "tofu_probability"))
    if not 0 <= answer_index < norm.size:
        raise ValueError(f"answer_index {answer_index} is out of range for {norm.size} answers")
    share = float(norm[answer_index] / norm.sum()) if norm.size > 1 else None
    return TofuProbability(tuple(float(x) for x in norm), float(norm[answer_index]), share)


@dataclass(frozen=True)
class TruthRatio:
    ratio: float  # R_truth = geometric mean of perturbed P^(1/|a|) over paraphrased P^(1/|a|)
    forget_score: float  # min(R, 1/R): TOFU's statistic on the forget set (1 = indifferent)
    retain_score: float  # max(0, 1 − R): TOFU's statistic on retain/real-world sets


def truth_ratio(paraphrased_loglik: float, paraphrased_length: int,
                perturbed_logliks: Sequence[float], perturbed_lengths: Sequence[int]) -> TruthRatio:
    """TOFU's truth ratio (Maini et al. 2024, arXiv:2401.06121, eq. 1):

        R_truth = (Π_i P(â_i|q)^(1/|â_i|))^(1/|A_pert|) / P(ã|q)^(1/|ã|)

    â_i are the perturbed (wrong) answers, ã the paraphrased correct answer; all arguments are
    summed token log-likelihoods and token counts. In log space this is
    exp(mean_i(ll_i/|â_i|) − ll_ã/|ã|). locuslab/open-unlearning computes exactly this
    (``truth_ratio`` in ``src/evals/metrics/memorization.py``: wrong_prob / correct_prob from mean
    per-token losses); locuslab/tofu's ``aggregate_eval_stat.py`` computes its inverse 1/R and
    reports the same two statistics: min(R, 1/R) on forget sets, max(0, 1 − R) elsewhere."""
    para = _normalized([paraphrased_loglik], [paraphrased_length], "truth_ratio (paraphrased)")
    pert = _normalized(perturbed_logliks, perturbed_lengths, "truth_ratio (perturbed)")
    ratio = math.exp(float(pert.mean()) - float(para[0]))
    return TruthRatio(ratio, min(ratio, 1.0 / ratio), max(0.0, 1.0 - ratio))


# --- Chen et al. 2024: exact-match retention ----------------------------------------------------

@dataclass(frozen=True)
class Retention:
    n_common: int  # items present in both tables; all figures below are over these
    n_only_first: int
    n_only_second: int
    accuracy_first: float
    accuracy_second: float
    n_correct_first: int
    n_retained: int  # correct at stage 1 and still correct later
    retention: Optional[float]  # n_retained / n_correct_first; None if nothing was correct


def exact_match_retention(first: Mapping[str, bool], second: Mapping[str, bool]) -> Retention:
    """Chen et al. 2024 (REMIX): the share of items exactly matched after stage 1 that are still
    exactly matched later, plus both plain accuracies, over the items present in both tables."""
    if not first or not second:
        raise ValueError("exact_match_retention needs two non-empty tables of item -> bool")
    common = [k for k in first if k in second]
    if not common:
        raise ValueError("the two exact-match tables share no item id")
    a = np.array([bool(first[k]) for k in common])
    b = np.array([bool(second[k]) for k in common])
    n1 = int(a.sum())
    kept = int((a & b).sum())
    return Retention(len(common), len(first) - len(common), len(second) - len(common),
                     float(a.mean()), float(b.mean()), n1, kept, kept / n1 if n1 else None)


# --- Wang et al. 2024: distributional memorization ----------------------------------------------

@dataclass(frozen=True)
class FrequencyCorrelation:
    rho: float  # Spearman's rank correlation (ties get average ranks)
    p_value: float  # two-sided, scipy.stats.spearmanr's t-distribution test
    n: int


def distributional_memorization(frequencies: Sequence[float] | Mapping[str, float],
                                probabilities: Sequence[float] | Mapping[str, float]
                                ) -> FrequencyCorrelation:
    """Spearman correlation between how often each fact occurs in the training data and the
    model's probability of it (Wang et al. 2024). Two mappings are joined on their keys (fact
    ids); two sequences must be aligned."""
    if isinstance(frequencies, Mapping) != isinstance(probabilities, Mapping):
        raise ValueError("give two mappings (joined on fact id) or two aligned sequences")
    if isinstance(frequencies, Mapping):
        keys = [k for k in frequencies if k in probabilities]
        f = np.array([frequencies[k] for k in keys], dtype=float)
        p = np.array([probabilities[k] for k in keys], dtype=float)
    else:
        f, p = np.asarray(frequencies, dtype=float), np.asarray(probabilities, dtype=float)
        if f.shape != p.shape:
            raise ValueError(f"frequencies and probabilities differ in length ({f.size} vs {p.size})")
    if f.size < 3:
        raise ValueError(f"need at least 3 facts for a rank correlation, got {f.size}")
    if not (np.all(np.isfinite(f)) and np.all(np.isfinite(p))):
        raise ValueError("frequencies and probabilities must be finite numbers")
    if np.ptp(f) == 0 or np.ptp(p) == 0:
        raise ValueError("frequencies or probabilities are all equal: correlation is undefined")
    from scipy.stats import spearmanr

    res = spearmanr(f, p)
    return FrequencyCorrelation(float(res.statistic), float(res.pvalue), int(f.size))
