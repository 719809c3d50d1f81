"""ROC curves and AUCs of scored seeds (:func:`e2ejax.io.load_roc_inputs`), as :func:`e2ejax.metrics.roc_curve`,
with bootstrap uncertainty bands for small samples."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax.errors import InputError
from e2ejax.io import RocInputs
from e2ejax.metrics import roc_auc, roc_curve

__all__ = ["RocCurve", "RocBand", "roc_curves", "bootstrap_band", "BAND_GRID"]
#: signal efficiencies at which a band is evaluated, float64 ``[101]``
BAND_GRID = np.linspace(0.0, 1.0, 101)


class RocBand(NamedTuple):
    """Central 68% bootstrap interval of a ROC curve.

    ``tpr`` is :data:`BAND_GRID` (float64 ``[G]``); ``fpr_low`` / ``fpr_high`` float64 ``[G]``
    are the 16th / 84th percentiles of the background efficiency at that signal
    efficiency over the resamples; ``auc_std`` is the standard deviation of their AUCs.
    """

    tpr: np.ndarray
    fpr_low: np.ndarray
    fpr_high: np.ndarray
    auc_std: float
    n_resamples: int


class RocCurve(NamedTuple):
    """One ROC curve: ``fpr``, ``tpr``, ``thresholds`` exactly as :func:`e2ejax.metrics.roc_curve`."""

    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float  # e2ejax.metrics.roc_auc
    n_signal: int
    n_background: int
    band: RocBand | None = None  # bootstrap interval (None without resampling)


def _fpr_at(fpr: np.ndarray, tpr: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Background efficiency of the drawn curve (straight segments) at the signal efficiencies ``grid``.

    Where the curve is flat in ``tpr`` the smallest ``fpr`` is taken (the first point reached).
    """
    tpr_u, first = np.unique(tpr, return_index=True)
    return np.interp(grid, tpr_u, fpr[first])


def bootstrap_band(labels, scores, *, n_resamples: int = 200, seed: int = 0) -> RocBand:
    """Bootstrap interval of the ROC curve of ``scores`` against ``labels``.

    Signal and background candidates are resampled separately (with replacement, each
    class keeps its size), so every resample has both classes.

    Args:
        labels: int ``[N]`` 0/1 with both classes present.
        scores: float ``[N]``, higher = more signal-like.
        n_resamples: number of resamples (keyword-only, at least 2).
        seed: seed of the numpy generator (keyword-only): equal seeds give equal bands.

    Returns:
        A :class:`RocBand` on :data:`BAND_GRID`.

    Raises:
        InputError: fewer than 2 resamples, or labels without both classes.
    """
    if isinstance(n_resamples, bool) or not isinstance(n_resamples, int) or n_resamples < 2:
        raise InputError(f"expected at least 2 bootstrap resamples; found {n_resamples!r}; pass e.g. 200")
    labels, scores = np.asarray(labels), np.asarray(scores, np.float64)
    sig, bkg = np.flatnonzero(labels == 1), np.flatnonzero(labels == 0)
    if sig.size == 0 or bkg.size == 0:
        raise InputError(f"expected both labels 0 and 1 for a bootstrap band; found {sig.size} label 1 and {bkg.size} label 0")
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.ones(sig.size, np.int64), np.zeros(bkg.size, np.int64)])
    fprs, aucs = np.empty((n_resamples, BAND_GRID.size)), np.empty(n_resamples)
    for i in range(n_resamples):
        pick = np.concatenate([rng.choice(sig, sig.size), rng.choice(bkg, bkg.size)])
        fpr, tpr, _ = roc_curve(y, scores[pick])
        fprs[i], aucs[i] = _fpr_at(fpr, tpr, BAND_GRID), roc_auc(y, scores[pick])
    low, high = np.percentile(fprs, [16.0, 84.0], axis=0)
    return RocBand(BAND_GRID.copy(), low, high, float(np.std(aucs, ddof=1)), n_resamples)


def roc_curves(labels, scores: dict | None = None, *, bootstrap: int = 0, seed: int = 0) -> list[RocCurve]:
    """ROC curve and AUC of every score against the same labels.

    Args:
        labels: int ``[N]`` 0/1, or a :class:`RocInputs` (then ``scores`` is taken from it).
        scores: name -> float ``[N]``, higher = more signal-like.
        bootstrap: resamples of the :func:`bootstrap_band` of every curve (keyword-only;
            0: no bands).
        seed: seed of the resampling (keyword-only).

    Returns:
        One :class:`RocCurve` per score, in the order given.

    Raises:
        InputError: as :func:`e2ejax.metrics.roc_curve`, prefixed with the score's name.

    Examples:
        >>> c = roc_curves(np.array([0, 0, 1, 1]), {"m": np.array([0.1, 0.4, 0.35, 0.8])})[0]
        >>> c.auc, c.tpr.tolist()
        (0.75, [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    if isinstance(labels, RocInputs):
        labels, scores = labels.labels, labels.scores
    labels = np.asarray(labels)
    out = []
    for name, s in (scores or {}).items():
        try:
            fpr, tpr, thr = roc_curve(labels, s)
            auc = roc_auc(labels, s)
        except InputError as exc:
            raise InputError(f"ROC of {name!r}: {exc}") from None
        n_sig = int((labels == 1).sum())
        band = bootstrap_band(labels, s, n_resamples=bootstrap, seed=seed) if bootstrap else None
        out.append(RocCurve(name, fpr, tpr, thr, auc, n_sig, int(labels.shape[0]) - n_sig, band))
    return out
