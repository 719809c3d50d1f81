"""e2ejax plot: ROC curves of tag friend files against truth labels, loss curves of training runs."""

import json
import os
import re
import struct
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot

from e2ejax import plotting
from e2ejax.store import Checkpointer
from e2ejax.cli import build_parser, main
from e2ejax.errors import InputError
from e2ejax.io import PredictionWriter
from e2ejax.metrics import roc_auc, roc_curve

REPO = Path(__file__).resolve().parent.parent

# Five events, e/gamma candidates per event with their truth labels (-1 = unknown) and pT.
LABELS = [[1, 0, 1], [0], [], [-1, 1], [0, 1, 0, 1]]
PT = [[50.0, 20.0, 35.0], [12.0], [], [40.0, 60.0], [15.0, 45.0, 25.0, 55.0]]
EVENTS = np.array([100, 101, 102, 103, 104], np.int64)
# Seed slots the taggers scored ([B, S], S = 3): event 0 slot 1 not scored, event 4 slot 3 beyond S.
MASK = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 0], [1, 1, 0], [1, 1, 1]], bool)
SCORES = {
    "m1": np.array([[0.9, 0.0, 0.7], [0.2, 0, 0], [0, 0, 0], [0.5, 0.8, 0], [0.3, 0.6, 0.4]], np.float32),
    "m2": np.array([[0.4, 0.0, 0.6], [0.5, 0, 0], [0, 0, 0], [0.9, 0.3, 0], [0.1, 0.2, 0.7]], np.float32),
}
# The seeds that enter: scored and label 0/1, in file order (event, slot).
SELECTED = [(0, 0), (0, 2), (1, 0), (3, 1), (4, 0), (4, 1), (4, 2)]
EXPECTED_LABELS = np.array([LABELS[e][s] for e, s in SELECTED])
EXPECTED = {n: np.array([v[e, s] for e, s in SELECTED], np.float64) for n, v in SCORES.items()}
EXPECTED_PT = np.array([PT[e][s] for e, s in SELECTED])


def write_truth(path, *, labels=LABELS, events=EVENTS, label_branch="label"):
    """A sparse-layout input tree: ``event``, counter ``neg``, ``eg_<label_branch>`` and ``eg_pt``."""
    data = {
        "event": np.asarray(events, np.int64),
        "eg": ak.zip({label_branch: ak.values_astype(ak.Array(labels), np.int32),
                      "pt": ak.values_astype(ak.Array(PT[: len(labels)]), np.float32)}),
    }
    with uproot.recreate(path) as f:
        f.mktree("Events", {"event": np.int64, "eg": data["eg"].type.content}).extend(data)
    return path


def write_scores(path, *, scores=SCORES, mask=MASK, events=EVENTS):
    with PredictionWriter(path, group="eg", n_entries=len(events)) as w:
        w.write(scores, mask=mask, event=events, entry_start=0)
    return path


@pytest.fixture
def files(tmp_path):
    truth = write_truth(tmp_path / "in.root")
    scores = write_scores(tmp_path / "in_scores.root")
    return str(scores), str(truth)


def png_size(path):
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def leftovers(directory):
    return sorted(p.name for p in Path(directory).iterdir() if p.name.startswith("."))


# -- ROC ----------------------------------------------------------------------------------


def test_roc_inputs_keep_scored_labelled_seeds(files):
    inputs = plotting.load_roc_inputs([files[0]], files[1], baselines=["eg_pt", "eg_pt:low"])
    assert inputs.group == "eg" and inputs.n_entries == 5 and inputs.n_unknown == 1
    np.testing.assert_array_equal(inputs.labels, EXPECTED_LABELS)
    assert list(inputs.scores) == ["m1", "m2", "eg_pt", "eg_pt:low"]
    for name in ("m1", "m2"):
        np.testing.assert_array_equal(inputs.scores[name], EXPECTED[name])
    np.testing.assert_array_equal(inputs.scores["eg_pt"], EXPECTED_PT)
    np.testing.assert_array_equal(inputs.scores["eg_pt:low"], -EXPECTED_PT)
    only = plotting.load_roc_inputs(files[0], files[1], models=["m2"])
    assert list(only.scores) == ["m2"]


