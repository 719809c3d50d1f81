"""Particle taggers end to end: the Tagger scores the image taggers' jets from their candidates
(XLA and ONNX Runtime alike); e2ejax train trains one with batch normalisation, its card's
held-out AUC is reproduced from the checkpoint, and e2ejax tag writes its scores."""

from __future__ import annotations

import numpy as np
import pytest
import uproot
from flax import nnx

from e2ejax import nets, tasks
from e2ejax.cli import main
from e2ejax.errors import InputError
from e2ejax.inference import Tagger
from e2ejax.io import iterate_events

SAMPLE = str(tasks.get("qg").sample_path)
TINY_PFN = {"phi": [8, 8], "f": [8]}
TINY_PCNN = {"stem": 8, "channels": [8, 8], "blocks": 1, "head": [8], "dropout": 0.1}
TINY = {"pfn": TINY_PFN, "pcnn": TINY_PCNN, "particlenet": {"conv_params": [[4, [8, 8, 8]]], "fc_params": [[8, 0.1]]}}


@pytest.fixture(scope="module")
def qg_batch():
    return next(iter(iterate_events([SAMPLE], max_events=24)))


@pytest.mark.parametrize("name", ["pfn", "particlenet"])
def test_particle_tagger_scores_the_jets_of_the_image_tagger(qg_batch, name):
    model = nets.build(name, TINY[name], rngs=nnx.Rngs(0))
    xla = Tagger(model, task="qg", backend="xla")(qg_batch)
    ort = Tagger(model, task="qg", backend="onnxruntime")(qg_batch)
    image = Tagger.from_pretrained("qg", backend="onnxruntime")(qg_batch)
    for name in ("mask", "in_acceptance", "seeds"):
        np.testing.assert_array_equal(getattr(xla, name), getattr(image, name), err_msg=name)
    assert xla.mask.sum() >= 20 and np.all(xla.scores[~xla.mask] == 0)
    np.testing.assert_allclose(ort.scores, xla.scores, atol=1e-5)
    assert len(np.unique(xla.scores[xla.mask])) == int(xla.mask.sum())  # every jet scored from its own candidates


def test_particle_tagger_needs_candidates_and_a_jet_task(qg_batch):
    model = nets.build("pfn", TINY_PFN, rngs=nnx.Rngs(0))
    for backend in ("xla", "onnxruntime"):
        with pytest.raises(InputError, match=r"the particle network PFN expected .*missing \['pf_charge'\].*fix: use files written by e2ejax simulate"):
            Tagger(model, task="qg", backend=backend)({k: v for k, v in qg_batch.items() if k != "pf_charge"})
    with pytest.raises(InputError, match="egamma"):
        Tagger(model, task="egamma", backend="xla")


def test_saved_particle_network_is_rebuilt_from_its_card(tmp_path, qg_batch):
    import optax

    from e2ejax.store import Checkpointer, load_model, save_state
    from e2ejax.training import make_steps

    model = nets.build("particlenet", TINY["particlenet"], rngs=nnx.Rngs(1))
    state = make_steps(model, optax.adam(1e-3)).init()
    with Checkpointer(tmp_path / "ckpt") as ckpt:
        save_state(ckpt, state, name="particlenet", model=model, task="qg", config={}, metrics={"val_loss": 0.5})
    loaded, card, _ = load_model(tmp_path / "ckpt")
    assert card["model"]["config"]["conv_params"] == [[4, [8, 8, 8]]] and loaded.config == model.config
    a = Tagger(model, task="qg", backend="xla")(qg_batch).scores
    np.testing.assert_array_equal(Tagger(loaded, task="qg", backend="xla")(qg_batch).scores, a)


CONFIG = """
model: {name: pcnn, options: %(options)s}
task: qg
data: {train: [%(f)s], validation: [%(f)s], test: [%(f)s], max_events: 80}
optimizer: {name: adam, learning_rate: 3.0e-3}
training: {epochs: 2, batch_size: 32, patience: 5}
output: %(out)s
"""


def test_train_then_tag_a_batch_norm_particle_tagger(tmp_path, capsys):
    from e2ejax.store import load_model
    from e2ejax.training.evaluation import evaluate_tagger

    cfg = tmp_path / "pcnn.yaml"
    cfg.write_text(CONFIG % {"options": TINY_PCNN, "f": SAMPLE, "out": tmp_path / "run"})
    assert main(["train", str(cfg), "-q"]) == 0
    assert "trained pcnn on" in capsys.readouterr().out
    model, card, params = load_model(tmp_path / "run" / "checkpoints")
    stats = [np.asarray(v[...]) for _, v in nnx.to_flat_state(nnx.state(model, nnx.BatchStat))]
    assert stats and all(np.isfinite(s).all() for s in stats) and any(np.abs(s).sum() > 0 for s in stats[::2])
    # the running statistics come back with the parameters: the card's held-out AUC is reproduced exactly
    predict, restored = nets.make_predict(model)
    again = evaluate_tagger(predict, restored, [SAMPLE], task="qg", batch_size=32,
                            particles=tuple(s.name for s in model.input_spec))
    assert again["auc"] == pytest.approx(card["evaluation"]["auc"], abs=1e-6) and again["seeds"] == card["evaluation"]["seeds"]

    out = tmp_path / "scores.root"
    assert main(["tag", SAMPLE, "--model", str(tmp_path / "run" / "checkpoints"), "-o", str(out), "--max-events", "24", "-q"]) == 0
    friend = uproot.open(out)["Predictions"]
    branches = [b for b in friend.keys() if b.startswith("jet_") and b != "jet_valid"]
    assert len(branches) == 1, friend.keys()
    written = friend[branches[0]].array(library="np")
    batch = next(iter(iterate_events([SAMPLE], max_events=24)))
    want = Tagger(model, task="qg", backend="xla")(batch)
    got = np.zeros_like(want.scores)
    for i, row in enumerate(written):
        got[i, :len(row)] = row[: want.scores.shape[1]]
    np.testing.assert_allclose(got[want.mask], want.scores[want.mask], atol=1e-5)


def test_particle_networks_in_a_saved_model_take_any_particle_count(tmp_path):
    from e2ejax.inference.export import random_inputs, to_saved_model, verify

    tiny_part = {"embed_dims": [16, 16], "pair_embed_dims": [8], "num_heads": 2, "num_layers": 1, "num_cls_layers": 1}
    for name, options in (("pfn", TINY_PFN), ("pcnn", TINY_PCNN), ("part", tiny_part)):
        model = nets.build(name, options, rngs=nnx.Rngs(2))
        directory = to_saved_model(model, tmp_path / name)
        for batch, n_particles in ((1, 7), (5, 40)):
            diff = verify(model, saved_model=directory, inputs=random_inputs(model, batch, axis_size=n_particles))["tensorflow"]
            assert max(diff.values()) < 1e-5, name
    with pytest.raises(InputError, match="ParticleNet is not supported.*to_onnx"):
        to_saved_model(nets.build("particlenet", TINY["particlenet"], rngs=nnx.Rngs(0)), tmp_path / "pn")
