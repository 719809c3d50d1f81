import jax
import jax.numpy as jnp
import numpy as np
import pytest

from e2ejax import geometry
from e2ejax.errors import InputError
from e2ejax import tasks
from e2ejax.inputs import egamma_inputs, event_images, gnn_points, jet_inputs, jet_inputs_at
from e2ejax.ops import extract_frames


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
    """Frames hold the ECAL hits around each seed (a NumPy loop over the hits), and the GNN points
    are the frame's hottest pixels with their normalised coordinates."""
    ev = toy_events(rng, B=2, N=200)
    frames, seeds, mask, ok = (np.asarray(x) for x in egamma_inputs(ev))
    assert frames.shape == (2, 2, 32, 32, 1) and ok.all()
    expected = np.zeros_like(frames)
    rows, cols = geometry.eb_index_to_cell(ev["eb_ieta"], ev["eb_iphi"])
    for b in range(2):
        for s in range(2):
            for r, c, e, m in zip(rows[b] + geometry.EE_ROWS, cols[b], ev["eb_energy"][b], ev["eb_mask"][b]):
                dr, dc = r - seeds[b, s, 0] + 15, (c - seeds[b, s, 1] + 15) % 360  # phi wraps, the seed at (15, 15)
                if m and 0 <= dr < 32 and dc < 32:
                    expected[b, s, dr, dc, 0] += e
    np.testing.assert_allclose(frames, expected, rtol=1e-5, atol=1e-6)
    assert (expected.reshape(4, -1) > 0).sum(1).min() >= 1
    flat = frames.reshape((-1,) + frames.shape[2:])
    points, pmask = (np.asarray(x) for x in gnn_points(flat, n_points=16))
    assert points.shape == (4, 16, 3) and pmask.dtype == np.float32
    for i in range(4):
        hot = [(flat[i, r, c, 0], r, c) for r in range(32) for c in range(32) if flat[i, r, c, 0] != 0]
        hot = sorted(hot, key=lambda t: (-t[0], t[1] * 32 + t[2]))[:16]
        want = np.zeros((16, 3), np.float32)
        want[: len(hot)] = [(e, (r - 15.5) / 32, (c - 15.5) / 32) for e, r, c in hot]
        np.testing.assert_allclose(points[i], want, rtol=1e-6, atol=1e-7)
        np.testing.assert_array_equal(pmask[i], np.arange(16) < len(hot))


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


@pytest.mark.parametrize("task", ["qg", "top", "tau"])
def test_frames_from_hits_equal_images_then_crop(rng, task):
    """jet_inputs sums frames straight from the hits: same frames as building the images and cutting them."""
    ev = toy_events(rng, B=3, N=300)
    ev["trk_d0"][0, :5] = 0.5  # shared cells: the pT-weighted mean per pixel must match too
    channels, size = tasks.get(task).channels, tasks.get(task).frame_size
    frames, seeds, mask, ok = jax.jit(lambda e: jet_inputs(e, task=task))(ev)
    expected, expected_ok = extract_frames(event_images(ev, channels=channels), seeds, height=size, width=size)
    np.testing.assert_allclose(np.asarray(frames), np.asarray(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ok, expected_ok)
    assert np.abs(np.asarray(frames)).sum() > 0


def test_jet_inputs_at_selected_slots(rng):
    ev = toy_events(rng, B=3, N=200)
    ev["jet_mask"] = np.array([[True, True, False], [False, False, False], [True, False, False]])
    full, seeds, mask, ok = jet_inputs(ev, task="top")
    rows = np.array([0, 1, 6, 6], np.int32)  # the real jets, padded by repeating the last
    at, seeds_at, mask_at, ok_at = jax.jit(lambda e, r: jet_inputs_at(e, r, task="top"))(ev, rows)
    np.testing.assert_allclose(np.asarray(at), np.asarray(full).reshape(9, 125, 125, 8)[rows], rtol=1e-6, atol=1e-6)
    for a, b in ((seeds_at, seeds), (mask_at, mask), (ok_at, ok)):
        np.testing.assert_array_equal(a, b)


def test_frames_from_hits_gradient(rng):
    ev = toy_events(rng, B=1, N=30)
    weights = jnp.asarray(rng.normal(size=(125, 125, 3)).astype(np.float32))

    def score(eb_energy, trk_pt):
        frames = jet_inputs(dict(ev, eb_energy=eb_energy, trk_pt=trk_pt), task="qg")[0]
        return jnp.sum(jnp.tanh(frames[0, 0]) * weights)

    args = (jnp.asarray(ev["eb_energy"]), jnp.asarray(ev["trk_pt"]))
    expected = jax.grad(lambda a, b: jnp.sum(jnp.tanh(extract_frames(
        event_images(dict(ev, eb_energy=a, trk_pt=b), channels=("track_pt", "ecal", "hcal")),
        jet_inputs(ev, task="qg")[1], height=125, width=125)[0][0, 0]) * weights), argnums=(0, 1))(*args)
    got = jax.grad(score, argnums=(0, 1))(*args)
    for g, e in zip(got, expected):
        np.testing.assert_allclose(np.asarray(g), np.asarray(e), rtol=1e-4, atol=1e-5)
    assert np.abs(np.asarray(got[0])).sum() > 0


def test_egamma_frames_from_hits_equal_image_search_and_cut(rng):
    from e2ejax.inputs import egamma_centres
    from e2ejax.ops import egamma_seeds

    ev = toy_events(rng, B=3, N=300)
    ev["eg_mask"][1, 1] = False
    frames, seeds, mask, ok = jax.jit(egamma_inputs)(ev)
    ecal = event_images(ev, channels=("ecal",))
    expected_seeds, _ = egamma_seeds(ecal[..., 0], egamma_centres(ev), jnp.asarray(ev["eg_mask"]))
    expected, expected_ok = extract_frames(ecal, expected_seeds, height=32, width=32)
    np.testing.assert_array_equal(seeds, expected_seeds)
    np.testing.assert_allclose(np.asarray(frames), np.asarray(expected), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(ok, expected_ok)
