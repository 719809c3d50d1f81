import jax
import jax.numpy as jnp
import numpy as np
import pytest

from e2ejax import geometry
from e2ejax.errors import InputError
from e2ejax.features import egamma_inputs, event_images, frames_to_points, jet_inputs


def toy_events(rng, B=2, N=40):
    ev = {
        "eb_ieta": rng.choice(np.r_[-85:0, 1:86], (B, N)).astype(np.int32),
        "eb_iphi": rng.integers(1, 361, (B, N)).astype(np.int32),
        "eb_energy": rng.exponential(2.0, (B, N)).astype(np.float32),
        "eb_mask": rng.random((B, N)) < 0.9,
        "ee_eta": rng.choice([-1, 1], (B, N)) * rng.uniform(1.5, 2.9, (B, N)).astype(np.float32),
        "ee_phi": rng.uniform(-np.pi, np.pi, (B, N)).astype(np.float32),
        "ee_energy": rng.exponential(2.0, (B, N)).astype(np.float32),
        "ee_mask": rng.random((B, N)) < 0.9,
        "hbhe_ieta": rng.choice(np.r_[-29:0, 1:30], (B, N)).astype(np.int32),
        "hbhe_iphi": rng.integers(1, 73, (B, N)).astype(np.int32),
        "hbhe_energy": rng.exponential(3.0, (B, N)).astype(np.float32),
        "hbhe_mask": rng.random((B, N)) < 0.9,
        "trk_eta": rng.uniform(-2.4, 2.4, (B, N)).astype(np.float32),
        "trk_phi": rng.uniform(-np.pi, np.pi, (B, N)).astype(np.float32),
        "trk_pt": rng.exponential(3.0, (B, N)).astype(np.float32),
        "trk_d0": rng.normal(0, 0.01, (B, N)).astype(np.float32),
        "trk_dz": rng.normal(0, 0.1, (B, N)).astype(np.float32),
        "trk_mask": rng.random((B, N)) < 0.9,
        "bpix_layer": rng.integers(1, 4, (B, N)).astype(np.int32),
        "bpix_eta": rng.uniform(-2.4, 2.4, (B, N)).astype(np.float32),
        "bpix_phi": rng.uniform(-np.pi, np.pi, (B, N)).astype(np.float32),
        "bpix_mask": rng.random((B, N)) < 0.9,
        "jet_eta": rng.uniform(-2.0, 2.0, (B, 3)).astype(np.float32),
        "jet_phi": rng.uniform(-np.pi, np.pi, (B, 3)).astype(np.float32),
        "jet_mask": np.array([[True, True, False]] * B),
        "eg_eta": rng.uniform(-1.4, 1.4, (B, 2)).astype(np.float32),
        "eg_phi": rng.uniform(-np.pi, np.pi, (B, 2)).astype(np.float32),
        "eg_mask": np.ones((B, 2), bool),
    }
    return ev


def test_image_channels_conserve_inputs(rng):
    ev = toy_events(rng)
    img = np.asarray(event_images(ev, channels=("ecal", "hcal", "track_pt", "bpix1", "bpix2", "bpix3")))
    assert img.shape == (2, 280, 360, 6)
    np.testing.assert_allclose(img[..., 0].sum((1, 2)), (ev["eb_energy"] * ev["eb_mask"]).sum(1) + (ev["ee_energy"] * ev["ee_mask"]).sum(1), rtol=1e-5)
    np.testing.assert_allclose(img[..., 1].sum((1, 2)), (ev["hbhe_energy"] * ev["hbhe_mask"]).sum(1), rtol=1e-5)
    np.testing.assert_allclose(img[..., 2].sum((1, 2)), (ev["trk_pt"] * ev["trk_mask"]).sum(1), rtol=1e-5)
    for layer in (1, 2, 3):
        assert img[..., 2 + layer].sum() == (ev["bpix_mask"] & (ev["bpix_layer"] == layer)).sum()


def test_jet_inputs_seed_on_hottest_tower(rng):
    ev = toy_events(rng)
    ev["hbhe_ieta"][0, 0], ev["hbhe_iphi"][0, 0], ev["hbhe_energy"][0, 0], ev["hbhe_mask"][0, 0] = 5, 10, 500.0, True
    eta, phi = geometry.cell_centre(*geometry.hbhe_index_to_cell(np.array(6), np.array(12)), "HBHE")
    ev["jet_eta"][0, 0], ev["jet_phi"][0, 0] = eta, phi
    frames, seeds, mask, ok = jax.jit(lambda e: jet_inputs(e, task="qg"))(ev)
    assert frames.shape == (2, 3, 125, 125, 3)
    row, col = geometry.hbhe_index_to_cell(np.array(5), np.array(10))
    np.testing.assert_array_equal(seeds[0, 0], [5 * row + 2, 5 * col + 2])
    np.testing.assert_array_equal(mask, ev["jet_mask"])
    # the seed tower's energy is at the frame centre (HCAL channel), spread over 5 x 5
    assert float(frames[0, 0, 62, 62, 2]) >= 500.0 / 25


def test_egamma_inputs_and_points(rng):
    ev = toy_events(rng)
    frames, seeds, mask, ok = egamma_inputs(ev)
    assert frames.shape == (2, 2, 32, 32, 1) and ok.all()
    points, pmask = frames_to_points(frames, n_points=16)
    assert points.shape == (4, 16, 3) and pmask.dtype == jnp.float32


def test_saliency_matches_finite_differences(rng):
    ev = toy_events(rng, B=1, N=12)
    ev["eb_ieta"][:] = 10
    ev["eb_iphi"][:] = np.arange(1, 13)
    eta, phi = geometry.cell_centre(np.array(95), np.array(5), "ECAL")
    ev["eg_eta"][:], ev["eg_phi"][:] = eta, phi
    weights = jnp.asarray(rng.normal(size=(32, 32)).astype(np.float32))

    def score(energy):
        e = dict(ev, eb_energy=energy)
        frames = egamma_inputs(e)[0]
        return jnp.sum(jnp.tanh(frames[0, 0, :, :, 0] * 0.1) * weights)

    energy = jnp.asarray(ev["eb_energy"])
    grad = np.asarray(jax.grad(score)(energy))
    eps = 1e-2
    for i in range(4):
        d = np.zeros_like(ev["eb_energy"])
        d[0, i] = eps
        fd = (float(score(energy + d)) - float(score(energy - d))) / (2 * eps)
        assert grad[0, i] == pytest.approx(fd, rel=2e-2, abs=1e-3)


def test_missing_fields_and_unknown_channels(rng):
    ev = toy_events(rng)
    del ev["hbhe_energy"]
    with pytest.raises(InputError, match=r"missing \['hbhe_energy'\]"):
        event_images(ev, channels=("hcal",))
    with pytest.raises(InputError, match=r"unknown image channel\(s\) \['hf'\]"):
        event_images(ev, channels=("hf",))
