"""The GNN's two EdgeConv formulations ("nodes": split first layer, per-node matmuls, mean over the
k neighbour slots; "edges": the per-edge MLP and one-hot segment mean) are the same function."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from e2ejax import nets
from e2ejax.nets._gnn import FORMULATIONS, _matmul, masked_pool

OPTIONS = [
    {"n_points": 12, "n_features": 5, "k": 3, "hidden": [8, 16], "head": 8},
    # the shipped tau configuration (input scale, log-compressed channels, k = 8, widths 32-32-64)
    {"n_points": 64, "n_features": 7, "k": 8, "hidden": [32, 32, 64], "head": 64,
     "input_scale": [0.05, 0.1, 0.1, 0.05, 0.05, 10.0, 10.0], "log_scale": 0.1},
]


def _build(options, seed):
    """A GNN with random biases too (``nnx.Linear`` starts them at 0, which would hide a lost bias)."""
    model = nets.build("gnn", options, rngs=nnx.Rngs(seed))
    rng = np.random.default_rng(seed)
    for path, param in nnx.to_flat_state(nnx.state(model, nnx.Param)):
        if path[-1] == "bias":
            param.set_value(jnp.asarray(rng.normal(scale=0.3, size=param.get_value().shape), jnp.float32))
    return model


def _inputs(rng, model, batch=6):
    """Point clouds with every case of a node's slots: full graphs, graphs with at most k real nodes
    (slots without a real neighbour), one real node (no real edge at all) and an empty graph."""
    c = model.config
    points = rng.exponential(size=(batch, c.n_points, c.n_features)).astype(np.float32)
    points[..., -2:] = rng.uniform(-0.5, 0.5, size=(batch, c.n_points, 2))
    n_real = [c.n_points, c.n_points // 2, c.k, 2, 1, 0][:batch]
    mask = (np.arange(c.n_points)[None, :] < np.array(n_real)[:, None]).astype(np.float32)
    return points * mask[..., None], mask


def _forms(model, points, mask):
    return {f: np.asarray(jax.jit(lambda p, m, f=f: model(p, m, formulation=f))(points, mask)) for f in FORMULATIONS}


@pytest.mark.parametrize("options", OPTIONS)
def test_formulations_give_the_same_outputs(rng, options):
    model = _build(options, 3)
    points, mask = _inputs(rng, model)
    out = _forms(model, points, mask)
    assert FORMULATIONS == ("nodes", "edges")
    np.testing.assert_allclose(out["nodes"], out["edges"], rtol=1e-5, atol=1e-5)
    assert np.abs(out["edges"]).max() > 0.1  # not a trivially small output
    # the default is the node formulation, which training, inference and export run
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda p, m: model(p, m))(points, mask)), out["nodes"])


@pytest.mark.parametrize("options", OPTIONS)
def test_formulations_give_the_same_gradients(rng, options):
    model = _build(options, 4)
    points, mask = _inputs(rng, model)
    graphdef, params = nnx.split(model, nnx.Param)

    def grads(formulation):
        loss = lambda p: jnp.sum(jnp.tanh(nnx.merge(graphdef, p)(points, mask, formulation=formulation)))  # noqa: E731
        return jax.jit(jax.grad(loss))(params)

    got, want = grads("nodes"), grads("edges")
    for (path, g), (_, w) in zip(jax.tree_util.tree_leaves_with_path(got), jax.tree_util.tree_leaves_with_path(want)):
        scale = max(float(np.abs(w).max()), 1e-3)
        np.testing.assert_allclose(g, w, rtol=0, atol=2e-5 * scale, err_msg=jax.tree_util.keystr(path))
    assert any(float(np.abs(w).max()) > 0 for w in jax.tree.leaves(want))


@pytest.mark.parametrize("formulation", FORMULATIONS)
def test_jitted_gradients_equal_eager_ones(rng, formulation):
    # points and mask as runtime arguments: the kNN graph is built inside the compiled step, as in
    # training. With jnp.max in masked_pool, XLA CPU recomputed the node features of the max's
    # gradient with other rounding here and the jitted "edges" gradients were 0.2 % off.
    model = _build(OPTIONS[0], 4)
    points, mask = _inputs(rng, model)
    graphdef, params = nnx.split(model, nnx.Param)

    def loss(p, points, mask):
        return jnp.sum(jnp.tanh(nnx.merge(graphdef, p)(points, mask, formulation=formulation)))

    eager, jitted = jax.grad(loss)(params, points, mask), jax.jit(jax.grad(loss))(params, points, mask)
    scale = max(float(np.abs(g).max()) for g in jax.tree.leaves(eager))
    for (path, a), (_, b) in zip(jax.tree_util.tree_leaves_with_path(eager), jax.tree_util.tree_leaves_with_path(jitted)):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5 * scale, err_msg=jax.tree_util.keystr(path))


def test_masked_pool_values_and_gradient():
    h = np.array([[[1.0, -2.0], [3.0, -1.0], [3.0, 5.0], [9.0, 9.0]]], np.float32)  # node 3 is padding
    mask = np.array([[1.0, 1.0, 1.0, 0.0]], np.float32)
    np.testing.assert_allclose(masked_pool(h, mask), [[7 / 3, 2 / 3, 3.0, 5.0]], rtol=1e-6)
    np.testing.assert_array_equal(masked_pool(h, np.zeros_like(mask)), [[0.0, 0.0, 0.0, 0.0]])  # no real node
    grad = np.asarray(jax.grad(lambda h: jnp.sum(masked_pool(h, mask)[:, 2:] * jnp.array([[1.0, 10.0]])))(h))
    # the max's gradient goes to its node, the first one on a tie (feature 0: nodes 1 and 2), never to padding
    np.testing.assert_array_equal(grad, [[[0.0, 0.0], [1.0, 0.0], [0.0, 10.0], [0.0, 0.0]]])


def test_both_formulations_use_the_same_parameters():
    # checkpoints (the shipped tau model) hold exactly these: one Linear each, no extra state
    model = nets.build("gnn", OPTIONS[0], rngs=nnx.Rngs(0))
    shapes = {path: tuple(v.get_value().shape) for path, v in nnx.to_flat_state(nnx.state(model))}
    expected = {}
    for i, (a, b) in enumerate([(5, 8), (8, 16)]):
        for name, (fan_in, fan_out) in {"edge1": (2 * a, b), "edge2": (b, b), "skip": (a, b)}.items():
            expected[("layers", i, name, "kernel")] = (fan_in, fan_out)
            expected[("layers", i, name, "bias")] = (fan_out,)
    expected.update({("mlp", "kernel"): (32, 8), ("mlp", "bias"): (8,), ("out", "kernel"): (8, 1), ("out", "bias"): (1,)})
    assert shapes == expected


def test_shipped_tau_model_formulations_agree():
    from e2ejax.inference import random_inputs
    from e2ejax.store import CHECKPOINTS, load_model

    if not (CHECKPOINTS / "tau").is_dir():
        pytest.skip("the shipped tau checkpoint is not in this tree")
    model, _, _ = load_model("tau")
    points, mask = random_inputs(model, 16, seed=5)
    points[..., -2:] = np.random.default_rng(5).uniform(-0.05, 0.05, size=points[..., -2:].shape)  # a jet core
    out = _forms(model, points * mask[..., None], mask)
    np.testing.assert_allclose(jax.nn.sigmoid(out["nodes"]), jax.nn.sigmoid(out["edges"]), rtol=0, atol=1e-5)
    np.testing.assert_allclose(out["nodes"], out["edges"], rtol=1e-5, atol=1e-5)


def test_matmul_gradient_is_the_linear_layers():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 5)).astype(np.float32)
    w = rng.normal(size=(5, 6)).astype(np.float32)
    g = rng.normal(size=(3, 4, 6)).astype(np.float32)
    np.testing.assert_allclose(_matmul(x, w), x @ w, rtol=1e-6, atol=1e-6)
    got = jax.grad(lambda x, w: jnp.sum(_matmul(x, w) * g), argnums=(0, 1))(x, w)
    np.testing.assert_allclose(got[0], g @ w.T, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(got[1], np.einsum("bnf,bnh->fh", x, g), rtol=1e-5, atol=1e-5)
    # per example under vmap: x [4, 5] and w [5, 6] of each of the 3 examples
    ws = np.stack([w, 2 * w, -w])
    mapped = jax.vmap(jax.grad(lambda x, w, g: jnp.sum(_matmul(x, w) * g), argnums=(0, 1)))(x, ws, g)
    for i in range(3):
        np.testing.assert_allclose(mapped[0][i], g[i] @ ws[i].T, rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(mapped[1][i], x[i].T @ g[i], rtol=1e-5, atol=1e-5)


def test_unknown_formulation():
    model = nets.build("gnn", OPTIONS[0], rngs=nnx.Rngs(0))
    points, mask = _inputs(np.random.default_rng(0), model, batch=2)
    with pytest.raises(ValueError, match=r"formulation: expected one of \('nodes', 'edges'\), got 'dense'"):
        model(points, mask, formulation="dense")
