"""Checkpointer: retention, model cards, exact resume, nnx.List round trip, and every error path."""

from __future__ import annotations

import glob
import json
import os
import shutil

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx
from orbax.checkpoint.path import atomicity

import e2ejax
from e2ejax.store import MODEL_CARD_FILE, Checkpointer, compare_model_sections
from e2ejax.errors import InputError

SPEC = [{"name": "x", "shape": [4], "doc": "toy features", "dtype": "float32"}]


class Tiny(nnx.Module):
    """Two linear layers in an nnx.List with dropout (its RNG stream is part of the state)."""

    def __init__(self, *, hidden: int = 8, rngs: nnx.Rngs):
        self.layers = nnx.List([nnx.Linear(4, hidden, rngs=rngs), nnx.Linear(hidden, 1, rngs=rngs)])
        self.drop = nnx.Dropout(0.2, rngs=rngs)

    def __call__(self, x):
        h = self.drop(nnx.relu(self.layers[0](x)))
        return self.layers[1](h)[:, 0]


def card_for(hidden: int = 8, name: str = "tiny") -> dict:
    return {
        "model": {"name": name, "config": {"hidden": hidden, "dropout": 0.2}, "input_spec": SPEC},
        "provenance": {"commands": ["e2ejax simulate --task toy", "e2ejax train toy.yaml"]},
    }


def make(seed: int, hidden: int = 8):
    model = Tiny(hidden=hidden, rngs=nnx.Rngs(seed))
    return model, nnx.Optimizer(model, optax.adam(1e-2), wrt=nnx.Param)


def abstract_for(hidden: int = 8):
    model, opt = nnx.eval_shape(lambda: make(0, hidden))
    return {"model": nnx.state(model), "opt": nnx.state(opt), "rng": jax.eval_shape(lambda: jax.random.key(0))}


@nnx.jit
def train_step(model, opt, key):
    x = jax.random.normal(key, (16, 4))
    y = jnp.sin(x).sum(axis=1)

    def loss_fn(m):
        return jnp.mean((m(x) - y) ** 2)

    loss, grads = nnx.value_and_grad(loss_fn)(model)
    opt.update(model, grads)
    return loss


def train(model, opt, key, n: int):
    for _ in range(n):
        key, sub = jax.random.split(key)
        train_step(model, opt, sub)
    return key


def state_of(model, opt, key) -> dict:
    return {"model": nnx.state(model), "opt": nnx.state(opt), "rng": key}


