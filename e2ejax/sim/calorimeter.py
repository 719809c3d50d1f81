"""Calorimeter response: EM and hadron showers, MIPs, noise and zero suppression.

Showers are sampled as equal-energy spots around the impact point with the 2-D
radial density ``2 r a^2 / (r^2 + a^2)^2`` (fraction inside ``r``: ``r^2 / (r^2 + a^2)``);
a spot at distance ``d`` (cm) from an impact at transverse radius ``r_T`` is moved by
``d / r_T`` in eta and phi, the same in EB and EE. Spots are binned on the stitched
ECAL grid (EB crystals, EE pseudo-crystals) and on the HBHE towers of
:mod:`e2ejax.geometry`; every cell then gets Gaussian noise and cells below the
zero-suppression threshold are dropped.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax import geometry
from e2ejax.sim.config import DetectorConfig

__all__ = [
    "CaloHits",
    "hadron_response",
    "em_resolution",
    "hadron_resolution",
    "shower_spots",
    "ecal_hits",
    "hcal_hits",
]


class CaloHits(NamedTuple):
    """Zero-suppressed hits of one event (1-D arrays, one entry per cell).

    Attributes:
        eb_ieta, eb_iphi: int32 EB crystal indices; eb_energy: float32.
        ee_eta, ee_phi: float32 EE pseudo-crystal centres; ee_energy: float32.
        hbhe_ieta, hbhe_iphi: int32 CMS HCAL tower indices; hbhe_energy: float32.
    """

    eb_ieta: np.ndarray
    eb_iphi: np.ndarray
    eb_energy: np.ndarray
    ee_eta: np.ndarray
    ee_phi: np.ndarray
    ee_energy: np.ndarray
    hbhe_ieta: np.ndarray
    hbhe_iphi: np.ndarray
    hbhe_energy: np.ndarray


def hadron_response(energy, cfg: DetectorConfig) -> np.ndarray:
    """Mean calorimeter response to hadrons relative to electrons, ``1 - (1 - h_low) E^-k``."""
    e = np.maximum(np.asarray(energy, np.float64), 1.0)
    return 1.0 - (1.0 - cfg.h_over_e_low) * e ** (-cfg.h_over_e_slope)


def em_resolution(energy, cfg: DetectorConfig) -> np.ndarray:
    """Relative EM energy resolution (stochastic and constant terms; noise comes from the cells)."""
    e = np.maximum(np.asarray(energy, np.float64), 1e-3)
    return np.hypot(cfg.ecal_stochastic / np.sqrt(e), cfg.ecal_constant)


def hadron_resolution(energy, cfg: DetectorConfig) -> np.ndarray:
    """Relative hadron energy resolution of ECAL + HCAL, ``a / sqrt(E) (+) c``."""
    e = np.maximum(np.asarray(energy, np.float64), 1e-3)
    return np.hypot(cfg.hcal_stochastic / np.sqrt(e), cfg.hcal_constant)


def shower_spots(eta, phi, energy, scale, rng: np.random.Generator, *, max_spots: int, spot_energy: float):
    """Split showers into spots spread laterally around their axes.

    Args:
        eta, phi: float ``[N]`` shower axes.
        energy: float ``[N]`` deposited energies (>= 0).
        scale: float ``[N]`` lateral scale ``a`` in eta-phi units.
        rng: NumPy generator.
        max_spots: most spots per shower (keyword-only).
        spot_energy: nominal energy per spot; showers get ``ceil(E / spot_energy)`` spots.

    Returns:
        ``(eta, phi, energy)`` float64 ``[M]`` spots; energies sum to the input per shower.
    """
    energy = np.asarray(energy, np.float64)
    n = np.clip(np.ceil(energy / spot_energy), 1, max_spots).astype(np.int64)
    n = np.where(energy > 0, n, 0)
    owner = np.repeat(np.arange(len(energy)), n)
    u = np.minimum(rng.random(len(owner)), 0.999)
    r = scale[owner] * np.sqrt(u / (1.0 - u))
    angle = rng.random(len(owner)) * 2 * np.pi
    return (
        eta[owner] + r * np.cos(angle),
        phi[owner] + r * np.sin(angle),
        (energy / np.maximum(n, 1))[owner],
    )


def _noisy(dense, sigma, threshold, valid, rng):
    """Add Gaussian noise to valid cells and apply the threshold; returns flat indices and energies."""
    values = dense + sigma * rng.standard_normal(dense.shape)
    keep = np.flatnonzero((values > threshold).ravel() & valid.ravel())
    return keep, values.ravel()[keep]


def ecal_hits(eta, phi, energy, rng: np.random.Generator, cfg: DetectorConfig):
    """Bin ECAL spots, add noise, zero-suppress, and split into EB and EE hits.

    Args:
        eta, phi, energy: float ``[M]`` spots.
        rng: NumPy generator.
        cfg: detector settings.

    Returns:
        ``(eb_ieta, eb_iphi, eb_energy, ee_eta, ee_phi, ee_energy)`` 1-D arrays
        (int32 indices, float32 positions and energies).
    """
    rows, cols = geometry.ECAL.shape
    row = geometry.eta_to_row(eta, "ECAL")
    col = geometry.phi_to_col(phi, "ECAL")
    ok = row >= 0
    dense = np.bincount(row[ok] * cols + col[ok], weights=energy[ok], minlength=rows * cols).reshape(rows, cols)
    in_eb = (np.arange(rows) >= geometry.EB_ROW_OFFSET) & (np.arange(rows) < geometry.EEP_ROW_OFFSET)
    sigma = np.where(in_eb, cfg.eb_noise, cfg.ee_noise)[:, None] * np.ones((1, cols))
    flat, values = _noisy(dense, sigma, cfg.ecal_zs_sigmas * sigma, np.ones_like(dense, bool), rng)
    r, c = flat // cols, flat % cols
    eb = in_eb[r]
    ieta, iphi = geometry.eb_cell_to_index(r[eb] - geometry.EB_ROW_OFFSET, c[eb])
    ee_eta, ee_phi = geometry.cell_centre(r[~eb], c[~eb], "ECAL")
    return (
        ieta.astype(np.int32), iphi.astype(np.int32), values[eb].astype(np.float32),
        ee_eta.astype(np.float32), ee_phi.astype(np.float32), values[~eb].astype(np.float32),
    )


def _wide_rows():
    ieta, _ = geometry.hbhe_cell_to_index(np.arange(geometry.HBHE.shape[0]), 0)
    return np.abs(ieta) > 20


_WIDE = _wide_rows()


def hcal_hits(eta, phi, energy, rng: np.random.Generator, cfg: DetectorConfig):
    """Bin HCAL spots into CMS towers (10-degree towers above ``|ieta|`` 20), add noise, threshold.

    Args:
        eta, phi, energy: float ``[M]`` spots.
        rng: NumPy generator.
        cfg: detector settings.

    Returns:
        ``(ieta, iphi, energy)``: int32, int32, float32 1-D arrays; wide towers carry odd iphi.
    """
    rows, cols = geometry.HBHE.shape
    row = geometry.eta_to_row(eta, "HBHE")
    col = geometry.phi_to_col(phi, "HBHE")
    ok = row >= 0
    row, col = row[ok], col[ok]
    col = np.where(_WIDE[row], 2 * (col // 2), col)
    dense = np.bincount(row * cols + col, weights=energy[ok], minlength=rows * cols).reshape(rows, cols)
    valid = ~(_WIDE[:, None] & (np.arange(cols)[None, :] % 2 == 1))
    sigma = np.where(valid, cfg.hcal_noise, 0.0)
    flat, values = _noisy(dense, sigma, cfg.hcal_threshold, valid, rng)
    ieta, iphi = geometry.hbhe_cell_to_index(flat // cols, flat % cols)
    return ieta.astype(np.int32), iphi.astype(np.int32), values.astype(np.float32)
