"""Detector response: propagation, material, calorimeter energy bookkeeping, tracks."""

from __future__ import annotations

import numpy as np
import pytest

from e2ejax import geometry
from e2ejax.sim import calorimeter as calo
from e2ejax.sim.config import DetectorConfig
from e2ejax.sim.detector import deposited_energy, simulate_detector, visible
from e2ejax.sim.material import conversion_probability, convert_photons
from e2ejax.sim.particles import Particles
from e2ejax.sim.propagate import curvature_radius, position_eta_phi, to_cylinder, to_surface

CFG = DetectorConfig()
QUIET = CFG._replace(eb_noise=0.0, ee_noise=0.0, hcal_noise=0.0, hcal_threshold=0.0)


def _gun(pid, energy, eta, phi=0.3, n=1, charge=None):
    pt = energy / np.cosh(eta)
    ones = np.ones(n)
    return Particles.from_columns(
        np.full(n, pid), pt * np.cos(phi) * ones, pt * np.sin(phi) * ones, pt * np.sinh(eta) * ones,
        energy * ones, 0 * ones, 0 * ones, 0 * ones, hard=True, charge=charge,
    )


def _total(hits):
    return float(hits.eb_energy.sum() + hits.ee_energy.sum() + hits.hbhe_energy.sum())


@pytest.mark.parametrize("charge", [1.0, -1.0])
def test_helix_exit_angle_matches_the_circle(charge):
    pt, radius = 10.0, 129.0
    x, y, z, phi_dir, s = to_cylinder(np.zeros(1), np.zeros(1), np.zeros(1), np.array([pt]), np.zeros(1),
                                      np.array([5.0]), np.array([charge]), radius=radius, field=3.8)
    rho = curvature_radius(pt, field=3.8)
    expected = -charge * np.arcsin(radius / (2 * rho))  # positive charges turn clockwise in +z field
    np.testing.assert_allclose(np.arctan2(y, x), expected, rtol=1e-9)
    np.testing.assert_allclose(np.hypot(x, y), radius, rtol=1e-9)
    np.testing.assert_allclose(phi_dir, 2 * expected, rtol=1e-9)
    np.testing.assert_allclose(z, 5.0 / pt * s, rtol=1e-9)


def test_loopers_and_endcaps():
    # 0.5 GeV at eta 0 never reaches R = 129 cm (needs pT > 0.3 * 3.8 * 1.29 / 2 = 0.735 GeV)
    imp = to_surface(np.zeros(3), np.zeros(3), np.zeros(3), np.array([0.5, 0.8, 1.0]), np.zeros(3),
                     np.array([0.0, 0.0, 5.0]), np.ones(3), radius=129.0, half_length=266.9, end_z=315.4,
                     field=3.8, max_eta=3.0)
    assert imp.reached.tolist() == [False, True, True] and imp.barrel.tolist() == [False, True, False]
    assert imp.z[2] == pytest.approx(315.4)
    eta, _ = position_eta_phi(imp.x[2:], imp.y[2:], imp.z[2:])
    assert 2.2 < eta[0] < 2.5


def test_conversion_rate_follows_the_material():
    rng = np.random.default_rng(1)
    n = 4000
    for eta in (0.0, 1.4):
        _, converted, radius = convert_photons(_gun(22, 30.0, eta, n=n), rng, CFG)
        p = float(conversion_probability(eta))
        assert abs(converted.mean() - p) < 4 * np.sqrt(p * (1 - p) / n)
        r = radius[converted]
        assert np.all((r >= CFG.tracker_inner_radius) & (r <= CFG.tracker_outer_radius))


def _assert_mean_and_spread(sums, mean, sigma):
    """Sample mean and standard deviation of ``sums`` within 3 standard errors of ``mean`` and
    ``sigma`` (errors ``sigma / sqrt(n)`` and, for a Gaussian, ``sigma / sqrt(2 n)``)."""
    n = len(sums)
    assert abs(sums.mean() - mean) < 3 * sigma / np.sqrt(n), (sums.mean(), mean, sigma / np.sqrt(n))
    assert abs(sums.std() / sigma - 1) < 3 / np.sqrt(2 * n), (sums.std(), sigma)


@pytest.mark.parametrize("pid, eta", [(22, 0.3), (11, 0.8), (22, 2.2)])
def test_em_energy_is_conserved_within_resolution(pid, eta):
    """Without tracker material the calorimeter sum is the stochastic (+) constant resolution alone."""
    rng = np.random.default_rng(2)
    energy, n = 40.0, 600
    bare = QUIET._replace(material_scale=0.0)
    sums = np.array([_total(simulate_detector(_gun(pid, energy, eta, charge=-1.0 if pid == 11 else 0.0),
                                              rng, bare, vertex_z=0.0).hits) for _ in range(n)])
    _assert_mean_and_spread(sums, energy, energy * float(calo.em_resolution(energy, bare)))


