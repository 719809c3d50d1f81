"""The on-the-fly ONNX export of a checkpoint folder: made once, kept beside the checkpoint, quiet."""

import logging
import shutil

import numpy as np
import pytest

from e2ejax.inference import Tagger, onnx_cache
from e2ejax.store.models import CHECKPOINTS


@pytest.fixture
def checkpoint(tmp_path):
    """The shipped qg checkpoint without its model.onnx."""
    source = CHECKPOINTS / "qg"
    out = tmp_path / "qg"
    out.mkdir()
    for step in (p for p in source.iterdir() if p.name.isdigit()):
        shutil.copytree(step, out / step.name)
    shutil.copy(source / "model_card.json", out / "model_card.json")
    return out


def _frames(n=3):
    return (np.random.default_rng(0).random((n, 125, 125, 3), np.float32),)


def test_export_is_kept_beside_the_checkpoint_and_reused(checkpoint, monkeypatch, caplog):
    with caplog.at_level(logging.WARNING):
        first = Tagger.from_pretrained(checkpoint, backend="onnxruntime")
    assert not [r for r in caplog.records if r.name.startswith("onnx_ir")]
    step = int(next(p.name for p in checkpoint.iterdir() if p.name.isdigit()))
    key = onnx_cache.export_key(checkpoint, step, "classification")
    kept = checkpoint / ".e2ejax-onnx" / f"{key}.onnx"
    assert kept.is_file() and kept.with_name(kept.name + ".json").is_file()
    assert sorted(p.name for p in kept.parent.iterdir()) == [f"{key}.onnx", f"{key}.onnx.json"]

    def no_export(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_cache, "to_onnx", no_export)
    second = Tagger.from_pretrained(checkpoint, backend="onnxruntime")
    frames = _frames()
    np.testing.assert_allclose(second.network(frames), first.network(frames), rtol=0, atol=0)
    np.testing.assert_allclose(second.network(frames), Tagger.from_pretrained(checkpoint, backend="xla").network(frames),
                               atol=1e-5)


def test_key_follows_the_step_integrity_record(checkpoint):
    step = next(p.name for p in checkpoint.iterdir() if p.name.isdigit())
    before = onnx_cache.export_key(checkpoint, int(step), "classification")
    assert onnx_cache.export_key(checkpoint, int(step), "regression") != before
    record = checkpoint / step / "integrity" / "metadata"
    record.write_bytes(record.read_bytes().replace(b'"sha256": "', b'"sha256": "0', 1))
    assert onnx_cache.export_key(checkpoint, int(step), "classification") != before
    assert len(before) == 16 and int(before, 16) >= 0


def test_read_only_checkpoint_exports_to_a_temporary_folder(checkpoint, monkeypatch):
    monkeypatch.setattr(onnx_cache.os, "access", lambda path, mode: False)
    tagger = Tagger.from_pretrained(checkpoint, backend="onnxruntime")
    assert not (checkpoint / ".e2ejax-onnx").exists()
    assert tagger.network(_frames(2)).shape == (2,)
