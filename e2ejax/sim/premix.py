"""Premixed pileup: overlay stored minimum-bias interactions on a simulated event.

Per event a Poisson(mu) number of library entries is drawn with replacement, each at a
vertex ``z ~ N(0, beamspot_sigma_z)``. The library holds every interaction at ``z = 0``;
moving it to ``z`` shifts its whole trajectory by ``z`` along the beam, which this
module applies to the stored positions (all seen from the nominal interaction point):

- on a barrel cylinder of radius ``R`` a point moves by ``z``: ``sinh(eta') = sinh(eta) + z / R``
  (ECAL EB cells and track impacts at ``R = ecal_radius``, HB towers at ``hcal_radius``,
  BPIX hits at their layer radius; exact for the stored point);
- on an end plane at ``|z| = Z`` a point moves inwards in radius by the factor
  ``(Z - sign(eta) z) / Z``: ``sinh(eta') = sinh(eta) Z / (Z - sign(eta) z)`` (EE cells, HE
  towers, track impacts on the endcap; exact for straight lines, the change of the
  helix azimuth of charged particles is neglected);
- phi, ``d0`` and the particle-flow directions (at the vertex) do not change; ``dz`` of
  tracks and charged candidates becomes ``dz + z - z_PV`` (relative to the primary vertex).

A calorimeter cell moves whole to the cell that contains its shifted centre (an HCAL
10-degree tower that lands on 5-degree rows is split 50/50 over its two columns), so
positions move in steps of one cell. The deposits are then added to the hard-scatter
deposits and :func:`e2ejax.sim.detector.simulate_detector` applies noise and zero
suppression once.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax import geometry
from e2ejax.io._write_events import PileupLibrary
from e2ejax.sim import calorimeter as calo
from e2ejax.sim.config import DetectorConfig
from e2ejax.sim.detector import Candidates, Response
from e2ejax.sim.tracker import BpixHits, Tracks

__all__ = ["Overlay", "draw_pileup", "shift_eta", "overlay", "merge"]

_ECAL_CENTRES = 0.5 * (geometry.ECAL.eta_edges[:-1] + geometry.ECAL.eta_edges[1:])
_HBHE_CENTRES = 0.5 * (geometry.HBHE.eta_edges[:-1] + geometry.HBHE.eta_edges[1:])


class Overlay(NamedTuple):
    """The pileup of one event, shifted to its vertices.

    Attributes:
        ecal: float64 ``[280, 360]`` noise-free ECAL deposits of all overlaid interactions.
        hcal: float64 ``[56, 72]`` noise-free HCAL deposits.
        tracks: :class:`e2ejax.sim.tracker.Tracks` (``dz`` relative to the primary vertex; ``row`` -1).
        bpix: :class:`e2ejax.sim.tracker.BpixHits`.
        pf: :class:`e2ejax.sim.detector.Candidates` (``source`` -1).
    """

    ecal: np.ndarray
    hcal: np.ndarray
    tracks: Tracks
    bpix: BpixHits
    pf: Candidates


def draw_pileup(rng: np.random.Generator, mu: float, entries: int, *, sigma_z: float):
    """Number, library entries (with replacement) and vertices of the interactions of one event.

    Returns:
        ``(entry, z)``: int64 ``[n]`` in ``[0, entries)`` and float64 ``[n]`` (cm), ``n ~ Poisson(mu)``.
    """
    n = int(rng.poisson(mu))
    return rng.integers(0, entries, n), rng.normal(0.0, sigma_z, n)


def shift_eta(eta, z, *, barrel, radius: float, end_z: float) -> np.ndarray:
    """Pseudorapidity, seen from the origin, of stored points after a shift ``z`` of their interaction.

    Args:
        eta: float ``[N]`` stored positions.
        z: float ``[N]`` vertex shift of each point's interaction (cm).
        barrel: bool ``[N]``: the point is on the cylinder of ``radius`` (else on the plane ``|z| = end_z``).
        radius, end_z: geometry (cm).

    Returns:
        float64 ``[N]``.

    Examples:
        >>> [round(float(v), 4) for v in shift_eta(np.array([0.0, 2.0]), np.array([10.0, 31.5]),
        ...                                         barrel=np.array([True, False]), radius=100.0, end_z=315.0)]
        [0.0998, 2.1019]
    """
    s = np.sinh(np.asarray(eta, np.float64))
    z = np.asarray(z, np.float64)
    with np.errstate(divide="ignore"):
        endcap = s * end_z / np.maximum(end_z - np.sign(s) * z, 1e-3)
    return np.arcsinh(np.where(barrel, s + z / radius, endcap))


def _gather(library: PileupLibrary, group: str, entry, z):
    """Flat item indices of ``group`` for the drawn entries, and the vertex z of each item."""
    offsets = library.offsets[group]
    starts, counts = offsets[entry], offsets[entry + 1] - offsets[entry]
    total = int(counts.sum())
    first = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    return first + np.arange(total), np.repeat(z, counts)


def _ecal(library, entry, z, cfg):
    idx, item_z = _gather(library, "ecal", entry, z)
    c = library.columns
    row, col = c["ecal_row"][idx], c["ecal_col"][idx]
    barrel = (row >= geometry.EB_ROW_OFFSET) & (row < geometry.EEP_ROW_OFFSET)
    eta = shift_eta(_ECAL_CENTRES[row], item_z, barrel=barrel, radius=cfg.ecal_radius, end_z=cfg.ecal_endcap_z)
    new = geometry.eta_to_row(eta, "ECAL")
    rows, cols = geometry.ECAL.shape
    ok = new >= 0
    flat = new[ok].astype(np.int64) * cols + col[ok]
    return np.bincount(flat, weights=c["ecal_energy"][idx][ok], minlength=rows * cols).reshape(rows, cols)


def _hcal(library, entry, z, cfg):
    idx, item_z = _gather(library, "hcal", entry, z)
    c = library.columns
    row, col, energy = c["hcal_row"][idx], c["hcal_col"][idx], c["hcal_energy"][idx].astype(np.float64)
    barrel_eta = np.arcsinh(cfg.hcal_barrel_half_length / cfg.hcal_radius)
    eta_c = _HBHE_CENTRES[row]
    eta = shift_eta(eta_c, item_z, barrel=np.abs(eta_c) < barrel_eta, radius=cfg.hcal_radius, end_z=cfg.hcal_endcap_z)
    new = geometry.eta_to_row(eta, "HBHE")
    ok = new >= 0
    row, new, col, energy = row[ok], new[ok], col[ok], energy[ok]
    wide = calo.WIDE_ROWS[new]
    col = np.where(wide, 2 * (col // 2), col)
    split = calo.WIDE_ROWS[row] & ~wide  # a 10-degree tower landing on 5-degree rows: half in each column
    energy = np.where(split, 0.5 * energy, energy)
    new, col, energy = (np.concatenate([a, b]) for a, b in ((new, new[split]), (col, col[split] + 1),
                                                                (energy, energy[split])))
    rows, cols = geometry.HBHE.shape
    return np.bincount(new.astype(np.int64) * cols + col, weights=energy, minlength=rows * cols).reshape(rows, cols)


def _tracks(library, entry, z, vertex_z, cfg):
    idx, item_z = _gather(library, "trk", entry, z)
    c = {k[4:]: v[idx] for k, v in library.columns.items() if k.startswith("trk_")}
    eta = shift_eta(c["eta"], item_z, barrel=np.abs(c["eta"]) < cfg.ecal_barrel_eta, radius=cfg.ecal_radius,
                    end_z=cfg.ecal_endcap_z)
    return Tracks(c["pt"], eta.astype(np.float32), c["phi"], c["d0"],
                  (c["dz"] + (item_z - vertex_z)).astype(np.float32), c["charge"], np.full(len(idx), -1, np.int64))


def _bpix(library, entry, z, cfg):
    idx, item_z = _gather(library, "bpix", entry, z)
    c = library.columns
    layer = c["bpix_layer"][idx]
    radius = np.asarray(cfg.bpix_radii, np.float64)[layer - 1]
    new_z = radius * np.sinh(c["bpix_eta"][idx].astype(np.float64)) + item_z
    keep = np.abs(new_z) < cfg.bpix_half_length
    eta = np.arcsinh(new_z / radius)
    return BpixHits(layer[keep], eta[keep].astype(np.float32), c["bpix_phi"][idx][keep])


def _pf(library, entry, z, vertex_z):
    idx, item_z = _gather(library, "pf", entry, z)
    c = {k[3:]: v[idx] for k, v in library.columns.items() if k.startswith("pf_")}
    dz = np.where(c["charge"] != 0, c["dz"] + (item_z - vertex_z), 0.0).astype(np.float32)
    return Candidates(c["pt"], c["eta"], c["phi"], c["type"], np.full(len(idx), -1, np.int64), c["charge"],
                      c["d0"], dz)


def overlay(library: PileupLibrary, entry: np.ndarray, z: np.ndarray, *, vertex_z: float,
            cfg: DetectorConfig) -> Overlay:
    """The stored response of library entries ``entry`` moved to the vertices ``z``.

    Args:
        library: the pileup library (:func:`e2ejax.sim.pileup_library.load_library`).
        entry: int ``[n]`` library entries (repeats allowed).
        z: float ``[n]`` their vertex z (cm).
        vertex_z: the primary vertex z (cm), the reference of ``dz``.
        cfg: detector settings (geometry of the shift, BPIX length).

    Returns:
        :class:`Overlay`.
    """
    entry = np.asarray(entry, np.int64)
    z = np.asarray(z, np.float64)
    return Overlay(_ecal(library, entry, z, cfg), _hcal(library, entry, z, cfg), _tracks(library, entry, z, vertex_z, cfg),
                   _bpix(library, entry, z, cfg), _pf(library, entry, z, vertex_z))


def _cat(a: NamedTuple, b: NamedTuple):
    return type(a)(*(np.concatenate([x, np.asarray(y, np.asarray(x).dtype)]) for x, y in zip(a, b)))


def merge(resp: Response, pileup: Overlay) -> Response:
    """``resp`` (the hard scatter, its calorimeters already read out with ``pileup``'s deposits) plus
    the pileup tracks, BPIX hits and PF candidates, appended after the hard scatter's."""
    return resp._replace(tracks=_cat(resp.tracks, pileup.tracks), bpix=_cat(resp.bpix, pileup.bpix),
                         pf=_cat(resp.pf, pileup.pf))
