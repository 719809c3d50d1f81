"""Truth labelling (hard partons, hadronic tops and taus from Pythia), anti-kT clustering and
the parametrised particle flow, each against what it must give by construction."""

from __future__ import annotations

import numpy as np
import pytest

from e2ejax.sim import generate
from e2ejax.sim.detector import PF_CHARGED, PF_MUON, PF_PHOTON, particle_flow, simulate_detector
from e2ejax.sim.jets import cluster
from e2ejax.sim.material import convert_photons
from e2ejax.sim.tracker import reconstruct_tracks
from tests.sim.test_detector import QUIET, _gun


def _four_vectors(pt, eta, phi, mass=0.0):
    pt, eta, phi = (np.asarray(a, np.float64) for a in (pt, eta, phi))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    return np.stack([np.sqrt(px**2 + py**2 + pz**2 + np.asarray(mass) ** 2), px, py, pz], -1)


def _mass(p):
    return np.sqrt(np.maximum(p[..., 0] ** 2 - (p[..., 1:] ** 2).sum(-1), 0.0))


def test_hard_partons_are_the_two_outgoing_partons_of_the_2_to_2():
    pythia = generate.make_pythia("qcd_qg", seed=3)
    for _ in range(5):
        generate.next_event(pythia)
        kin, ids = generate.hard_partons(pythia)
        assert kin.shape == (2, 3) and ids.shape == (2,)
        assert all(i == 21 or 1 <= abs(i) <= 6 for i in ids)
        assert 80.0 <= kin[0, 0] <= 240.0  # pTHat in [80, 220], partons balanced in pT
        assert kin[0, 0] == pytest.approx(kin[1, 0], rel=1e-6)
        assert abs(np.mod(kin[0, 2] - kin[1, 2], 2 * np.pi) - np.pi) < 1e-6  # back to back in phi


def test_hadronic_tops_decay_to_b_and_a_w_of_two_quarks():
    pythia = generate.make_pythia("ttbar", seed=5)
    m_top, m_w = [], []
    for _ in range(12):
        generate.next_event(pythia)
        tops, quarks = generate.hadronic_tops(pythia.event)
        assert tops.shape[1:] == (3,) and quarks.shape == (len(tops), 3, 3) and len(tops) <= 2
        for q in quarks:
            p = _four_vectors(q[:, 0], q[:, 1], q[:, 2], mass=[4.8, 0.0, 0.0])
            m_top.append(_mass(p.sum(0)))
            m_w.append(_mass(p[1:].sum(0)))
    assert len(m_top) >= 8  # about 45% of tops decay to quarks through the W: 2 x 12 x 0.45 expected
    assert np.median(m_w) == pytest.approx(80.4, abs=2.0)
    assert np.median(m_top) == pytest.approx(172.5, abs=3.0)


def test_hadronic_taus_have_visible_momentum_below_the_tau():
    pythia = generate.make_pythia("ztautau", seed=7)
    found = 0
    for _ in range(20):
        generate.next_event(pythia)
        taus = generate.hadronic_taus(pythia.event)
        leptonic = sum(1 for q in pythia.event if q.idAbs() == 15 and q.iBotCopyId() == q.index()
                       and any(pythia.event[d].idAbs() in (11, 13) for d in q.daughterList()))
        n_taus = sum(1 for q in pythia.event if q.idAbs() == 15 and q.iBotCopyId() == q.index())
        assert len(taus) == n_taus - leptonic  # every hadronic tau, no leptonic one
        for pt, eta, phi in taus:
            tau = min((q for q in pythia.event if q.idAbs() == 15 and q.iBotCopyId() == q.index()),
                      key=lambda q: np.hypot(q.eta() - eta, np.mod(q.phi() - phi + np.pi, 2 * np.pi) - np.pi))
            assert 0 < pt < tau.e()  # |p_visible| <= E_visible < E_tau: the neutrino takes its share
        found += len(taus)
    assert found >= 15  # Z -> tau tau, each tau hadronic 65% of the time: about 26 expected


def test_cluster_sums_two_separated_sprays_and_drops_soft_jets():
    rng = np.random.default_rng(0)
    eta = np.r_[0.3 + rng.normal(0, 0.05, 6), -1.0 + rng.normal(0, 0.05, 4), 2.0]
    phi = np.r_[1.0 + rng.normal(0, 0.05, 6), -2.0 + rng.normal(0, 0.05, 4), 0.0]
    pt = np.r_[rng.uniform(5, 30, 6), rng.uniform(5, 20, 4), 3.0]
    jets = cluster(pt, eta, phi, radius=0.4, min_pt=10.0)
    np.testing.assert_array_equal(jets.member, [0] * 6 + [1] * 4 + [-1])  # the lone 3 GeV particle is below min_pt
    for j, rows in enumerate((slice(0, 6), slice(6, 10))):
        p = _four_vectors(pt[rows], eta[rows], phi[rows]).sum(0)  # the E-scheme: four-vectors added
        assert jets.pt[j] == pytest.approx(np.hypot(p[1], p[2]), rel=1e-9)
        assert jets.eta[j] == pytest.approx(np.arcsinh(p[3] / np.hypot(p[1], p[2])), rel=1e-9)
        assert jets.phi[j] == pytest.approx(np.arctan2(p[2], p[1]), rel=1e-9)
        assert jets.mass[j] == pytest.approx(_mass(p), rel=1e-6)
    assert jets.pt[0] > jets.pt[1]
    alone = cluster(pt, eta, phi, radius=0.4, min_pt=1.0)
    assert len(alone.pt) == 3 and alone.member[-1] == 2


def test_particle_flow_candidates():
    """A tracked pion is a charged candidate with the track's pT; a photon a photon candidate
    whose energy is smeared by the ECAL resolution; a muon is no candidate (its track is)."""
    cfg = QUIET._replace(material_scale=0.0)
    rng = np.random.default_rng(11)
    pion = simulate_detector(_gun(211, 30.0, 0.5, charge=1.0), rng, cfg, vertex_z=0.0)
    assert pion.pf.type.tolist() == [PF_CHARGED] and pion.pf.pt[0] == pytest.approx(float(pion.tracks.pt[0]), rel=1e-6)
    assert pion.pf.eta[0] == pytest.approx(0.5, abs=1e-6) and pion.pf.source.tolist() == [0]
    energies = []
    for _ in range(400):
        pf = simulate_detector(_gun(22, 40.0, 0.2), rng, cfg, vertex_z=0.0).pf
        assert pf.type.tolist() == [PF_PHOTON]
        energies.append(float(pf.pt[0]) * np.cosh(0.2))
    sigma = 40.0 * float(np.hypot(cfg.ecal_stochastic / np.sqrt(40.0), cfg.ecal_constant))
    assert abs(np.mean(energies) - 40.0) < 3 * sigma / np.sqrt(400)
    assert abs(np.std(energies) / sigma - 1) < 3 / np.sqrt(800)
    soft = simulate_detector(_gun(22, 0.3, 0.2), rng, cfg, vertex_z=0.0).pf  # below pf_photon_min_e (0.5 GeV)
    assert len(soft.pt) == 0
    gen = _gun(13, 20.0, 0.1, charge=-1.0)._replace(source=np.zeros(1, np.int32))
    after_conv, _, _ = convert_photons(gen, rng, cfg)
    tracks = reconstruct_tracks(after_conv, rng, cfg, vertex_z=0.0)
    muon = particle_flow(gen, tracks, after_conv, rng, cfg)
    assert muon.type.tolist() == [PF_MUON] * len(tracks.pt)  # no calorimeter candidate for a muon