def assert_trees_equal(a, b):
    assert jax.tree.structure(a) == jax.tree.structure(b)
    key_data = lambda x: jax.random.key_data(x) if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key) else x  # noqa: E731
    jax.tree.map(lambda x, y: np.testing.assert_array_equal(np.asarray(key_data(x)), np.asarray(key_data(y))), a, b)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A directory with steps 1-3 of a Tiny model (best: step 2) and the state saved at step 3."""
    root = tmp_path_factory.mktemp("saved") / "run"
    model, opt = make(0)
    key = jax.random.key(1)
    ckpt = Checkpointer(root, max_to_keep=3)
    for step, loss in [(1, 0.9), (2, 0.3), (3, 0.5)]:
        key = train(model, opt, key, 1)
        ckpt.save(step, state_of(model, opt, key), metrics={"val_loss": loss, "train_loss": 2 * loss}, card=card_for())
    ckpt.close()
    return root, state_of(model, opt, key)


@pytest.fixture
def copy(saved, tmp_path):
    root = tmp_path / "run"
    shutil.copytree(saved[0], root)
    return root


def test_keeps_latest_and_best(tmp_path):
    ckpt = Checkpointer(tmp_path / "run", max_to_keep=2)
    card = card_for()
    losses = [0.8, 0.2, 0.5, 0.6, 0.7, 0.4]
    for step, loss in enumerate(losses, start=1):
        ckpt.save(step, {"w": np.full(3, step, np.float32)}, metrics={"val_loss": loss}, card=card)
    assert ckpt.steps() == [2, 5, 6] and ckpt.best_step() == 2 and ckpt.latest_step() == 6
    ckpt.save(7, {"w": np.full(3, 7, np.float32)}, metrics={"val_loss": 0.2}, card=card)  # a tie: the latest wins
    assert ckpt.steps() == [6, 7] and ckpt.best_step() == 7
    reopened = Checkpointer(str(tmp_path / "run"), max_to_keep=2)  # a later process
    assert reopened.steps() == [6, 7] and reopened.best_step() == 7
    state, got = reopened.restore({"w": jax.ShapeDtypeStruct((3,), jnp.float32)}, step="best")
    np.testing.assert_array_equal(state["w"], [7.0, 7.0, 7.0])
    assert got["step"] == 7 and got["metrics"] == {"val_loss": 0.2}
    state, _ = reopened.restore({"w": np.zeros(3, np.float32)}, step=6)  # numpy abstract leaves give numpy
    assert isinstance(state["w"], np.ndarray) and state["w"][0] == 6.0


def test_best_mode_max_and_nan_ranks_worst(tmp_path):
    ckpt = Checkpointer(tmp_path / "run", max_to_keep=1, best_metric="auc", best_mode="max")
    for step, auc in [(1, 0.7), (2, float("nan")), (3, 0.9), (4, 0.8), (5, float("nan"))]:
        ckpt.save(step, {"w": np.zeros(1, np.float32)}, metrics={"auc": auc}, card=card_for())
    assert ckpt.steps() == [3, 5] and ckpt.best_step() == 3
    assert ckpt.card(step=5)["metrics"] == {"auc": None}  # JSON has no NaN


def test_model_card_contents(saved):
    root, _ = saved
    ckpt = Checkpointer(root)
    card = ckpt.card(step=3)
    assert card["e2ejax_version"] == e2ejax.__version__
    assert card["step"] == 3 and card["metrics"] == {"val_loss": 0.5, "train_loss": 1.0}
    assert card["model"] == card_for()["model"] and card["provenance"] == card_for()["provenance"]
    with open(root / MODEL_CARD_FILE) as f:
        summary = json.load(f)
    assert summary["best_step"] == 2 and summary["latest_step"] == 3 and summary["steps"] == [1, 2, 3]
    assert summary["best_checkpoint"] == "2" and (root / summary["best_checkpoint"]).is_dir()  # relative: portable
    assert summary["card"]["step"] == 2 and summary["card"]["metrics"]["val_loss"] == 0.3
    assert not [p for p in os.listdir(root) if p.startswith(".")]  # no temporary card left behind


def test_nnx_list_round_trip(saved):
    """Integer nnx.List keys come back as integers (flax #5030) when restored into an abstract state."""
    root, expected = saved
    state, card = Checkpointer(root).restore(abstract_for(), expected_model=card_for()["model"])
    assert list(state["model"]["layers"].keys()) == [0, 1]
    assert list(state["opt"]["opt_state"][0]["mu"]["layers"].keys()) == [0, 1]
    assert jax.dtypes.issubdtype(state["rng"].dtype, jax.dtypes.prng_key)
    assert_trees_equal(state, expected)
    model, _ = make(42)
    nnx.update(model, state["model"])
    x = jnp.ones((2, 4))
    ref, _ = make(0)
    nnx.update(ref, expected["model"])
    model.eval(), ref.eval()
    np.testing.assert_array_equal(model(x), ref(x))


def test_string_list_keys_are_reported(saved):
    """An abstract tree whose list keys are strings ('0', as flax #5030 produces) is named, not mis-restored."""
    root, _ = saved
    abstract = abstract_for()
    layers = abstract["model"]["layers"]
    abstract["model"]["layers"] = nnx.State({str(k): v for k, v in layers.items()})
    with pytest.raises(InputError, match=r"not in the checkpoint: \['model'\]\['layers'\]\['0'\]"):
        Checkpointer(root).restore(abstract)


def test_exact_resume(tmp_path):
    model, opt = make(0)
    key_end = train(model, opt, jax.random.key(1), 10)
    straight = state_of(model, opt, key_end)

    model, opt = make(0)
    key = train(model, opt, jax.random.key(1), 5)
    Checkpointer(tmp_path / "run").save(5, state_of(model, opt, key), metrics={"val_loss": 1.0}, card=card_for())
    del model, opt, key

    fresh_model, fresh_opt = make(123)  # different init: everything must come from the checkpoint
    state, _ = Checkpointer(tmp_path / "run").restore(abstract_for(), step="latest", expected_model=card_for()["model"])
    nnx.update(fresh_model, state["model"])
    nnx.update(fresh_opt, state["opt"])
    key = train(fresh_model, fresh_opt, state["rng"], 5)
    assert_trees_equal(state_of(fresh_model, fresh_opt, key), straight)


def test_save_is_atomic_rename(tmp_path, monkeypatch):
    seen = []
    original = atomicity.AtomicRenameTemporaryPath.finalize

    async def spy(self):
        tmp, final = self.get(), self.get_final()
        seen.append((tmp.name, final.name, tmp.exists(), final.exists(), sorted(p.name for p in tmp.iterdir())))
        await original(self)
        seen.append((tmp.exists(), final.exists()))

    monkeypatch.setattr(atomicity.AtomicRenameTemporaryPath, "finalize", spy)
    Checkpointer(tmp_path / "run").save(7, {"w": np.ones(2, np.float32)}, metrics={"val_loss": 1.0}, card=card_for())
    # Each item is renamed inside the temporary step folder first, the step folder last.
    assert [entry[1] for entry in seen[::2]][-1] == "7"
    tmp_name, final_name, tmp_exists, final_exists, contents = seen[-2]
    assert tmp_name.startswith("7.orbax-checkpoint-tmp") and final_name == "7"
    assert tmp_exists and not final_exists  # the step is complete before it gets its final name
    assert {"state", "card", "integrity", "metrics", "_CHECKPOINT_METADATA"} <= set(contents)
    assert seen[-1] == (False, True)


def test_interrupted_save_keeps_previous_steps(copy, monkeypatch):
    async def crash(self):
        raise RuntimeError("killed before the rename")

    monkeypatch.setattr(atomicity.AtomicRenameTemporaryPath, "finalize", crash)
    with pytest.raises(RuntimeError):
        Checkpointer(copy).save(9, {"w": np.ones(2, np.float32)}, metrics={"val_loss": 0.0}, card=card_for())
    monkeypatch.undo()
    assert glob.glob(str(copy / "9.orbax-checkpoint-tmp*"))
    ckpt = Checkpointer(copy)
    assert ckpt.steps() == [1, 2, 3] and ckpt.best_step() == 2  # opening cleans the leftover
    assert not glob.glob(str(copy / "9.orbax-checkpoint-tmp*"))
    state, card = ckpt.restore(abstract_for())
    assert card["step"] == 3


def test_compare_model_sections():
    found = {"name": "tiny", "config": {"hidden": 8, "dropout": 0.2}, "input_spec": SPEC}
    expected = {"name": "tiny", "config": {"hidden": 8, "dropout": 0.2}, "input_spec": [dict(SPEC[0], shape=(4,))]}
    assert compare_model_sections(found, expected) == []  # tuples and lists compare equal through JSON
    expected = {"name": "big", "config": {"hidden": 16, "extra": True}, "input_spec": SPEC}
    assert compare_model_sections(found, expected) == [
        "config.dropout: checkpoint 0.2, expected (absent)",
        "config.extra: checkpoint (absent), expected true",
        "config.hidden: checkpoint 8, expected 16",
        'name: checkpoint "tiny", expected "big"',
    ]


# -- errors ----------------------------------------------------------------------------------


def test_missing_directory(tmp_path):
    ckpt = Checkpointer(tmp_path / "nope")
    assert ckpt.steps() == [] and ckpt.latest_step() is None and ckpt.best_step() is None
    with pytest.raises(InputError, match=r"nope does not exist"):
        ckpt.restore(abstract_for())
    assert not (tmp_path / "nope").exists()  # reading never creates the folder


def test_empty_directory(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match=r"no checkpoint found in .*empty"):
        Checkpointer(tmp_path / "empty").restore(abstract_for())


def test_file_instead_of_directory(tmp_path):
    (tmp_path / "ckpt").write_text("x")
    with pytest.raises(InputError, match=r"found a file"):
        Checkpointer(tmp_path / "ckpt")


def test_unknown_step(saved):
    with pytest.raises(InputError, match=r"step 17 is not in .*available steps: \[1, 2, 3\]"):
        Checkpointer(saved[0]).restore(abstract_for(), step=17)
    with pytest.raises(InputError, match=r"expected step as an int, 'latest', 'best'"):
        Checkpointer(saved[0]).restore(abstract_for(), step="first")


def test_model_mismatch_lists_keys(saved):
    with pytest.raises(InputError, match=r"different model; differing keys: config.hidden: checkpoint 8, expected 16; name"):
        Checkpointer(saved[0]).restore(abstract_for(16), expected_model=card_for(16, "tiny2")["model"])


def test_abstract_shape_mismatch(saved):
    with pytest.raises(InputError, match=r"different shape or dtype: \['model'\]\['layers'\]\[0\]\['bias'\]\.value"):
        Checkpointer(saved[0]).restore(abstract_for(16))


def test_card_not_json(copy):
    (copy / "3" / "card" / "metadata").write_text('{"model": ')
    with pytest.raises(InputError, match=r"card file .*3/card/metadata of step 3 is not valid JSON"):
        Checkpointer(copy).restore(abstract_for())
    state, card = Checkpointer(copy).restore(abstract_for(), step=2)  # the other steps still work
    assert card["step"] == 2


def _data_files(step_dir):
    """The OCDBT data files of the state (the merged root's and the writing process's)."""
    return sorted(glob.glob(str(step_dir / "state" / "**" / "d" / "*"), recursive=True))


def _truncate_data(step_dir):
    for path in _data_files(step_dir):
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)


