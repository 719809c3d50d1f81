"""ROC curves and AUCs of scored seeds (:func:`e2ejax.io.load_roc_inputs`), as :func:`e2ejax.metrics.roc_curve`."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax.errors import InputError
from e2ejax.io import RocInputs
from e2ejax.metrics import roc_auc, roc_curve

__all__ = ["RocCurve", "roc_curves"]


class RocCurve(NamedTuple):
    """One ROC curve: ``fpr``, ``tpr``, ``thresholds`` exactly as :func:`e2ejax.metrics.roc_curve`."""

    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float  # e2ejax.metrics.roc_auc
    n_signal: int
    n_background: int


def roc_curves(labels, scores: dict | None = None) -> list[RocCurve]:
    """ROC curve and AUC of every score against the same labels.

    Args:
        labels: int ``[N]`` 0/1, or a :class:`RocInputs` (then ``scores`` is taken from it).
        scores: name -> float ``[N]``, higher = more signal-like.

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
        out.append(RocCurve(name, fpr, tpr, thr, auc, n_sig, int(labels.shape[0]) - n_sig))
    return out
