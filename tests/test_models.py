import jax
import numpy as np
import pytest
from flax import nnx

from e2ejax.store import Checkpointer
from e2ejax.training import make_optimizer, parse_config
from e2ejax.errors import InputError
from e2ejax.inference import random_inputs
from e2ejax.store import load_model, save_state
from e2ejax.nets import build
from e2ejax.nets import make_predict
from e2ejax.training import Batch, make_steps

CONFIG = {
    "model": {"name": "vgg", "options": {"height": 16, "width": 16, "channels": 1, "features": [4], "hidden": 8}},
    "task": "egamma",
    "data": {"train": ["x.root"]},
    "optimizer": {"name": "adam", "learning_rate": 0.01},
}


def test_save_and_load_round_trip(tmp_path):
    cfg = parse_config(CONFIG)
    model = build("vgg", CONFIG["model"]["options"], rngs=nnx.Rngs(0))
    steps = make_steps(model, make_optimizer(cfg.optimizer, total_steps=10))
    state = steps.init()
    x = random_inputs(model, 8)
    batch = Batch(tuple(x), np.arange(8) % 2 * 1.0, np.ones(8, np.float32), np.zeros(8, np.float32))
    for _ in range(3):
        state, _ = steps.train_step(state, batch)
    ckpt = Checkpointer(tmp_path / "run")
    save_state(ckpt, state, name="vgg", model=model, task="egamma", config=cfg.to_dict(), metrics={"val_loss": 0.5}, commands=["e2ejax train x.yaml"])
    loaded, card, restored = load_model(tmp_path / "run")
    assert card["task"] == "egamma" and card["step"] == 3
    jax.tree.map(np.testing.assert_array_equal, restored, state.params)  # the parameters alone are restored
    predict, params = make_predict(loaded)
    np.testing.assert_allclose(predict(params, *x), steps.predict(state.params, *x), rtol=1e-6)


def test_unknown_model_name():
    with pytest.raises(InputError, match="unknown model 'resnet50': expected a shipped model name"):
        load_model("resnet50")


def test_export_cli(tmp_path, capsys):
    from e2ejax.cli import main

    cfg = parse_config(CONFIG)
    model = build("vgg", CONFIG["model"]["options"], rngs=nnx.Rngs(1))
    steps = make_steps(model, make_optimizer(cfg.optimizer, total_steps=10))
    save_state(Checkpointer(tmp_path / "run"), steps.init(), name="vgg", model=model, task="egamma", config=cfg.to_dict(), metrics={"val_loss": 1.0})
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "out"), "--format", "onnx"]) == 0
    out = capsys.readouterr().out
    assert "parity onnxruntime: batch 1:" in out and (tmp_path / "out" / "model.onnx").exists()
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "out"), "--format", "pdf"]) == 2
    assert "--format: expected a comma-separated subset of onnx, savedmodel" in capsys.readouterr().err
    assert main(["export", "nosuchmodel", "-o", str(tmp_path / "x")]) == 2
    assert "unknown model 'nosuchmodel'" in capsys.readouterr().err


def test_export_bundle_loads_by_path(tmp_path):
    from e2ejax.cli import main

    cfg = parse_config(CONFIG)
    model = build("vgg", CONFIG["model"]["options"], rngs=nnx.Rngs(2))
    steps = make_steps(model, make_optimizer(cfg.optimizer, total_steps=10))
    save_state(Checkpointer(tmp_path / "run"), steps.init(), name="vgg", model=model, task="egamma", config=cfg.to_dict(), metrics={"val_loss": 1.0})
    assert main(["export", str(tmp_path / "run"), "-o", str(tmp_path / "bundle"), "--bundle", "--no-verify"]) == 0
    loaded, card, _ = load_model(tmp_path / "bundle")
    assert (tmp_path / "bundle" / "model.onnx").exists() and card["task"] == "egamma"
    x = random_inputs(model, 3)
    predict, params = make_predict(loaded)
    np.testing.assert_allclose(predict(params, *x), steps.predict(steps.init().params, *x), rtol=1e-6)
