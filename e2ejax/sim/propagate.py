"""Straight-line and helix propagation in a solenoid field to cylinders and end planes.

Charged particles move on helices in a uniform field ``B`` along +z: the transverse
radius of curvature is ``rho[cm] = 100 pT[GeV] / (0.3 B[T])`` and positive charges
turn clockwise (azimuth decreasing). All functions are vectorised over ``N`` particles
and return float64 arrays.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Impact", "curvature_radius", "to_cylinder", "to_surface", "position_eta_phi"]


class Impact(NamedTuple):
    """Where ``N`` particles reach a surface.

    Attributes:
        x, y, z: float64 ``[N]`` impact point (cm); NaN where not reached.
        phi_dir: float64 ``[N]`` azimuth of the momentum at the impact.
        reached: bool ``[N]``.
        barrel: bool ``[N]``, true for the cylinder, false for an end plane.
    """

    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    phi_dir: np.ndarray
    reached: np.ndarray
    barrel: np.ndarray


def curvature_radius(pt, *, field: float) -> np.ndarray:
    """Transverse radius of curvature (cm) for ``pt`` (GeV) in ``field`` (T)."""
    return 100.0 * np.asarray(pt, np.float64) / (0.3 * field)


def _turning(charge, pt, field):
    rho = curvature_radius(np.maximum(pt, 1e-12), field=field)
    h = -np.sign(charge)  # +1: counter-clockwise
    return rho, h


def _point_at(x0, y0, phi0, s, rho, h):
    """Transverse position and direction after transverse path ``s``."""
    straight = h == 0
    alpha = np.where(straight, 0.0, s / rho)
    hs = np.where(straight, 1.0, h)
    phi = phi0 + h * alpha
    x = np.where(straight, x0 + s * np.cos(phi0), x0 + (rho / hs) * (np.sin(phi) - np.sin(phi0)))
    y = np.where(straight, y0 + s * np.sin(phi0), y0 - (rho / hs) * (np.cos(phi) - np.cos(phi0)))
    return x, y, phi


def _path_to_cylinder(x0, y0, phi0, rho, h, radius):
    """Transverse path length to the first crossing of ``r = radius`` (inf if never)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        # straight lines
        b = x0 * np.cos(phi0) + y0 * np.sin(phi0)
        c = x0 * x0 + y0 * y0 - radius * radius
        disc = b * b - c
        s_line = np.where(disc >= 0, -b + np.sqrt(np.maximum(disc, 0.0)), np.inf)
        # helices: circle of radius rho around centre C; intersect with the circle |p| = radius
        hs = np.where(h == 0, 1.0, h)
        cx = x0 - hs * rho * np.sin(phi0)
        cy = y0 + hs * rho * np.cos(phi0)
        d = np.hypot(cx, cy)
        cos_g = (d * d + rho * rho - radius * radius) / (2 * d * rho)
        ok = np.abs(cos_g) <= 1
        gamma = np.arccos(np.clip(cos_g, -1, 1))
        beta = np.arctan2(-cy, -cx)
        theta0 = phi0 - hs * np.pi / 2
        best = np.full(np.shape(x0), np.inf)
        for sign in (1.0, -1.0):
            turn = np.mod(hs * (beta + sign * gamma - theta0), 2 * np.pi)
            best = np.minimum(best, turn)
        s_helix = np.where(ok, best * rho, np.inf)
    return np.where(h == 0, s_line, s_helix)


def to_cylinder(x0, y0, z0, px, py, pz, charge, *, radius: float, field: float):
    """Propagate to the first crossing of the infinite cylinder ``r = radius``.

    Args:
        x0, y0, z0: float ``[N]`` start point (cm), inside the cylinder.
        px, py, pz: float ``[N]`` momentum (GeV); the magnitude does not change.
        charge: float ``[N]``; 0 for a straight line.
        radius: cylinder radius (cm).
        field: solenoid field (T).

    Returns:
        ``(x, y, z, phi_dir, s)``: float64 ``[N]`` each; ``s`` is the transverse
        path length, ``inf`` (and NaN positions) where the cylinder is never reached.
    """
    pt = np.hypot(px, py)
    phi0 = np.arctan2(py, px)
    rho, h = _turning(charge, pt, field)
    s = _path_to_cylinder(np.asarray(x0, float), np.asarray(y0, float), phi0, rho, h, radius)
    finite = np.isfinite(s)
    sf = np.where(finite, s, 0.0)
    x, y, phi = _point_at(x0, y0, phi0, sf, rho, h)
    z = z0 + sf * pz / np.maximum(pt, 1e-12)
    nan = np.where(finite, 1.0, np.nan)
    return x * nan, y * nan, z * nan, phi, s


def to_surface(x0, y0, z0, px, py, pz, charge, *, radius: float, half_length: float,
               end_z: float, field: float, max_eta: float = np.inf) -> Impact:
    """Propagate to a calorimeter: a barrel cylinder closed by two end planes.

    A particle hits the barrel when it crosses ``r = radius`` at ``|z| <= half_length``;
    otherwise it is followed to the plane ``z = +-end_z`` on its side, which it must
    reach within half a turn. Impacts with ``|eta| >= max_eta`` are not reached.

    Args:
        x0, y0, z0, px, py, pz, charge: float ``[N]`` as in :func:`to_cylinder`.
        radius, half_length, end_z: geometry (cm).
        field: solenoid field (T).
        max_eta: acceptance of the surface in |eta| of the impact point.

    Returns:
        :class:`Impact` with ``[N]`` fields.
    """
    x0, y0, z0 = (np.asarray(a, np.float64) for a in (x0, y0, z0))
    pt = np.hypot(px, py)
    phi0 = np.arctan2(py, px)
    rho, h = _turning(charge, pt, field)
    xb, yb, zb, phib, s_b = to_cylinder(x0, y0, z0, px, py, pz, charge, radius=radius, field=field)
    barrel = np.isfinite(s_b) & (np.abs(zb) <= half_length)
    with np.errstate(invalid="ignore", divide="ignore"):
        cot = pz / np.maximum(pt, 1e-12)
        s_e = (np.sign(pz) * end_z - z0) / cot
    endcap_ok = ~barrel & (pz != 0) & (s_e > 0) & ((h == 0) | (s_e < np.pi * rho))
    se = np.where(endcap_ok, s_e, 0.0)
    xe, ye, phie = _point_at(x0, y0, phi0, se, rho, h)
    x = np.where(barrel, xb, xe)
    y = np.where(barrel, yb, ye)
    z = np.where(barrel, zb, np.sign(pz) * end_z)
    reached = barrel | endcap_ok
    eta, _ = position_eta_phi(np.where(reached, x, 1.0), np.where(reached, y, 0.0), np.where(reached, z, 0.0))
    reached &= np.abs(eta) < max_eta
    nan = np.where(reached, 1.0, np.nan)
    return Impact(x * nan, y * nan, z * nan, np.where(barrel, phib, phie), reached, barrel & reached)


def position_eta_phi(x, y, z):
    """Pseudorapidity and azimuth of points seen from the nominal interaction point."""
    r = np.hypot(x, y)
    return np.arcsinh(z / np.maximum(r, 1e-12)), np.arctan2(y, x)
