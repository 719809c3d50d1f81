"""``e2ejax export`` from the CLI: NHWC and NCHW both checked against JAX, a tampered export
fails the parity check (exit 2, one line), and an ONNX file beside a checkpoint is used only
when its export card names the restored step and the model's inputs."""

import json

import numpy as np
import pytest
from flax import nnx

from e2ejax import inference
from e2ejax.cli import main
from e2ejax.errors import InputError
from e2ejax.inference import check_export_card
from e2ejax.nets import build
from e2ejax.store import Checkpointer, load_model, save_state
from e2ejax.training import make_optimizer, make_steps, parse_config

CONFIG = {
    "model": {"name": "vgg", "options": {"features": [4], "hidden": 8}},
    "task": "egamma",
    "data": {"train": ["x.root"], "validation": ["y.root"]},
}


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny untrained e/gamma VGG saved as step 0 of a checkpoint directory."""
    root = tmp_path_factory.mktemp("export")
    cfg = parse_config(CONFIG)
    model = build("vgg", CONFIG["model"]["options"], rngs=nnx.Rngs(3))
    steps = make_steps(model, make_optimizer(cfg.optimizer, total_steps=1))
    save_state(Checkpointer(root / "ckpt"), steps.init(), name="vgg", model=model, task="egamma", config=cfg.to_dict(),
               metrics={"val_loss": 0.7})
    return root / "ckpt"


def _tampered_to_onnx(real):
    """``to_onnx`` that writes a file, then scales the first weight tensor of its graph by 1.5."""
    onnx = pytest.importorskip("onnx")
    from onnx import numpy_helper

    def to_onnx(model, path, **kwargs):
        path = real(model, path, **kwargs)
        proto = onnx.load(str(path))
        weights = next(t for t in proto.graph.initializer if t.data_type == onnx.TensorProto.FLOAT and np.prod(t.dims) > 8)
        weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) * np.float32(1.5), weights.name))
        onnx.save(proto, str(path))
        return path

    return to_onnx


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_export_checks_parity_in_both_layouts(checkpoint, tmp_path, capsys, layout):
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "out"), "--layout", layout]) == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("parity onnxruntime: "))
    diffs = [float(x.split(": ")[1]) for x in line[len("parity onnxruntime: "):].split(", ")]
    assert len(diffs) == 4 and max(diffs) <= 1e-5
    assert json.loads((tmp_path / "out" / "model.onnx.json").read_text())["layout"] == layout


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_tampered_export_fails_the_parity_check(checkpoint, tmp_path, capsys, monkeypatch, layout):
    monkeypatch.setattr(inference, "to_onnx", _tampered_to_onnx(inference.to_onnx))
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "out"), "--layout", layout, "--bundle"]) == 2
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1, captured.err
    assert captured.err.startswith("e2ejax export: error: parity check: expected every exported output within 1e-04 of JAX; "
                                   "found a largest difference of onnxruntime ")
    found = float(captured.err.split("onnxruntime ")[1].split(";")[0])
    assert found > 1e-3
    assert not any(p.name.isdigit() for p in (tmp_path / "out").iterdir())  # nothing bundled from a failed export


def test_export_no_verify_skips_the_check(checkpoint, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(inference, "to_onnx", _tampered_to_onnx(inference.to_onnx))
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "out"), "--no-verify"]) == 0
    assert "parity" not in capsys.readouterr().out


def test_export_savedmodel_from_the_cli(checkpoint, tmp_path, capsys):
    pytest.importorskip("tensorflow", reason="TF SavedModel export needs the 'tf' extra")
    assert main(["export", str(checkpoint), "-o", str(tmp_path / "out"), "--format", "savedmodel"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("parity tensorflow: "))
    assert max(float(x.split(": ")[1]) for x in line[len("parity tensorflow: "):].split(", ")) <= 1e-5
    assert (tmp_path / "out" / "savedmodel" / "saved_model.pb").exists()


@pytest.fixture
def exported(checkpoint, tmp_path):
    """The checkpoint's model, card and a fresh NHWC export of it (``model.onnx`` + its card)."""
    model, card, _ = load_model(str(checkpoint))
    path = inference.to_onnx(model, tmp_path / "model.onnx", card={"checkpoint_step": card["step"]})
    return model, card, path


def _edit_card(path, edit):
    meta = path.with_name(path.name + ".json")
    found = json.loads(meta.read_text())
    edit(found)
    meta.write_text(json.dumps(found))


def test_export_card_of_the_restored_step_is_accepted(exported):
    model, card, path = exported
    check_export_card(path, model, card)


def test_export_card_without_a_checkpoint_step_is_refused(exported):
    model, card, path = exported
    _edit_card(path, lambda c: c.pop("checkpoint_step"))
    with pytest.raises(InputError, match=rf"\(checkpoint_step {card['step']}, from its model card\); its export card says None"):
        check_export_card(path, model, card)


def test_export_card_of_another_step_or_other_inputs_is_refused(exported):
    model, card, path = exported
    with pytest.raises(InputError, match=r"\(checkpoint_step 99, from its model card\); its export card says 0"):
        check_export_card(path, model, dict(card, step=99))
    _edit_card(path, lambda c: c["inputs"][0].update(shape=[16, 16, 1]))
    with pytest.raises(InputError, match=r"\(inputs \[\{.*\[32, 32, 1\].*its export card says \[\{.*\[16, 16, 1\]"):
        check_export_card(path, model, card)
