"""The CMS-like detector: generator particles -> calorimeter hits, tracks, BPIX hits, candidates.

Order of the simulation for one event: photon conversions in the tracker material;
tracks and BPIX hits from the charged particles (conversion legs included);
bremsstrahlung of electrons; propagation of everything to ECAL and HCAL (helices in
the solenoid field); showers binned into noise-free calorimeter deposits; noise and
zero suppression (the readout); a parametrised particle flow for jet clustering.
:func:`deposit_response` stops before the readout (what a premixed pileup library
stores); :func:`simulate_detector` adds optional stored deposits before it.
Numbers and sources: docs/SIMULATION.md.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax.sim import calorimeter as calo
from e2ejax.sim.config import DetectorConfig
from e2ejax.sim.material import convert_photons, radiate
from e2ejax.sim.particles import NEUTRINOS, Particles
from e2ejax.sim.propagate import position_eta_phi, to_surface
from e2ejax.sim.tracker import BpixHits, Tracks, bpix_hits, reconstruct_tracks

__all__ = [
    "Candidates",
    "Deposits",
    "Response",
    "deposited_energy",
    "calorimeter_spots",
    "particle_flow",
    "deposit_response",
    "simulate_detector",
    "visible",
]

PF_CHARGED, PF_ELECTRON, PF_MUON, PF_PHOTON, PF_NEUTRAL = 0, 1, 2, 3, 4


class Candidates(NamedTuple):
    """Particle-flow-like candidates (1-D arrays of length ``C``).

    Attributes:
        pt, eta, phi: float32 kinematics (direction at the vertex).
        type: int32 0 charged hadron, 1 electron, 2 muon, 3 photon, 4 neutral hadron.
        source: int64 row of the generator particle.
        charge: int32 the track charge of charged candidates, 0 for neutral ones.
        d0, dz: float32 the track impact parameters (cm) of charged candidates, 0 for neutral ones.
    """

    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    type: np.ndarray
    source: np.ndarray
    charge: np.ndarray
    d0: np.ndarray
    dz: np.ndarray


class Response(NamedTuple):
    """Detector response to one event.

    Attributes:
        hits: :class:`e2ejax.sim.calorimeter.CaloHits`.
        tracks: :class:`e2ejax.sim.tracker.Tracks` (``row`` indexes the table after conversions).
        bpix: :class:`e2ejax.sim.tracker.BpixHits`.
        pf: :class:`Candidates`.
        converted: bool ``[N]`` per generator particle, true for photons that converted.
    """

    hits: calo.CaloHits
    tracks: Tracks
    bpix: BpixHits
    pf: Candidates
    converted: np.ndarray


class Deposits(NamedTuple):
    """Noise-free detector response to one interaction (before the calorimeter readout).

    Attributes:
        ecal: float64 ``[280, 360]`` ECAL energy per stitched-grid cell, no noise, no threshold.
        hcal: float64 ``[56, 72]`` HCAL energy per HBHE cell (wide towers in their even column).
        tracks: :class:`e2ejax.sim.tracker.Tracks`.
        bpix: :class:`e2ejax.sim.tracker.BpixHits`.
        pf: :class:`Candidates`.
    """

    ecal: np.ndarray
    hcal: np.ndarray
    tracks: Tracks
    bpix: BpixHits
    pf: Candidates


def _is_baryon(pid):
    a = np.abs(pid)
    return (a > 1000) & (a < 10000)


def deposited_energy(p: Particles) -> np.ndarray:
    """Energy available to the calorimeters: E, minus the mass for baryons, plus it for antibaryons."""
    mass = np.sqrt(np.maximum(p.e**2 - p.px**2 - p.py**2 - p.pz**2, 0.0))
    baryon = _is_baryon(p.pid)
    return np.where(baryon, p.e - np.sign(p.pid) * mass, p.e)


def _ecal_impact(p, cfg):
    return to_surface(p.x, p.y, p.z, p.px, p.py, p.pz, p.charge, radius=cfg.ecal_radius,
                      half_length=cfg.ecal_radius * np.sinh(cfg.ecal_barrel_eta), end_z=cfg.ecal_endcap_z,
                      field=cfg.field, max_eta=cfg.ecal_max_eta)


def _hcal_impact(p, cfg):
    return to_surface(p.x, p.y, p.z, p.px, p.py, p.pz, p.charge, radius=cfg.hcal_radius,
                      half_length=cfg.hcal_barrel_half_length, end_z=cfg.hcal_endcap_z,
                      field=cfg.field, max_eta=cfg.ecal_max_eta)


def calorimeter_spots(p: Particles, rng: np.random.Generator, cfg: DetectorConfig):
    """Shower spots of all particles reaching the calorimeters.

    Args:
        p: particles ``[N]`` after conversions and bremsstrahlung.
        rng: NumPy generator.
        cfg: detector settings.

    Returns:
        ``(ecal, hcal)``: each a tuple ``(eta, phi, energy)`` of float64 ``[M]`` spots.
    """
    apid = np.abs(p.pid)
    ecal_imp = _ecal_impact(p, cfg)
    hcal_imp = _hcal_impact(p, cfg)
    e_eta, e_phi = position_eta_phi(ecal_imp.x, ecal_imp.y, ecal_imp.z)
    h_eta, h_phi = position_eta_phi(hcal_imp.x, hcal_imp.y, hcal_imp.z)
    h_eta = np.where(hcal_imp.reached, h_eta, e_eta)
    h_phi = np.where(hcal_imp.reached, h_phi, e_phi)
    r_t = np.hypot(ecal_imp.x, ecal_imp.y)
    reach = ecal_imp.reached
    em = reach & ((apid == 11) | (apid == 22))
    mu = reach & (apid == 13)
    had = reach & ~em & ~mu & ~np.isin(apid, NEUTRINOS)
    n = p.size

    e_em = p.e * np.maximum(1.0 + calo.em_resolution(p.e, cfg) * rng.standard_normal(n), 0.0)
    e_dep = deposited_energy(p)
    e_had = calo.hadron_response(e_dep, cfg) * e_dep
    e_had = e_had * np.maximum(1.0 + calo.hadron_resolution(e_dep, cfg) * rng.standard_normal(n), 0.0)
    starts = rng.random(n) < 1.0 - np.exp(-cfg.ecal_interaction_lengths)
    mip_share = np.where(p.charge != 0, np.minimum(cfg.mip_ecal, e_had) / np.maximum(e_had, 1e-9), 0.0)
    f_ecal = np.where(starts, rng.beta(2.0, 3.0, n), mip_share)
    mu_ecal = rng.gamma(4.0, cfg.mip_ecal / 4.0, n)
    mu_hcal = rng.gamma(4.0, cfg.mip_hcal / 4.0, n)

    em_scale = cfg.em_core_fraction_of_rm * cfg.moliere_radius / np.maximum(r_t, 1.0)
    spots_em = calo.shower_spots(e_eta[em], e_phi[em], e_em[em], em_scale[em], rng,
                                 max_spots=cfg.max_shower_spots_em, spot_energy=0.02)
    spots_he = calo.shower_spots(e_eta[had], e_phi[had], (e_had * f_ecal)[had],
                                 np.full(had.sum(), cfg.hadron_ecal_profile), rng,
                                 max_spots=cfg.max_shower_spots_had, spot_energy=0.1)
    spots_hh = calo.shower_spots(h_eta[had], h_phi[had], (e_had * (1.0 - f_ecal))[had],
                                 np.full(had.sum(), cfg.hadron_profile), rng,
                                 max_spots=cfg.max_shower_spots_had, spot_energy=0.1)
    ecal = tuple(np.concatenate(parts) for parts in zip(spots_em, spots_he, (e_eta[mu], e_phi[mu], mu_ecal[mu])))
    hcal = tuple(np.concatenate(parts) for parts in zip(spots_hh, (h_eta[mu], h_phi[mu], mu_hcal[mu])))
    return ecal, hcal


def particle_flow(gen: Particles, tracks: Tracks, after_conv: Particles, rng: np.random.Generator,
                  cfg: DetectorConfig) -> Candidates:
    """Parametrised particle flow: tracked charged particles plus calorimeter-measured neutrals.

    Charged candidates take the track pT and the generator direction. Photons
    (``E > pf_photon_min_e``), neutral hadrons and charged particles without a track
    (``E > pf_neutral_hadron_min_e``, electrons as photons, muons dropped) take
    the generator direction and an energy smeared with the calorimeter resolution;
    hadrons keep the raw calorimeter response ``hadron_response`` (h/e < 1) unless
    ``cfg.pf_hadron_raw_response`` is off, so jets need a calibration.
    Conversion legs are not candidates; their photon is. Acceptance ``|eta| < 3``.
    Charged candidates carry their track's charge and impact parameters ``d0``, ``dz``.

    Returns:
        :class:`Candidates` with ``source`` = row in ``gen``.
    """
    apid = np.abs(gen.pid)
    src = after_conv.source[tracks.row]
    from_charged = gen.charge[src] != 0
    t_src = src[from_charged]
    t_pid = apid[t_src]
    t_type = np.where(t_pid == 11, PF_ELECTRON, np.where(t_pid == 13, PF_MUON, PF_CHARGED))
    tracked = np.zeros(gen.size, bool)
    tracked[t_src] = True

    inside = np.abs(gen.eta) < cfg.ecal_max_eta
    n = gen.size
    photon_like = inside & ((apid == 22) | ((apid == 11) & ~tracked))
    hadron_like = inside & ~photon_like & ~np.isin(apid, NEUTRINOS) & (apid != 13) & (apid != 11) & ~tracked
    e_em = gen.e * (1.0 + calo.em_resolution(gen.e, cfg) * rng.standard_normal(n))
    e_dep = deposited_energy(gen)
    scale = calo.hadron_response(e_dep, cfg) if cfg.pf_hadron_raw_response else 1.0
    e_had = scale * e_dep * (1.0 + calo.hadron_resolution(e_dep, cfg) * rng.standard_normal(n))
    photon = photon_like & (e_em > cfg.pf_photon_min_e)
    neutral = hadron_like & (e_had > cfg.pf_neutral_hadron_min_e)
    energy = np.where(photon, e_em, e_had)
    keep = photon | neutral
    cosh = np.cosh(gen.eta)
    pt = np.concatenate([tracks.pt[from_charged], (energy / cosh)[keep]])
    n_neutral = int(keep.sum())

    def track_value(x, dtype):
        return np.concatenate([np.asarray(x)[from_charged], np.zeros(n_neutral)]).astype(dtype)

    return Candidates(
        pt.astype(np.float32),
        np.concatenate([gen.eta[t_src], gen.eta[keep]]).astype(np.float32),
        np.concatenate([gen.phi[t_src], gen.phi[keep]]).astype(np.float32),
        np.concatenate([t_type, np.where(photon, PF_PHOTON, PF_NEUTRAL)[keep]]).astype(np.int32),
        np.concatenate([t_src, np.flatnonzero(keep)]).astype(np.int64),
        track_value(tracks.charge, np.int32),
        track_value(tracks.d0, np.float32),
        track_value(tracks.dz, np.float32),
    )


def _tracker_and_calorimeters(gen: Particles, rng: np.random.Generator, cfg: DetectorConfig, vertex_z: float):
    """Conversions, tracks, BPIX hits, brem and showers: everything before the readout."""
    gen = gen._replace(source=np.arange(gen.size, dtype=np.int32))
    after_conv, converted, _ = convert_photons(gen, rng, cfg)
    tracks = reconstruct_tracks(after_conv, rng, cfg, vertex_z=vertex_z)
    bpix = bpix_hits(after_conv, rng, cfg)
    radiated = radiate(after_conv, rng, cfg)
    (ee, ep, ek), (he, hp, hk) = calorimeter_spots(radiated, rng, cfg)
    return gen, after_conv, converted, tracks, bpix, calo.ecal_deposits(ee, ep, ek), calo.hcal_deposits(he, hp, hk)


def simulate_detector(gen: Particles, rng: np.random.Generator, cfg: DetectorConfig, *,
                      vertex_z: float, calo_overlay: tuple | None = None) -> Response:
    """Simulate the detector response to one event.

    Args:
        gen: generator final-state particles ``[N]`` (hard scatter and pileup); their
            ``source`` is reset to ``arange(N)``.
        rng: NumPy generator (the only source of randomness).
        cfg: detector settings.
        vertex_z: primary vertex z (cm).
        calo_overlay: optional ``(ecal [280, 360], hcal [56, 72])`` noise-free deposits (premixed
            pileup) added to this event's deposits before noise and zero suppression.

    Returns:
        :class:`Response`.
    """
    gen, after_conv, converted, tracks, bpix, ecal, hcal = _tracker_and_calorimeters(gen, rng, cfg, vertex_z)
    if calo_overlay is not None:
        ecal, hcal = ecal + calo_overlay[0], hcal + calo_overlay[1]
    hits = calo.CaloHits(*calo.ecal_readout(ecal, rng, cfg), *calo.hcal_readout(hcal, rng, cfg))
    pf = particle_flow(gen, tracks, after_conv, rng, cfg)
    return Response(hits, tracks, bpix, pf, converted)


def deposit_response(gen: Particles, rng: np.random.Generator, cfg: DetectorConfig, *,
                     vertex_z: float) -> Deposits:
    """The response of :func:`simulate_detector` without the calorimeter readout (no noise, no threshold).

    Args:
        gen: generator final-state particles ``[N]`` of one interaction.
        rng: NumPy generator.
        cfg: detector settings.
        vertex_z: reference z of the tracks' ``dz`` (cm).

    Returns:
        :class:`Deposits`.
    """
    gen, after_conv, _, tracks, bpix, ecal, hcal = _tracker_and_calorimeters(gen, rng, cfg, vertex_z)
    return Deposits(ecal, hcal, tracks, bpix, particle_flow(gen, tracks, after_conv, rng, cfg))


def visible(p: Particles) -> np.ndarray:
    """bool ``[N]``: particles that are not neutrinos."""
    return ~np.isin(np.abs(p.pid), NEUTRINOS)