def _flip_byte(step_dir):
    for path in _data_files(step_dir):
        raw = bytearray(open(path, "rb").read())
        raw[len(raw) // 2] ^= 0xFF
        open(path, "wb").write(bytes(raw))


CORRUPTIONS = {
    "delete _METADATA": lambda d: os.remove(d / "state" / "_METADATA"),
    "delete manifest": lambda d: os.remove(d / "state" / "manifest.ocdbt"),
    "delete data": lambda d: [os.remove(p) for p in _data_files(d)],
    "truncate data": _truncate_data,
    "flip a byte": _flip_byte,
    "delete card": lambda d: shutil.rmtree(d / "card"),
    "delete integrity": lambda d: os.remove(d / "integrity" / "metadata"),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_corrupt_step(copy, corruption):
    CORRUPTIONS[corruption](copy / "3")
    with pytest.raises(InputError, match=r"step 3|of step 3") as info:
        Checkpointer(copy).restore(abstract_for())
    assert "corrupt" in str(info.value) and "[1, 2, 3]" in str(info.value)


def test_flipped_array_byte_is_caught_by_checksum(tmp_path):
    """A flipped byte in an array chunk decodes fine in orbax (no checksum there); the stored SHA-256 catches it."""
    w = np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32)  # large enough for its own chunk file
    Checkpointer(tmp_path / "run").save(1, {"w": w}, metrics={"val_loss": 1.0}, card=card_for())
    chunk = max(_data_files(tmp_path / "run" / "1"), key=os.path.getsize)
    raw = bytearray(open(chunk, "rb").read())
    raw[len(raw) // 2] ^= 0xFF
    open(chunk, "wb").write(bytes(raw))
    with pytest.raises(InputError, match=r"step 1 .* is corrupt: the data of 1 array\(s\) does not match the checksum .*\['w'\]"):
        Checkpointer(tmp_path / "run").restore({"w": jax.ShapeDtypeStruct((64, 64), jnp.float32)})


@pytest.mark.parametrize(
    "kwargs, pattern",
    [
        ({"metrics": {"loss": 1.0}}, r"metrics to contain 'val_loss'"),
        ({"metrics": {"val_loss": "low"}}, r"metrics as numbers"),
        ({"card": {"model": {"name": "tiny"}}}, r"card\['model'\] with keys \['name', 'config', 'input_spec'\]"),
        ({"card": dict(card_for(), extra=np.ones(2))}, r"JSON-serialisable model card"),
        ({"card": dict(card_for(), step=3)}, r"card keys \['step'\] are filled in"),
        ({"step": -1}, r"non-negative int"),
        ({"step": 2}, r"step 2 already exists"),
    ],
)
def test_save_errors(copy, kwargs, pattern):
    args = {"step": 10, "metrics": {"val_loss": 1.0}, "card": card_for(), **kwargs}
    step = args.pop("step")
    with pytest.raises(InputError, match=pattern):
        Checkpointer(copy).save(step, {"w": np.ones(2, np.float32)}, **args)
    assert Checkpointer(copy).steps() == [1, 2, 3]


@pytest.mark.parametrize(
    "kwargs, pattern",
    [({"max_to_keep": 0}, r"max_to_keep"), ({"best_mode": "lowest"}, r"best_mode"), ({"best_metric": ""}, r"best_metric")],
)
def test_constructor_errors(tmp_path, kwargs, pattern):
    with pytest.raises(InputError, match=pattern):
        Checkpointer(tmp_path, **kwargs)
