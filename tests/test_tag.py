"""End to end: a sparse ROOT file -> e2ejax tag -> a friend tree aligned with the input."""

import numpy as np
import pytest
import uproot
from flax import nnx

from e2ejax import geometry
from e2ejax.store import Checkpointer
from e2ejax.cli import main
from e2ejax.training import make_optimizer, parse_config
from e2ejax.io import write_events
from e2ejax.store import save_state
from e2ejax.nets import build
from e2ejax.inference import Tagger, tag_files
from e2ejax.training import make_steps
from tests.test_features import toy_events

CONFIG = {
    "model": {"name": "vgg", "options": {"features": [4], "hidden": 8}},
    "task": "egamma",
    "data": {"train": ["x.root"], "validation": ["y.root"]},
}


@pytest.fixture
def egamma_file(tmp_path):
    rng = np.random.default_rng(5)
    batches = []
    for i in range(3):
        ev = toy_events(rng, B=4, N=32)
        ev["event"] = np.arange(4 * i, 4 * i + 4, dtype=np.int64)
        ev["eg_label"] = rng.integers(0, 2, (4, 2)).astype(np.int32)
        ev["trk_charge"] = np.ones((4, 32), np.int32)
        ev["eg_pt"], ev["eg_converted"] = np.full((4, 2), 20.0, np.float32), np.zeros((4, 2), np.int32)
        # each candidate sits on a real barrel hit, away from the eta edges, so its frame is in acceptance and not empty
        ev["eb_ieta"][:, :2] = rng.choice(np.r_[-60:0, 1:61], (4, 2))
        ev["eb_mask"][:, :2] = True
        ev["eb_energy"][:, :2] += 20.0  # the hottest crystal of its 5 x 5 search window
        row, col = geometry.eb_index_to_cell(ev["eb_ieta"][:, :2], ev["eb_iphi"][:, :2])
        ev["eg_seed_row"], ev["eg_seed_col"] = np.asarray(row + geometry.EE_ROWS, np.int32), np.asarray(col, np.int32)
        ev["eg_mask"] = np.array([[True, True], [True, False], [False, False], [True, True]])
        for k in ("jet_eta", "jet_phi", "jet_mask", "ee_eta", "ee_phi", "ee_energy", "ee_mask"):
            ev.pop(k)
        batches.append(ev)
    path = tmp_path / "eg.root"
    write_events(str(path), batches)
    return path


def test_egamma_fixture_frames_are_in_acceptance_and_hold_their_seed_hit(egamma_file):
    from e2ejax.inputs import egamma_inputs
    from e2ejax.io import iterate_events

    for events in iterate_events([str(egamma_file)]):
        frames, seeds, mask, ok = (np.asarray(x) for x in egamma_inputs(events))
        assert mask.sum() == 15 and ok[mask].all() and not mask[:, 2:].any()
        real = mask[:, :2]
        for axis, field in enumerate(("eg_seed_row", "eg_seed_col")):  # seeded on the candidate's own hit
            np.testing.assert_array_equal(seeds[:, :2, axis][real], np.asarray(events[field])[:, :2][real])
        # the seed crystal at the frame centre holds (at least) that hit's energy
        assert (frames[:, :2, 15, 15, 0][real] >= np.asarray(events["eb_energy"])[:, :2][real]).all()


@pytest.fixture
def egamma_checkpoint(tmp_path):
    cfg = parse_config(CONFIG)
    model = build("vgg", CONFIG["model"]["options"], rngs=nnx.Rngs(0))
    steps = make_steps(model, make_optimizer(cfg.optimizer, total_steps=1))
    save_state(Checkpointer(tmp_path / "ckpt"), steps.init(), name="vgg", model=model, task="egamma", config=cfg.to_dict(), metrics={"val_loss": 0.7})
    return tmp_path / "ckpt"


def test_tag_files_aligned_and_backends_agree(egamma_file, egamma_checkpoint, tmp_path):
    outs = {}
    for backend in ("xla", "onnxruntime"):
        tagger = Tagger.from_pretrained(egamma_checkpoint, backend=backend)
        out = tmp_path / f"scores_{backend}.root"
        summary = tag_files({"vgg": tagger}, str(egamma_file), str(out), batch_size=5, progress=False)
        assert summary["events"] == 12 and summary["seeds"] == 15
        assert "auc" in summary
        outs[backend] = uproot.open(out)["Predictions"].arrays(library="np")
    events_in = uproot.open(egamma_file)["Events"]["event"].array(library="np")
    np.testing.assert_array_equal(outs["xla"]["event"], events_in)
    for a, b in zip(outs["xla"]["eg_vgg"], outs["onnxruntime"]["eg_vgg"]):
        np.testing.assert_allclose(a, b, atol=1e-5)
    scores = np.concatenate(list(outs["xla"]["eg_vgg"]))
    assert len(np.unique(scores)) == len(scores) == 15 and np.ptp(scores) > 1e-3  # every frame its own score
    assert [len(v) for v in outs["xla"]["eg_vgg"]][:4] == [2, 1, 0, 2]


def test_tag_cli(egamma_file, egamma_checkpoint, tmp_path, capsys):
    out = tmp_path / "o.root"
    assert main(["tag", str(egamma_file), "-o", str(out), "--model", str(egamma_checkpoint), "-q"]) == 0
    line = capsys.readouterr().out
    assert "12 events, 15 seeds" in line and "AUC" in line and out.exists()
    assert main(["tag", str(tmp_path / "missing.root"), "-o", str(tmp_path / "m.root"), "--model", str(egamma_checkpoint), "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing.root" in err
    assert not (tmp_path / "m.root").exists()
    assert main(["tag", str(egamma_file), "--model", "nosuch", "-q"]) == 2
    assert main(["tag", str(egamma_file), "--backend", "tpu", "--model", str(egamma_checkpoint), "-q"]) == 2


def test_bench_cli_reports_every_stage(egamma_file, egamma_checkpoint, capsys):
    assert main(["bench", str(egamma_file), "--model", str(egamma_checkpoint), "--batch-size", "5"]) == 0
    out = capsys.readouterr().out
    for stage in ("read", "inputs", "net", "write", "total"):
        assert f"\n{stage}" in out
    assert "12 events, 15 seeds" in out and "stages in sequence / network-only throughput" in out