def test_material_widens_the_endcap_photon_response():
    """At eta 2.2 conversions in the tracker material spread the sum beyond the calorimeter's resolution."""
    rng = np.random.default_rng(2)
    energy, n = 40.0, 600
    sums = np.array([_total(simulate_detector(_gun(22, energy, 2.2), rng, QUIET, vertex_z=0.0).hits) for _ in range(n)])
    sigma = energy * float(calo.em_resolution(energy, QUIET))
    assert sums.std() / sigma > 1 + 3 / np.sqrt(2 * n)
    assert abs(sums.mean() / energy - 1) < 0.01


def test_hadron_response_and_resolution():
    rng = np.random.default_rng(3)
    energy, n = 50.0, 600
    sums = np.array([_total(simulate_detector(_gun(211, energy, 0.4, charge=1.0), rng, QUIET, vertex_z=0.0).hits)
                     for _ in range(n)])
    mean = energy * float(calo.hadron_response(energy, QUIET))
    _assert_mean_and_spread(sums, mean, mean * float(calo.hadron_resolution(energy, QUIET)))


def test_event_energy_bookkeeping():
    """Calorimeter sum of a Pythia event vs its visible energy (response-weighted), within resolution."""
    from e2ejax.sim import generate

    pythia = generate.make_pythia("qcd_qg", seed=11)
    rng = np.random.default_rng(4)
    for _ in range(3):
        generate.next_event(pythia)
        gen = generate.final_state(pythia.event, vertex_z=0.0, hard=True)
        keep = visible(gen) & (gen.pt > 1.2) & (np.abs(gen.eta) < 2.5)
        p = Particles(*(getattr(gen, f)[keep] for f in Particles._fields))
        apid = np.abs(p.pid)
        em = (apid == 11) | (apid == 22)
        mu = apid == 13
        had = ~em & ~mu
        e_dep = deposited_energy(p)
        expected = (p.e[em].sum() + (calo.hadron_response(e_dep, QUIET) * e_dep)[had].sum()
                    + mu.sum() * (QUIET.mip_ecal + QUIET.mip_hcal))
        sigma = np.sqrt(np.sum((p.e * calo.em_resolution(p.e, QUIET))[em] ** 2)
                        + np.sum((e_dep * calo.hadron_resolution(e_dep, QUIET))[had] ** 2) + 1.0)
        total = _total(simulate_detector(p, rng, QUIET, vertex_z=0.0).hits)
        assert abs(total - expected) < 4 * sigma, (total, expected, sigma)
        assert 0.5 * p.e[visible(p)].sum() < total < 1.05 * p.e.sum()


def test_noise_and_zero_suppression():
    rng = np.random.default_rng(5)
    empty = _gun(22, 1.0, 0.0, n=0)
    hits = simulate_detector(empty, rng, CFG, vertex_z=0.0).hits
    assert np.all(hits.eb_energy > CFG.ecal_zs_sigmas * CFG.eb_noise)
    assert np.all(hits.ee_energy > CFG.ecal_zs_sigmas * CFG.ee_noise)
    assert np.all(hits.hbhe_energy > CFG.hcal_threshold)
    assert len(hits.eb_energy) < 50  # 61200 crystals, Gaussian tail above 4 sigma


def test_em_shower_containment():
    rng = np.random.default_rng(6)
    fractions = []
    for _ in range(100):
        hits = simulate_detector(_gun(22, 50.0, 0.1), rng, QUIET._replace(material_scale=0.0),
                                 vertex_z=0.0).hits
        img = np.zeros(geometry.EB.shape)
        r, c = geometry.eb_index_to_cell(hits.eb_ieta, hits.eb_iphi)
        np.add.at(img, (r, c), hits.eb_energy)
        mr, mc = np.unravel_index(np.argmax(img), img.shape)
        fractions.append(img[mr - 1:mr + 2, mc - 1:mc + 2].sum() / img.sum())
    assert 0.85 < np.mean(fractions) < 0.95  # 3x3 crystals hold about 90-94% (Moliere radius ~ 1 crystal)


def test_tracks_resolution_and_impact_parameters():
    rng = np.random.default_rng(7)
    n = 20000
    gun = _gun(211, 20.0, 0.2, n=n, charge=1.0)
    tracks = simulate_detector(gun, rng, CFG, vertex_z=0.0).tracks
    m = len(tracks.pt)
    eff = CFG.eff_hadron
    assert abs(m / n - eff) < 3 * np.sqrt(eff * (1 - eff) / n)
    pt_true = 20.0 / np.cosh(0.2)
    rel = np.std(tracks.pt / pt_true - 1)
    expected = np.hypot(CFG.pt_res_barrel + CFG.pt_res_eta_slope * 0.2 / 2.5, CFG.pt_res_curvature * pt_true)
    band = 3 / np.sqrt(2 * m)  # 3 standard errors of a Gaussian's sample standard deviation, relative
    assert abs(rel / expected - 1) < band, (rel, expected)
    expected_d0 = np.hypot(CFG.d0_res_high_pt, CFG.d0_res_low_pt / pt_true)
    assert abs(np.std(tracks.d0) / expected_d0 - 1) < band, (np.std(tracks.d0), expected_d0)
    assert np.all(tracks.charge == 1)
    # positive tracks bend to smaller phi at the ECAL surface
    assert np.all(tracks.phi < 0.3)
