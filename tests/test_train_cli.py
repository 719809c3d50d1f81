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


def test_held_out_sample_is_evaluated_once_after_training(egamma_file, tmp_path, capsys):  # noqa: F811
    from e2ejax.store import Checkpointer

    cfg = tmp_path / "train.yaml"
    base = CONFIG % {"f": egamma_file, "out": tmp_path / "run"}
    cfg.write_text(base.replace("validation: [", f"test: [{egamma_file}], validation: ["))
    assert main(["train", str(cfg), "-q"]) == 0
    assert "held-out (" in capsys.readouterr().out
    ckpt = Checkpointer(tmp_path / "run" / "checkpoints")
    best, steps = ckpt.best_step(), ckpt.steps()
    card = ckpt.card(step="best")
    assert card["held_out_evaluations"] == 1 and card["evaluation"]["seeds"] == 15
    assert all("evaluation" not in ckpt.card(step=s) for s in steps if s != best)  # not at every best epoch
    log = json.loads((tmp_path / "run" / "held_out.json").read_text())
    assert [e["step"] for e in log] == [best] and log[0]["files"] == card["data"]["test"]
    root = json.loads((tmp_path / "run" / "checkpoints" / "model_card.json").read_text())["card"]
    assert root["evaluation"] == card["evaluation"] and root["held_out_evaluations"] == 1
    # the same run, the same held-out files: nothing is evaluated again
    assert main(["train", str(cfg), "-q"]) == 0
    assert len(json.loads((tmp_path / "run" / "held_out.json").read_text())) == 1
    # more epochs give a new best step: its evaluation is the run's second, and the card says so
    cfg.write_text(cfg.read_text().replace("epochs: 2", "epochs: 3"))
    assert main(["train", str(cfg), "-q"]) == 0
    out = capsys.readouterr().out
    new = ckpt.card(step="best")
    assert new["step"] != best  # the third epoch is the best one on this file
    assert new["held_out_evaluations"] == 2 and "held-out evaluation 2 of this run directory" in out
    # --fresh keeps the log: the held-out sample was seen
    assert main(["train", str(cfg), "-q", "--fresh"]) == 0
    assert ckpt.card(step="best")["held_out_evaluations"] == len(json.loads((tmp_path / "run" / "held_out.json").read_text()))
    assert len(json.loads((tmp_path / "run" / "held_out.json").read_text())) >= 2


def test_update_card_replaces_entries_of_one_step(tmp_path):
    import numpy as np
    import pytest

    from e2ejax.errors import InputError
    from e2ejax.store import Checkpointer

    ckpt = Checkpointer(tmp_path / "c")
    card = {"model": {"name": "toy", "config": {}, "input_spec": []}, "note": "a"}
    for step, loss in [(1, 0.5), (2, 0.2)]:
        ckpt.save(step, {"w": np.zeros(2, np.float32)}, metrics={"val_loss": loss}, card=card)
    ckpt.update_card("best", {"note": "b", "extra": {"x": 1}})
    assert ckpt.card(step=2)["note"] == "b" and ckpt.card(step=2)["extra"] == {"x": 1} and ckpt.card(step=1)["note"] == "a"
    assert ckpt.card(step=2)["metrics"] == {"val_loss": 0.2}
    assert json.loads((tmp_path / "c" / "model_card.json").read_text())["card"]["note"] == "b"
    with pytest.raises(InputError, match="written by Checkpointer.save only"):
        ckpt.update_card(2, {"metrics": {}})
