import threading

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from e2ejax import nets
from e2ejax.errors import InputError
from e2ejax.inference import Tagger, resolve_backend
from tests.test_features import toy_events

SMALL_RESNET = {"channels": 3, "features": [4, 8], "blocks": 1}


def test_backends_agree(rng):
    model = nets.build("resnet15", SMALL_RESNET, rngs=nnx.Rngs(0))
    ev = toy_events(rng, B=3)
    a = Tagger(model, task="qg", backend="xla")(ev)
    b = Tagger(model, task="qg", backend="onnxruntime")(ev)
    assert a.scores.shape == (3, 2)  # the empty third slot of every event is trimmed
    np.testing.assert_array_equal(a.mask, ev["jet_mask"][:, :2])
    assert (a.scores[~a.mask] == 0).all()
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)
    np.testing.assert_array_equal(a.seeds, b.seeds)


@pytest.mark.parametrize("backend", ["xla", "onnxruntime"])
def test_seeds_scored_in_parts_match_one_call(rng, backend):
    model = nets.build("resnet15", SMALL_RESNET, rngs=nnx.Rngs(4))
    ev = toy_events(rng, B=9)  # 18 real jets: parts of 8 -> three calls (6 + 6 + 6 rows)
    parts = Tagger(model, task="qg", backend=backend, max_rows=8)
    whole = Tagger(model, task="qg", backend=backend)
    prepared = parts.seed_inputs(ev)
    assert [n for _, n in prepared[0]] == [6, 6, 6] and whole.max_rows == 64
    a, b = parts.score_seeds(prepared), whole(ev)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-6)
    reference = np.asarray(whole.score_fn()(ev))[:, : a.scores.shape[1]]  # every slot in one jitted program
    np.testing.assert_allclose(a.scores, reference, atol=1e-5)
    assert (a.scores[a.mask] != 0).all()


def test_gnn_tagger_on_frames(rng):
    model = nets.build("gnn", {"n_points": 32, "n_features": 7, "k": 4, "hidden": [8], "head": 8}, rngs=nnx.Rngs(1))
    ev = toy_events(rng, B=2)
    a = Tagger(model, task="tau", backend="xla")(ev)
    b = Tagger(model, task="tau", backend="onnxruntime")(ev)
    np.testing.assert_allclose(a.scores, b.scores, atol=1e-5)


def test_shared_by_threads_bit_identical(rng):
    model = nets.build("vgg", {"features": [4, 8], "hidden": 8}, rngs=nnx.Rngs(2))
    batches = [toy_events(np.random.default_rng(i), B=2) for i in range(4)]
    for backend in ("xla", "onnxruntime"):
        tagger = Tagger(model, task="egamma", backend=backend)
        serial = [tagger(ev).scores for ev in batches]
        results = {}

        def work(t):
            results[t] = [tagger(batches[(t + i) % 4]).scores for i in range(8)]

        threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for t, outs in results.items():
            for i, out in enumerate(outs):
                np.testing.assert_array_equal(out, serial[(t + i) % 4])


def test_saliency_gradient(rng):
    model = nets.build("vgg", {"features": [4], "hidden": 8}, rngs=nnx.Rngs(3))
    ev = toy_events(rng, B=1, N=12)
    tagger = Tagger(model, task="egamma", backend="xla")
    fn = tagger.score_fn()
    energy = jnp.asarray(ev["eb_energy"])
    grad = jax.grad(lambda e: fn(dict(ev, eb_energy=e)).sum())(energy)
    assert grad.shape == energy.shape and np.isfinite(np.asarray(grad)).all()
    eps = 1e-2
    d = np.zeros_like(ev["eb_energy"])
    d[0, 0] = eps
    fd = (float(fn(dict(ev, eb_energy=energy + d)).sum()) - float(fn(dict(ev, eb_energy=energy - d)).sum())) / (2 * eps)
    assert float(grad[0, 0]) == pytest.approx(fd, rel=5e-2, abs=1e-4)


def test_bad_arguments():
    model = nets.build("vgg", {"features": [4], "hidden": 8}, rngs=nnx.Rngs(0))
    with pytest.raises(InputError, match="unknown backend 'tpu'"):
        resolve_backend("tpu")
    with pytest.raises(InputError, match="unknown task 'higgs'"):
        Tagger(model, task="higgs")
    with pytest.raises(InputError, match=r"expected max_rows to be one of pad_rows' sizes .*; found 10"):
        Tagger(model, task="egamma", max_rows=10)
    assert resolve_backend("auto") == ("onnxruntime" if jax.default_backend() == "cpu" else "xla")


def test_dense_layout_file_tags_like_its_sparse_source(tmp_path):
    """A dense E2E ntuple (stored images and seeds) gives the scores of the sparse file it was made from."""
    import uproot

    from e2ejax.errors import InputError
    from e2ejax.inputs import dense_batches
    from e2ejax.io import iterate_events, write_dense, write_events
    from e2ejax.store import CHECKPOINTS
    from e2ejax.inference import Tagger, tag_files

    sample = CHECKPOINTS.parent / "e2ejax" / "data" / "sim_qg.root"
    sparse, dense = tmp_path / "sparse.root", tmp_path / "dense.root"
    write_events(str(sparse), iterate_events(str(sample), step_size=12, max_events=24))
    write_dense(str(dense), dense_batches(iterate_events(str(sparse), step_size=12)))
    tagger = Tagger.from_pretrained("qg", backend="xla")
    a = tag_files({"qg": tagger}, str(sparse), str(tmp_path / "a.root"), batch_size=8, progress=False)
    b = tag_files({"qg": tagger}, str(dense), str(tmp_path / "b.root"), batch_size=8, progress=False)
    assert a["seeds"] == b["seeds"] > 10
    sa = uproot.open(tmp_path / "a.root")["Predictions"].arrays(library="np")
    sb = uproot.open(tmp_path / "b.root")["Predictions"].arrays(library="np")
    np.testing.assert_array_equal(np.concatenate(sa["jet_qg"]), np.concatenate(sb["jet_qg"]))
    batch = next(iter(iterate_events(str(dense), step_size=4)))
    with pytest.raises(InputError, match="dense-layout files carry jet seeds only"):
        Tagger.from_pretrained("egamma", backend="xla")(batch)
