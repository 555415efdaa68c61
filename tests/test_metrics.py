"""Hand-computed checks of fictional_knowledge.evaluate.metrics (the arithmetic is written out)."""

from __future__ import annotations

import math

import pytest

from fictional_knowledge.evaluate import metrics as m


# --- Chang et al. 2024 --------------------------------------------------------------------------

def test_delta_is_initial_minus_current_loss():
    curve = m.delta([0, 1, 2, 3], [4.0, 3.0, 3.5, 2.0])
    # Δ(t) = L(0) − L(t) = 4 − [4, 3, 3.5, 2]
    assert curve.delta == pytest.approx((0.0, 1.0, 0.5, 2.0))
    assert curve.reference_loss == 4.0 and curve.steps == (0, 1, 2, 3)


def test_delta_needs_the_reference_step():
    with pytest.raises(ValueError, match="reference step 0 is not in the log"):
        m.delta([1, 2], [3.0, 2.0])
    assert m.delta([5, 6], [3.0, 2.0], reference_step=5).delta == pytest.approx((0.0, 1.0))


LAM_STEPS = [0, 1, 2, 3, 4, 5, 6]
LAM_LOSSES = [5.0, 4.0, 3.0, 3.0, 3.5, 4.5, 4.8]


def test_lam_is_the_lowest_loss_in_the_window_after_the_injection():
    # window 3 after step 0 covers steps 1, 2, 3 -> losses 4, 3, 3: min 3, first at step 2
    lam = m.local_acquisition_maximum(LAM_STEPS, LAM_LOSSES, injection_step=0, window=3)
    assert lam.t_lam == 2
    assert lam.loss_at_injection == 5.0 and lam.loss_at_lam == 3.0
    assert lam.effectivity == pytest.approx(5.0 - 3.0)
    # window 1 covers step 1 only: E = 5 - 4
    assert m.effectivity(LAM_STEPS, LAM_LOSSES, 0, window=1) == pytest.approx(1.0)
    # after step 3, window 2 covers steps 4 and 5 (3.5, 4.5): t_LAM = 4, E = 3.0 - 3.5 < 0
    lam3 = m.local_acquisition_maximum(LAM_STEPS, LAM_LOSSES, 3, window=2)
    assert (lam3.t_lam, lam3.effectivity) == (4, pytest.approx(-0.5))


def test_lam_excludes_the_injection_step_and_uses_the_default_window_of_50():
    steps = [0, 10, 49, 50, 51]
    losses = [1.0, 2.0, 1.5, 1.2, 0.1]  # step 51 is outside (0, 50]; step 0 is not a candidate
    lam = m.local_acquisition_maximum(steps, losses, 0)
    assert lam.window == 50 and lam.t_lam == 50
    assert lam.effectivity == pytest.approx(1.0 - 1.2)


def test_lam_errors():
    with pytest.raises(ValueError, match="injection step 10 is not in the log"):
        m.local_acquisition_maximum(LAM_STEPS, LAM_LOSSES, 10)
    with pytest.raises(ValueError, match="no step logged in the 50 steps after injection step 0"):
        m.local_acquisition_maximum([0, 100], [1.0, 0.5], 0)
    with pytest.raises(ValueError, match="differ in length"):
        m.local_acquisition_maximum([0, 1], [1.0], 0)
    with pytest.raises(ValueError, match="empty"):
        m.local_acquisition_maximum([], [], 0)
    with pytest.raises(ValueError, match="strictly increasing"):
        m.local_acquisition_maximum([0, 2, 1], [1.0, 2.0, 3.0], 0)


def test_retainability_by_hand():
    steps = [0, 10, 11, 12, 20]
    losses = [5.0, 3.0, 4.0, 4.5, 5.5]
    curve = m.retainability(steps, losses, t_lam=10)
    # L(0) = 5, L(t_LAM) = 3, denominator 3 - 5 = -2
    # t=1: (4 - 5)/-2 = 0.5 ; t=2: (4.5 - 5)/-2 = 0.25 ; t=10: (5.5 - 5)/-2 = -0.25
    assert curve.t == (1, 2, 10)
    assert curve.r == pytest.approx((0.5, 0.25, -0.25))


def test_retainability_undefined_without_acquisition():
    with pytest.raises(ValueError, match=r"L\(t_LAM\) == L\(0\)"):
        m.retainability([0, 1, 2], [2.0, 2.0, 1.0], t_lam=1)
    with pytest.raises(ValueError, match="t_LAM step 7 is not in the log"):
        m.retainability([0, 1, 2], [2.0, 1.0, 1.5], t_lam=7)


