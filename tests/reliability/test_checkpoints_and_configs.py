"""Damaged checkpoints and bad configs through the CLI: one line naming what is wrong, exit 2, nothing written."""

from __future__ import annotations

import glob
import json
import os

import pytest

from tests.reliability.conftest import assert_one_line_error, call_main, listing, run_cli_many

STEP = "1128"


def _data_files(model):
    return sorted(glob.glob(str(model / STEP / "state" / "**" / "d" / "*"), recursive=True))


def _flip_byte(model):
    biggest = max(_data_files(model), key=os.path.getsize)
    raw = bytearray(open(biggest, "rb").read())
    raw[len(raw) // 2] ^= 0xFF
    open(biggest, "wb").write(bytes(raw))
    return [STEP, "corrupt"]


def _truncate(model):
    for path in _data_files(model):
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
    return [STEP, "corrupt"]


def _card_not_json(model):
    (model / STEP / "card" / "metadata").write_text('{"model": {"name": "vgg",')
    return [f"{STEP}/card/metadata", "not valid JSON"]


def _card_other_model(model):
    path = model / STEP / "card" / "metadata"
    card = json.loads(path.read_text())
    card["model"]["config"]["hidden"] = 32
    path.write_text(json.dumps(card))
    return ["does not match step 1128", "different shape or dtype", "(checkpoint [64] float32, abstract [32] float32)"]


def _card_unknown_net(model):
    path = model / STEP / "card" / "metadata"
    card = json.loads(path.read_text())
    card["model"]["name"] = "transformer"
    path.write_text(json.dumps(card))
    return ["'transformer'", f"the checkpoint '{model}' cannot be loaded"]


def _onnx_truncated(model):
    data = (model / "model.onnx").read_bytes()
    (model / "model.onnx").write_bytes(data[: len(data) // 3])
    return ["model.onnx", "cannot load it"]


def _onnx_of_another_step(model):
    path = model / "model.onnx.json"
    card = json.loads(path.read_text())
    card["checkpoint_step"] = 17
    path.write_text(json.dumps(card))
    return ["model.onnx", "checkpoint_step 1128", "17", "e2ejax export"]


def _onnx_card_without_step(model):
    path = model / "model.onnx.json"
    card = json.loads(path.read_text())
    del card["checkpoint_step"]
    path.write_text(json.dumps(card))
    return ["model.onnx", "checkpoint_step 1128", "says None", "e2ejax export"]


def _onnx_of_other_inputs(model):
    path = model / "model.onnx.json"
    card = json.loads(path.read_text())
    card["inputs"][0]["shape"] = [16, 16, 1]
    path.write_text(json.dumps(card))
    return ["model.onnx", "(inputs [{", "[16, 16, 1]", "e2ejax export"]


def _no_steps(model):
    for entry in os.listdir(model):
        if entry != "model_card.json":
            (model / entry).unlink() if (model / entry).is_file() else __import__("shutil").rmtree(model / entry)
    return ["no checkpoint found", "model"]


DAMAGE = {
    "flipped byte": _flip_byte, "truncated arrays": _truncate, "card not JSON": _card_not_json,
    "card of another model": _card_other_model, "unknown network in card": _card_unknown_net,
    "truncated ONNX": _onnx_truncated, "ONNX of another step": _onnx_of_another_step, "no steps": _no_steps,
    "ONNX card without a step": _onnx_card_without_step, "ONNX of other inputs": _onnx_of_other_inputs,
}

CONFIG = """model: {name: vgg, options: {features: [4], hidden: 8}}
task: egamma
data: {train: [%(f)s], validation: [%(f)s]}
training: {epochs: 1, batch_size: 4}
output: %(out)s
"""

BAD_CONFIGS = {
    "malformed YAML": ("model: {name: vgg\ntask: egamma\n", ["bad.yaml", "not valid YAML at line"]),
    "python tag": ("model: !!python/object/apply:os.mkdir [%(marker)s]\ntask: egamma\ndata: {train: [x.root]}\n",
                   ["bad.yaml", "python/object/apply:os.mkdir", "refused"]),
    "unknown network": (CONFIG.replace("name: vgg", "name: resnet50"), ["'resnet50'", "model.name"]),
    "wrong type": (CONFIG.replace("epochs: 1", "epochs: ten"), ["'training.epochs'", "an integer", "'ten'"]),
    "float written as text": (CONFIG.replace("training:", "optimizer: {learning_rate: 1e-3}\ntraining:"),
                              ["'optimizer.learning_rate'", "1.0e-3"]),
    "missing file": (None, ["nothere.yaml", "cannot read config"]),
}


def _damaged(tmp_path, case):
    import shutil

    from tests.reliability.conftest import SHIPPED_EGAMMA, egamma_events, write_tree

    shutil.copytree(SHIPPED_EGAMMA, tmp_path / "model")
    (tmp_path / "out").mkdir()
    names = DAMAGE[case](tmp_path / "model")
    return write_tree(tmp_path / "eg.root", egamma_events()), names


def _bad_config(tmp_path, case):
    from tests.reliability.conftest import egamma_events, write_tree

    text, names = BAD_CONFIGS[case]
    (tmp_path / "data").mkdir()
    events = write_tree(tmp_path / "data" / "eg.root", egamma_events())
    d = tmp_path / "cfg"
    d.mkdir()
    cfg = d / ("nothere.yaml" if text is None else "bad.yaml")
    if text is not None:
        cfg.write_text(text % {"f": events, "out": d / "run", "marker": d / "marker"})
    return d, cfg, names


@pytest.mark.parametrize("case", sorted(DAMAGE))
def test_damaged_checkpoint(case, tmp_path, capsys):
    events, names = _damaged(tmp_path, case)
    proc = call_main(capsys, "tag", events, "-o", tmp_path / "out" / "o.root", "--model", tmp_path / "model", "-q")
    assert proc.returncode == 2
    assert_one_line_error(proc, "tag", *names)
    assert listing(tmp_path / "out") == []


@pytest.mark.parametrize("case", sorted(BAD_CONFIGS))
def test_bad_config(case, tmp_path, capsys):
    d, cfg, names = _bad_config(tmp_path, case)
    proc = call_main(capsys, "train", cfg, "-q")
    assert proc.returncode == 2
    assert_one_line_error(proc, "train", *names)
    assert listing(d) == ([] if case == "missing file" else ["bad.yaml"])  # no run directory, no marker


def test_damaged_checkpoint_and_config_in_child_processes(tmp_path, jax_cache):
    """The same contract for real ``python -m e2ejax`` processes."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    events, ckpt_names = _damaged(tmp_path / "a", "flipped byte")
    d, cfg, cfg_names = _bad_config(tmp_path / "b", "python tag")
    procs = run_cli_many({
        "ckpt": (("tag", events, "-o", tmp_path / "a" / "out" / "o.root", "--model", tmp_path / "a" / "model", "-q"), tmp_path),
        "cfg": (("train", cfg, "-q"), tmp_path),
    }, cache=jax_cache)
    assert procs["ckpt"].returncode == 2 and procs["cfg"].returncode == 2
    assert_one_line_error(procs["ckpt"], "tag", *ckpt_names)
    assert_one_line_error(procs["cfg"], "train", *cfg_names)
    assert listing(tmp_path / "a" / "out") == [] and listing(d) == ["bad.yaml"]
