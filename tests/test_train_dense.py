"""Training from files of stored images (the dense layout): the same examples as from the hits, and a full run."""

import json

import numpy as np
import pytest

from e2ejax import tasks
from e2ejax.cli import main
from e2ejax.inputs import dense_batches
from e2ejax.io import iterate_events, write_dense
from e2ejax.training import seed_examples

_GROUPS = ("trk", "eb", "ee", "hbhe", "jet")


@pytest.fixture(scope="module")
def dense_qg(tmp_path_factory):
    path = tmp_path_factory.mktemp("dense") / "dense_qg.root"
    sample = str(tasks.get("qg").sample_path)
    write_dense(path, dense_batches(iterate_events(sample, max_events=40, step_size=20, groups=_GROUPS)))
    return path


def test_dense_examples_equal_the_examples_from_hits(dense_qg):
    sample = str(tasks.get("qg").sample_path)
    (sparse,) = iterate_events(sample, max_events=40, step_size=40, groups=_GROUPS)
    (dense,) = iterate_events(str(dense_qg), step_size=40)
    assert dense.layout == "dense"
    (from_hits,), labels, _ = seed_examples(sparse, task="qg")
    (from_images,), dense_labels, _ = seed_examples(dense, task="qg")
    assert len(labels) > 10
    np.testing.assert_array_equal(dense_labels, labels)
    np.testing.assert_allclose(from_images, from_hits, rtol=1e-5, atol=1e-5)


CONFIG = """
model: {name: vgg, options: {height: 125, width: 125, channels: 3, features: [4], hidden: 8}}
task: qg
data: {train: [%(f)s], validation: [%(f)s], test: [%(f)s]}
optimizer: {name: adam, learning_rate: 1.0e-2}
training: {epochs: 1, batch_size: 8, patience: 5}
output: %(out)s
"""


def test_train_from_dense_file(dense_qg, tmp_path, capsys):
    cfg = tmp_path / "dense.yaml"
    cfg.write_text(CONFIG % {"f": dense_qg, "out": tmp_path / "run"})
    assert main(["train", str(cfg), "-q"]) == 0
    out = capsys.readouterr().out
    n = len(seed_examples(next(iter(iterate_events(str(dense_qg), step_size=100))), task="qg")[1])
    assert f"trained vgg on {n} qg examples" in out
    assert "no one-variable baseline: no particle-flow constituents in" in out and "dense_qg.root" in out
    history = json.loads((tmp_path / "run" / "history.json").read_text())
    assert len(history) == 1 and 0.0 <= history[0]["val_auc"] <= 1.0
