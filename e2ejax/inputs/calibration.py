"""Jet-calibration inputs: the particle-flow constituents of each jet, by type (jit-able).

The Deep Sets calibration (:class:`e2ejax.nets.DeepSetsCalibration`) predicts
``log(pT_true / pT_reco)`` from each jet's constituents and a few jet-level
features. This module builds those inputs from padded events (the fields of
docs/FORMAT.md as :mod:`e2ejax.io` yields them):

* ``pf_pt``, ``pf_eta``, ``pf_phi`` float32 ``[B, P]``, ``pf_type`` int32 (0 charged
  hadron, 1 electron, 2 muon, 3 photon, 4 neutral hadron), ``pf_jet`` int32 (index of
  the jet the candidate belongs to, -1 none), ``pf_mask`` bool;
* ``jet_pt``, ``jet_eta``, ``jet_phi``, ``jet_mass`` float32 ``[B, S]``, ``jet_mask`` bool;
  ``jet_pt_true`` float32 ``[B, S]`` for training (0 when no generator jet matched).

Constituent features (``CONSTITUENT_FEATURES``): ``log(pT / GeV)``, ``eta - jet_eta``,
``phi - jet_phi`` wrapped to (-pi, pi], ``pT / jet_pT``. Jet features
(``JET_FEATURES``): ``log(jet_pT / GeV)``, ``jet_eta``, ``jet_mass / jet_pT``. The
``n_constituents`` highest-pT constituents of each jet are kept, highest first.
"""

from __future__ import annotations

import functools
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax.errors import InputError, need_fields
from e2ejax.inputs.constituents import select_constituents

__all__ = ["CONSTITUENT_TYPES", "CONSTITUENT_FEATURES", "JET_FEATURES", "jet_constituents", "calibration_examples", "calibrated_pt"]

CONSTITUENT_TYPES = ("charged_hadron", "electron", "muon", "photon", "neutral_hadron")
CONSTITUENT_FEATURES = ("log_pt", "deta", "dphi", "pt_fraction")
JET_FEATURES = ("log_pt", "eta", "mass_over_pt")

_PF = ("pf_pt", "pf_eta", "pf_phi", "pf_type", "pf_jet", "pf_mask")
_JET = ("jet_pt", "jet_eta", "jet_phi", "jet_mass", "jet_mask")


def _need(events: Mapping, names):
    need_fields(events, names, what="jet calibration",
                fix="use files written by e2ejax simulate (the pf_* and jet_* branches of docs/FORMAT.md)")


