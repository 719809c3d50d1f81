"""ROC curve, AUC (scikit-learn's conventions), its Hanley-McNeil errors and background rejection."""

from __future__ import annotations

import numpy as np

from e2ejax.errors import InputError
from e2ejax.metrics._checks import binary_inputs


def _counts_at_thresholds(y, s, w):
    """Cumulative (fps, tps, thresholds) at each distinct score, highest score first."""
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order]
    idx = np.r_[np.flatnonzero(np.diff(s)), s.shape[0] - 1]
    if w is None:
        tps = np.cumsum(y, dtype=np.float64)[idx]
        fps = 1.0 + idx.astype(np.float64) - tps
    else:
        w = w[order]
        tps = np.cumsum(y * w, dtype=np.float64)[idx]
        fps = np.cumsum((1.0 - y) * w, dtype=np.float64)[idx]
    return fps, tps, s[idx]


def roc_curve(labels, scores, *, weights=None, drop_intermediate: bool = True):
    """Receiver operating characteristic, identical to ``sklearn.metrics.roc_curve``.

    A point is added for every distinct score: entries with ``score >= threshold``
    are selected, so tied scores enter together (one point per tie group).
    Zero-weight entries are removed first.

    Args:
        labels: ``[N]`` 0/1 ints or bools, 1 = signal (positive class).
        scores: ``[N]`` real scores, higher = more signal-like; must be finite.
        weights: optional ``[N]`` non-negative per-entry weights.
        drop_intermediate: drop points collinear with their neighbours (they do
            not change the curve or its area), as scikit-learn does by default.

    Returns:
        ``(fpr, tpr, thresholds)``, float64 arrays ``[K]``: false and true
        positive rates (background and signal efficiencies), non-decreasing,
        starting at (0, 0) with ``thresholds[0] = inf`` and ending at (1, 1);
        ``thresholds`` decreasing.

    Raises:
        InputError: (a ValueError) non-1-D or mismatched inputs, labels other
            than 0/1, a single class, non-finite scores, negative weights.

    Examples:
        >>> fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        >>> fpr.tolist(), tpr.tolist()
        ([0.0, 0.0, 0.5, 0.5, 1.0], [0.0, 0.5, 0.5, 1.0, 1.0])
        >>> thr.tolist()
        [inf, 0.8, 0.4, 0.35, 0.1]
    """
    y, s, w = binary_inputs(labels, scores, weights)
    fps, tps, thresholds = _counts_at_thresholds(y, s, w)
    if drop_intermediate and fps.shape[0] > 2:
        corner = np.logical_or(np.diff(fps, 2), np.diff(tps, 2))
        keep = np.flatnonzero(np.r_[True, corner, True])
        fps, tps, thresholds = fps[keep], tps[keep], thresholds[keep]
    fps = np.r_[0.0, fps]
    tps = np.r_[0.0, tps]
    thresholds = np.r_[np.inf, thresholds]
    return fps / fps[-1], tps / tps[-1], thresholds


def roc_auc(labels, scores, *, weights=None) -> float:
    """Area under the ROC curve (trapezoidal), identical to ``sklearn.metrics.roc_auc_score``.

    Ties count one half, as in the Mann-Whitney U statistic.

    Args:
        labels: ``[N]`` 0/1 ints or bools, 1 = signal.
        scores: ``[N]`` real finite scores, higher = more signal-like.
        weights: optional ``[N]`` non-negative per-entry weights.

    Returns:
        The AUC as a Python float in [0, 1]; 0.5 for a random classifier.

    Raises:
        InputError: as :func:`roc_curve`.

    Examples:
        >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
        0.75
        >>> roc_auc([0, 1], [0.5, 0.5])
        0.5
    """
    fpr, tpr, _ = roc_curve(labels, scores, weights=weights)
    return float(np.trapezoid(tpr, fpr))


