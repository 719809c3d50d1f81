"""Jet-calibration inputs and one-variable baselines against per-jet numpy loops on the shipped qg sample."""

import numpy as np
import pytest

from e2ejax import tasks
from e2ejax.inputs import baseline_scores, jet_observables, phi_width
from e2ejax.inputs import calibration_examples, jet_constituents
from e2ejax.errors import InputError
from e2ejax.io import iterate_events
from e2ejax.store import CHECKPOINTS

QG = CHECKPOINTS.parent / "e2ejax" / "data" / "sim_qg.root"


@pytest.fixture(scope="module")
def events():
    return dict(next(iter(iterate_events(str(QG), step_size=40, max_events=40))))


def _jets(events):
    """(event, slot) of every real jet, and its constituents as a list of pf indices."""
    out = []
    for b in range(events["jet_mask"].shape[0]):
        for s in np.flatnonzero(events["jet_mask"][b]):
            idx = np.flatnonzero(events["pf_mask"][b] & (events["pf_jet"][b] == s))
            out.append((b, s, idx))
    return out


def test_jet_constituents_match_a_per_jet_loop(events):
    n = 16
    c, t, m, j = (np.asarray(x) for x in jet_constituents(events, n_constituents=n))
    jets = _jets(events)
    assert len(jets) > 20
    for b, s, idx in jets:
        order = idx[np.argsort(-events["pf_pt"][b, idx], kind="stable")][:n]
        k = len(order)
        pt, eta, phi = (events[f"pf_{v}"][b, order].astype(np.float64) for v in ("pt", "eta", "phi"))
        dphi = (phi - events["jet_phi"][b, s] + np.pi) % (2 * np.pi) - np.pi
        want = np.stack([np.log(pt), eta - events["jet_eta"][b, s], dphi, pt / events["jet_pt"][b, s]], -1)
        np.testing.assert_allclose(c[b, s, :k], want, rtol=1e-5, atol=1e-5)
        assert np.all(c[b, s, k:] == 0) and np.all(m[b, s, k:] == 0) and np.all(m[b, s, :k] == 1)
        np.testing.assert_array_equal(t[b, s, :k], events["pf_type"][b, order])
        jpt = events["jet_pt"][b, s]
        np.testing.assert_allclose(j[b, s], [np.log(jpt), events["jet_eta"][b, s], events["jet_mass"][b, s] / jpt], rtol=1e-5)
    padded = ~events["jet_mask"]
    assert np.all(c[padded] == 0) and np.all(j[padded] == 0) and np.all(m[padded] == 0)


def test_calibration_examples_targets(events):
    inputs, targets, reco, true = calibration_examples(events, n_constituents=8)
    matched = events["jet_mask"] & (events["jet_pt_true"] >= 1.0)
    assert len(targets) == matched.sum() == len(inputs[0]) and inputs[0].shape[1:] == (8, 4)
    np.testing.assert_allclose(targets, np.log(events["jet_pt_true"][matched] / events["jet_pt"][matched]), rtol=1e-5)
    np.testing.assert_array_equal(reco, events["jet_pt"][matched])


def test_calibration_needs_pf_fields(events):
    with pytest.raises(InputError, match=r"missing \['pf_jet'\]"):
        jet_constituents({k: v for k, v in events.items() if k != "pf_jet"})


def test_jet_observables_match_a_per_jet_loop(events):
    obs = jet_observables(events)
    for b, s, idx in _jets(events):
        pt = events["pf_pt"][b, idx].astype(np.float64)
        deta = events["pf_eta"][b, idx] - events["jet_eta"][b, s]
        dphi = (events["pf_phi"][b, idx] - events["jet_phi"][b, s] + np.pi) % (2 * np.pi) - np.pi
        np.testing.assert_allclose(obs["girth"][b, s], np.sum(pt * np.hypot(deta, dphi)) / events["jet_pt"][b, s], rtol=1e-5)
        assert obs["multiplicity"][b, s] == len(idx)
        assert obs["n_charged"][b, s] == np.sum(events["pf_type"][b, idx] <= 2)
    scores = baseline_scores("tau", events=events)
    assert set(scores) == set(tasks.get("tau").baselines)
    np.testing.assert_array_equal(scores["-girth"], -obs["girth"])


def test_phi_width_loop():
    rng = np.random.default_rng(0)
    frames = rng.exponential(size=(5, 32, 32, 1))
    got = phi_width(frames)
    for k in range(5):
        w = frames[k, :, :, 0].sum(axis=0)
        mean = np.sum(w * np.arange(32)) / w.sum()
        np.testing.assert_allclose(got[k], np.sqrt(np.sum(w * (np.arange(32) - mean) ** 2) / w.sum()), rtol=1e-10)


def test_shipped_calibration_applied_to_events_and_refused_by_the_tagger(events):
    import jax

    from e2ejax.inputs import calibrated_pt
    from e2ejax.inference import Tagger
    from e2ejax.nets import make_predict

    if not (CHECKPOINTS / "jetcalib").is_dir():
        pytest.skip("jetcalib is not shipped")
    from e2ejax.store import load_model

    model, _, _ = load_model("jetcalib")
    predict, params = make_predict(model, objective="regression")
    c, t, m, j = jet_constituents(events, n_constituents=model.config.n_constituents)
    B, S = events["jet_mask"].shape
    flat = [np.asarray(x).reshape((B * S,) + x.shape[2:]) for x in (c, t, m, j)]
    pt = calibrated_pt(events["jet_pt"].reshape(-1), np.asarray(jax.jit(predict)(params, *flat))).reshape(B, S)
    real = events["jet_mask"] & (events["jet_pt_true"] > 0)
    before = np.median(events["jet_pt"][real] / events["jet_pt_true"][real])
    after = np.median(pt[real] / events["jet_pt_true"][real])
    assert abs(after - 1) < abs(before - 1)  # the raw PF response (h/e < 1) is corrected
    with pytest.raises(InputError, match="found a jet calibration model"):
        Tagger.from_pretrained("jetcalib", backend="xla")
