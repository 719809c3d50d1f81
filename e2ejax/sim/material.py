"""Tracker material in front of ECAL: photon conversions and electron bremsstrahlung.

The material is spread uniformly in transverse radius between the tracker inner
radius and the point where a particle leaves the tracker volume (outer radius or
end at ``|z| = tracker_half_length``, along the straight line), with a total
thickness ``X/X0(|eta|)`` (piecewise linear in |eta|, see
:data:`e2ejax.sim.config.MATERIAL_X0`). Photons convert with probability
``1 - exp(-7/9 X/X0)``; electrons keep a fraction ``z = exp(-u)`` of their energy in a
slice of thickness ``t`` with ``u ~ Gamma(t / ln 2)`` (Bethe-Heitler), so the mean
kept fraction after ``X/X0`` is ``exp(-X/X0)``. Radiated photons leave along the
electron direction at the radiation point. Radiated photons do not convert.
"""

from __future__ import annotations

import numpy as np

from e2ejax.sim.config import MATERIAL_ETA, MATERIAL_X0, DetectorConfig
from e2ejax.sim.particles import Particles, select, stack
from e2ejax.sim.propagate import to_cylinder

__all__ = ["material_x0", "conversion_probability", "exit_radius", "convert_photons", "radiate"]


def material_x0(eta) -> np.ndarray:
    """Tracker thickness in radiation lengths along a straight line at ``eta`` (float ``[N]``)."""
    return np.interp(np.abs(np.asarray(eta, np.float64)), MATERIAL_ETA, MATERIAL_X0)


def conversion_probability(eta) -> np.ndarray:
    """Photon conversion probability ``1 - exp(-7/9 X/X0)`` before ECAL (float64 ``[N]``)."""
    return 1.0 - np.exp(-7.0 / 9.0 * material_x0(eta))


def exit_radius(eta, cfg: DetectorConfig) -> np.ndarray:
    """Transverse radius (cm) where a straight line at ``eta`` leaves the tracker volume."""
    sinh = np.abs(np.sinh(np.asarray(eta, np.float64)))
    with np.errstate(divide="ignore"):
        return np.minimum(cfg.tracker_outer_radius, cfg.tracker_half_length / sinh)


def _radial_fraction(x, y, eta, cfg: DetectorConfig):
    r = np.hypot(x, y)
    span = np.maximum(exit_radius(eta, cfg) - cfg.tracker_inner_radius, 1e-6)
    return np.clip((r - cfg.tracker_inner_radius) / span, 0.0, 1.0)


def convert_photons(p: Particles, rng: np.random.Generator, cfg: DetectorConfig):
    """Convert photons in the material into e+ e- pairs.

    Args:
        p: particles ``[N]``.
        rng: NumPy generator.
        cfg: detector settings.

    Returns:
        ``(particles, converted, radius)``: the table with each converted photon
        replaced by its two legs (appended at the end, ``source`` = the photon's
        source), bool ``[N]`` converted flags and float64 ``[N]`` conversion radii
        (cm, NaN if not converted), both for the input rows.
    """
    n = p.size
    photon = (p.pid == 22) & (np.abs(p.eta) < cfg.tracker_max_eta)
    left = 1.0 - _radial_fraction(p.x, p.y, p.eta, cfg)
    total = cfg.material_scale * material_x0(p.eta) * left * 7.0 / 9.0
    u = rng.random(n)
    converted = photon & (u < 1.0 - np.exp(-total))
    # depth of the conversion, exponential truncated to the material
    with np.errstate(divide="ignore", invalid="ignore"):
        depth = -np.log1p(-rng.random(n) * (1.0 - np.exp(-total))) / np.where(total > 0, total, 1.0)
    r0 = np.hypot(p.x, p.y)
    start = np.maximum(r0, cfg.tracker_inner_radius)
    end = np.maximum(exit_radius(p.eta, cfg), start)
    radius = np.where(converted, start + depth * (end - start), np.nan)
    if not converted.any():
        return p, converted, radius
    g = select(p, converted)
    x, y, z, _, _ = to_cylinder(g.x, g.y, g.z, g.px, g.py, g.pz, np.zeros(g.size),
                                radius=radius[converted], field=cfg.field)
    share = rng.random(g.size)
    legs = []
    for frac, charge in ((share, -1.0), (1.0 - share, 1.0)):
        legs.append(Particles(
            np.full(g.size, 11 if charge < 0 else -11, np.int32),
            np.full(g.size, charge), g.px * frac, g.py * frac, g.pz * frac, g.e * frac,
            x, y, z, g.hard, g.source,
        ))
    return stack([select(p, ~converted)] + legs), converted, radius