def auc_standard_error(auc: float, n_signal: int, n_background: int) -> float:
    """Statistical standard error of an AUC measured on ``n_signal`` + ``n_background`` examples
    (Hanley and McNeil, Radiology 143 (1982) 29, eq. 2, with their exponential approximation
    ``Q1 = A / (2 - A)``, ``Q2 = 2 A^2 / (1 + A)``).

    Args:
        auc: the measured AUC in [0, 1].
        n_signal, n_background: positive counts of the two classes.

    Returns:
        The standard error as a Python float.

    Raises:
        InputError: an AUC outside [0, 1] or a count below 1.

    Examples:
        >>> round(auc_standard_error(0.9, 100, 100), 4)
        0.0226
    """
    if not 0.0 <= auc <= 1.0 or not np.isfinite(auc):
        raise InputError(f"expected an AUC in [0, 1]; found {auc!r}")
    if n_signal < 1 or n_background < 1:
        raise InputError(f"expected at least one signal and one background example; found {n_signal} and {n_background}")
    q1, q2 = auc / (2.0 - auc), 2.0 * auc * auc / (1.0 + auc)
    var = (auc * (1.0 - auc) + (n_signal - 1) * (q1 - auc * auc) + (n_background - 1) * (q2 - auc * auc)) / (n_signal * n_background)
    return float(np.sqrt(max(var, 0.0)))


def auc_difference_error(auc_a: float, auc_b: float, n_signal: int, n_background: int) -> float:
    """Standard error of ``auc_a - auc_b``, two AUCs measured on the same ``n_signal`` +
    ``n_background`` examples, each error from :func:`auc_standard_error`, added in quadrature.

    The quadrature sum ignores the correlation of two scores on one sample; with positively
    correlated scores (a network and the observable it improves on) it overstates the error,
    so a margin quoted in these units is conservative.

    Args:
        auc_a, auc_b: the two AUCs in [0, 1].
        n_signal, n_background: positive counts of the two classes.

    Returns:
        The standard error of the difference as a Python float.

    Raises:
        InputError: as :func:`auc_standard_error`.

    Examples:
        >>> round(auc_difference_error(0.9, 0.8, 100, 100), 4)
        0.0387
    """
    return float(np.hypot(auc_standard_error(auc_a, n_signal, n_background), auc_standard_error(auc_b, n_signal, n_background)))


def background_rejection_at(labels, scores, *, signal_efficiency, weights=None):
    """Background rejection ``1 / fpr`` at a given signal efficiency (true positive rate).

    The background efficiency is interpolated linearly between the two ROC points
    that bracket the requested signal efficiency (the first point whose ``tpr``
    reaches it and the one before), i.e. along the straight segment that a
    randomised choice between their two thresholds would trace.

    Args:
        labels: ``[N]`` 0/1 ints or bools, 1 = signal.
        scores: ``[N]`` real finite scores, higher = more signal-like.
        signal_efficiency: a float or an array ``[M]`` of efficiencies in (0, 1].
        weights: optional ``[N]`` non-negative per-entry weights.

    Returns:
        float64 rejection(s) of the same shape as ``signal_efficiency`` (a Python
        float for a scalar); ``inf`` where no background passes.

    Raises:
        InputError: as :func:`roc_curve`, or an efficiency outside (0, 1].

    Examples:
        >>> labels = [0, 0, 0, 0, 1, 1]
        >>> scores = [0.1, 0.2, 0.3, 0.7, 0.6, 0.8]
        >>> background_rejection_at(labels, scores, signal_efficiency=0.5)
        inf
        >>> background_rejection_at(labels, scores, signal_efficiency=1.0)
        4.0
    """
    eff = np.asarray(signal_efficiency, dtype=np.float64)
    if eff.ndim > 1 or not np.all((eff > 0) & (eff <= 1)):
        raise InputError(
            f"expected signal_efficiency as a float or [M] array in (0, 1], got {signal_efficiency!r}"
        )
    fpr, tpr, _ = roc_curve(labels, scores, weights=weights, drop_intermediate=False)
    hi = np.searchsorted(tpr, eff, side="left")  # first point with tpr >= eff; tpr[0] = 0 < eff
    lo = hi - 1
    frac = (eff - tpr[lo]) / (tpr[hi] - tpr[lo])
    bkg = fpr[lo] + frac * (fpr[hi] - fpr[lo])
    with np.errstate(divide="ignore"):
        rejection = np.where(bkg > 0, 1.0 / np.where(bkg > 0, bkg, 1.0), np.inf)
    return float(rejection) if rejection.ndim == 0 else rejection
