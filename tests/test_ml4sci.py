"""ML4SCI frame files end to end: tag them with a Tagger's network, train on them with ``e2ejax train``,
and the units refusal between models and files of other image conventions."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import uproot
from flax import nnx
from sklearn.metrics import roc_auc_score

from e2ejax import nets, tasks
from e2ejax.cli import main
from e2ejax.errors import InputError
from e2ejax.inference import Tagger, tag_frame_files
from e2ejax.store import Checkpointer
from e2ejax.training import parse_config
from e2ejax.training.run import input_conventions
from tests.io.test_frame_files import (
    reference_frames,
    write_egamma_hdf5,
    write_qg_hdf5,
    write_qg_parquet,
    write_top_parquet,
)

TINY_RESNET = {"features": [4, 8], "blocks": 1}
MODELS = {
    "qg": {"name": "resnet15", "options": {"channels": 3, **TINY_RESNET}},
    "top": {"name": "resnet15", "options": {"channels": 8, **TINY_RESNET}},
    "egamma": {"name": "vgg", "options": {"channels": 1, "features": [4], "hidden": 8}},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    d = tmp_path_factory.mktemp("ml4sci")
    rng = np.random.default_rng(7)
    files = {"qg_hdf5": d / "quark-gluon_data-set_n12.hdf5", "qg_parquet": d / "QCDToGGQQ_IMGjet_RH1all_jet0_run0_n12.parquet",
             "top_parquet": d / "top_n12.parquet", "photons": d / "SinglePhotonPt50_IMGCROPS_n8_RHv1.hdf5",
             "electrons": d / "SingleElectronPt50_IMGCROPS_n8_RHv1.hdf5"}
    stored = {"qg_hdf5": write_qg_hdf5(files["qg_hdf5"], rng, 12), "qg_parquet": write_qg_parquet(files["qg_parquet"], rng, 12),
              "top_parquet": write_top_parquet(files["top_parquet"], rng, 12),
              "photons": write_egamma_hdf5(files["photons"], rng, 8, 0),
              "electrons": write_egamma_hdf5(files["electrons"], rng, 8, 1)}
    return d, {k: str(v) for k, v in files.items()}, stored


def _config(task, train, validation, out):
    q = lambda files: "[" + ", ".join(json.dumps(f) for f in files) + "]"  # noqa: E731
    return (f"model: {json.dumps(MODELS[task])}\ntask: {task}\n"
            f"data: {{train: {q(train)}, validation: {q(validation)}, test: {q(validation)}}}\n"
            "optimizer: {name: adam, learning_rate: 1.0e-3}\ntraining: {epochs: 1, batch_size: 4, patience: 1}\n"
            f"output: {json.dumps(str(out))}\n")


def _train(directory, name, task, train, validation):
    cfg = directory / f"{name}.yaml"
    cfg.write_text(_config(task, train, validation, directory / f"run_{name}"))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        rc = main(["train", str(cfg), "-q"])
    ckpt = directory / f"run_{name}" / "checkpoints"
    return rc, out.getvalue(), ckpt


def _split(path, at):
    return [f"{path}:0:{at}"], [f"{path}:{at}:"]


@pytest.fixture(scope="module")
def qg_checkpoint(data):
    d, files, _ = data
    rc, out, ckpt = _train(d, "qg_hdf5", "qg", *_split(files["qg_hdf5"], 8))
    assert rc == 0, out
    return ckpt, out


def test_train_on_qg_hdf5_records_ml4sci_conventions(qg_checkpoint):
    ckpt, out = qg_checkpoint
    assert "trained resnet15 on 8 qg examples" in out
    card = Checkpointer(ckpt).card(step="best")
    assert card["input_conventions"] == {"image_units": "ml4sci"}
    assert card["evaluation"]["seeds"] == 4 and card["evaluation"]["best_baseline"] is None  # qg's baselines need PF candidates


@pytest.mark.parametrize("name", ["qg_parquet", "top_parquet", "egamma_hdf5"])
def test_train_on_each_format(data, name):
    d, files, _ = data
    if name == "egamma_hdf5":
        train = [f"{files['photons']}:0:6", f"{files['electrons']}:0:6"]
        validation = [f"{files['photons']}:6:", f"{files['electrons']}:6:"]
        task = "egamma"
    else:
        train, validation = _split(files[name], 8)
        task = name.split("_")[0]
    rc, out, ckpt = _train(d, name, task, train, validation)
    assert rc == 0, out
    assert f"on {len(train) * 6 if task == 'egamma' else 8} {task} examples" in out
    card = Checkpointer(ckpt).card(step="best")
    expected = {"image_units": "ml4sci", **({"track_impact": "mean"} if task == "top" else {})}
    assert card["input_conventions"] == expected
    if task == "egamma":
        assert "channel 1 (time) is not an e2ejax channel" in out  # said once, not silently dropped
        assert card["evaluation"]["best_baseline"] == "phi_width"
    if task == "top":
        assert card["evaluation"]["best_baseline"] == "mass"  # the stored jet mass m


def test_tag_scores_equal_the_network(data, tmp_path):
    _, files, stored = data
    model = nets.build(MODELS["top"]["name"], MODELS["top"]["options"], rngs=nnx.Rngs(3))
    tagger = Tagger(model, task="top", backend="xla", conventions={"image_units": "ml4sci", "track_impact": "mean"}, max_rows=8)
    out = tmp_path / "scores.root"
    summary = tag_frame_files({"e2e": tagger}, files["top_parquet"], out, batch_size=5, entry_start=2, progress=False)
    x, y = stored["top_parquet"]
    reference = np.asarray(tagger.network((reference_frames(x[2:], "top", False),))).reshape(-1)
    tree = uproot.open(out)["Predictions"]
    assert tree["event"].array(library="np").tolist() == list(range(2, 12))
    scores = np.concatenate(tree["jet_e2e"].array(library="np"))
    assert tree["njet"].array(library="np").tolist() == [1] * 10
    np.testing.assert_allclose(scores, reference, rtol=1e-5, atol=1e-6)
    assert summary["events"] == 10 and summary["truth"] == "top"
    assert summary["auc"]["e2e"] == pytest.approx(roc_auc_score(y[2:], scores))
    assert summary["n_signal"] == int(y[2:].sum())


def test_model_of_other_units_is_refused_unless_accepted(data, tmp_path):
    _, files, _ = data
    model = nets.build(MODELS["egamma"]["name"], MODELS["egamma"]["options"], rngs=nnx.Rngs(0))
    tagger = Tagger(model, task="egamma", backend="xla")  # trained on e2ejax's GeV images
    with pytest.raises(InputError, match="image_units 'ml4sci' \\(model: 'GeV'\\).*--accept-units"):
        tag_frame_files({"e2e": tagger}, files["photons"], tmp_path / "a.root", progress=False)
    assert not (tmp_path / "a.root").exists()
    said = []
    summary = tag_frame_files({"e2e": tagger}, files["photons"], tmp_path / "a.root", progress=False, accept_units=True,
                              say=said.append)
    assert summary["events"] == 8 and "auc" not in summary  # photons only: one class
    assert len(said) == 1 and "(time)" in said[0]
    with pytest.raises(InputError, match=r"expected quark/gluon tagging models .* found e2e \(task egamma\)"):
        tag_frame_files({"e2e": tagger}, files["qg_hdf5"], tmp_path / "b.root", progress=False, accept_units=True)


def test_cli_tags_a_frame_file_with_a_trained_checkpoint(data, qg_checkpoint, tmp_path):
    _, files, _ = data
    out = tmp_path / "out.root"
    command = [sys.executable, "-m", "e2ejax", "tag", files["qg_hdf5"], "--model", str(qg_checkpoint[0]), "-o", str(out), "-q",
               "--backend", "xla"]
    proc = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy(), timeout=300, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "12 frames (qg_hdf5)" in proc.stdout and "AUC" in proc.stdout and "(6 gluon / 6 quark)" in proc.stdout
    assert uproot.open(out)["Predictions"].num_entries == 12


def test_cli_refuses_a_shipped_model_on_ml4sci_frames(data, tmp_path, capsys):
    _, files, _ = data
    out = tmp_path / "shipped.root"
    assert main(["tag", files["qg_parquet"], "--model", "qg", "-o", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "image_units 'ml4sci' (model: 'GeV')" in err and "--accept-units" in err
    assert not out.exists()
    assert main(["tag", files["qg_parquet"], "--model", "qg", "-o", str(out), "-q", "--accept-units", "-n", "6"]) == 0
    printed = capsys.readouterr().out
    assert "rows [0, 6)" in printed and "AUC" in printed
    assert uproot.open(out)["Predictions"].num_entries == 6


def test_ml4sci_model_refuses_geV_root_files(qg_checkpoint, tmp_path, capsys):
    sample = str(tasks.get("qg").sample_path)
    assert main(["tag", sample, "--model", str(qg_checkpoint[0]), "-n", "4", "-o", str(tmp_path / "x.root"), "-q"]) == 2
    err = capsys.readouterr().err
    assert "image_units 'GeV' (model: 'ml4sci')" in err


def test_config_conventions(data, tmp_path):
    _, files, _ = data
    sample = str(tasks.get("qg").sample_path)
    base = {"model": MODELS["qg"], "task": "qg"}
    mixed = parse_config({**base, "data": {"train": [files["qg_hdf5"]], "validation": [sample]}})
    with pytest.raises(InputError, match="expected one set of input conventions"):
        input_conventions(mixed, say=lambda line: None)
    root = parse_config({**base, "data": {"train": [sample], "track_impact": "mean"}})
    assert input_conventions(root) == {"image_units": "GeV", "track_impact": "mean"}
