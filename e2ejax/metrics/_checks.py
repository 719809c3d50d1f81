"""Argument checks shared by the metrics: 1D arrays of one length, finite reals, binary labels."""

from __future__ import annotations

import numpy as np

from e2ejax.errors import InputError


def vector(name: str, x) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1:
        raise InputError(f"expected {name} of shape [N], got shape {arr.shape}; flatten it with np.ravel first")
    if arr.shape[0] == 0:
        raise InputError(f"expected {name} with at least one entry, got an empty array")
    return arr


def same_length(names: tuple[str, ...], arrays) -> None:
    lengths = [a.shape[0] for a in arrays]
    if len(set(lengths)) > 1:
        listing = ", ".join(f"{n} [{k}]" for n, k in zip(names, lengths))
        raise InputError(f"expected {', '.join(names)} of the same length [N], got {listing}")


def finite(name: str, arr: np.ndarray) -> np.ndarray:
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


def binary_inputs(labels, scores, weights):
    labels = vector("labels", labels)
    scores = vector("scores", scores)
    names, arrays = ("labels", "scores"), [labels, scores]
    if weights is not None:
        weights = vector("weights", weights)
        names, arrays = names + ("weights",), arrays + [weights]
    same_length(names, arrays)
    if labels.dtype != np.bool_:
        values = np.unique(labels)
        if not np.all(np.isin(values, (0, 1))):
            raise InputError(
                f"expected binary labels (0 = background, 1 = signal, or bool), found values {values[:6].tolist()}; "
                "map your classes to 0/1 first"
            )
    y = labels.astype(np.float64)
    s = finite("scores", scores)
    if weights is not None:
        w = finite("weights", weights)
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
