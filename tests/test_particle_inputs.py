"""Particle-tagger inputs (e2ejax.inputs.jet_particles) against a loop over jets and candidates."""

from __future__ import annotations

import math

import numpy as np
import pytest

from e2ejax import tasks
from e2ejax.errors import InputError
from e2ejax.inputs import PARTICLE_FEATURES, jet_particles, particle_examples
from e2ejax.io import iterate_events

TYPE_ONE_HOT = {0: (1, 0, 0, 0, 0), 4: (0, 1, 0, 0, 0), 3: (0, 0, 1, 0, 0), 1: (0, 0, 0, 1, 0), 2: (0, 0, 0, 0, 1)}


def loop_reference(ev, n_particles):
    """features, points, vectors, mask, overflow of every jet slot, one candidate at a time."""
    b, s = np.shape(ev["jet_mask"])
    f = len(PARTICLE_FEATURES)
    feats, points, vectors = np.zeros((b, s, n_particles, f)), np.zeros((b, s, n_particles, 2)), np.zeros((b, s, n_particles, 4))
    mask, overflow = np.zeros((b, s, n_particles)), np.zeros((b, s), int)
    for i in range(b):
        for j in range(s):
            if not ev["jet_mask"][i, j]:
                continue
            members = [c for c in range(len(ev["pf_pt"][i])) if ev["pf_mask"][i, c] and ev["pf_jet"][i, c] == j]
            members.sort(key=lambda c: -float(ev["pf_pt"][i, c]))  # stable: ties keep the candidates' order
            overflow[i, j] = max(len(members) - n_particles, 0)
            jpt, jeta, jphi, jm = (float(ev[k][i, j]) for k in ("jet_pt", "jet_eta", "jet_phi", "jet_mass"))
            jet_e = math.sqrt((jpt * math.cosh(jeta)) ** 2 + jm ** 2)
            for n, c in enumerate(members[:n_particles]):
                pt, eta, phi = (float(ev[k][i, c]) for k in ("pf_pt", "pf_eta", "pf_phi"))
                e = pt * math.cosh(eta)
                deta = eta - jeta
                dphi = (phi - jphi + math.pi) % (2 * math.pi) - math.pi
                feats[i, j, n] = [
                    (math.log(pt) - 1.7) * 0.7, (math.log(e) - 2.0) * 0.7, (math.log(pt / jpt) + 4.7) * 0.7,
                    (math.log(e / jet_e) + 4.7) * 0.7, (math.hypot(deta, dphi) - 0.2) * 4.0, float(ev["pf_charge"][i, c]),
                    *TYPE_ONE_HOT[int(ev["pf_type"][i, c])], math.tanh(float(ev["pf_d0"][i, c])),
                    math.tanh(float(ev["pf_dz"][i, c])), deta, dphi,
                ]
                points[i, j, n] = [deta, dphi]
                vectors[i, j, n] = [pt * math.cos(phi), pt * math.sin(phi), pt * math.sinh(eta), e]
                mask[i, j, n] = 1.0
    return feats, points, vectors, mask, overflow


@pytest.fixture(scope="module")
def qg_events():
    batch = next(iter(iterate_events([str(tasks.get("qg").sample_path)], max_events=6, groups=["pf", "jet"])))
    return {k: np.asarray(v) for k, v in batch.items()}


@pytest.mark.parametrize("n_particles", [8, 64])
def test_jet_particles_match_the_loop_on_simulated_jets(qg_events, n_particles):
    got = jet_particles(qg_events, n_particles=n_particles)
    want = loop_reference(qg_events, n_particles)
    for name, g, w in zip(("features", "points", "vectors", "mask"), got[:4], want[:4]):
        np.testing.assert_allclose(np.asarray(g), w, rtol=2e-5, atol=2e-5, err_msg=name)
    np.testing.assert_array_equal(np.asarray(got.overflow), want[4])
    assert int(np.asarray(got.mask).sum()) > 5 * len(qg_events["event"])  # real jets with many candidates
    if n_particles == 8:  # jets of more than 8 candidates: the rest counted, not kept
        assert int(np.asarray(got.overflow).sum()) > 0
    else:
        assert int(np.asarray(got.overflow).sum()) == 0


def test_ties_keep_the_candidates_order_and_padding_is_zero():
    ev = {"pf_pt": np.array([[5.0, 5.0, 9.0, 5.0, 2.0]], np.float32), "pf_eta": np.array([[0.1, 0.2, 0.3, 0.4, 0.5]], np.float32),
          "pf_phi": np.array([[3.1, -3.1, 0.0, 0.1, 0.2]], np.float32), "pf_type": np.array([[0, 3, 1, 4, 2]], np.int32),
          "pf_charge": np.array([[1, 0, -1, 0, 1]], np.int32), "pf_d0": np.array([[0.5, 0, -0.2, 0, 0.1]], np.float32),
          "pf_dz": np.array([[1.5, 0, 0.3, 0, -0.1]], np.float32), "pf_jet": np.array([[0, 0, 0, 0, 1]], np.int32),
          "pf_mask": np.array([[True, True, True, True, False]]), "jet_pt": np.array([[25.0, 9.0]], np.float32),
          "jet_eta": np.array([[0.2, 0.0]], np.float32), "jet_phi": np.array([[3.0, 0.0]], np.float32),
          "jet_mass": np.array([[3.0, 1.0]], np.float32), "jet_mask": np.array([[True, False]])}
    got = jet_particles(ev, n_particles=6)
    want = loop_reference(ev, 6)
    np.testing.assert_allclose(np.asarray(got.features), want[0], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(got.vectors), want[2], rtol=1e-5, atol=1e-5)
    assert np.asarray(got.mask)[0, 0].tolist() == [1, 1, 1, 1, 0, 0]
    charge = PARTICLE_FEATURES.index("charge")
    assert np.asarray(got.features)[0, 0, :3, charge].tolist() == [-1.0, 1.0, 0.0]  # 9 GeV first, then the 5 GeV ties in order
    assert not np.asarray(got.features)[0, 1].any()  # the padded jet slot is all zeros
    dphi = np.asarray(got.features)[0, 0, 2, PARTICLE_FEATURES.index("dphi")]
    assert dphi == pytest.approx(-3.1 - 3.0 + 2 * np.pi, abs=1e-5)  # wrapped across phi = pi


def test_particle_examples_pick_slots_and_count_overflow(qg_events):
    slots = np.flatnonzero(qg_events["jet_mask"])
    (features, mask), overflow = particle_examples(qg_events, n_particles=8, names=("features", "mask"), slots=slots)
    want = loop_reference(qg_events, 8)
    np.testing.assert_allclose(features, want[0].reshape(-1, 8, len(PARTICLE_FEATURES))[slots], rtol=2e-5, atol=2e-5)
    assert mask.shape == (len(slots), 8) and overflow == int(want[4].sum()) > 0


def test_missing_candidate_fields_are_named():
    with pytest.raises(InputError, match="pf_charge"):
        jet_particles({"pf_pt": np.ones((1, 2))}, n_particles=4)
