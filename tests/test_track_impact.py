"""The two per-cell track d0 / dz conventions, and the input conventions between models and files."""

import jax
import numpy as np
import pytest
from flax import nnx

from e2ejax import conventions, geometry, nets
from e2ejax.errors import InputError
from e2ejax.inference import Tagger
from e2ejax.inputs import event_images, jet_inputs, seed_frames, trim_seed_slots
from e2ejax.io import EventBatch
from e2ejax.ops import extract_frames, track_image
from tests.test_features import toy_events


def _loop_track_image(eta, phi, pt, d0, dz, mask, impact):
    """NumPy loop reference: per cell, pT sum and the (pT-weighted or plain) mean d0 and dz."""
    out = np.zeros(geometry.ECAL.shape + (3,), np.float64)
    norm = np.zeros(geometry.ECAL.shape, np.float64)
    for e, p, t, a, z, m in zip(eta, phi, pt, d0, dz, mask):
        if not m:
            continue
        r, c = (int(v) for v in geometry.eta_phi_to_cell(np.float32(e), np.float32(p), "ECAL"))
        if r < 0:
            continue
        w = t if impact == "pt_weighted" else 1.0
        out[r, c] += (t, w * a, w * z)
        norm[r, c] += w
    filled = norm > 0
    out[filled, 1] /= norm[filled]
    out[filled, 2] /= norm[filled]
    return out


@pytest.mark.parametrize("impact", conventions.TRACK_IMPACT)
def test_track_image_against_loop(rng, impact):
    n = 60
    eta = rng.uniform(-0.05, 0.05, n).astype(np.float32)  # few cells: many tracks share one
    phi = rng.uniform(-0.05, 0.05, n).astype(np.float32)
    pt = rng.exponential(3.0, n).astype(np.float32)
    d0 = rng.normal(0, 0.05, n).astype(np.float32)
    dz = rng.normal(0, 0.5, n).astype(np.float32)
    mask = rng.random(n) < 0.8
    got = np.asarray(track_image(*(x[None] for x in (eta, phi, pt, d0, dz, mask)), impact=impact))[0]
    want = _loop_track_image(eta, phi, pt, d0, dz, mask, impact)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    assert (want[..., 0] > 0).sum() < mask.sum()  # cells were shared


def test_conventions_differ_where_tracks_share_a_cell():
    one = np.ones((1, 2), np.float32) * 0.01
    args = (one, one, np.array([[1.0, 3.0]], np.float32), np.array([[0.4, 0.0]], np.float32),
            np.zeros((1, 2), np.float32), np.ones((1, 2), bool))
    weighted = float(np.asarray(track_image(*args)).sum((0, 1, 2))[1])
    mean = float(np.asarray(track_image(*args, impact="mean")).sum((0, 1, 2))[1])
    assert weighted == pytest.approx(0.1) and mean == pytest.approx(0.2)


def test_unknown_track_impact_refused(rng):
    ev = toy_events(rng)
    with pytest.raises(InputError, match="pt_weighted.*mean"):
        track_image(ev["trk_eta"], ev["trk_phi"], ev["trk_pt"], ev["trk_d0"], ev["trk_dz"], ev["trk_mask"], impact="weighted")
    with pytest.raises(InputError, match="expected track_impact"):
        seed_frames(ev, task="top", track_impact="sum")


def _shared_cell(ev):
    """Ten tracks of different pT and d0 in the cell of each event's first jet axis."""
    for b in range(len(ev["trk_pt"])):
        ev["trk_eta"][b, :10], ev["trk_phi"][b, :10] = ev["jet_eta"][b, 0], ev["jet_phi"][b, 0]
        ev["trk_pt"][b, :10] = np.arange(1, 11)
        ev["trk_d0"][b, :10] = np.linspace(-0.2, 0.5, 10)
        ev["trk_mask"][b, :10] = True
    return ev


