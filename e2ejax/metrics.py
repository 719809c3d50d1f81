"""Classifier and regression metrics in plain NumPy: ROC, AUC, rejection, response, resolution.

The ROC functions follow scikit-learn's ``roc_curve`` / ``roc_auc_score`` exactly
(same thresholds, tie handling and zero-weight filtering), so numbers quoted from
e2ejax and from weaver-style sklearn scripts agree; scikit-learn is only a test
dependency. Everything is computed in float64 on the host.

Regression metrics use the jet-calibration conventions: the response is
``pred_pt / true_pt``; its median is the scale, and the resolution is the half
width of the central 68.27 % interval, ``(q84 - q16) / 2``, divided by the median
response. The quantile width is used instead of a standard deviation or a Gaussian
fit because response distributions have non-Gaussian tails (out-of-cone losses,
pile-up) that dominate a standard deviation, while the central interval equals one
sigma for a Gaussian core; dividing by the median makes the resolution
independent of the residual scale, so calibrated and uncalibrated responses
compare fairly.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax.errors import InputError

__all__ = [
    "roc_curve",
    "roc_auc",
    "auc_standard_error",
    "auc_difference_error",
    "background_rejection_at",
    "Resolution",
    "BinnedResolution",
    "response_and_resolution",
    "binned_response_and_resolution",
    "jensen_shannon",
    "MASS_BINS",
    "MassSculpting",
    "mass_sculpting",
]

#: Lower and upper quantiles of the central 68.27 % interval (one Gaussian sigma).
Q16 = 0.15865525393145707
Q84 = 0.8413447460685429


def _vector(name: str, x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise InputError(f"expected {name} of shape [N], got shape {arr.shape}; flatten it with np.ravel first")
    if arr.shape[0] == 0:
        raise InputError(f"expected {name} with at least one entry, got an empty array")
    return arr


def _same_length(names: tuple[str, ...], arrays) -> None:
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        listing = ", ".join(f"{n} [{k}]" for n, k in zip(names, lengths))
        raise InputError(f"expected {', '.join(names)} of the same length [N], got {listing}")


def _finite(name: str, arr: np.ndarray) -> np.ndarray:
    if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError(f"expected {name} with a real numeric dtype, got {arr.dtype}")
    out = arr.astype(np.float64)
    bad = ~np.isfinite(out)
    if bad.any():
        raise InputError(
            f"expected finite {name}, found {int(bad.sum())} NaN/inf entries (first at index {int(np.argmax(bad))}); "
            "remove or clip them before computing metrics"
        )
    return out


def _binary_inputs(labels, scores, weights):
    labels = _vector("labels", labels)
    scores = _vector("scores", scores)
    names, arrays = ("labels", "scores"), [labels, scores]
    if weights is not None:
        weights = _vector("weights", weights)
        names, arrays = names + ("weights",), arrays + [weights]
    _same_length(names, arrays)
    if labels.dtype != np.bool_:
        values = np.unique(labels)
        if not np.all(np.isin(values, (0, 1))):
            raise InputError(
                f"expected binary labels (0 = background, 1 = signal, or bool), found values {values[:6].tolist()}; "
                "map your classes to 0/1 first"
            )
    y = labels.astype(np.float64)
    s = _finite("scores", scores)
    if weights is not None:
        w = _finite("weights", weights)
        if (w < 0).any():
            raise InputError(f"expected non-negative weights, found {int((w < 0).sum())} negative entries")
        keep = w != 0  # zero-weight entries do not create thresholds (as in scikit-learn)
        y, s, w = y[keep], s[keep], w[keep]
    else:
        w = None
    n_sig = int((y == 1).sum())
    n_bkg = int((y == 0).sum())
    if n_sig == 0 or n_bkg == 0:
        missing = "signal (label 1)" if n_sig == 0 else "background (label 0)"
        raise InputError(
            f"expected labels with both classes, found only {'background' if n_sig == 0 else 'signal'} "
            f"({max(n_sig, n_bkg)} entries with non-zero weight); a ROC curve needs {missing} entries too"
        )
    return y, s, w


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
    y, s, w = _binary_inputs(labels, scores, weights)
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


class Resolution(NamedTuple):
    """Median response and relative resolution of a regression (Python floats)."""

    response: float  # median of pred_pt / true_pt
    resolution: float  # (q84 - q16) / 2 of the response, divided by the median


class BinnedResolution(NamedTuple):
    """:func:`response_and_resolution` per bin of true pT; arrays ``[n_bins]`` (edges ``[n_bins + 1]``).

    Empty bins have ``count`` 0 and NaN response and resolution.
    """

    edges: np.ndarray  # float64 [n_bins + 1], the bin edges in true pT
    count: np.ndarray  # int64 [n_bins], entries per bin
    response: np.ndarray  # float64 [n_bins]
    resolution: np.ndarray  # float64 [n_bins]


def _pt_pair(pred_pt, true_pt):
    pred = _finite("pred_pt", _vector("pred_pt", pred_pt))
    true = _finite("true_pt", _vector("true_pt", true_pt))
    _same_length(("pred_pt", "true_pt"), (pred, true))
    if (true <= 0).any():
        raise InputError(
            f"expected true_pt > 0, found {int((true <= 0).sum())} entries <= 0; select entries with a matched true object"
        )
    return pred, true


def _summary(response: np.ndarray) -> tuple[float, float]:
    median = float(np.median(response))
    q16, q84 = np.quantile(response, [Q16, Q84])
    return median, float((q84 - q16) / 2.0 / median)


def response_and_resolution(pred_pt, true_pt) -> Resolution:
    """Median response and relative resolution of a pT regression.

    ``response = pred_pt / true_pt``; the resolution is ``(q84 - q16) / 2 / median``
    with ``q16``, ``q84`` the 15.87 % and 84.13 % quantiles of the response
    (``np.quantile``'s linear interpolation), so a Gaussian response of width
    ``sigma`` around 1 gives ``sigma``. See the module docstring for the choice.

    Args:
        pred_pt: ``[N]`` predicted (or reconstructed) transverse momenta.
        true_pt: ``[N]`` true transverse momenta, all > 0.

    Returns:
        :class:`Resolution` ``(response, resolution)`` of Python floats.

    Raises:
        InputError: non-1-D, empty or mismatched inputs, non-finite values, ``true_pt <= 0``.

    Examples:
        >>> r = response_and_resolution([90.0, 100.0, 110.0], [100.0, 100.0, 100.0])
        >>> round(r.response, 6), round(r.resolution, 4)
        (1.0, 0.0683)
    """
    pred, true = _pt_pair(pred_pt, true_pt)
    return Resolution(*_summary(pred / true))


def binned_response_and_resolution(pred_pt, true_pt, *, bins) -> BinnedResolution:
    """:func:`response_and_resolution` in bins of true pT.

    Bin ``i`` holds ``edges[i] <= true_pt < edges[i + 1]``, the last bin also its
    upper edge (as ``np.histogram``); entries outside the edges are not counted.

    Args:
        pred_pt: ``[N]`` predicted transverse momenta.
        true_pt: ``[N]`` true transverse momenta, all > 0.
        bins: increasing bin edges ``[n_bins + 1]`` in true pT (at least two).

    Returns:
        :class:`BinnedResolution` with ``edges``, ``count``, ``response``, ``resolution``.

    Raises:
        InputError: as :func:`response_and_resolution`, or edges that are not an
            increasing 1-D array of at least two finite values.

    Examples:
        >>> b = binned_response_and_resolution([9.0, 11.0, 60.0, 40.0, 55.0], [10.0, 10.0, 50.0, 50.0, 50.0],
        ...                                    bins=[0.0, 20.0, 100.0, 200.0])
        >>> b.count.tolist(), b.response.round(3).tolist()
        ([2, 3, 0], [1.0, 1.1, nan])
    """
    pred, true = _pt_pair(pred_pt, true_pt)
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.shape[0] < 2 or not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
        raise InputError(f"expected bins as increasing edges [n_bins + 1] with at least two finite values, got {bins!r}")
    n_bins = edges.shape[0] - 1
    index = np.searchsorted(edges, true, side="right") - 1
    index = np.where(true == edges[-1], n_bins - 1, index)
    inside = (index >= 0) & (index < n_bins)
    count = np.bincount(index[inside], minlength=n_bins).astype(np.int64)
    response = np.full(n_bins, np.nan)
    resolution = np.full(n_bins, np.nan)
    ratio = pred / true
    for i in np.flatnonzero(count):
        response[i], resolution[i] = _summary(ratio[inside & (index == i)])
    return BinnedResolution(edges, count, response, resolution)


# -- mass sculpting ----------------------------------------------------------------------

#: default jet-mass bin edges of :func:`mass_sculpting`: 0-300 GeV in 30 bins of 10 GeV (top tagging), read-only
MASS_BINS = np.linspace(0.0, 300.0, 31)
MASS_BINS.setflags(write=False)


def _histogram(name: str, h) -> np.ndarray:
    arr = _finite(name, _vector(name, h))
    if (arr < 0).any():
        raise InputError(f"expected non-negative counts in {name}, found {int((arr < 0).sum())} negative entries "
                         f"(first at index {int(np.argmax(arr < 0))})")
    total = arr.sum()
    if not total > 0:
        raise InputError(f"expected a histogram {name} with at least one non-zero bin, found all {arr.shape[0]} bins zero; "
                         "a distribution needs entries")
    return arr / total


def _kl_to_mixture(p: np.ndarray, m: np.ndarray) -> float:
    nz = p > 0  # 0 log 0 = 0; m > 0 wherever p > 0
    return float(np.sum(p[nz] * np.log2(p[nz] / m[nz])))


def jensen_shannon(p, q) -> float:
    """Jensen-Shannon divergence of two histograms, in bits (base-2 logarithm), in [0, 1].

    Both histograms are normalised to unit sum first, so only their shapes count;
    ``JSD = (KL(P || M) + KL(Q || M)) / 2`` with ``M = (P + Q) / 2`` and
    ``0 log 0 = 0`` (empty bins are allowed). It is 0 for equal shapes, 1 for
    histograms without a common non-empty bin, and symmetric in ``p`` and ``q``.

    Args:
        p, q: ``[K]`` non-negative finite bin contents (counts or weights), same binning.

    Returns:
        The divergence as a Python float.

    Raises:
        InputError: (a ValueError) non-1-D, empty or different-length inputs, negative
            or non-finite contents, a histogram whose bins are all zero.

    Examples:
        >>> jensen_shannon([1, 2, 3], [2, 4, 6])
        0.0
        >>> jensen_shannon([1, 0], [0, 5])
        1.0
        >>> round(jensen_shannon([1, 1], [1, 0]), 4)
        0.3113
    """
    p_raw, q_raw = _vector("p", p), _vector("q", q)
    _same_length(("p", "q"), (p_raw, q_raw))
    p, q = _histogram("p", p_raw), _histogram("q", q_raw)
    m = 0.5 * (p + q)
    jsd = 0.5 * _kl_to_mixture(p, m) + 0.5 * _kl_to_mixture(q, m)
    return float(min(max(jsd, 0.0), 1.0))  # rounding can leave it a few ulp outside


class MassSculpting(NamedTuple):
    """Background mass sculpting of a score cut at a fixed signal efficiency (:func:`mass_sculpting`).

    Histograms are ``[K]`` float64 weighted counts in the bins ``edges`` ``[K + 1]`` (entries
    outside the edges are not counted); efficiencies are weighted fractions of all entries of
    the class, inside the mass range or not.
    """

    threshold: float  # the cut: entries with score >= threshold pass
    signal_efficiency: float  # achieved signal efficiency (the requested one, or just above with ties)
    background_efficiency: float  # background that passes
    jsd: float  # jensen_shannon(background_before, background_after); NaN when no background in range passes
    jsd_random: float  # mean JSD of random selections of as many background entries as pass: the statistical floor
    jsd_random_std: float  # standard deviation of that JSD over the random selections
    edges: np.ndarray  # float64 [K + 1] mass bin edges
    background_before: np.ndarray  # float64 [K] background mass histogram before the cut
    background_after: np.ndarray  # float64 [K] background mass histogram of the entries that pass


def _mass_bins(bins) -> np.ndarray:
    edges = np.asarray(bins, dtype=np.float64)
    if edges.ndim != 1 or edges.shape[0] < 2 or not np.all(np.isfinite(edges)) or not np.all(np.diff(edges) > 0):
        raise InputError(f"expected bins as increasing edges [n_bins + 1] with at least two finite values, got {bins!r}")
    return edges


def mass_sculpting(labels, scores, mass, *, signal_efficiency: float = 0.5, bins=MASS_BINS, weights=None,
                   n_random: int = 100, seed: int = 0) -> MassSculpting:
    """How much a cut on ``scores`` distorts the background mass distribution (DeepDoubleB's figure of merit).

    The cut keeps ``score >= threshold`` with ``threshold`` the highest score at which at
    least ``signal_efficiency`` of the signal (label 1, weighted) passes: sorting the signal
    by score, the entry where the cumulative weight first reaches that fraction. Without
    ties and weights, exactly ``ceil(signal_efficiency * n_signal)`` signal entries pass.
    The background (label 0) mass histograms before and after the cut are compared by
    :func:`jensen_shannon` of their normalised shapes.

    A tagger whose score is independent of the mass for background keeps the background
    shape: its JSD is ~0 up to the statistical fluctuation of the smaller selected sample.
    That floor is ``jsd_random``: the mean JSD between the background before the cut and
    ``n_random`` random subsets of as many background entries as the cut keeps (drawn
    without replacement with ``numpy.random.default_rng(seed)``, so equal seeds give equal
    floors). A JSD well above ``jsd_random`` (in units of ``jsd_random_std``) is sculpting;
    a score equal to the mass gives a JSD near 1 at low background efficiency.

    Args:
        labels: ``[N]`` 0/1 ints or bools, 1 = signal.
        scores: ``[N]`` real finite scores, higher = more signal-like.
        mass: ``[N]`` finite masses (GeV for the default bins).
        signal_efficiency: the signal fraction the cut keeps, in (0, 1] (keyword-only).
        bins: mass bin edges ``[K + 1]``, increasing (default :data:`MASS_BINS`, 0-300 GeV in 30 bins).
        weights: optional ``[N]`` non-negative per-entry weights; zero-weight entries are dropped.
        n_random: random selections of the floor (at least 2); seed: seed of their generator.

    Returns:
        :class:`MassSculpting`.

    Raises:
        InputError: as :func:`roc_curve`; non-finite or mismatched ``mass``; an efficiency
            outside (0, 1]; bad bins; no background entry inside the bins; ``n_random`` below 2.

    Examples:
        >>> r = mass_sculpting([0, 0, 0, 0, 1, 1], [0.1, 0.9, 0.3, 0.8, 0.7, 0.95], [10, 50, 10, 50, 50, 60],
        ...                    bins=[0, 20, 100])
        >>> r.threshold, r.background_efficiency, r.background_after.tolist(), r.jsd
        (0.95, 0.0, [0.0, 0.0], nan)
        >>> r = mass_sculpting([0, 0, 0, 0, 1, 1], [0.1, 0.9, 0.3, 0.8, 0.7, 0.95], [10, 50, 10, 50, 50, 60],
        ...                    signal_efficiency=1.0, bins=[0, 20, 100])
        >>> r.threshold, r.background_efficiency, r.background_after.tolist(), round(r.jsd, 4)
        (0.7, 0.5, [0.0, 2.0], 0.3113)
    """
    eff = float(signal_efficiency)
    if not 0.0 < eff <= 1.0:
        raise InputError(f"expected signal_efficiency in (0, 1], got {signal_efficiency!r}")
    if isinstance(n_random, bool) or not isinstance(n_random, (int, np.integer)) or n_random < 2:
        raise InputError(f"expected n_random of at least 2 random selections, got {n_random!r}")
    edges = _mass_bins(bins)
    m = _finite("mass", _vector("mass", mass))
    _same_length(("labels", "mass"), (_vector("labels", labels), m))
    y, s, w = _binary_inputs(labels, scores, weights)
    if w is not None:
        m = m[np.asarray(weights, dtype=np.float64) != 0]
    w_all = np.ones_like(s) if w is None else w
    sig, bkg = y == 1, y == 0
    # threshold: highest signal score where the cumulative signal weight reaches eff
    order = np.argsort(-s[sig], kind="stable")
    s_sig, cum = s[sig][order], np.cumsum(w_all[sig][order])
    total_sig = cum[-1]
    k = min(int(np.searchsorted(cum, eff * total_sig * (1.0 - 1e-12), side="left")), s_sig.shape[0] - 1)
    threshold = float(s_sig[k])
    passed = s >= threshold
    signal_eff = float(w_all[sig & passed].sum() / total_sig)
    background_eff = float(w_all[bkg & passed].sum() / w_all[bkg].sum())
    m_bkg, w_bkg, pass_bkg = m[bkg], w_all[bkg], passed[bkg]
    before = np.histogram(m_bkg, edges, weights=w_bkg)[0]
    if not before.sum() > 0:
        raise InputError(f"expected background (label 0) entries inside the mass bins [{edges[0]:g}, {edges[-1]:g}]; found "
                         f"none of {int(bkg.sum())} (masses {m_bkg.min():g} to {m_bkg.max():g}); widen the bins")
    after = np.histogram(m_bkg[pass_bkg], edges, weights=w_bkg[pass_bkg])[0]
    jsd = jensen_shannon(before, after) if after.sum() > 0 else float("nan")
    rng = np.random.default_rng(seed)
    n_pass, n_bkg = int(pass_bkg.sum()), m_bkg.shape[0]
    floors = []
    for _ in range(int(n_random)):
        pick = rng.choice(n_bkg, size=n_pass, replace=False)
        h = np.histogram(m_bkg[pick], edges, weights=w_bkg[pick])[0]
        floors.append(jensen_shannon(before, h) if h.sum() > 0 else np.nan)
    floors = np.asarray(floors)
    floors = floors[np.isfinite(floors)]  # a draw with no entry inside the bins has no shape
    jsd_random = float(floors.mean()) if floors.size else float("nan")
    jsd_std = float(floors.std(ddof=1)) if floors.size > 1 else float("nan")
    return MassSculpting(threshold, signal_eff, background_eff, jsd, jsd_random, jsd_std, edges, before, after)