@pytest.mark.parametrize("rejection", [False, True])
def test_roc_figure_draws_metrics_roc_curve(files, rejection):
    curves = plotting.roc_curves(plotting.load_roc_inputs([files[0]], files[1]))
    fig = plotting.roc_figure(curves, classes=plotting.roc_classes(group="eg"), rejection=rejection, size=(4, 4))
    ax = fig.axes[0]
    for line, name in zip(ax.lines, ("m1", "m2")):
        fpr, tpr, _ = roc_curve(EXPECTED_LABELS, EXPECTED[name])
        if rejection:
            keep = fpr > 0
            np.testing.assert_array_equal(line.get_xdata(), tpr[keep])
            np.testing.assert_array_equal(line.get_ydata(), 1.0 / fpr[keep])
        else:
            np.testing.assert_array_equal(line.get_xdata(), fpr)
            np.testing.assert_array_equal(line.get_ydata(), tpr)
        assert f"{roc_auc(EXPECTED_LABELS, EXPECTED[name]):.4f}" in line.get_label()
    assert ax.get_xlabel() == ("Electron efficiency" if rejection else "Photon efficiency")
    assert ax.get_yscale() == ("log" if rejection else "linear")


def test_cli_roc_writes_png_and_prints_auc(files, tmp_path, capsys):
    out = tmp_path / "plots" / "roc.png"
    rc = main(["plot", "roc", files[0], "--truth", files[1], "--baseline", "eg_pt:low", "-o", str(out), "--size", "8x6", "--dpi", "25"])
    assert rc == 0
    assert png_size(out) == (200, 150)
    from matplotlib.image import imread

    assert imread(out).shape[:2] == (150, 200)
    printed = dict(re.findall(r"^(\S+): AUC ([0-9.]+)", capsys.readouterr().out, re.M))
    assert printed == {
        "m1": f"{roc_auc(EXPECTED_LABELS, EXPECTED['m1']):.4f}",
        "m2": f"{roc_auc(EXPECTED_LABELS, EXPECTED['m2']):.4f}",
        "eg_pt:low": f"{roc_auc(EXPECTED_LABELS, -EXPECTED_PT):.4f}",
    }
    assert leftovers(out.parent) == []


def test_cli_roc_several_files_and_pdf(files, tmp_path, capsys):
    m3 = SCORES["m1"][:, ::-1].copy()
    other = write_scores(tmp_path / "other.root", scores={"m3": m3})
    out = tmp_path / "roc.pdf"
    assert main(["plot", "roc", files[0], str(other), "--truth", files[1], "--rejection", "-o", str(out)]) == 0
    assert out.read_bytes()[:5] == b"%PDF-"
    printed = capsys.readouterr().out
    expected_m3 = np.array([m3[e, s] for e, s in SELECTED], np.float64)
    assert f"in_scores:m1: AUC {roc_auc(EXPECTED_LABELS, EXPECTED['m1']):.4f}" in printed
    assert f"other:m3: AUC {roc_auc(EXPECTED_LABELS, expected_m3):.4f}" in printed


# -- loss ---------------------------------------------------------------------------------

HISTORY = [
    {"epoch": 1, "train_loss": 0.69, "val_loss": 0.68, "step": 10},
    {"epoch": 2, "train_loss": 0.61, "val_loss": 0.60, "step": 20},
    {"epoch": 3, "train_loss": 0.55, "val_loss": 0.62, "step": 30},
]


def write_run(directory, history=HISTORY):
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "history.json").write_text(json.dumps(history))
    return directory


def test_loss_figure_draws_history_values(tmp_path):
    run = write_run(tmp_path / "run_a")
    h = plotting.load_history(run)
    assert h.label == "run_a"
    np.testing.assert_array_equal(h.val_loss, [e["val_loss"] for e in HISTORY])
    for x in ("epoch", "step"):
        fig = plotting.loss_figure([h], x=x, size=(4, 4))
        train, val = fig.axes[0].lines
        xs = [e[x] for e in HISTORY]
        np.testing.assert_array_equal(train.get_xdata(), xs)
        np.testing.assert_array_equal(train.get_ydata(), [e["train_loss"] for e in HISTORY])
        np.testing.assert_array_equal(val.get_xdata(), xs)
        np.testing.assert_array_equal(val.get_ydata(), [e["val_loss"] for e in HISTORY])
        (best,) = fig.axes[0].collections[0].get_offsets()
        assert best.tolist() == [xs[1], 0.60]  # the best validation epoch is starred


def test_cli_loss_png_and_summary(tmp_path, capsys):
    a, b = write_run(tmp_path / "a"), write_run(tmp_path / "b", HISTORY[:2])
    out = tmp_path / "loss.png"
    assert main(["plot", "loss", str(a), str(b / "history.json"), "--label", "A", "--label", "B",
                 "-o", str(out), "--size", "5x4", "--dpi", "40"]) == 0
    assert png_size(out) == (200, 160)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("A: 3 epochs, last train_loss 0.5500, best val_loss 0.6000 at epoch 2, step 20")
    assert lines[1].startswith("B: 2 epochs")
    assert lines[2] == f"wrote {out}"


