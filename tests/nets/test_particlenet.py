"""ParticleNet: symmetries, masking, gradients, ONNX export and NumPy references of one EdgeConv block.

The weaver-core (PyTorch) comparison lives in benchmarks/weaver_particlenet.py.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from e2ejax.nets._particlenet import EdgeConvBlock, ParticleNet, ParticleNetConfig, knn_neighbours

TINY = ParticleNetConfig(n_features=5, conv_params=((3, (8, 8, 8)), (3, (8, 8, 8))), fc_params=((16, 0.0),))


def randomise_batch_norms(model, rng):
    """Random BatchNorm scales, biases and running statistics, so that eval mode is no near-identity."""
    for _, m in nnx.iter_modules(model):
        if isinstance(m, nnx.BatchNorm):
            n = m.scale.shape[0]
            m.scale[...] = jnp.asarray(rng.uniform(0.5, 1.5, n), jnp.float32)
            m.bias[...] = jnp.asarray(rng.normal(0, 0.3, n), jnp.float32)
            m.mean[...] = jnp.asarray(rng.normal(0, 0.3, n), jnp.float32)
            m.var[...] = jnp.asarray(rng.uniform(0.5, 2.0, n), jnp.float32)
    return model


@nnx.jit
def run(model, *inputs):
    """``model(*inputs)``, compiled (one compilation per shape instead of one per op and shape)."""
    return model(*inputs)


def make_model(seed=0, config=TINY):
    return randomise_batch_norms(ParticleNet(config, rngs=nnx.Rngs(seed)), np.random.default_rng(seed))


def make_jets(B, P, F, rng, n_real=None):
    """Zero-padded jets (real particles first); ``n_real`` defaults to a random count in [1, P]."""
    n_real = rng.integers(1, P + 1, B) if n_real is None else np.asarray(n_real)
    mask = (np.arange(P)[None, :] < n_real[:, None]).astype(np.float32)
    points = rng.normal(0, 0.5, (B, P, 2)).astype(np.float32) * mask[..., None]
    features = rng.normal(0, 1.0, (B, P, F)).astype(np.float32) * mask[..., None]
    return points, features, mask


def test_output_shape_for_two_particle_counts_and_fewer_particles_than_k(rng):
    model = make_model()
    for P in (2, 9):  # P = 2 < k + 1 = 4: weaver's topk would fail, here the missing neighbours are zeros
        out = run(model, *make_jets(3, P, 5, rng))
        assert out.shape == (3, 1) and out.dtype == jnp.float32
        assert np.all(np.isfinite(out))
    two = ParticleNet(ParticleNetConfig(n_features=5, conv_params=((3, (8, 8)),), fc_params=((16, 0.0),), n_outputs=2), rngs=nnx.Rngs(0))
    assert run(two, *make_jets(4, 7, 5, rng)).shape == (4, 2)


def test_permutation_invariant(rng):
    model = make_model(1)
    points, features, mask = make_jets(3, 10, 5, rng, n_real=[10, 7, 2])
    out = np.asarray(run(model, points, features, mask))
    assert np.ptp(out) > 1e-2  # the jets give different outputs: the check below is not vacuous
    perm = rng.permutation(10)  # all slots, padding included: the mask moves with the particles
    np.testing.assert_allclose(run(model, points[:, perm], features[:, perm], mask[:, perm]), out, atol=1e-5, rtol=0)


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_padding_invariant(rng, mode):
    """Masked garbage (large values, NaN) appended, or the padding removed: the same logits; in train
    mode also the same updated BatchNorm running statistics (batch statistics over real particles only)."""
    points, features, mask = make_jets(3, 8, 5, rng, n_real=[8, 5, 1])
    garbage = [rng.normal(0, 100.0, (3, 6, d)).astype(np.float32) for d in (2, 5)]
    garbage[0][0, 0, 0] = np.nan
    garbage[1][1, 2, 3] = np.nan
    padded = (
        np.concatenate([points, garbage[0]], axis=1),
        np.concatenate([features, garbage[1]], axis=1),
        np.concatenate([mask, np.zeros((3, 6), np.float32)], axis=1),
    )
    outs, stats = [], []
    for inputs in ((points, features, mask), padded):
        model = make_model(2)
        getattr(model, mode)()
        outs.append(np.asarray(run(model, *inputs)))
        stats.append(nnx.state(model, nnx.BatchStat))
    assert np.all(np.isfinite(outs[1]))
    np.testing.assert_allclose(outs[1], outs[0], atol=1e-5, rtol=0)
    for a, b in zip(jax.tree.leaves(stats[0]), jax.tree.leaves(stats[1])):
        np.testing.assert_allclose(a, b, atol=1e-5, rtol=0)
    if mode == "train":  # the running statistics moved
        fresh = nnx.state(make_model(2), nnx.BatchStat)
        assert any(not np.allclose(a, b) for a, b in zip(jax.tree.leaves(fresh), jax.tree.leaves(stats[0])))


@pytest.mark.parametrize("mode", ["eval", "train"])
def test_gradients_reach_every_parameter(rng, mode):
    """Both modes: eval (running statistics, as in fine-tuning with frozen BatchNorm statistics,
    and saliency) and train (batch statistics, dropout active: as optimised)."""
    config = ParticleNetConfig(n_features=5, conv_params=((3, (8, 8, 8)), (3, (8, 8, 8))), fc_params=((16, 0.3),))
    model = make_model(3, config)
    getattr(model, mode)()
    inputs = make_jets(4, 9, 5, rng, n_real=[9, 6, 4, 2])
    grads = nnx.jit(nnx.grad(lambda m: jnp.sum(m(*inputs))))(model)  # w.r.t. nnx.Param; BatchStat updates allowed
    leaves = jax.tree_util.tree_leaves_with_path(grads)
    assert len(leaves) == len(jax.tree.leaves(nnx.state(model, nnx.Param))) > 0
    for path, g in leaves:
        assert np.all(np.isfinite(g)), jax.tree_util.keystr(path)
        assert float(jnp.abs(g).max()) > 0, f"no gradient reaches {jax.tree_util.keystr(path)}"


def test_onnx_export_symbolic_batch_and_particles(tmp_path, rng):
    ort = pytest.importorskip("onnxruntime")
    from e2ejax.inference.export import to_onnx

    model = make_model(4)
    path = to_onnx(model, tmp_path / "pn.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["points", "features", "mask"]
    for B in (1, 4):
        for P in (3, 12):  # P = 3 = k: no particle has k partners, the empty neighbour slots are exported too
            points, features, mask = make_jets(B, P, 5, rng)
            got = session.run(None, {"points": points, "features": features, "mask": mask})[0]
            want = np.asarray(jax.nn.sigmoid(run(model, points, features, mask)[..., 0]))
            assert got.shape == (B,)
            assert np.all((want > 0.01) & (want < 0.99))  # not saturated: the tolerance means something
            np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def _weaver_knn_reference(x, mask, k):
    """weaver's neighbour selection as a NumPy loop: padded coordinates moved to 1e9, squared
    distances (float64, no rounding issue), the k + 1 nearest sorted (stable), the first (the
    particle itself) dropped."""
    B, P, _ = x.shape
    shifted = np.where(mask[..., None] > 0, x, 1e9).astype(np.float64)
    out = np.zeros((B, P, k), np.int64)
    for b in range(B):
        for i in range(P):
            d = np.array([np.sum((shifted[b, i] - shifted[b, j]) ** 2) for j in range(P)])
            out[b, i] = np.argsort(d, kind="stable")[1 : k + 1]
    return out


def test_knn_matches_weaver_selection_numpy_loop():
    """Tie-free random points: torch.topk does not specify its order among equal distances, so
    ties are excluded (every row's sorted distances differ by > 1e-5, asserted). Rows of real
    particles with at least k real partners must equal weaver's picks in order (nearest first);
    with fewer partners all of them come first and the remaining slots are invalid, where weaver
    would pick padded particles (whose features it has zeroed)."""
    k, P = 4, 11
    rng = np.random.default_rng(7)
    x = rng.uniform(-1, 1, (3, P, 2)).astype(np.float32)
    mask = (np.arange(P)[None, :] < np.array([[11], [8], [3]])).astype(np.float32)
    for b in range(3):
        real = x[b, mask[b] > 0]
        d = np.sort(np.sum((real[:, None] - real[None]) ** 2, axis=-1), axis=-1)
        assert np.min(np.diff(d, axis=-1)) > 1e-5, "precondition: no near-ties"
    index, valid = (np.asarray(a) for a in jax.jit(knn_neighbours, static_argnames="k")(x, mask > 0, k=k))
    want = _weaver_knn_reference(x, mask, k)
    for b, n_real in enumerate((11, 8, 3)):
        for i in range(n_real):
            if n_real > k:
                assert valid[b, i].all()
                np.testing.assert_array_equal(index[b, i], want[b, i])
            else:
                assert valid[b, i].tolist() == [True] * (n_real - 1) + [False] * (k - n_real + 1)
                np.testing.assert_array_equal(index[b, i, : n_real - 1], want[b, i, : n_real - 1])
                assert np.all(want[b, i, n_real - 1 :] >= n_real)  # weaver: padded particles there


def _block_reference(block, coords, x, mask):
    """One EdgeConv block in eval mode as a NumPy loop over particles and edges (weaver's formulas)."""
    k = block.k
    sel = _weaver_knn_reference(coords, mask, k)
    xz = x * mask[..., None]  # weaver zeroes padded features: padded neighbours contribute zeros
    convs = [np.asarray(c.kernel[...], np.float64) for c in block.convs]

    def bn(v, m):
        return (v - np.asarray(m.mean[...])) / np.sqrt(np.asarray(m.var[...]) + 1e-5) * np.asarray(m.scale[...]) + np.asarray(m.bias[...])

    B, P, _ = x.shape
    out = np.zeros((B, P, convs[-1].shape[1]))
    for b in range(B):
        for i in range(P):
            if mask[b, i] == 0:
                continue
            edges = []
            for j in sel[b, i]:
                h = np.concatenate([xz[b, i], xz[b, j] - xz[b, i]])
                for w, m in zip(convs, block.bns):
                    h = np.maximum(bn(h @ w, m), 0.0)
                edges.append(h)
            sc = xz[b, i] if block.sc is None else bn(xz[b, i] @ np.asarray(block.sc.kernel[...]), block.sc_bn)
            out[b, i] = np.maximum(sc + np.mean(edges, axis=0), 0.0)
    return out


@pytest.mark.parametrize("c_in", [3, 6])  # a shortcut convolution, then the identity shortcut
def test_edgeconv_block_matches_numpy_loop(rng, c_in):
    block = randomise_batch_norms(EdgeConvBlock(3, c_in, (6, 6), rngs=nnx.Rngs(5)), rng)
    assert (block.sc is None) == (c_in == 6)
    P = 7
    coords = rng.uniform(-1, 1, (2, P, 2)).astype(np.float32)
    x = rng.normal(0, 1, (2, P, c_in)).astype(np.float32)
    mask = (np.arange(P)[None, :] < np.array([[7], [3]])).astype(np.float32)  # jet 2: 2 partners < k
    want = _block_reference(block, coords, x, mask)
    got = np.asarray(run(block, jnp.asarray(coords), jnp.asarray(x * mask[..., None]), jnp.asarray(mask > 0)))
    real = mask > 0
    np.testing.assert_allclose(got[real], want[real], atol=1e-5, rtol=1e-5)


def test_config_from_lists_and_validation():
    c = ParticleNetConfig(conv_params=[[3, [8, 8]]], fc_params=[[16, 0.1]])
    assert c.conv_params == ((3, (8, 8)),) and c.fc_params == ((16, 0.1),)
    hash(c)
    with pytest.raises(ValueError, match="conv_params"):
        ParticleNetConfig(conv_params=())
    with pytest.raises(ValueError, match="fc_params"):
        ParticleNetConfig(fc_params=((16, 1.5),))