def radiate(p: Particles, rng: np.random.Generator, cfg: DetectorConfig) -> Particles:
    """Bremsstrahlung of electrons through the material in ``cfg.brem_slices`` radial slices.

    Electrons are moved to the end of the material with their remaining
    momentum; radiated photons (above 10 MeV) are appended with the electron's
    ``source``. Other particles are unchanged.

    Args:
        p: particles ``[N]``.
        rng: NumPy generator.
        cfg: detector settings.

    Returns:
        Particles ``[N + n_photons]``.
    """
    ele = (np.abs(p.pid) == 11) & (np.abs(p.eta) < cfg.tracker_max_eta)
    if not ele.any():
        return p
    idx = np.flatnonzero(ele)
    x, y, z = p.x[idx].copy(), p.y[idx].copy(), p.z[idx].copy()
    px, py, pz, e = p.px[idx].copy(), p.py[idx].copy(), p.pz[idx].copy(), p.e[idx].copy()
    q = p.charge[idx]
    eta = p.eta[idx]
    thickness = cfg.material_scale * material_x0(eta) * (1.0 - _radial_fraction(x, y, eta, cfg)) / cfg.brem_slices
    r_start = np.maximum(np.hypot(x, y), cfg.tracker_inner_radius)
    r_end = np.maximum(exit_radius(eta, cfg), r_start)
    alive = np.ones(len(idx), bool)
    photons = []
    for k in range(1, cfg.brem_slices + 1):
        r_k = r_start + (r_end - r_start) * k / cfg.brem_slices
        nx, ny, nz, phi_dir, s = to_cylinder(x, y, z, px, py, pz, q, radius=r_k, field=cfg.field)
        alive &= np.isfinite(s)
        pt = np.hypot(px, py)
        px = np.where(alive, pt * np.cos(phi_dir), px)
        py = np.where(alive, pt * np.sin(phi_dir), py)
        x, y, z = (np.where(alive, a, b) for a, b in ((nx, x), (ny, y), (nz, z)))
        keep = np.exp(-rng.gamma(np.maximum(thickness / np.log(2.0), 1e-9)))
        emit = alive & (e * (1.0 - keep) > 0.01)
        keep = np.where(emit, keep, 1.0)
        lost = 1.0 - keep
        if emit.any():
            photons.append(Particles(
                np.full(emit.sum(), 22, np.int32), np.zeros(emit.sum()),
                (px * lost)[emit], (py * lost)[emit], (pz * lost)[emit], (e * lost)[emit],
                x[emit], y[emit], z[emit], p.hard[idx][emit], p.source[idx][emit],
            ))
        px, py, pz, e = px * keep, py * keep, pz * keep, e * keep
    out = p._replace(
        px=_put(p.px, idx, px), py=_put(p.py, idx, py), pz=_put(p.pz, idx, pz), e=_put(p.e, idx, e),
        x=_put(p.x, idx, x), y=_put(p.y, idx, y), z=_put(p.z, idx, z),
    )
    if not photons:
        return out
    return stack([out] + photons)


def _put(base, idx, values):
    out = base.copy()
    out[idx] = values
    return out
