"""CLI paths the README shows: ``e2ejax tag`` with no file (the quickstart), several inputs with
one output each, ``--threads``; ``plot loss --log``; ``simulate --workers/--compression``."""

import shutil

import numpy as np
import pytest
import uproot

from e2ejax import plotting
from e2ejax.cli import main
from tests.reliability.conftest import SAMPLE_EGAMMA, egamma_events, write_tree


def _scores(path):
    with uproot.open(path) as f:
        tree = f["Predictions"]
        return tree["event"].array(library="np"), np.concatenate(list(tree["eg_egamma"].array(library="np")))


def test_tag_with_no_file_tags_the_shipped_sample(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["tag", "-q"]) == 0  # the quickstart: the default model (egamma) on its task's shipped sample
    out = tmp_path / "sim_egamma_scores.root"
    line = capsys.readouterr().out
    assert "400 events, 400 seeds" in line and "AUC" in line
    events, scores = _scores(out)
    with uproot.open(SAMPLE_EGAMMA) as f:
        np.testing.assert_array_equal(events, f["Events"]["event"].array(library="np"))
    assert len(scores) == 400 and 0.0 < scores.min() < scores.max() < 1.0 and np.ptp(scores) > 0.1


def test_several_inputs_one_output_each_and_threads(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    a = write_tree(tmp_path / "a.root", egamma_events(12, seed=3))
    b = write_tree(tmp_path / "b.root", egamma_events(9, seed=4))
    assert main(["tag", str(a), str(b), "--model", "egamma", "--backend", "onnxruntime", "-q"]) == 0
    one = {p: _scores(tmp_path / f"{p}_scores.root") for p in ("a", "b")}
    assert [len(one[p][0]) for p in ("a", "b")] == [12, 9]
    assert not np.array_equal(one["a"][1][:9], one["b"][1][:9])  # each output scores its own input
    for p in ("a", "b"):
        shutil.move(tmp_path / f"{p}_scores.root", tmp_path / f"{p}_one_thread.root")
    assert main(["tag", str(a), str(b), "--model", "egamma", "--backend", "onnxruntime", "--threads", "2", "-q"]) == 0
    for p in ("a", "b"):
        events, scores = _scores(tmp_path / f"{p}_scores.root")
        np.testing.assert_array_equal(events, one[p][0])
        np.testing.assert_allclose(scores, one[p][1], atol=1e-6)  # the thread count changes the speed only
    capsys.readouterr()
    assert main(["tag", str(a), "--model", "egamma", "--threads", "0", "-q"]) == 2
    assert "--threads" in capsys.readouterr().err


@pytest.mark.parametrize("log, scale", [(True, "log"), (False, "linear")])
def test_plot_loss_log_axis(tmp_path, monkeypatch, log, scale):
    pytest.importorskip("matplotlib")
    from tests.test_plot import write_run

    figures = []
    save = plotting.save_figure
    monkeypatch.setattr(plotting, "save_figure", lambda fig, *a, **k: (figures.append(fig), save(fig, *a, **k))[1])
    run = write_run(tmp_path / "run")
    out = tmp_path / "loss.png"
    assert main(["plot", "loss", str(run), "-o", str(out), "--dpi", "20"] + (["--log"] if log else [])) == 0
    assert out.stat().st_size > 0
    (fig,) = figures
    assert fig.axes[0].get_yscale() == scale


def test_simulate_with_workers_and_compression(tmp_path, capsys):
    pytest.importorskip("pythia8mc")
    pytest.importorskip("fastjet")
    from e2ejax.sim import run

    saved = run.CHUNK_EVENTS
    run.CHUNK_EVENTS = 2  # three chunks: the two workers share them
    try:
        one, two = tmp_path / "one.root", tmp_path / "two.root"
        assert main(["simulate", "tau", "--events", "5", "--seed", "4", "-q", "-o", str(one)]) == 0
        assert main(["simulate", "tau", "--events", "5", "--seed", "4", "-q", "-o", str(two), "--workers", "2",
                     "--compression", "zstd"]) == 0
    finally:
        run.CHUNK_EVENTS = saved
    assert "wrote 5 tau events" in capsys.readouterr().out
    with uproot.open(one) as f1, uproot.open(two) as f2:
        t1, t2 = f1["Events"], f2["Events"]
        assert t1.keys() == t2.keys() and t2.num_entries == 5
        for key in t1.keys():  # the file does not depend on the number of workers
            assert t1[key].array(library="ak").tolist() == t2[key].array(library="ak").tolist(), key
        algorithm = lambda f: type(uproot.compression.Compression.from_code(f.file.fCompress)).__name__  # noqa: E731
        assert (algorithm(f1), algorithm(f2)) == ("LZ4", "ZSTD")
