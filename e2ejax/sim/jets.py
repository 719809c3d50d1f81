"""Jet clustering with fastjet (anti-kT) and angular matching for truth labels."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax.errors import require

__all__ = ["Jets", "cluster", "delta_r", "match"]


class Jets(NamedTuple):
    """Jets of one event sorted by decreasing pT.

    Attributes:
        pt, eta, phi, mass: float64 ``[J]``.
        member: int64 ``[C]`` index of the jet each input belongs to, -1 if none
            (inputs in jets below ``min_pt`` also get -1).
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    mass: np.ndarray
    member: np.ndarray


def cluster(pt, eta, phi, *, radius: float, min_pt: float, mass=None) -> Jets:
    """Cluster particles with anti-kT (E-scheme).

    Args:
        pt, eta, phi: float ``[C]`` inputs.
        radius: jet radius R (keyword-only).
        min_pt: smallest jet pT kept (GeV).
        mass: optional float ``[C]`` masses (massless by default).

    Returns:
        :class:`Jets`.
    """
    fastjet = require("fastjet", "sim")
    pt, eta, phi = (np.asarray(a, np.float64) for a in (pt, eta, phi))
    m = np.zeros_like(pt) if mass is None else np.asarray(mass, np.float64)
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    e = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    inputs = []
    for i in range(len(pt)):
        pj = fastjet.PseudoJet(px[i], py[i], pz[i], e[i])
        pj.set_user_index(i)
        inputs.append(pj)
    member = np.full(len(pt), -1, np.int64)
    if not inputs:
        empty = np.zeros(0)
        return Jets(empty, empty, empty, empty, member)
    sequence = fastjet.ClusterSequence(inputs, fastjet.JetDefinition(fastjet.antikt_algorithm, radius))
    jets = fastjet.sorted_by_pt(sequence.inclusive_jets(min_pt))
    for j, jet in enumerate(jets):
        for c in jet.constituents():
            member[c.user_index()] = j
    kin = np.array([(j.pt(), j.eta(), j.phi_std(), j.m()) for j in jets], np.float64).reshape(-1, 4)
    return Jets(kin[:, 0], kin[:, 1], kin[:, 2], np.maximum(kin[:, 3], 0.0), member)


def delta_r(eta1, phi1, eta2, phi2) -> np.ndarray:
    """Angular distance with phi wrapping; broadcasts."""
    dphi = np.mod(np.asarray(phi1) - np.asarray(phi2) + np.pi, 2 * np.pi) - np.pi
    return np.hypot(np.asarray(eta1) - np.asarray(eta2), dphi)


def match(eta, phi, ref_eta, ref_phi, *, max_dr: float) -> np.ndarray:
    """Closest reference object of each object within ``max_dr``.

    Args:
        eta, phi: float ``[J]`` objects.
        ref_eta, ref_phi: float ``[K]`` references.
        max_dr: matching cone (keyword-only).

    Returns:
        int64 ``[J]`` reference index, -1 where none is close enough.
    """
    eta, ref_eta = np.asarray(eta, np.float64), np.asarray(ref_eta, np.float64)
    if len(eta) == 0 or len(ref_eta) == 0:
        return np.full(len(eta), -1, np.int64)
    dr = delta_r(eta[:, None], np.asarray(phi)[:, None], ref_eta[None, :], np.asarray(ref_phi)[None, :])
    best = np.argmin(dr, axis=1)
    return np.where(dr[np.arange(len(eta)), best] < max_dr, best, -1).astype(np.int64)
