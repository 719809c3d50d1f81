"""Response and resolution of a pT regression (median and central 68.27 % half width), overall and in bins."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax.errors import InputError
from e2ejax.metrics._checks import finite, same_length, vector

#: Lower and upper quantiles of the central 68.27 % interval (one Gaussian sigma).
Q16 = 0.15865525393145707
Q84 = 0.8413447460685429


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
    pred = finite("pred_pt", vector("pred_pt", pred_pt))
    true = finite("true_pt", vector("true_pt", true_pt))
    same_length(("pred_pt", "true_pt"), (pred, true))
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
