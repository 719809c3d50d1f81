"""P-CNN (DeepAK8 1D ResNet) and PFN (Energy Flow Network): NumPy references, order / padding
behaviour, gradients and ONNX parity with a symbolic batch and particle count."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from e2ejax.nets._pcnn import PCNN, PCNNConfig
from e2ejax.nets._pfn import PFN, PFNConfig

PCNN_SMALL = PCNNConfig(n_features=3, stem=5, channels=(5, 7), blocks=1, head=(6,), dropout=0.0)
PFN_SMALL = PFNConfig(n_features=3, phi=(6, 5), f=(4, 4))


def _randomise(model, rng):
    """Non-zero biases everywhere (padded particles would then leak) and non-trivial running
    statistics and affine parameters in every BatchNorm."""
    for _, module in nnx.iter_modules(model):
        if isinstance(module, (nnx.Linear, nnx.Conv)) and module.bias is not None:
            module.bias[...] = jnp.asarray(rng.normal(scale=0.3, size=module.bias.shape), jnp.float32)
        if isinstance(module, nnx.BatchNorm):
            n = module.mean.shape[0]
            module.mean[...] = jnp.asarray(rng.normal(size=n), jnp.float32)
            module.var[...] = jnp.asarray(rng.uniform(0.5, 2.0, size=n), jnp.float32)
            module.scale[...] = jnp.asarray(rng.uniform(0.5, 1.5, size=n), jnp.float32)
            module.bias[...] = jnp.asarray(rng.normal(size=n), jnp.float32)


def _inputs(rng, B, P, F, n_real):
    """Features with garbage in the padded tail; the first ``n_real[b]`` particles are real."""
    x = rng.normal(size=(B, P, F)).astype(np.float32)
    mask = (np.arange(P)[None, :] < np.asarray(n_real)[:, None]).astype(np.float32)
    return x, mask


def _pad(x, mask, rng, extra):
    """``extra`` padded particles appended, holding garbage (a NaN and an inf among it)."""
    garbage = rng.normal(scale=10.0, size=(x.shape[0], extra, x.shape[2])).astype(np.float32)
    garbage[:, 0, 0], garbage[:, -1, -1] = np.nan, np.inf
    return np.concatenate([x, garbage], 1), np.concatenate([mask, np.zeros((x.shape[0], extra), np.float32)], 1)


#: one compiled call per model and input shape (eager op-by-op dispatch costs seconds per shape)
_call = nnx.jit(lambda model, x, mask: model(x, mask))


@pytest.fixture(scope="module")
def pcnn():
    model = PCNN(PCNN_SMALL, rngs=nnx.Rngs(0))
    _randomise(model, np.random.default_rng(7))
    return model


@pytest.fixture(scope="module")
def pfn():
    model = PFN(PFN_SMALL, rngs=nnx.Rngs(1))
    _randomise(model, np.random.default_rng(8))
    return model


# ---------------------------------------------------------------- NumPy references


def _np_conv1d(x, kernel, bias):
    """SAME 1D convolution by explicit loops: ``x [B, P, C]``, ``kernel [K, C, O]``."""
    B, P, _ = x.shape
    K, _, O = kernel.shape
    y = np.zeros((B, P, O))
    for b in range(B):
        for p in range(P):
            y[b, p] = 0.0 if bias is None else bias
            for k in range(K):
                q = p + k - K // 2
                if 0 <= q < P:
                    y[b, p] += x[b, q] @ kernel[k]
    return y


def _np_bn(x, bn):
    return (x - np.asarray(bn.mean[...])) / np.sqrt(np.asarray(bn.var[...]) + bn.epsilon) * np.asarray(bn.scale[...]) + np.asarray(bn.bias[...])


def _np_conv_bn(x, layer, m):
    conv = layer.conv
    y = _np_conv1d(x, np.asarray(conv.kernel[...]), np.asarray(conv.bias[...]))
    return np.maximum(_np_bn(y, layer.bn), 0.0) * m


def _np_pcnn(model, x, mask):
    m = mask[..., None].astype(np.float64)
    h = _np_bn(x * m, model.input_bn) * m
    h = _np_conv_bn(h, model.stem, m)
    for unit in model.units:
        identity = h if unit.shortcut is None else h @ np.asarray(unit.shortcut.kernel[...])[0]
        h = _np_conv_bn(_np_conv_bn(h, unit.first, m), unit.second, m) + identity
    h = h.sum(1) / m.sum(1)
    for fc in model.fc:
        h = np.maximum(h @ np.asarray(fc.kernel[...]) + np.asarray(fc.bias[...]), 0.0)
    return h @ np.asarray(model.out.kernel[...]) + np.asarray(model.out.bias[...])


def test_pcnn_first_conv_layer_matches_numpy_loops(pcnn, rng):
    x, mask = _inputs(rng, 3, 6, 3, [6, 4, 2])
    m = mask[..., None]
    bn_in = np.asarray(pcnn.input_bn(jnp.asarray(x * m))) * m
    got = np.asarray(pcnn.stem(jnp.asarray(bn_in), jnp.asarray(m)))
    ref = _np_conv_bn(bn_in, pcnn.stem, m)
    assert got.shape == (3, 6, 5)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-5)
    assert np.all(got[1, 4:] == 0.0) and np.abs(got[:, :4]).max() > 0.1


def test_pcnn_matches_numpy_forward(pcnn, rng):
    x, mask = _inputs(rng, 3, 6, 3, [6, 5, 2])
    out = np.asarray(_call(pcnn, x, mask))
    assert out.shape == (3, 1) and out.dtype == np.float32
    np.testing.assert_allclose(out, _np_pcnn(pcnn, x, mask), rtol=1e-4, atol=1e-5)


def test_pfn_matches_numpy_forward(pfn, rng):
    x, mask = _inputs(rng, 3, 6, 3, [6, 3, 1])
    h = x
    for layer in pfn.phi:
        h = np.maximum(h @ np.asarray(layer.kernel[...]) + np.asarray(layer.bias[...]), 0.0)
    h = (h * mask[..., None]).sum(1)
    for layer in pfn.f:
        h = np.maximum(h @ np.asarray(layer.kernel[...]) + np.asarray(layer.bias[...]), 0.0)
    ref = h @ np.asarray(pfn.out.kernel[...]) + np.asarray(pfn.out.bias[...])
    out = np.asarray(_call(pfn, x, mask))
    assert out.shape == (3, 1)
    np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-5)


# ---------------------------------------------------------------- order and padding


def test_pcnn_padding_blind_but_order_sensitive(pcnn, rng):
    x, mask = _inputs(rng, 3, 6, 3, [6, 4, 2])
    ref = np.asarray(_call(pcnn, x, mask))
    np.testing.assert_allclose(_call(pcnn, *_pad(x, mask, rng, 5)), ref, rtol=1e-5, atol=1e-6)
    perm = np.array([1, 0, 3, 2, 4, 5])  # swaps real particles of every jet, padding stays at the end
    assert np.abs(np.asarray(_call(pcnn, x[:, perm], mask)) - ref).min() > 1e-3


def test_pcnn_train_mode_batch_statistics_ignore_padding(rng):
    x, mask = _inputs(rng, 3, 6, 3, [6, 4, 2])
    models = [PCNN(PCNN_SMALL, rngs=nnx.Rngs(0)) for _ in range(2)]
    outs = []
    for model, inputs in zip(models, ((x, mask), _pad(x, mask, rng, 5))):
        model.train()
        outs.append(np.asarray(_call(model, *inputs)))
    np.testing.assert_allclose(outs[1], outs[0], rtol=1e-4, atol=1e-5)
    stats = [jax.tree.leaves(nnx.state(mdl, nnx.BatchStat)) for mdl in models]
    for a, b in zip(*stats):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)
    assert np.abs(np.asarray(models[0].input_bn.mean[...])).max() > 1e-3  # the statistics did update
    models[0].eval()
    assert not np.allclose(_call(models[0], x, mask), outs[0], atol=1e-3)  # eval uses the running statistics


def test_pcnn_dropout_only_in_train_mode(rng):
    x, mask = _inputs(rng, 3, 6, 3, [6, 4, 2])
    model = PCNN(dataclasses.replace(PCNN_SMALL, dropout=0.5), rngs=nnx.Rngs(5))
    ref = np.asarray(_call(model, x, mask))
    np.testing.assert_array_equal(_call(model, x, mask), ref)
    model.train()
    first, second = np.asarray(_call(model, x, mask)), np.asarray(_call(model, x, mask))
    assert np.abs(first - second).max() > 1e-4  # a fresh dropout mask per call


def test_pfn_permutation_and_padding_invariant(pfn, rng):
    x, mask = _inputs(rng, 3, 6, 3, [6, 4, 2])
    ref = np.asarray(_call(pfn, x, mask))
    perm = rng.permutation(6)
    np.testing.assert_allclose(_call(pfn, x[:, perm], mask[:, perm]), ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(_call(pfn, *_pad(x, mask, rng, 5)), ref, rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------- gradients and export


@pytest.mark.parametrize("name", ["pcnn", "pfn"])
def test_gradients_reach_every_parameter(name, request, rng):
    model = request.getfixturevalue(name)
    x, mask = _inputs(rng, 3, 6, 3, [6, 4, 2])
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(nnx.merge(graphdef, p, rest)(x, mask) ** 2)))(params)
    leaves = jax.tree_util.tree_leaves_with_path(grads)
    assert len(leaves) == len(jax.tree.leaves(params)) > 4
    for path, g in leaves:
        assert float(jnp.abs(g).sum()) > 0, f"no gradient reaches {jax.tree_util.keystr(path)}"


@pytest.mark.parametrize("name", ["pcnn", "pfn"])
def test_onnx_parity_symbolic_batch_and_particles(name, request, tmp_path, rng):
    pytest.importorskip("jax2onnx")
    from e2ejax.inference.export import onnx_session, to_onnx

    model = request.getfixturevalue(name)
    with jax.numpy_rank_promotion("allow"):  # jax2onnx's patched layers are not clean under strict promotion
        path = to_onnx(model, tmp_path / "x.onnx")
    session = onnx_session(path)
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("features", ["B", "P", 3]), ("mask", ["B", "P"])]
    for B, P in ((3, 6), (2, 11)):
        x, mask = _inputs(rng, B, P, 3, rng.integers(1, P + 1, size=B))
        got = session.run(None, {"features": x, "mask": mask})[0]
        assert got.shape == (B,)
        np.testing.assert_allclose(got, np.asarray(jax.nn.sigmoid(_call(model, x, mask)[..., 0])), rtol=0, atol=1e-5)