def test_fit_decay_exact_line_and_x_intercept_units():
    # x = log10 t = 0, 1, 2 ; R = 1.0, 0.8, 0.6 lies on R = 1.0 - 0.2 x
    fit = m.fit_decay([1, 10, 100], [1.0, 0.8, 0.6], batch_size=4, seq_len=8)
    assert fit.slope == pytest.approx(-0.2) and fit.intercept == pytest.approx(1.0)
    assert fit.alpha == pytest.approx(0.2) and fit.r_squared == pytest.approx(1.0)
    # R = 0 at x = -intercept/slope = 1.0/0.2 = 5 -> 10**5 steps -> 10**5 * 4 * 8 tokens
    assert fit.x_intercept_log10 == pytest.approx(5.0)
    assert fit.x_intercept_steps == pytest.approx(1e5)
    assert fit.x_intercept_tokens == pytest.approx(3.2e6)
    assert fit.n_points == 3


def test_fit_decay_least_squares_by_hand():
    # x = 0, 1, 2 ; y = 1.0, 0.7, 0.6 ; means 1 and 23/30
    # Sxy = (-1)(7/30) + 0 + (1)(-5/30) = -12/30 ; Sxx = 2 -> slope = -0.2
    # intercept = 23/30 + 0.2 = 29/30 ; residuals 1/30, -2/30, 1/30 -> SSR = 6/900
    # SST = (49 + 4 + 25)/900 = 78/900 -> R^2 = 1 - 6/78 = 12/13
    # a t = 0 point is ignored (log10 0 is undefined)
    fit = m.fit_decay([0, 1, 10, 100], [9.0, 1.0, 0.7, 0.6])
    assert fit.slope == pytest.approx(-0.2)
    assert fit.intercept == pytest.approx(29 / 30)
    assert fit.r_squared == pytest.approx(12 / 13)
    assert fit.x_intercept_log10 == pytest.approx((29 / 30) / 0.2)
    assert fit.x_intercept_tokens is None  # no batch size / sequence length given


def test_fit_decay_without_decay_has_no_x_intercept():
    fit = m.fit_decay([1, 10], [0.5, 0.7])
    assert fit.slope == pytest.approx(0.2) and fit.alpha == pytest.approx(-0.2)
    assert fit.x_intercept_log10 is None and fit.x_intercept_steps is None
    flat = m.fit_decay([1, 10], [0.5, 0.5])
    assert flat.r_squared is None and flat.slope == 0.0
    with pytest.raises(ValueError, match="two distinct t > 0"):
        m.fit_decay([0, 5], [1.0, 0.5])


def test_iqr_filter_factor_1_5_and_2_0():
    # sorted [1, 2, 3, 4, 7.5]: Q1 at position 0.25*4 = 1 -> 2 ; Q3 at position 3 -> 4 ; IQR = 2
    # factor 1.5: fences [2 - 3, 4 + 3] = [-1, 7] -> 7.5 removed
    # factor 2.0: fences [2 - 4, 4 + 4] = [-2, 8] -> 7.5 kept
    f15 = m.iqr_filter([1, 2, 3, 4, 7.5])
    assert (f15.q1, f15.q3, f15.lower, f15.upper) == (2.0, 4.0, -1.0, 7.0)
    assert f15.kept == (1, 2, 3, 4) and f15.n_removed == 1
    assert f15.mask == (True, True, True, True, False)
    f20 = m.iqr_filter([1, 2, 3, 4, 7.5], factor=2.0)
    assert f20.kept == (1, 2, 3, 4, 7.5) and f20.n_removed == 0
    # linear interpolation: [1, 2, 3, 4] -> Q1 at 0.75 -> 1.75 ; Q3 at 2.25 -> 3.25
    f = m.iqr_filter([4, 1, 3, 2])
    assert (f.q1, f.q3) == (pytest.approx(1.75), pytest.approx(3.25))
    with pytest.raises(ValueError, match="non-empty"):
        m.iqr_filter([])


# --- TOFU ---------------------------------------------------------------------------------------

def test_tofu_probability():
    # answer 0: log P = -2 over 2 tokens -> P^(1/2) = e^-1 ; answer 1: -6 over 3 -> e^-2
    p = m.tofu_probability([-2.0, -6.0], [2, 3])
    assert p.normalized == pytest.approx((math.exp(-1), math.exp(-2)))
    assert p.probability == pytest.approx(math.exp(-1))
    # share = e^-1 / (e^-1 + e^-2) = 1 / (1 + e^-1)
    assert p.share == pytest.approx(1 / (1 + math.exp(-1)))
    assert m.tofu_probability([-2.0, -6.0], [2, 3], answer_index=1).share == pytest.approx(
        1 / (1 + math.e))
    assert m.tofu_probability([-3.0], [3]).share is None
    with pytest.raises(ValueError, match="2 log-likelihoods but 1 lengths"):
        m.tofu_probability([-2.0, -6.0], [2])
    with pytest.raises(ValueError, match="<= 0"):
        m.tofu_probability([0.5], [1])