def test_loss_from_checkpoint_cards(tmp_path):
    ckpt = Checkpointer(tmp_path / "run" / "checkpoints")
    model = {"name": "toy", "config": {}, "input_spec": []}
    for i, step in enumerate((10, 20)):
        ckpt.save(step, {"w": np.zeros(2, np.float32)}, metrics={"val_loss": HISTORY[i]["val_loss"]},
                  card={"model": model, "history": HISTORY[: i + 1]})
    ckpt.close()
    latest = plotting.load_history(tmp_path / "run" / "checkpoints")
    np.testing.assert_array_equal(latest.train_loss, [0.69, 0.61])
    assert plotting.load_history(tmp_path / "run").epoch.tolist() == [1, 2]  # run dir without history.json
    step = plotting.load_history(tmp_path / "run" / "checkpoints" / "10")
    assert step.label == "checkpoints step 10" and step.val_loss.tolist() == [0.68]
    card = json.loads((tmp_path / "run" / "checkpoints" / "model_card.json").read_text())
    assert plotting.load_history(tmp_path / "run" / "checkpoints" / "model_card.json").epoch.tolist() == [
        e["epoch"] for e in card["card"]["history"]]


def test_loss_of_shipped_checkpoint_matches_its_card():
    card = json.loads((REPO / "checkpoints" / "egamma" / "model_card.json").read_text())["card"]
    h = plotting.load_history(REPO / "checkpoints" / "egamma")
    np.testing.assert_array_equal(h.val_loss, [e["val_loss"] for e in card["history"]])
    np.testing.assert_array_equal(h.step, [e["step"] for e in card["history"]])


def test_train_only_for_history_without_val_loss(tmp_path, capsys):
    run = write_run(tmp_path / "noval", [{k: v for k, v in e.items() if k != "val_loss"} for e in HISTORY])
    with pytest.raises(InputError, match="--train-only"):
        plotting.load_history(run)
    fig = plotting.loss_figure([plotting.load_history(run, require_val=False)], train_only=True, size=(6, 6))
    assert len(fig.axes[0].lines) == 1
    assert main(["plot", "loss", str(run), "--train-only", "-o", str(tmp_path / "l.png"), "--size", "6x6", "--dpi", "20"]) == 0


# -- errors -------------------------------------------------------------------------------


def _error_cases(tmp_path, scores, truth):
    no_label = write_truth(tmp_path / "nolabel.root", label_branch="charge")
    short = write_truth(tmp_path / "short.root", labels=LABELS[:4], events=EVENTS[:4])
    shifted = write_truth(tmp_path / "shifted.root", events=EVENTS + 1)
    one_class = write_truth(tmp_path / "oneclass.root", labels=[[1, 1, 1], [1], [], [1, 1], [1, 1, 1, 1]])
    noval = write_run(tmp_path / "noval", [{"epoch": 1, "train_loss": 0.5}])
    empty = write_run(tmp_path / "empty", [])
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "history.json").write_text("[{")
    return {
        "missing scores": (["roc", str(tmp_path / "nope.root"), "--truth", truth], "no such file"),
        "missing truth": (["roc", scores, "--truth", str(tmp_path / "nope.root")], "no such file"),
        "no labels": (["roc", scores, "--truth", str(no_label)], "expected truth labels 'eg_label'"),
        "not a friend file": (["roc", f"{truth}:Events", "--truth", truth], "expected a friend tree written by 'e2ejax tag'"),
        "entry count": (["roc", scores, "--truth", str(short)], "align with"),
        "event ids": (["roc", scores, "--truth", str(shifted)], "expected the same event ids"),
        "one class": (["roc", scores, "--truth", str(one_class)], "both classes"),
        "unknown model": (["roc", scores, "--truth", truth, "--model", "m9"], "--model"),
        "unknown baseline": (["roc", scores, "--truth", truth, "--baseline", "eg_ptt"], "closest"),
        "bad extension": (["roc", scores, "--truth", truth, "-o", str(tmp_path / "out" / "roc.txt")], "image format"),
        "no val_loss": (["loss", str(noval)], "expected 'val_loss' in every epoch"),
        "empty history": (["loss", str(empty)], "at least one epoch"),
        "invalid json": (["loss", str(tmp_path / "bad")], "invalid JSON"),
        "missing run": (["loss", str(tmp_path / "nope")], "no such path"),
        "not a run": (["loss", str(tmp_path / "out")], "found neither"),
        "labels count": (["loss", str(noval), "--train-only", "--label", "a", "--label", "b"], "--label"),
    }


