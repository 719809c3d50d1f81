"""Background mass sculpting of a selection: Jensen-Shannon divergence of the mass before and after a cut."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax.errors import InputError
from e2ejax.metrics._checks import binary_inputs, finite, same_length, vector

#: default jet-mass bin edges of :func:`mass_sculpting`: 0-300 GeV in 30 bins of 10 GeV (top tagging), read-only
MASS_BINS = np.linspace(0.0, 300.0, 31)
MASS_BINS.setflags(write=False)


def _histogram(name: str, h) -> np.ndarray:
    arr = finite(name, vector(name, h))
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
    p_raw, q_raw = vector("p", p), vector("q", q)
    same_length(("p", "q"), (p_raw, q_raw))
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
    m = finite("mass", vector("mass", mass))
    same_length(("labels", "mass"), (vector("labels", labels), m))
    y, s, w = binary_inputs(labels, scores, weights)
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