def jet_constituents(events: Mapping, *, n_constituents: int = 64):
    """The Deep Sets inputs of every jet slot.

    Args:
        events: padded event fields (module docstring).
        n_constituents: constituents kept per jet (static).

    Returns:
        ``(constituents float32 [B, S, N, 4], types float32 [B, S, N], mask float32 [B, S, N],
        jet float32 [B, S, 3])`` with ``N = n_constituents``; padded constituents and
        padded jet slots are all zeros.

    Examples:
        >>> import numpy as np
        >>> ev = {"pf_pt": np.array([[10.0, 30.0, 5.0]], np.float32), "pf_eta": np.zeros((1, 3), np.float32),
        ...       "pf_phi": np.array([[0.1, -0.1, 3.0]], np.float32), "pf_type": np.array([[3, 0, 4]], np.int32),
        ...       "pf_jet": np.array([[0, 0, -1]], np.int32), "pf_mask": np.ones((1, 3), bool),
        ...       "jet_pt": np.array([[40.0]], np.float32), "jet_eta": np.zeros((1, 1), np.float32),
        ...       "jet_phi": np.zeros((1, 1), np.float32), "jet_mass": np.array([[4.0]], np.float32),
        ...       "jet_mask": np.ones((1, 1), bool)}
        >>> c, t, m, j = jet_constituents(ev, n_constituents=4)
        >>> c.shape, t[0, 0].tolist(), m[0, 0].tolist()
        ((1, 1, 4, 4), [0.0, 3.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0])
        >>> np.round(np.asarray(c[0, 0, 0], np.float64), 3).tolist(), np.round(np.asarray(j[0, 0], np.float64), 3).tolist()
        ([3.401, 0.0, -0.1, 0.75], [3.689, 0.0, 0.1])
    """
    _need(events, _PF + _JET)
    if n_constituents < 1:
        raise InputError(f"n_constituents: expected a positive integer, found {n_constituents}")
    jpt = jnp.asarray(events["jet_pt"], jnp.float32)
    jeta = jnp.asarray(events["jet_eta"], jnp.float32)
    jphi = jnp.asarray(events["jet_phi"], jnp.float32)
    jmass = jnp.asarray(events["jet_mass"], jnp.float32)
    jmask = jnp.asarray(events["jet_mask"], bool)
    sel = select_constituents(events, n_constituents)
    keep = sel.keep
    k = keep.shape[-1]
    c_pt, c_eta, c_phi = (sel.pick(jnp.asarray(events[f], jnp.float32)) for f in ("pf_pt", "pf_eta", "pf_phi"))
    c_type = sel.pick(jnp.asarray(events["pf_type"]).astype(jnp.float32))
    safe_jpt = jnp.where(jmask & (jpt > 0), jpt, 1.0)[..., None]
    dphi = jnp.mod(c_phi - jphi[..., None] + jnp.pi, 2 * jnp.pi) - jnp.pi
    feats = jnp.stack([jnp.log(jnp.maximum(c_pt, 1e-3)), c_eta - jeta[..., None], dphi, c_pt / safe_jpt], axis=-1)
    maskf = keep.astype(jnp.float32)
    constituents = feats * maskf[..., None]
    types = jnp.where(keep, c_type, 0.0)
    jet = jnp.stack([jnp.log(safe_jpt[..., 0]), jeta, jmass / safe_jpt[..., 0]], axis=-1) * jmask[..., None]
    if k < n_constituents:
        pad = n_constituents - k
        constituents = jnp.pad(constituents, ((0, 0), (0, 0), (0, pad), (0, 0)))
        types = jnp.pad(types, ((0, 0), (0, 0), (0, pad)))
        maskf = jnp.pad(maskf, ((0, 0), (0, 0), (0, pad)))
    return constituents, types, maskf, jet


@functools.cache
def _jitted(n_constituents: int):
    return jax.jit(functools.partial(jet_constituents, n_constituents=n_constituents))


def calibration_examples(events: Mapping, *, n_constituents: int = 64, min_true_pt: float = 1.0):
    """Training examples of the calibration: the jets with a matched generator jet.

    Returns:
        ``(inputs, targets, jet_pt, true_pt)``: ``inputs`` the tuple
        ``(constituents [K, N, 4], types [K, N], mask [K, N], jet [K, 3])`` (numpy
        float32), ``targets`` ``log(pT_true / pT_reco)`` float32 ``[K]``, and the reco and
        true pT ``[K]`` of the ``K`` jets with ``jet_pt_true >= min_true_pt``.
    """
    _need(events, _PF + _JET + ("jet_pt_true",))
    fields = {k: events[k] for k in _PF + _JET}
    constituents, types, mask, jet = (np.asarray(x) for x in _jitted(n_constituents)(fields))
    reco = np.asarray(events["jet_pt"], np.float32)
    true = np.asarray(events["jet_pt_true"], np.float32)
    keep = (np.asarray(events["jet_mask"], bool) & (true >= min_true_pt) & (reco > 0)).reshape(-1)

    def flat(x):
        return x.reshape((-1,) + x.shape[2:])[keep]

    reco_k, true_k = reco.reshape(-1)[keep], true.reshape(-1)[keep]
    targets = np.log(true_k / reco_k).astype(np.float32)
    return (flat(constituents), flat(types), flat(mask), flat(jet)), targets, reco_k, true_k


def calibrated_pt(jet_pt, log_correction):
    """``jet_pt * exp(log_correction)``: the calibrated jet pT (any matching shapes).

    Examples:
        >>> float(calibrated_pt(50.0, np.log(1.2)))
        60.0
    """
    return np.asarray(jet_pt, np.float64) * np.exp(np.asarray(log_correction, np.float64))