def test_errors_one_line_exit_2_no_output(files, tmp_path, capsys):
    (tmp_path / "out").mkdir()
    cases = _error_cases(tmp_path, *files)
    for name, (argv, message) in cases.items():
        out = tmp_path / "out" / "plot.png"
        rc = main(["plot", *argv] + ([] if "-o" in argv else ["-o", str(out)]))
        captured = capsys.readouterr()
        lines = captured.err.strip().splitlines()
        assert rc == 2, name
        assert len(lines) == 1 and lines[0].startswith("e2ejax plot: error: "), (name, captured.err)
        assert message in lines[0], (name, lines[0])
        assert os.listdir(tmp_path / "out") == [], name


def test_failed_save_leaves_nothing(files, tmp_path, monkeypatch):
    fig = plotting.loss_figure([plotting.load_history(write_run(tmp_path / "r"))], size=(6, 6))

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(RuntimeError):
        plotting.save_figure(fig, tmp_path / "o" / "loss.png")
    assert os.listdir(tmp_path / "o") == []


def test_plot_is_a_command():
    help_text = build_parser().format_help()
    assert "plot" in help_text


# -- classes, labels, bands and baselines of the ROC figure ------------------------------------


def test_roc_inputs_give_entry_and_slot_of_each_seed(files):
    inputs = plotting.load_roc_inputs([files[0]], files[1])
    assert list(zip(inputs.entry.tolist(), inputs.slot.tolist())) == SELECTED


@pytest.mark.parametrize("task,label0,label1", [("qg", "Quark", "Gluon"), ("top", "QCD", "Top"),
                                                ("tau", "QCD jet", "Tau"), ("egamma", "Photon", "Electron")])
def test_roc_axes_name_the_task_classes(files, task, label0, label1):
    curves = plotting.roc_curves(plotting.load_roc_inputs([files[0]], files[1]))
    ax = plotting.roc_figure(curves, classes=plotting.roc_classes(task), size=(4, 4)).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == (f"{label0} efficiency", f"{label1} efficiency")
    ax = plotting.roc_figure(curves, classes=plotting.roc_classes(task), rejection=True, size=(4, 4)).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == (f"{label1} efficiency", f"{label0} rejection")
    assert plotting.roc_classes(group="jet") == ("background", "signal")  # three taggers score jets: unknown
    ax = plotting.roc_figure(curves, size=(4, 4)).axes[0]
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("Background efficiency", "Signal efficiency")


def test_figures_are_labelled_private_work_not_cms(files, tmp_path):
    curves = plotting.roc_curves(plotting.load_roc_inputs([files[0]], files[1]))
    write_run(tmp_path / "run")
    for fig in (plotting.roc_figure(curves, size=(4, 4)), plotting.loss_figure([plotting.load_history(tmp_path / "run")])):
        texts = [t.get_text() for t in fig.axes[0].texts]
        assert "Simulation Private Work" in texts and "e2ejax" in texts
        assert not any("CMS" in t for t in texts)


def _hanley_mcneil(auc, n_sig, n_bkg):
    """Standard error of an AUC (Hanley and McNeil, Radiology 143 (1982) 29)."""
    q1, q2 = auc / (2 - auc), 2 * auc**2 / (1 + auc)
    return np.sqrt((auc * (1 - auc) + (n_sig - 1) * (q1 - auc**2) + (n_bkg - 1) * (q2 - auc**2)) / (n_sig * n_bkg))


def test_bootstrap_band_width_matches_the_auc_standard_error():
    rng = np.random.default_rng(7)
    labels = np.r_[np.ones(300, int), np.zeros(300, int)]
    scores = rng.normal(labels * 1.0)
    band = plotting.bootstrap_band(labels, scores, n_resamples=400, seed=3)
    expected = _hanley_mcneil(roc_auc(labels, scores), 300, 300)
    assert band.auc_std == pytest.approx(expected, rel=0.2)
    assert (band.fpr_low <= band.fpr_high).all() and band.tpr.tolist() == np.linspace(0, 1, 101).tolist()
    # the nominal curve lies inside its 68% band over most of the grid
    fpr, tpr, _ = roc_curve(labels, scores)
    nominal = np.interp(band.tpr[1:-1], *np.unique(tpr, return_index=True)[:1], fpr[np.unique(tpr, return_index=True)[1]])
    inside = (band.fpr_low[1:-1] - 1e-12 <= nominal) & (nominal <= band.fpr_high[1:-1] + 1e-12)
    assert inside.mean() > 0.9
    again = plotting.bootstrap_band(labels, scores, n_resamples=400, seed=3)
    np.testing.assert_array_equal(again.fpr_low, band.fpr_low)


