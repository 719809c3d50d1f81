"""e2ejax train on a tiny ROOT file: checkpoints, history, resume, bad configs."""

import json

from e2ejax.cli import main
from tests.test_tag import egamma_file  # noqa: F401  (fixture)

CONFIG = """
model: {name: vgg, options: {features: [4], hidden: 8}}
task: egamma
data: {train: [%(f)s], validation: [%(f)s]}
optimizer: {name: adam, learning_rate: 1.0e-2}
training: {epochs: 2, batch_size: 4, patience: 5}
output: %(out)s
"""


def test_train_then_resume(egamma_file, tmp_path, capsys):  # noqa: F811
    cfg = tmp_path / "train.yaml"
    cfg.write_text(CONFIG % {"f": egamma_file, "out": tmp_path / "run"})
    assert main(["train", str(cfg), "-q"]) == 0
    out = capsys.readouterr().out
    assert "trained vgg on 15 egamma examples" in out and "best validation AUC" in out
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2]
    cfg.write_text((CONFIG % {"f": egamma_file, "out": tmp_path / "run"}).replace("epochs: 2", "epochs: 3"))
    assert main(["train", str(cfg), "-q"]) == 0
    assert "resuming from step 8 (epoch 2)" in capsys.readouterr().out
    assert [h["epoch"] for h in json.loads((tmp_path / "run" / "history.json").read_text())] == [1, 2, 3]
    # --fresh starts over in the same directory (it used to stop at the first step the runs shared)
    assert main(["train", str(cfg), "-q", "--fresh"]) == 0
    out = capsys.readouterr().out
    assert "--fresh: removed the 3 checkpoint(s) (steps " in out and "resuming" not in out
    assert [h["epoch"] for h in json.loads((tmp_path / "run" / "history.json").read_text())] == [1, 2, 3]


def test_train_bad_config(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("model: {name: vgg}\ntask: egamma\ndata: {train: [x.root]}\n")
    assert main(["train", str(cfg)]) == 2
    assert "expected data.validation files" in capsys.readouterr().err
    cfg.write_text("model: {name: vgg}\ntask: egamma\ndata: {train: [missing.root], validation: [missing.root]}\n")
    assert main(["train", str(cfg)]) == 2
    assert "missing.root" in capsys.readouterr().err


JETCALIB = """
model: {name: deepsets, options: {n_constituents: 16, hidden: 16}}
task: jetcalib
data: {train: [%(f)s], validation: [%(f)s], test: [%(f)s], max_events: 60}
optimizer: {name: adam, learning_rate: 3.0e-3}
training: {epochs: 2, batch_size: 32, patience: 5}
output: %(out)s
"""


def test_train_jetcalib_records_heldout_resolution(tmp_path, capsys):
    from e2ejax.store import CHECKPOINTS, load_model

    sample = CHECKPOINTS.parent / "e2ejax" / "data" / "sim_qg.root"
    cfg = tmp_path / "calib.yaml"
    cfg.write_text(JETCALIB % {"f": sample, "out": tmp_path / "run"})
    assert main(["train", str(cfg), "-q"]) == 0
    out = capsys.readouterr().out
    assert "jetcalib examples" in out and "held-out (" in out and "resolution" in out
    model, card, _ = load_model(tmp_path / "run" / "checkpoints")
    ev = card["evaluation"]
    assert ev["jets"] > 50 and ev["uncalibrated"]["resolution"] > 0 and ev["calibrated"]["resolution"] > 0
    assert card["training_seconds"] > 0 and card["task"] == "jetcalib"
    assert card["provenance"]["commands"] == [f"e2ejax train {cfg} -q"]
    made = card["data"]["train"][0]
    assert made["command"].startswith("e2ejax simulate qg") and made["seed"] == 1 and made["path"] == str(sample)


def test_train_refuses_model_that_does_not_fit_the_task(tmp_path, capsys):
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("model: {name: vgg}\ntask: jetcalib\ndata: {train: [x.root], validation: [x.root]}\n")
    assert main(["train", str(cfg)]) == 2
    assert "model 'vgg' does not fit task 'jetcalib': expected model deepsets" in capsys.readouterr().err


def test_train_events_caps_the_training_files_only(egamma_file, tmp_path, capsys):  # noqa: F811
    cfg = tmp_path / "curve.yaml"
    text = CONFIG % {"f": egamma_file, "out": tmp_path / "curve"}
    cfg.write_text(text.replace("validation: [", "train_events: 4, validation: [").replace("epochs: 2", "epochs: 1"))
    assert main(["train", str(cfg), "-q"]) == 0
    out = capsys.readouterr().out
    assert "trained vgg on 5 egamma examples" in out  # the seeds of the first 4 of the 12 events (15 in all)
    history = json.loads((tmp_path / "curve" / "history.json").read_text())
    assert history[0]["step"] == 2  # ceil(5 / 4) steps
    cfg.write_text(text.replace("validation: [", "train_events: 0, validation: ["))
    assert main(["train", str(cfg), "-q"]) == 2
    assert "'data.train_events' to be a positive number" in capsys.readouterr().err
