"""Tracker response: reconstructed tracks (efficiency, resolutions, impact parameters) and BPIX hits."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax.sim.config import DetectorConfig
from e2ejax.sim.particles import Particles, select
from e2ejax.sim.propagate import curvature_radius, position_eta_phi, to_cylinder, to_surface

__all__ = ["Tracks", "BpixHits", "impact_parameters", "reconstruct_tracks", "bpix_hits"]


class Tracks(NamedTuple):
    """Reconstructed tracks of one event (1-D arrays of length ``T``).

    Attributes:
        pt: float32 measured transverse momentum (GeV).
        eta, phi: float32 position at the ECAL surface (vertex direction for tracks
            that do not reach it).
        d0, dz: float32 measured impact parameters (cm); dz relative to the primary vertex.
        charge: int32 +1 / -1.
        row: int64 index of the particle in the input table.
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    d0: np.ndarray
    dz: np.ndarray
    charge: np.ndarray
    row: np.ndarray


class BpixHits(NamedTuple):
    """Pixel barrel hits: int32 ``layer`` (1-3), float32 ``eta``, ``phi`` seen from (0, 0, 0)."""

    layer: np.ndarray
    eta: np.ndarray
    phi: np.ndarray


def impact_parameters(p: Particles, cfg: DetectorConfig, *, vertex_z: float):
    """True transverse and longitudinal impact parameters.

    ``d0`` is the signed distance of closest approach of the helix to the beam line
    (the sign of CMS ``dxy = (-x py + y px) / pT``); ``dz = z - (x px + y py) / pT * pz / pT - vertex_z``.

    Returns:
        ``(d0, dz)`` float64 ``[N]`` (cm).
    """
    pt = np.maximum(p.pt, 1e-12)
    rho = curvature_radius(pt, field=cfg.field)
    h = -np.sign(p.charge)
    cx = p.x - h * rho * p.py / pt
    cy = p.y + h * rho * p.px / pt
    d0_helix = h * (np.hypot(cx, cy) - rho)
    d0_line = (-p.x * p.py + p.y * p.px) / pt
    d0 = np.where(h == 0, d0_line, d0_helix)
    dz = p.z - (p.x * p.px + p.y * p.py) / pt * p.pz / pt - vertex_z
    return d0, dz


def _efficiency(pid, cfg):
    a = np.abs(pid)
    return np.where(a == 13, cfg.eff_muon, np.where(a == 11, cfg.eff_electron, cfg.eff_hadron))


def reconstruct_tracks(p: Particles, rng: np.random.Generator, cfg: DetectorConfig, *, vertex_z: float) -> Tracks:
    """Tracks from charged particles produced inside the tracker.

    A charged particle is a track candidate when ``pT > track_min_pt``,
    ``|eta| < tracker_max_eta`` and it is produced at a transverse radius below
    ``conversion_track_max_radius``; it is found with the efficiency of its type.

    Args:
        p: particles ``[N]`` (after photon conversions, before bremsstrahlung).
        rng: NumPy generator.
        cfg: detector settings.
        vertex_z: primary vertex z (cm), the reference of ``dz``.

    Returns:
        :class:`Tracks`.
    """
    pt = p.pt
    cand = (
        (p.charge != 0) & (pt > cfg.track_min_pt) & (np.abs(p.eta) < cfg.tracker_max_eta)
        & (np.hypot(p.x, p.y) < cfg.conversion_track_max_radius)
    )
    found = cand & (rng.random(p.size) < _efficiency(p.pid, cfg))
    row = np.flatnonzero(found)
    sub = select(p, row)
    d0, dz = impact_parameters(sub, cfg, vertex_z=vertex_z)
    spt = sub.pt
    rel = np.hypot(cfg.pt_res_barrel + cfg.pt_res_eta_slope * np.abs(sub.eta) / cfg.tracker_max_eta,
                   cfg.pt_res_curvature * spt)
    pt_meas = spt * np.maximum(1.0 + rel * rng.standard_normal(len(row)), 0.05)
    s_d0 = np.hypot(cfg.d0_res_high_pt, cfg.d0_res_low_pt / spt)
    s_dz = np.hypot(cfg.dz_res_high_pt, cfg.dz_res_low_pt / spt)
    d0 = d0 + s_d0 * rng.standard_normal(len(row))
    dz = dz + s_dz * rng.standard_normal(len(row))
    imp = to_surface(sub.x, sub.y, sub.z, sub.px, sub.py, sub.pz, sub.charge, radius=cfg.ecal_radius,
                     half_length=cfg.ecal_radius * np.sinh(cfg.ecal_barrel_eta), end_z=cfg.ecal_endcap_z,
                     field=cfg.field)
    eta_i, phi_i = position_eta_phi(imp.x, imp.y, imp.z)
    eta = np.where(imp.reached, eta_i, sub.eta)
    phi = np.where(imp.reached, phi_i, sub.phi)
    f32 = lambda a: np.asarray(a, np.float32)  # noqa: E731
    return Tracks(f32(pt_meas), f32(eta), f32(phi), f32(d0), f32(dz), np.sign(sub.charge).astype(np.int32), row)


def bpix_hits(p: Particles, rng: np.random.Generator, cfg: DetectorConfig) -> BpixHits:
    """Hits of charged particles in the pixel barrel layers they cross.

    A layer is hit when the particle is produced inside it, reaches it within half
    a turn at ``|z| < bpix_half_length``, has ``pT > bpix_min_pt``, and passes the hit
    efficiency.

    Args:
        p: particles ``[N]`` (after conversions).
        rng: NumPy generator.
        cfg: detector settings.

    Returns:
        :class:`BpixHits`.
    """
    charged = (p.charge != 0) & (p.pt > cfg.bpix_min_pt)
    sub = select(p, charged)
    r0 = np.hypot(sub.x, sub.y)
    rho = curvature_radius(sub.pt, field=cfg.field)
    layers, etas, phis = [], [], []
    for layer, radius in enumerate(cfg.bpix_radii, start=1):
        x, y, z, _, s = to_cylinder(sub.x, sub.y, sub.z, sub.px, sub.py, sub.pz, sub.charge,
                                    radius=radius, field=cfg.field)
        with np.errstate(invalid="ignore"):
            hit = (r0 < radius) & np.isfinite(s) & (s < np.pi * rho) & (np.abs(z) < cfg.bpix_half_length)
        hit &= rng.random(sub.size) < cfg.bpix_hit_efficiency
        eta, phi = position_eta_phi(x[hit], y[hit], z[hit])
        layers.append(np.full(hit.sum(), layer, np.int32))
        etas.append(eta)
        phis.append(phi)
    return BpixHits(np.concatenate(layers), np.concatenate(etas).astype(np.float32),
                    np.concatenate(phis).astype(np.float32))