def test_bootstrap_band_of_separable_classes_is_the_curve():
    labels = np.r_[np.ones(20, int), np.zeros(30, int)]
    band = plotting.bootstrap_band(labels, labels + np.linspace(0, 0.5, 50), n_resamples=50)
    assert band.auc_std == 0.0 and not band.fpr_high.any()
    with pytest.raises(InputError, match="at least 2 bootstrap resamples"):
        plotting.bootstrap_band(labels, labels, n_resamples=1)


def test_roc_figure_shades_bands(files):
    curves = plotting.roc_curves(plotting.load_roc_inputs([files[0]], files[1]), bootstrap=20)
    ax = plotting.roc_figure(curves, size=(8, 8)).axes[0]
    assert len(ax.collections) == 2
    for collection, c in zip(ax.collections, curves):
        xs = collection.get_paths()[0].vertices[:, 0]
        assert xs.min() == pytest.approx(c.band.fpr_low.min()) and xs.max() == pytest.approx(c.band.fpr_high.max())
    assert "\u00b1" in ax.lines[0].get_label()


def test_cli_roc_small_sample_gets_bootstrap_by_default(files, tmp_path, capsys):
    assert main(["plot", "roc", files[0], "--truth", files[1], "-o", str(tmp_path / "a.png"), "--dpi", "10"]) == 0
    lines = dict(re.findall(r"^(m\d): (.*)$", capsys.readouterr().out, re.M))
    assert lines["m1"].startswith(f"AUC {roc_auc(EXPECTED_LABELS, EXPECTED['m1']):.4f} +- ") and "200 resamples" in lines["m1"]
    assert main(["plot", "roc", files[0], "--truth", files[1], "--bootstrap", "0", "-o", str(tmp_path / "b.png"), "--dpi", "10"]) == 0
    assert "+-" not in capsys.readouterr().out


def _qg_friend(path):
    """A friend file for the shipped qg sample scoring every jet with its pT (e2ejax's writer)."""
    from e2ejax import tasks
    from e2ejax.io import iterate_events

    sample = tasks.get("qg").sample_path
    batches = list(iterate_events(str(sample), groups=("jet",), step_size=250))
    with PredictionWriter(path, group="jet", n_entries=sum(len(b["jet_mask"]) for b in batches)) as w:
        start = 0
        for b in batches:
            w.write({"pt": b["jet_pt"]}, mask=b["jet_mask"], event=b["event"], entry_start=start)
            start += len(b["jet_mask"])
    return str(sample), batches


def test_cli_roc_computes_the_task_baselines_from_the_input(tmp_path, capsys):
    from e2ejax.inputs import jet_observables

    sample, batches = _qg_friend(tmp_path / "qg_scores.root")
    rc = main(["plot", "roc", str(tmp_path / "qg_scores.root"), "--truth", sample, "--baseline", "all", "--bootstrap", "0",
               "-o", str(tmp_path / "roc.png"), "--dpi", "10"])
    out = capsys.readouterr().out
    assert rc == 0 and "task qg" in out and "gluon" in out and "quark" in out
    printed = dict(re.findall(r"^(\S+): AUC ([0-9.]+)", out, re.M))
    # reference: an entry-by-entry loop over the labelled jets, observables of e2ejax.inputs
    from e2ejax.io import iterate_events

    labels, values = [], {"girth": [], "multiplicity": []}
    for ev in iterate_events(sample, groups=("jet", "pf"), step_size=250):
        obs = jet_observables(ev)
        for e in range(len(ev["jet_mask"])):
            for s in np.flatnonzero(ev["jet_mask"][e]):
                if ev["jet_label"][e, s] >= 0:
                    labels.append(int(ev["jet_label"][e, s]))
                    for k in values:
                        values[k].append(obs[k][e, s])
    card = json.loads((REPO / "checkpoints" / "qg" / "model_card.json").read_text())["card"]["evaluation"]
    for name in ("girth", "multiplicity"):
        auc = roc_auc(np.array(labels), np.array(values[name]))
        assert printed[name] == f"{auc:.4f}" == f"{card['baselines'][name]:.4f}"
    assert len(labels) == card["seeds"] == 847


def test_cli_roc_baseline_all_needs_a_task(files, tmp_path, capsys):
    rc = main(["plot", "roc", files[0], "--truth", files[1], "--baseline", "all", "-o", str(tmp_path / "x.png")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "pass --task" in err[0] and not (tmp_path / "x.png").exists()