def test_truth_ratio():
    # paraphrased: -3 over 3 tokens -> log P^(1/|a|) = -1
    # perturbed: -4/2 = -2 and -9/3 = -3 -> geometric mean in log space = -2.5
    # R = exp(-2.5 - (-1)) = exp(-1.5)
    tr = m.truth_ratio(-3.0, 3, [-4.0, -9.0], [2, 3])
    assert tr.ratio == pytest.approx(math.exp(-1.5))
    assert tr.forget_score == pytest.approx(math.exp(-1.5))  # min(R, 1/R)
    assert tr.retain_score == pytest.approx(1 - math.exp(-1.5))  # max(0, 1 - R)
    # wrong answers more likely than the right one: R = exp(-1 - (-2)) = e > 1
    tr2 = m.truth_ratio(-4.0, 2, [-1.0], [1])
    assert tr2.ratio == pytest.approx(math.e)
    assert tr2.forget_score == pytest.approx(1 / math.e) and tr2.retain_score == 0.0
    with pytest.raises(ValueError, match="at least one"):
        m.truth_ratio(-1.0, 1, [], [])


# --- Chen et al. 2024 ---------------------------------------------------------------------------

def test_exact_match_retention():
    first = {"a": True, "b": True, "c": False, "d": True}
    second = {"a": True, "b": False, "c": True, "e": True}
    r = m.exact_match_retention(first, second)
    # common items a, b, c: stage 1 correct a, b (2/3) ; later correct a, c (2/3)
    # retained: a only -> 1/2
    assert (r.n_common, r.n_only_first, r.n_only_second) == (3, 1, 1)
    assert r.accuracy_first == pytest.approx(2 / 3) and r.accuracy_second == pytest.approx(2 / 3)
    assert (r.n_correct_first, r.n_retained, r.retention) == (2, 1, 0.5)
    assert m.exact_match_retention({"a": False}, {"a": True}).retention is None
    with pytest.raises(ValueError, match="share no item"):
        m.exact_match_retention({"a": True}, {"b": True})
    with pytest.raises(ValueError, match="non-empty"):
        m.exact_match_retention({}, {"b": True})


# --- Wang et al. 2024 ---------------------------------------------------------------------------

def test_distributional_memorization_spearman_with_ties():
    freq = [1, 2, 2, 4]  # ranks 1, 2.5, 2.5, 4 (tie -> average rank)
    prob = [0.1, 0.3, 0.2, 0.4]  # ranks 1, 3, 2, 4
    # deviations from the mean rank 2.5: x = -1.5, 0, 0, 1.5 ; y = -1.5, .5, -.5, 1.5
    # rho = 4.5 / sqrt(4.5 * 5)
    rho = 4.5 / math.sqrt(4.5 * 5)
    res = m.distributional_memorization(freq, prob)
    assert res.rho == pytest.approx(rho) and res.n == 4
    # t = rho sqrt((n-2)/(1-rho^2)) with df = 2; its two-sided p is 1 - |t|/sqrt(t^2+2) = 1 - rho
    assert res.p_value == pytest.approx(1 - rho)
    joined = m.distributional_memorization(
        {"f1": 1, "f2": 2, "f3": 2, "f4": 4, "extra": 9}, {"f4": 0.4, "f3": 0.2, "f2": 0.3, "f1": 0.1})
    assert joined.rho == pytest.approx(rho) and joined.n == 4


def test_distributional_memorization_errors():
    with pytest.raises(ValueError, match="differ in length"):
        m.distributional_memorization([1, 2, 3], [0.1, 0.2])
    with pytest.raises(ValueError, match="at least 3"):
        m.distributional_memorization([1, 2], [0.1, 0.2])
    with pytest.raises(ValueError, match="all equal"):
        m.distributional_memorization([1, 1, 1], [0.1, 0.2, 0.3])


def test_bootstrap_diff_known_answers():
    import numpy as np

    from fictional_knowledge.evaluate.metrics import bootstrap_diff

    a, b = np.arange(10.0) + 3.0, np.arange(10.0)
    d = bootstrap_diff(a, b, n_boot=500, seed=1)
    assert d.diff == pytest.approx(3.0) and d.low < 3.0 < d.high and d.significant
    # the same samples: the difference is 0 and its interval is symmetric-ish around it
    same = bootstrap_diff(b, b, n_boot=500, seed=1)
    assert same.diff == 0 and same.low < 0 < same.high and not same.significant
    # batched and per-resample statistics agree draw for draw
    loop = bootstrap_diff(a, b, np.mean, n_boot=300, seed=5)
    fast = bootstrap_diff(a, b, lambda m: m.mean(axis=-1), n_boot=300, seed=5, batched=True)
    assert (loop.low, loop.high) == pytest.approx((fast.low, fast.high))
    with pytest.raises(ValueError, match="at least 2 values"):
        bootstrap_diff([1.0], [1.0, 2.0])
