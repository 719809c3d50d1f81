"""The four samples: which processes are generated and how jets and e/gamma candidates are labelled."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax import geometry
from e2ejax.sim import generate, premix
from e2ejax.sim.config import DetectorConfig
from e2ejax.sim.detector import Response, simulate_detector, visible
from e2ejax.sim.jets import cluster, delta_r, match
from e2ejax.sim.particles import Particles, concat
from e2ejax.sim.propagate import position_eta_phi, to_surface

__all__ = ["SampleSpec", "SAMPLES", "processes", "make_event"]

QUARK, GLUON, UNKNOWN = 0, 1, -1


class SampleSpec(NamedTuple):
    """One sample: processes, jet definition and selection.

    Attributes:
        name: ``"qg"``, ``"egamma"``, ``"top"`` or ``"tau"``.
        signal: process of even-numbered events (a key of ``generate.PROCESSES``).
        background: process of odd-numbered events, or None (all events ``signal``).
        jet_radius: anti-kT R.
        jet_pt_min, jet_pt_max, jet_eta_max: stored jets (reconstructed pT, |eta|).
        gun: overlay one electron or photon (pT 10-100 GeV, |eta| < 1.44) per event.
    """

    name: str
    signal: str
    background: str | None
    jet_radius: float
    jet_pt_min: float
    jet_pt_max: float
    jet_eta_max: float
    gun: bool = False


SAMPLES = {
    "qg": SampleSpec("qg", "qcd_qg", None, 0.4, 70.0, 200.0, 2.4),
    "egamma": SampleSpec("egamma", "minbias", None, 0.4, 20.0, np.inf, 2.4, gun=True),
    "top": SampleSpec("top", "ttbar", "qcd_top", 0.8, 400.0, np.inf, 1.37),
    "tau": SampleSpec("tau", "ztautau", "qcd_tau", 0.4, 20.0, np.inf, 2.4),
}

GUN_PT = (10.0, 100.0)
GUN_ETA = 1.44


def processes(spec: SampleSpec, *, pileup: float, premixed: bool = False) -> tuple[str, ...]:
    """Pythia processes a sample needs (minimum bias added when pileup is on and not premixed)."""
    names = [spec.signal] + ([spec.background] if spec.background else [])
    if pileup > 0 and not premixed and "minbias" not in names:
        names.append("minbias")
    return tuple(names)


def _gun(rng, vertex_z):
    pt = rng.uniform(*GUN_PT)
    eta = rng.uniform(-GUN_ETA, GUN_ETA)
    phi = rng.uniform(-np.pi, np.pi)
    electron = bool(rng.random() < 0.5)
    pid = (11 if rng.random() < 0.5 else -11) if electron else 22
    p = Particles.from_columns([pid], [pt * np.cos(phi)], [pt * np.sin(phi)], [pt * np.sinh(eta)],
                               [pt * np.cosh(eta)], [0.0], [0.0], [vertex_z], hard=True)
    return p, electron


def _pileup(generators, rng, cfg, mu):
    tables = []
    for _ in range(rng.poisson(mu) if mu > 0 else 0):
        generate.next_event(generators["minbias"])
        z = rng.normal(0.0, cfg.beamspot_sigma_z)
        tables.append(generate.final_state(generators["minbias"].event, vertex_z=z, hard=False))
    return tables


def _jet_labels(spec, signal_event, jets, truth: generate.Truth, hard_jet):
    n = len(jets.pt)
    if spec.name == "qg":
        k = match(jets.eta, jets.phi, truth.partons[:, 1], truth.partons[:, 2], max_dr=0.4)
        ids = np.abs(truth.parton_ids[np.maximum(k, 0)]) if len(truth.parton_ids) else np.zeros(n, np.int64)
        return np.where(k < 0, UNKNOWN, np.where(ids == 21, GLUON, np.where(ids <= 5, QUARK, UNKNOWN)))
    if not signal_event:
        return np.where(hard_jet, 0, UNKNOWN) if spec.background else np.full(n, UNKNOWN)
    if spec.name == "top":
        k = match(jets.eta, jets.phi, truth.tops[:, 1], truth.tops[:, 2], max_dr=0.6)
        label = np.full(n, UNKNOWN)
        for j in np.flatnonzero(k >= 0):
            q = truth.top_quarks[k[j]]
            if np.all(delta_r(jets.eta[j], jets.phi[j], q[:, 1], q[:, 2]) < spec.jet_radius):
                label[j] = 1
        return label
    if spec.name == "tau":
        taus = truth.taus[truth.taus[:, 0] > 15.0]
        k = match(jets.eta, jets.phi, taus[:, 1], taus[:, 2], max_dr=0.3)
        return np.where(k >= 0, 1, UNKNOWN)
    return np.full(n, UNKNOWN)


def _truth(spec, pythia, signal_event):
    empty3 = np.zeros((0, 3))
    partons, ids = generate.hard_partons(pythia) if spec.name == "qg" else (empty3, np.zeros(0, np.int64))
    tops, quarks = generate.hadronic_tops(pythia.event) if spec.name == "top" and signal_event else (
        empty3, np.zeros((0, 3, 3)))
    taus = generate.hadronic_taus(pythia.event) if spec.name == "tau" and signal_event else empty3
    return generate.Truth(partons, ids, tops, quarks, taus)


def _jets(spec, gen: Particles, resp: Response, signal_event, truth):
    pf = resp.pf
    reco = cluster(pf.pt, pf.eta, pf.phi, radius=spec.jet_radius, min_pt=5.0)
    keep = (reco.pt >= spec.jet_pt_min) & (reco.pt < spec.jet_pt_max) & (np.abs(reco.eta) < spec.jet_eta_max)
    new_index = np.full(len(reco.pt) + 1, -1, np.int64)
    new_index[np.flatnonzero(keep)] = np.arange(keep.sum())
    pf_jet = new_index[reco.member]  # member -1 -> last entry -> -1
    jets = reco._replace(pt=reco.pt[keep], eta=reco.eta[keep], phi=reco.phi[keep], mass=reco.mass[keep])
    hard_vis = gen.hard & visible(gen) & (np.abs(gen.eta) < 5.0)
    genjets = cluster(gen.pt[hard_vis], gen.eta[hard_vis], gen.phi[hard_vis], radius=spec.jet_radius, min_pt=5.0)
    g = match(jets.eta, jets.phi, genjets.eta, genjets.phi, max_dr=spec.jet_radius / 2)
    pt_true = np.where(g >= 0, genjets.pt[np.maximum(g, 0)] if len(genjets.pt) else 0.0, 0.0)
    label = _jet_labels(spec, signal_event, jets, truth, g >= 0)
    axis_row, axis_col = geometry.eta_phi_to_cell(jets.eta, jets.phi, "HBHE")
    return {
        "pf_jet": pf_jet.astype(np.int32),
        "jet_pt": jets.pt, "jet_eta": jets.eta, "jet_phi": jets.phi, "jet_mass": jets.mass,
        "jet_pt_true": pt_true, "jet_label": label.astype(np.int32),
        "_jet_axis_row": axis_row, "_jet_axis_col": axis_col,
    }


def _egamma(gen, resp, cfg, gun_row, electron):
    if gun_row is None:
        z = np.zeros(0)
        return {"eg_pt": z, "eg_eta": z, "eg_phi": z, "eg_label": z.astype(np.int32),
                "eg_converted": z.astype(np.int32), "_eg_centre_row": z.astype(np.int32),
                "_eg_centre_col": z.astype(np.int32)}
    g = slice(gun_row, gun_row + 1)
    imp = to_surface(gen.x[g], gen.y[g], gen.z[g], gen.px[g], gen.py[g], gen.pz[g], gen.charge[g],
                     radius=cfg.ecal_radius, half_length=cfg.ecal_radius * np.sinh(cfg.ecal_barrel_eta),
                     end_z=cfg.ecal_endcap_z, field=cfg.field)
    eta, phi = position_eta_phi(imp.x, imp.y, imp.z)
    row, col = geometry.eta_phi_to_cell(eta, phi, "ECAL")
    return {
        "eg_pt": gen.pt[g], "eg_eta": gen.eta[g], "eg_phi": gen.phi[g],
        "eg_label": np.array([int(electron)], np.int32),
        "eg_converted": resp.converted[g].astype(np.int32),
        "_eg_centre_row": row, "_eg_centre_col": col,
    }


def make_event(spec: SampleSpec, generators: dict, *, number: int, event_id: int, rng: np.random.Generator,
               cfg: DetectorConfig, pileup: float, library=None, pileup_rng: np.random.Generator | None = None) -> dict:
    """Generate and simulate one event.

    With a ``library``, pileup is premixed (:mod:`e2ejax.sim.premix`): its entries and vertices
    are drawn from ``pileup_rng``, so ``rng`` makes the same hard scatter as without pileup;
    the record then also holds ``pileup_entry`` and ``pileup_z``. Without one, every pileup
    interaction is generated by Pythia and simulated with the hard scatter.

    Args:
        spec: the sample.
        generators: process name -> initialised Pythia (see :func:`processes`).
        number: event number in the file (decides signal or background).
        event_id: value of the ``event`` branch.
        rng: NumPy generator for the vertex, gun, pileup and detector.
        cfg: detector settings.
        pileup: mean number of overlaid minimum-bias interactions.
        library: a pileup library (:func:`e2ejax.sim.pileup_library.load_library`), or None.
        pileup_rng: NumPy generator of the premixed pileup (needed with ``library``).

    Returns:
        dict branch name -> 1-D array (jagged branches) or scalar (``event``); keys
        starting with ``_`` are seed-finding inputs, not written.
    """
    signal_event = spec.background is None or number % 2 == 0
    pythia = generators[spec.signal if signal_event else spec.background]
    generate.next_event(pythia)
    vertex_z = rng.normal(0.0, cfg.beamspot_sigma_z)
    tables = [generate.final_state(pythia.event, vertex_z=vertex_z, hard=True)]
    truth = _truth(spec, pythia, signal_event)
    gun_row, electron = None, False
    if spec.gun:
        gun, electron = _gun(rng, vertex_z)
        gun_row = tables[0].size
        tables.append(gun)
    record = {"event": np.int64(event_id)}
    if library is None:
        gen = concat(tables + _pileup(generators, rng, cfg, pileup))
        resp = simulate_detector(gen, rng, cfg, vertex_z=vertex_z)
    else:
        entry, z = premix.draw_pileup(pileup_rng, pileup, library.entries, sigma_z=cfg.beamspot_sigma_z)
        pu = premix.overlay(library, entry, z, vertex_z=vertex_z, cfg=cfg)
        gen = concat(tables)
        resp = premix.merge(simulate_detector(gen, rng, cfg, vertex_z=vertex_z, calo_overlay=(pu.ecal, pu.hcal)), pu)
        record.update(pileup_entry=entry.astype(np.int32), pileup_z=z.astype(np.float32))
    record.update(resp.hits._asdict())
    t = resp.tracks
    record.update(trk_pt=t.pt, trk_eta=t.eta, trk_phi=t.phi, trk_d0=t.d0, trk_dz=t.dz, trk_charge=t.charge)
    record.update(bpix_layer=resp.bpix.layer, bpix_eta=resp.bpix.eta, bpix_phi=resp.bpix.phi)
    pf = resp.pf
    record.update(pf_pt=pf.pt, pf_eta=pf.eta, pf_phi=pf.phi, pf_type=pf.type, pf_charge=pf.charge, pf_d0=pf.d0, pf_dz=pf.dz)
    record.update(_jets(spec, gen, resp, signal_event, truth))
    record.update(_egamma(gen, resp, cfg, gun_row, electron))
    return record
