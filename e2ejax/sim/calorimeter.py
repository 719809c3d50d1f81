"""Calorimeter response: EM and hadron showers, MIPs, noise and zero suppression.

Showers are sampled as equal-energy spots around the impact point with the 2-D
radial density ``2 r a^2 / (r^2 + a^2)^2`` (fraction inside ``r``: ``r^2 / (r^2 + a^2)``);
a spot at distance ``d`` (cm) from an impact at transverse radius ``r_T`` is moved by
``d / r_T`` in eta and phi, the same in EB and EE. Spots are binned on the stitched
ECAL grid (EB crystals, EE pseudo-crystals) and on the HBHE towers of
:mod:`e2ejax.geometry` (the noise-free *deposits*); every cell then gets Gaussian
noise and cells below the zero-suppression threshold are dropped (the *readout*).
Premixed pileup (:mod:`e2ejax.sim.premix`) adds stored deposits between the two.
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
    "ecal_deposits",
    "ecal_readout",
    "ecal_hits",
    "hcal_deposits",
    "hcal_readout",
    "hcal_hits",
    "WIDE_ROWS",
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


def ecal_deposits(eta, phi, energy) -> np.ndarray:
    """Bin ECAL spots on the stitched grid, without noise.

    Args:
        eta, phi, energy: float ``[M]`` spots (spots outside ``|eta| < 3`` are dropped).

    Returns:
        float64 ``[280, 360]`` energy per cell (EE- rows 0-54, EB rows 55-224, EE+ rows 225-279).
    """
    rows, cols = geometry.ECAL.shape
    row = geometry.eta_to_row(eta, "ECAL")
    col = geometry.phi_to_col(phi, "ECAL")
    ok = row >= 0
    return np.bincount(row[ok] * cols + col[ok], weights=energy[ok], minlength=rows * cols).reshape(rows, cols)


def ecal_readout(dense: np.ndarray, rng: np.random.Generator, cfg: DetectorConfig):
    """Add noise to every ECAL cell, zero-suppress, and split into EB and EE hits.

    Args:
        dense: float ``[280, 360]`` noise-free deposits (:func:`ecal_deposits`, summed over interactions).
        rng: NumPy generator.
        cfg: detector settings (``eb_noise``, ``ee_noise``, ``ecal_zs_sigmas``).

    Returns:
        ``(eb_ieta, eb_iphi, eb_energy, ee_eta, ee_phi, ee_energy)`` 1-D arrays
        (int32 indices, float32 positions and energies).
    """
    rows, cols = geometry.ECAL.shape
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


def ecal_hits(eta, phi, energy, rng: np.random.Generator, cfg: DetectorConfig):
    """Bin ECAL spots, add noise, zero-suppress, and split into EB and EE hits.

    :func:`ecal_readout` of :func:`ecal_deposits`.

    Args:
        eta, phi, energy: float ``[M]`` spots.
        rng: NumPy generator.
        cfg: detector settings.

    Returns:
        ``(eb_ieta, eb_iphi, eb_energy, ee_eta, ee_phi, ee_energy)`` 1-D arrays
        (int32 indices, float32 positions and energies).
    """
    return ecal_readout(ecal_deposits(eta, phi, energy), rng, cfg)


def _wide_rows():
    ieta, _ = geometry.hbhe_cell_to_index(np.arange(geometry.HBHE.shape[0]), 0)
    return np.abs(ieta) > 20


#: bool ``[56]``: HBHE rows of the 10-degree towers (``|ieta| > 20``), whose energy sits in the even column.
WIDE_ROWS = _wide_rows()


def hcal_deposits(eta, phi, energy) -> np.ndarray:
    """Bin HCAL spots into CMS towers, without noise (10-degree towers above ``|ieta|`` 20 in their even column).

    Args:
        eta, phi, energy: float ``[M]`` spots.

    Returns:
        float64 ``[56, 72]`` energy per HBHE cell; the odd columns of wide rows stay 0.
    """
    rows, cols = geometry.HBHE.shape
    row = geometry.eta_to_row(eta, "HBHE")
    col = geometry.phi_to_col(phi, "HBHE")
    ok = row >= 0
    row, col = row[ok], col[ok]
    col = np.where(WIDE_ROWS[row], 2 * (col // 2), col)
    return np.bincount(row * cols + col, weights=energy[ok], minlength=rows * cols).reshape(rows, cols)


def hcal_readout(dense: np.ndarray, rng: np.random.Generator, cfg: DetectorConfig):
    """Add noise to every HCAL tower and apply the threshold.

    Args:
        dense: float ``[56, 72]`` noise-free deposits (:func:`hcal_deposits`, summed over interactions).
        rng: NumPy generator.
        cfg: detector settings (``hcal_noise``, ``hcal_threshold``).

    Returns:
        ``(ieta, iphi, energy)``: int32, int32, float32 1-D arrays; wide towers carry odd iphi.
    """
    cols = geometry.HBHE.shape[1]
    valid = ~(WIDE_ROWS[:, None] & (np.arange(cols)[None, :] % 2 == 1))
    sigma = np.where(valid, cfg.hcal_noise, 0.0)
    flat, values = _noisy(dense, sigma, cfg.hcal_threshold, valid, rng)
    ieta, iphi = geometry.hbhe_cell_to_index(flat // cols, flat % cols)
    return ieta.astype(np.int32), iphi.astype(np.int32), values.astype(np.float32)


def hcal_hits(eta, phi, energy, rng: np.random.Generator, cfg: DetectorConfig):
    """Bin HCAL spots into CMS towers (10-degree towers above ``|ieta|`` 20), add noise, threshold.

    :func:`hcal_readout` of :func:`hcal_deposits`.

    Args:
        eta, phi, energy: float ``[M]`` spots.
        rng: NumPy generator.
        cfg: detector settings.

    Returns:
        ``(ieta, iphi, energy)``: int32, int32, float32 1-D arrays; wide towers carry odd iphi.
    """
    return hcal_readout(hcal_deposits(eta, phi, energy), rng, cfg)
