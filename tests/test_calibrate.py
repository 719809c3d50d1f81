"""``e2ejax calibrate FILE -o OUT``: the calibrated jet pT of every jet in a friend tree aligned with FILE."""

import contextlib
import io
import json

import jax
import numpy as np
import pytest
import uproot

from e2ejax.cli import main
from e2ejax.inputs import calibrated_pt, jet_constituents
from e2ejax.io import iterate_events
from e2ejax.nets import make_predict
from e2ejax.store import load_model
from tests.reliability.conftest import ROOT, assert_one_line_error, call_main, egamma_events, listing, write_tree

SAMPLE = ROOT / "e2ejax" / "data" / "sim_qg.root"


def readme_calibration(path) -> list[np.ndarray]:
    """The README's snippet, event batch by event batch: calibrated pT of the real jets of each entry."""
    model, _, _ = load_model("jetcalib")
    predict, params = make_predict(model, objective="regression")
    out = []
    for events in iterate_events(str(path), step_size=256, groups=("jet", "pf")):
        c, t, m, j = jet_constituents(events, n_constituents=model.config.n_constituents)
        B, S = m.shape[:2]
        log_corr = jax.jit(predict)(params, *(x.reshape((B * S,) + x.shape[2:]) for x in (c, t, m, j)))
        pt = calibrated_pt(events["jet_pt"].reshape(-1), log_corr).reshape(B, S)
        mask = np.asarray(events["jet_mask"])
        out.extend(pt[i][mask[i]] for i in range(B))
    return out


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    """``(output path, stdout)`` of ``e2ejax calibrate`` on the shipped qg sample."""
    out = tmp_path_factory.mktemp("cal") / "cal.root"
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        assert main(["calibrate", str(SAMPLE), "-o", str(out), "-q"]) == 0
    return out, buffer.getvalue()


def test_calibrated_pt_is_the_readme_calibration_aligned_with_the_input(calibrated):
    out, _ = calibrated
    got = uproot.open(out)["Predictions"].arrays(library="np")
    events = uproot.open(SAMPLE)["Events"].arrays(["event", "jet_pt"], library="np")
    np.testing.assert_array_equal(got["event"], events["event"])
    assert [len(v) for v in got["jet_pt_calibrated"]] == [len(v) for v in events["jet_pt"]]
    expected = readme_calibration(SAMPLE)
    np.testing.assert_allclose(np.concatenate(got["jet_pt_calibrated"]), np.concatenate(expected), rtol=2e-6)
    ratio = np.concatenate(got["jet_pt_calibrated"]) / np.concatenate(events["jet_pt"])
    assert 1.0 < np.median(ratio) < 1.15  # the shipped sample's jets are measured low (response 0.943)


def test_summary_gives_the_cards_held_out_response_and_resolution(calibrated):
    _, stdout = calibrated
    ev = json.loads((ROOT / "checkpoints" / "jetcalib" / "model_card.json").read_text())["card"]["evaluation"]
    before, after = ev["uncalibrated"], ev["calibrated"]
    assert f"1000 events, {ev['jets']} jets calibrated by model jetcalib" in stdout
    assert (f"{ev['jets']} matched jets: response {before['response']:.3f} -> {after['response']:.3f}, "
            f"resolution {before['resolution']:.4f} -> {after['resolution']:.4f}") in stdout


def test_entry_range_gives_those_entries_of_the_full_run(calibrated, tmp_path, capsys):
    full = uproot.open(calibrated[0])["Predictions"].arrays(library="np")
    out = tmp_path / "part.root"
    proc = call_main(capsys, "calibrate", SAMPLE, "-o", out, "--entries", "100:300", "-n", "150", "-q")
    assert proc.returncode == 0, proc.stderr
    assert f"{SAMPLE} entries [100, 250): 150 events" in proc.stdout
    part = uproot.open(out)["Predictions"].arrays(library="np")
    np.testing.assert_array_equal(part["event"], full["event"][100:250])
    np.testing.assert_allclose(np.concatenate(part["jet_pt_calibrated"]),
                               np.concatenate(full["jet_pt_calibrated"][100:250]), rtol=1e-6)


def test_refusals_are_one_line_and_write_nothing(tmp_path, capsys):
    proc = call_main(capsys, "calibrate", SAMPLE, "-o", tmp_path / "x.root", "--model", "qg", "-q")
    assert_one_line_error(proc, "calibrate", "jet calibration", "'qg'", "--model jetcalib")
    eg = write_tree(tmp_path / "eg.root", {k: v for k, v in egamma_events(4).items() if k != "pf"})
    proc = call_main(capsys, "calibrate", eg, "-o", tmp_path / "x.root", "-q")
    assert_one_line_error(proc, "calibrate", "eg.root", "pf_pt")
    proc = call_main(capsys, "calibrate", SAMPLE, "-o", tmp_path / "x.csv", "-q")
    assert_one_line_error(proc, "calibrate", "x.csv", ".root or .parquet")
    assert proc.returncode == 2 and listing(tmp_path) == ["eg.root"]
