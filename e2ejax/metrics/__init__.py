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

from e2ejax.metrics._resolution import BinnedResolution, Resolution, binned_response_and_resolution, response_and_resolution
from e2ejax.metrics._roc import auc_difference_error, auc_standard_error, background_rejection_at, roc_auc, roc_curve
from e2ejax.metrics._sculpting import MASS_BINS, MassSculpting, jensen_shannon, mass_sculpting

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