def test_mean_frames_from_hits_equal_mean_images_then_crop(rng):
    ev = _shared_cell(toy_events(rng, B=2, N=300))
    channels, size = ("track_pt", "track_d0", "track_dz", "ecal"), 125
    frames, seeds, _, _ = jax.jit(lambda e: jet_inputs(e, task="tau", track_impact="mean"))(ev)
    images = event_images(ev, channels=("track_pt", "track_d0", "track_dz", "ecal", "hcal"), track_impact="mean")
    expected, _ = extract_frames(images, seeds, height=size, width=size)
    np.testing.assert_allclose(np.asarray(frames), np.asarray(expected), rtol=1e-5, atol=1e-6)
    weighted, _, _, _ = jet_inputs(ev, task="tau")
    d0 = channels.index("track_d0")
    assert not np.allclose(np.asarray(weighted)[..., d0], np.asarray(frames)[..., d0])


def _tagger(task, **kw):
    model = nets.build("vgg", {"channels": 8 if task == "top" else 3}, rngs=nnx.Rngs(0))
    return Tagger(model, task=task, backend="xla", **kw)


def test_tagger_builds_frames_in_its_convention(rng):
    ev = _shared_cell(toy_events(rng, B=2, N=200))
    tagger = _tagger("top", conventions={"track_impact": "mean"})
    assert tagger.conventions == {"track_impact": "mean", "image_units": "GeV"}
    (parts, rows, *_), = [tagger.seed_inputs(ev)]
    (frames,), n = parts[0]
    trimmed = trim_seed_slots(ev, "jet")  # the rows count the seed slots up to the last real one
    expected = np.asarray(seed_frames(trimmed, task="top", track_impact="mean")[0])[rows]
    np.testing.assert_allclose(np.asarray(frames)[:n], expected, rtol=1e-6, atol=1e-7)
    default = np.asarray(seed_frames(trimmed, task="top")[0])[rows]
    assert not np.allclose(default[..., 1], expected[..., 1])


def _dense_batch(rng, declared):
    ev = {k: np.asarray(rng.random((1, *s)), np.float32) for k, s in
          (("ecal", geometry.ECAL.shape), ("hbhe", geometry.HBHE.shape), ("track_pt", geometry.ECAL.shape),
           ("track_d0", geometry.ECAL.shape), ("track_dz", geometry.ECAL.shape), ("bpix1", geometry.ECAL.shape),
           ("bpix2", geometry.ECAL.shape), ("bpix3", geometry.ECAL.shape))}
    ev.update(jet_seed_row=np.array([[140]], np.int32), jet_seed_col=np.array([[100]], np.int32), jet_mask=np.ones((1, 1), bool),
              event=np.zeros(1, np.int64))
    return EventBatch(ev, "dense", "stored.root", "RHTree", 0, 1, conventions=declared)


def test_tagger_refuses_stored_images_of_other_conventions(rng):
    mean = _dense_batch(rng, {"track_impact": "mean", "image_units": "GeV"})
    with pytest.raises(InputError, match=r"stored\.root.*track_impact 'mean' \(model: 'pt_weighted'\)"):
        _tagger("top").seed_inputs(mean)
    _tagger("top", conventions={"track_impact": "mean"}).seed_inputs(mean)  # the same convention: scored
    _tagger("qg").seed_inputs(mean)  # q/g reads no d0 / dz: the convention does not matter
    other_units = _dense_batch(rng, {"image_units": "ml4sci"})
    with pytest.raises(InputError, match="image_units 'ml4sci'.*--accept-units"):
        _tagger("qg").seed_inputs(other_units)
    _tagger("qg", accept_units=True).seed_inputs(other_units)


def test_model_card_conventions_reach_the_tagger(tmp_path):
    assert conventions.of_card({"input_conventions": {"image_units": "ml4sci"}}) == {"track_impact": "pt_weighted", "image_units": "ml4sci"}
    assert Tagger.from_pretrained("qg", backend="xla").conventions == dict(conventions.DEFAULTS)
    with pytest.raises(InputError, match="expected track_impact"):
        _tagger("qg", conventions={"track_impact": "pT"})
