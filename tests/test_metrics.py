"""Metrics against scikit-learn (ROC, AUC) and NumPy quantile references (resolution)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from e2ejax import metrics
from e2ejax.errors import InputError


def _sample(rng, n, *, ties: bool, weighted: bool):
    labels = rng.integers(0, 2, n)
    scores = rng.normal(labels * 0.8, 1.0)
    if ties:
        scores = np.round(scores, 1)  # many tied scores, some across classes
    weights = rng.exponential(1.0, n) if weighted else None
    if weighted:
        weights[rng.random(n) < 0.1] = 0.0  # zero weights are dropped, as in sklearn
    return labels, scores, weights


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("drop_intermediate", [True, False])
@pytest.mark.parametrize("n", [2, 17, 2000])
def test_roc_curve_matches_sklearn(rng, ties, weighted, drop_intermediate, n):
    labels, scores, weights = _sample(rng, n, ties=ties, weighted=weighted)
    labels[:2] = [0, 1]
    if weighted:
        weights[:2] = 1.0
    fpr, tpr, thr = metrics.roc_curve(labels, scores, weights=weights, drop_intermediate=drop_intermediate)
    ref = skm.roc_curve(labels, scores, sample_weight=weights, drop_intermediate=drop_intermediate)
    for got, want in zip((fpr, tpr, thr), ref):
        assert got.dtype == np.float64
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=0)


@pytest.mark.parametrize("ties", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
def test_roc_auc_matches_sklearn(rng, ties, weighted):
    labels, scores, weights = _sample(rng, 3000, ties=ties, weighted=weighted)
    got = metrics.roc_auc(labels, scores, weights=weights)
    assert isinstance(got, float)
    np.testing.assert_allclose(got, skm.roc_auc_score(labels, scores, sample_weight=weights), rtol=1e-12)


def test_roc_all_tied_and_bool_labels():
    labels = np.array([True, False, True, False])
    scores = np.full(4, 0.3, np.float32)
    fpr, tpr, thr = metrics.roc_curve(labels, scores)
    np.testing.assert_array_equal(fpr, [0.0, 1.0])
    np.testing.assert_array_equal(tpr, [0.0, 1.0])
    np.testing.assert_array_equal(thr, [np.inf, np.float64(np.float32(0.3))])
    assert metrics.roc_auc(labels, scores) == 0.5


def test_auc_equals_pairwise_probability(rng):
    """AUC = P(score_sig > score_bkg) + P(tie) / 2, with ties counted one half."""
    labels, scores, _ = _sample(rng, 400, ties=True, weighted=False)
    sig, bkg = scores[labels == 1], scores[labels == 0]
    pairs = (sig[:, None] > bkg[None, :]).mean() + 0.5 * (sig[:, None] == bkg[None, :]).mean()
    np.testing.assert_allclose(metrics.roc_auc(labels, scores), pairs, rtol=1e-12)


def test_background_rejection_at_exact_efficiencies(rng):
    """At efficiency k / n_sig, the threshold is the k-th highest signal score (no ties)."""
    labels, scores, _ = _sample(rng, 1000, ties=False, weighted=False)
    sig = np.sort(scores[labels == 1])[::-1]
    bkg = scores[labels == 0]
    ks = np.array([10, 100, 250, sig.shape[0]])
    effs = ks / sig.shape[0]
    expected = np.array([1.0 / np.mean(bkg >= sig[k - 1]) for k in ks])
    got = metrics.background_rejection_at(labels, scores, signal_efficiency=effs)
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    single = metrics.background_rejection_at(labels, scores, signal_efficiency=float(effs[1]))
    assert isinstance(single, float) and single == pytest.approx(expected[1], rel=1e-12)


def test_background_rejection_interpolates_between_points():
    # ROC points (fpr, tpr): (0, 0), (0, 0.5), (0.5, 0.5), (0.5, 1), (1, 1)
    labels, scores = [1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]
    assert metrics.background_rejection_at(labels, scores, signal_efficiency=0.5) == np.inf
    assert metrics.background_rejection_at(labels, scores, signal_efficiency=0.75) == pytest.approx(2.0)
    with pytest.raises(InputError, match=r"signal_efficiency"):
        metrics.background_rejection_at(labels, scores, signal_efficiency=0.0)


@pytest.mark.parametrize(
    "labels, scores, kwargs, pattern",
    [
        ([1, 1, 1], [0.1, 0.2, 0.3], {}, r"both classes, found only signal"),
        ([0, 0], [0.1, 0.2], {}, r"both classes, found only background"),
        ([0, 1, 1], [0.1, 0.2, 0.3], {"weights": [1.0, 0.0, 0.0]}, r"both classes"),
        ([0, 1, 1], [0.1, 0.2], {}, r"same length.*labels \[3\], scores \[2\]"),
        ([0, 1], [0.1, 0.2], {"weights": [1.0]}, r"weights \[1\]"),
        ([[0, 1]], [[0.1, 0.2]], {}, r"labels of shape \[N\], got shape \(1, 2\)"),
        ([0, 2], [0.1, 0.2], {}, r"binary labels.*\[0, 2\]"),
        ([0, 1], [0.1, np.nan], {}, r"finite scores"),
        ([0, 1], [0.1, 0.2], {"weights": [1.0, -1.0]}, r"non-negative weights"),
        ([], [], {}, r"at least one entry"),
    ],
)
def test_roc_errors(labels, scores, kwargs, pattern):
    for fn in (metrics.roc_curve, metrics.roc_auc):
        with pytest.raises(ValueError, match=pattern) as info:
            fn(labels, scores, **kwargs)
        assert isinstance(info.value, InputError)


def test_response_and_resolution_matches_numpy(rng):
    true = rng.uniform(20.0, 500.0, 5000)
    pred = true * rng.normal(1.05, 0.12, true.shape[0])
    got = metrics.response_and_resolution(pred, true)
    ratio = pred / true
    median = np.median(ratio)
    q16, q84 = np.quantile(ratio, [0.15865525393145707, 0.8413447460685429])
    assert isinstance(got, metrics.Resolution)
    assert got.response == pytest.approx(median, rel=1e-14)
    assert got.resolution == pytest.approx((q84 - q16) / 2 / median, rel=1e-14)
    # A Gaussian response gives its relative width.
    assert got.resolution == pytest.approx(0.12 / 1.05, rel=0.05)


def test_resolution_ignores_tails(rng):
    true = np.full(10000, 100.0)
    pred = true * rng.normal(1.0, 0.1, true.shape[0])
    pred[:300] = 1e4  # 3 % catastrophic outliers
    got = metrics.response_and_resolution(pred, true)
    assert got.resolution == pytest.approx(0.1, rel=0.1)


def test_binned_response_and_resolution(rng):
    true = rng.uniform(10.0, 300.0, 4000)
    pred = true * rng.normal(1.0 + 10.0 / true, 0.2, true.shape[0])
    edges = np.array([0.0, 30.0, 100.0, 300.0, 400.0])
    got = metrics.binned_response_and_resolution(pred, true, bins=edges)
    assert got.count.tolist() == [int(((true >= lo) & (true < hi)).sum()) for lo, hi in zip(edges[:-1], edges[1:])]
    assert got.count[-1] == 0 and np.isnan(got.response[-1]) and np.isnan(got.resolution[-1])
    for i in range(3):
        sel = (true >= edges[i]) & (true < edges[i + 1])
        ref = metrics.response_and_resolution(pred[sel], true[sel])
        assert got.response[i] == ref.response
        assert got.resolution[i] == ref.resolution
    assert got.response[0] > got.response[2]  # the injected low-pT bias shows up


def test_binned_edges_inclusive_last_and_outside():
    got = metrics.binned_response_and_resolution([1.0, 2.0, 3.0], [1.0, 2.0, 3.0], bins=[1.0, 2.0])
    assert got.count.tolist() == [2]  # 1.0 and the upper edge 2.0; 3.0 is outside


@pytest.mark.parametrize(
    "pred, true, pattern",
    [
        ([1.0, 2.0], [1.0], r"same length"),
        ([1.0, 2.0], [1.0, 0.0], r"true_pt > 0"),
        ([1.0, np.inf], [1.0, 1.0], r"finite pred_pt"),
        ([[1.0]], [[1.0]], r"pred_pt of shape \[N\]"),
    ],
)
def test_resolution_errors(pred, true, pattern):
    with pytest.raises(InputError, match=pattern):
        metrics.response_and_resolution(pred, true)


def test_binned_bad_edges():
    with pytest.raises(InputError, match=r"increasing edges"):
        metrics.binned_response_and_resolution([1.0], [1.0], bins=[2.0, 1.0])


def _bootstrap_auc_spread(rng, labels, scores, n_boot):
    """Standard deviation of the Mann-Whitney AUC over ``n_boot`` class-stratified bootstrap resamples."""
    sig, bkg = scores[labels == 1], scores[labels == 0]
    aucs = np.empty(n_boot)
    for i in range(n_boot):
        s, b = np.sort(rng.choice(sig, len(sig))), rng.choice(bkg, len(bkg))
        above = len(s) - np.searchsorted(s, b, side="right")  # signal scores above each background score
        aucs[i] = above.sum() / (len(s) * len(b))
    return aucs.std(ddof=1)


def test_auc_standard_error_matches_bootstrap_and_placement_reference(rng):
    """Hanley-McNeil on exponential scores (where its Q1, Q2 are exact): the bootstrap spread and
    eq. 2 with Q1, Q2 counted pair by pair (a NumPy reference) agree with it to a few per cent."""
    n_sig, n_bkg = 300, 400
    labels = np.r_[np.ones(n_sig, int), np.zeros(n_bkg, int)]
    scores = np.r_[rng.exponential(2.0, n_sig), rng.exponential(1.0, n_bkg)]
    auc = metrics.roc_auc(labels, scores)
    got = metrics.auc_standard_error(auc, n_sig, n_bkg)
    sig, bkg = scores[:n_sig], scores[n_sig:]
    above = sig[:, None] > bkg[None, :]  # no ties with continuous scores
    q1 = (above.mean(1) ** 2).mean()  # two background examples both below one signal example
    q2 = (above.mean(0) ** 2).mean()  # two signal examples both above one background example
    ref = np.sqrt((auc * (1 - auc) + (n_sig - 1) * (q1 - auc**2) + (n_bkg - 1) * (q2 - auc**2)) / (n_sig * n_bkg))
    boot = _bootstrap_auc_spread(np.random.default_rng(3), labels, scores, 2000)
    assert auc == pytest.approx(above.mean(), abs=1e-12)
    assert got == pytest.approx(ref, rel=0.05)
    assert got == pytest.approx(boot, rel=0.08)  # 2000 resamples: 1.6% statistical spread on the bootstrap itself
    assert 0.015 < got < 0.025


def test_auc_standard_error_limits_and_difference():
    assert metrics.auc_standard_error(1.0, 10, 10) == 0.0
    assert metrics.auc_standard_error(0.5, 100, 100) == pytest.approx(np.sqrt((0.25 + 99 * (1 / 3 - 0.25) * 2) / 1e4))
    assert metrics.auc_standard_error(0.8, 400, 400) == pytest.approx(metrics.auc_standard_error(0.8, 100, 100) / 2, rel=0.01)
    a, b = metrics.auc_standard_error(0.9, 50, 80), metrics.auc_standard_error(0.7, 50, 80)
    assert metrics.auc_difference_error(0.9, 0.7, 50, 80) == pytest.approx(np.sqrt(a * a + b * b), rel=1e-12)
    with pytest.raises(InputError, match=r"expected an AUC in \[0, 1\]; found 1.5"):
        metrics.auc_standard_error(1.5, 10, 10)
    with pytest.raises(InputError, match="found 0 and 10"):
        metrics.auc_difference_error(0.9, 0.8, 0, 10)
