"""What ``e2ejax tag`` writes and says: one branch per model, AUCs only against the model's own
truth, one writer per output, and no existing file replaced unless it is an earlier prediction file."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import uproot
from flax import nnx

from e2ejax import tasks
from e2ejax.errors import OutputError
from e2ejax.inference import Tagger, tag_files
from e2ejax.inference.tag_files import truth_task
from e2ejax.io import PredictionWriter, claim_output, is_prediction_file
from e2ejax.metrics import auc_standard_error, roc_auc
from e2ejax.nets import build
from e2ejax.store import Checkpointer, save_state
from e2ejax.training import make_optimizer, make_steps, parse_config
from tests.io.conftest import make_events
from tests.reliability.conftest import ROOT, assert_one_line_error, call_main, egamma_events, listing, write_tree

OPTIONS = {"features": [4], "hidden": 8}


def checkpoint(directory, *, task: str, output: str, seed: int):
    """A tiny VGG checkpoint of ``task`` whose training config wrote to ``output`` (its run name)."""
    t = tasks.get(task)
    options = dict(OPTIONS, height=t.frame_size, width=t.frame_size, channels=len(t.channels))
    cfg = parse_config({"model": {"name": "vgg", "options": options}, "task": task, "output": output,
                        "data": {"train": ["x.root"], "validation": ["y.root"]}})
    model = build("vgg", options, rngs=nnx.Rngs(seed))
    steps = make_steps(model, make_optimizer(cfg.optimizer, total_steps=1))
    save_state(Checkpointer(directory), steps.init(), name="vgg", model=model, task=task, config=cfg.to_dict(),
               metrics={"val_loss": 0.7})
    return directory


def with_provenance(path, sample: str):
    """``path`` with the ``e2ejax_info`` record ``e2ejax simulate`` writes, naming ``sample``."""
    with uproot.update(str(path)) as f:
        f["e2ejax_info"] = json.dumps({"sample": sample, "seed": 1, "events": 0, "command": "test"})
    return path


@pytest.fixture
def eg_file(tmp_path):
    return write_tree(tmp_path / "eg.root", egamma_events(12))


@pytest.fixture
def jet_file(tmp_path):
    """Ten events of two jets, labels of both classes, recorded as the qg sample."""
    events = make_events(10, seed=4, counts={"jet": 2})
    return with_provenance(write_tree(tmp_path / "jets.root", events), "qg")


def predictions(path):
    return uproot.open(path)["Predictions"].arrays(library="np")


# --- item 1: one meaningful branch per model ------------------------------------------------------

def test_two_training_runs_get_two_branches_named_after_the_runs(eg_file, tmp_path, capsys):
    a = checkpoint(tmp_path / "runs" / "a" / "checkpoints", task="egamma", output="runs/egamma_tiny", seed=0)
    b = checkpoint(tmp_path / "runs" / "b" / "checkpoints", task="egamma", output="runs/egamma_wide", seed=1)
    out = tmp_path / "o.root"
    proc = call_main(capsys, "tag", eg_file, "-o", out, "--model", f"{a},{b}", "-q")
    assert proc.returncode == 0, proc.stderr
    got = predictions(out)
    assert {"eg_egamma_tiny", "eg_egamma_wide"} <= set(got) and "eg_checkpoints" not in got
    first, second = np.concatenate(got["eg_egamma_tiny"]), np.concatenate(got["eg_egamma_wide"])
    assert len(first) == len(second) == 24 and not np.allclose(first, second)  # both models' scores kept
    lines = proc.stdout.splitlines()
    assert any(line.split()[:3] == ["eg_egamma_tiny", "model", str(a)] for line in lines), proc.stdout
    assert any(line.split()[:3] == ["eg_egamma_wide", "model", str(b)] for line in lines), proc.stdout


def test_runs_of_the_same_name_get_a_suffix_and_one_model_twice_is_refused(eg_file, tmp_path, capsys):
    a = checkpoint(tmp_path / "a" / "checkpoints", task="egamma", output="runs/x", seed=0)
    b = checkpoint(tmp_path / "b" / "checkpoints", task="egamma", output="elsewhere/x", seed=1)
    out = tmp_path / "o.root"
    assert call_main(capsys, "tag", eg_file, "-o", out, "--model", f"{a},{b}", "-q").returncode == 0
    assert {"eg_x", "eg_x_2"} <= set(predictions(out))
    proc = call_main(capsys, "tag", eg_file, "-o", tmp_path / "p.root", "--model", f"{a},{a}/", "-q")
    assert proc.returncode == 2
    assert_one_line_error(proc, "tag", "expected each model once", str(a))
    assert not (tmp_path / "p.root").exists()


# --- item 2: an AUC only against the model's own truth ---------------------------------------------

def test_truth_task_from_provenance_or_a_label_only_one_task_uses(tmp_path):
    jets = write_tree(tmp_path / "jets.root", make_events(3, seed=1, counts={"jet": 1}))
    assert truth_task(str(jets), "jet") is None  # jet_label: qg, top or tau, the file does not say
    assert truth_task(str(with_provenance(jets, "top")), "jet") == "top"
    eg = write_tree(tmp_path / "eg.root", egamma_events(3))
    assert truth_task(str(eg), "eg") == "egamma"
    assert truth_task(str(with_provenance(eg, "qg")), "eg") is None
    assert truth_task(str(ROOT / "e2ejax" / "data" / "sim_qg.root"), "jet") == "qg"


def test_auc_only_for_the_task_of_the_files_truth_with_its_error(jet_file, tmp_path, capsys):
    qg = checkpoint(tmp_path / "qg", task="qg", output="runs/qg_tiny", seed=0)
    top = checkpoint(tmp_path / "top", task="top", output="runs/top_tiny", seed=1)
    out = tmp_path / "o.root"
    taggers = {"qg_tiny": Tagger.from_pretrained(qg, backend="xla"), "top_tiny": Tagger.from_pretrained(top, backend="xla")}
    summary = tag_files(taggers, str(jet_file), str(out), batch_size=4, progress=False)
    assert summary["truth"] == "qg" and set(summary["auc"]) == set(summary["auc_error"]) == {"qg_tiny"}
    got = predictions(out)
    labels = np.concatenate(uproot.open(jet_file)["Events"]["jet_label"].array(library="np"))
    valid = np.concatenate(got["jet_valid"])
    scores, labels = np.concatenate(got["jet_qg_tiny"])[valid], labels[valid]
    n_signal = int((labels == 1).sum())
    assert (summary["n_signal"], summary["n_background"]) == (n_signal, len(labels) - n_signal) and 0 < n_signal < len(labels)
    assert summary["auc"]["qg_tiny"] == pytest.approx(roc_auc(labels, scores), abs=1e-6)
    expected_error = auc_standard_error(summary["auc"]["qg_tiny"], n_signal, len(labels) - n_signal)
    assert summary["auc_error"]["qg_tiny"] == pytest.approx(expected_error, rel=1e-12) and expected_error > 0.05

    proc = call_main(capsys, "tag", jet_file, "-o", tmp_path / "cli.root", "--model", f"{qg},{top}", "-q", "--backend", "xla")
    assert proc.returncode == 0, proc.stderr
    qg_line = next(line for line in proc.stdout.splitlines() if line.strip().startswith("jet_qg_tiny"))
    top_line = next(line for line in proc.stdout.splitlines() if line.strip().startswith("jet_top_tiny"))
    assert f"AUC {summary['auc']['qg_tiny']:.3f} ± {expected_error:.3f} ({n_signal} gluon / {len(labels) - n_signal} quark)" in qg_line
    assert "AUC" not in top_line and "no truth for this task (the file holds quark/gluon tagging labels)" in top_line


# --- item 3: one writer at a time; only earlier predictions are replaced ---------------------------

def test_an_earlier_prediction_file_is_replaced_with_a_notice(eg_file, tmp_path, capsys):
    out = tmp_path / "o.root"
    first = call_main(capsys, "tag", eg_file, "-o", out, "--model", "egamma", "-q")
    assert first.returncode == 0 and "replaced" not in first.stdout and is_prediction_file(out)
    again = call_main(capsys, "tag", eg_file, "-o", out, "--model", "egamma", "-q")
    assert again.returncode == 0 and f"replaced an earlier e2ejax prediction file at {out}" in again.stdout
    assert listing(tmp_path) == ["eg.root", "o.root"]  # no lock or temporary file left


@pytest.mark.parametrize("content", ["text", "events"])
def test_another_file_is_refused_and_left_unchanged_unless_overwrite(content, eg_file, tmp_path, capsys):
    out = tmp_path / "o.root"
    if content == "text":
        out.write_bytes(b"someone's notes")
    else:
        write_tree(out, egamma_events(3, seed=7))
    before = out.read_bytes()
    proc = call_main(capsys, "tag", eg_file, "-o", out, "--model", "egamma", "-q")
    assert proc.returncode == 2
    assert_one_line_error(proc, "tag", str(out), "--overwrite", "left unchanged")
    assert out.read_bytes() == before and listing(tmp_path) == ["eg.root", "o.root"]
    proc = call_main(capsys, "tag", eg_file, "-o", out, "--model", "egamma", "-q", "--overwrite")
    assert proc.returncode == 0 and is_prediction_file(out) and "replaced an earlier" not in proc.stdout
    assert len(predictions(out)["event"]) == 12


HOLD = """
import sys, time
from e2ejax.io import claim_output
with claim_output(sys.argv[1]):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_concurrent_writer_is_refused_in_one_line(eg_file, tmp_path, capsys):
    out = tmp_path / "o.root"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(out)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        proc = call_main(capsys, "tag", eg_file, "-o", out, "--model", "egamma", "-q")
        assert proc.returncode == 2
        assert_one_line_error(proc, "tag", str(out), "another e2ejax run writing it")
        assert not out.exists()
    finally:
        holder.kill()
        holder.communicate()
    with PredictionWriter(out, group="eg", n_entries=1) as w:  # the lock died with its holder
        with pytest.raises(OutputError, match="only writer"):
            PredictionWriter(out, group="eg", n_entries=1)
        w.write({"s": np.ones((1, 1), np.float32)}, mask=np.ones((1, 1), bool), event=[1], entry_start=0)
    with claim_output(out) as replaced:
        assert replaced is True
    assert sorted(os.listdir(tmp_path)) == ["eg.root", "o.root"]


# --- item 4: the output path itself --------------------------------------------------------------

def test_missing_output_directory_is_refused_not_created(eg_file, tmp_path, capsys):
    out = tmp_path / "no" / "such" / "x.root"
    proc = call_main(capsys, "tag", eg_file, "-o", out, "--model", "egamma", "-q")
    assert proc.returncode == 2
    assert_one_line_error(proc, "tag", str(tmp_path / "no" / "such"), "mkdir -p")
    assert not (tmp_path / "no").exists()


@pytest.mark.parametrize("name", ["out.csv", "out.txt", "out.root.txt"])
def test_output_extension_must_be_root_or_parquet(name, eg_file, tmp_path, capsys):
    """A file name with another extension is refused (a name without one is an output directory: tests/cluster)."""
    proc = call_main(capsys, "tag", eg_file, "-o", tmp_path / name, "--model", "egamma", "-q")
    assert proc.returncode == 2
    assert_one_line_error(proc, "tag", name, ".root or .parquet")
    assert listing(tmp_path) == ["eg.root"]
