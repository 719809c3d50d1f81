import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from e2ejax.nets import make_apply
from e2ejax.nets._part import ParT, ParTConfig, pair_features

TINY = ParTConfig(n_features=5, embed_dims=(16, 16), pair_embed_dims=(8,), num_heads=2, num_layers=1, num_cls_layers=1,
                  fc_params=((8, 0.1),))


def four_vectors(shape, rng):
    """Four-vectors on a 1/8 GeV grid (below 64 GeV): every E^2 - |p|^2 is exact in float32."""
    p3 = np.round(rng.normal(0.0, 6.0, shape + (3,)) * 8) / 8
    energy = np.ceil(np.sqrt(np.sum(p3**2, axis=-1) + rng.uniform(0.0, 1.0, shape)) * 8) / 8
    return np.concatenate([p3, energy[..., None]], axis=-1).astype(np.float32)


def jets(B, P, rng, n_real=None):
    mask = np.zeros((B, P), np.float32)
    for b in range(B):
        mask[b, : (n_real if n_real is not None else rng.integers(2, P + 1))] = 1.0
    features = rng.normal(size=(B, P, TINY.n_features)).astype(np.float32) * mask[..., None]
    return features, four_vectors((B, P), rng) * mask[..., None], mask


def perturbed(config, seed=0):
    """A model whose LayerNorm, BatchNorm statistics and residual scales are not the identity."""
    model = ParT(config, rngs=nnx.Rngs(seed))
    rng = np.random.default_rng(seed)
    for kind in (nnx.Param, nnx.BatchStat):
        state = nnx.state(model, kind)
        nnx.update(model, jax.tree.map(lambda a: jnp.asarray(a + 0.2 * np.abs(rng.normal(size=a.shape)), jnp.float32), state))
    return model


@pytest.fixture(scope="module")
def tiny():
    """``(model, jitted apply, params)`` of a perturbed :data:`TINY` ParT in eval mode."""
    model = perturbed(TINY)
    apply, params = make_apply(model)
    return model, jax.jit(apply), params


def reference_pair_features(v):
    """ln kT, ln z, ln dR, ln m^2 of every pair, one pair at a time in float64."""
    v = v.astype(np.float64)
    B, P, _ = v.shape
    out = np.zeros((B, P, P, 4))
    for b in range(B):
        for i in range(P):
            for j in range(P):
                a, c = v[b, i], v[b, j]
                pt_a, pt_c = math.hypot(a[0], a[1]), math.hypot(c[0], c[1])
                y_a = 0.5 * math.log(1 + 2 * a[2] / max(a[3] - a[2], 1e-20))
                y_c = 0.5 * math.log(1 + 2 * c[2] / max(c[3] - c[2], 1e-20))
                dphi = (math.atan2(a[1], a[0]) - math.atan2(c[1], c[0]) + math.pi) % (2 * math.pi) - math.pi
                dr = math.sqrt((y_a - y_c) ** 2 + dphi**2)
                s = a + c
                m2 = s[3] ** 2 - s[0] ** 2 - s[1] ** 2 - s[2] ** 2
                out[b, i, j] = [math.log(max(min(pt_a, pt_c) * dr, 1e-8)),
                                math.log(max(min(pt_a, pt_c) / max(pt_a + pt_c, 1e-8), 1e-8)),
                                math.log(max(dr, 1e-8)), math.log(max(m2, 1e-8))]
    return out


def test_pair_features_match_a_loop_over_pairs(rng):
    v = four_vectors((2, 6), rng)
    v[0, 0] = [-7.875, 1.125, 2.0, 9.0]  # phi near +pi ...
    v[0, 1] = [-7.875, -1.125, 2.0, 9.0]  # ... and near -pi: dphi wraps to 0.28
    v[0, 2] = [3.0, 4.0, 0.0, 5.0]  # massless: ln m^2 with itself clamps to ln 1e-8
    v[1, 5] = 0.0  # a zero-padded particle
    features = jax.jit(pair_features, static_argnums=1)
    got = np.asarray(features(v, 4))
    np.testing.assert_allclose(got, reference_pair_features(v), rtol=1e-5, atol=2e-5)
    assert got[0, 0, 1, 2] == pytest.approx(math.log(2 * math.atan2(1.125, 7.875)), abs=1e-5)
    assert got[0, 2, 2, 3] == pytest.approx(math.log(1e-8))
    np.testing.assert_array_equal(got, np.swapaxes(got, 1, 2))
    np.testing.assert_array_equal(np.asarray(features(v, 1))[..., 0], got[..., 2])
    np.testing.assert_array_equal(np.asarray(features(v, 3)), got[..., :3])
    with pytest.raises(ValueError, match="1, 3 or 4"):
        pair_features(v, 2)


def test_input_spec_and_shapes_for_two_particle_counts(tiny, rng):
    model, run, params = tiny
    assert [s.name for s in model.input_spec] == ["features", "vectors", "mask"]
    assert [s.shape for s in model.input_spec] == [("P", 5), ("P", 4), ("P",)]
    for P in (5, 8):
        out = run(params, *jets(3, P, rng))
        assert out.shape == (3, 1) and out.dtype == jnp.float32
    with pytest.raises(ValueError, match="must divide"):
        ParT(dataclasses.replace(TINY, num_heads=3), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="at least one width"):
        ParT(dataclasses.replace(TINY, embed_dims=()), rngs=nnx.Rngs(0))
    with pytest.raises(ValueError, match="1, 3 or 4"):
        ParT(dataclasses.replace(TINY, n_pair_features=2), rngs=nnx.Rngs(0))


def test_mean_pooling_and_no_self_pairs_variant(rng):
    model = ParT(dataclasses.replace(TINY, n_outputs=2, num_cls_layers=0, remove_self_pair=True), rngs=nnx.Rngs(0))
    assert model.cls_token is None
    apply, params = make_apply(model)
    features, vectors, mask = jets(3, 5, rng, n_real=3)
    garbage = [a.copy() for a in (features, vectors)]
    for a in garbage:
        a[:, 3:] = 7.0
    out, out_garbage = jax.jit(jax.vmap(apply, in_axes=(None, 0, 0, 0)))(
        params, np.stack([features, garbage[0]]), np.stack([vectors, garbage[1]]), np.stack([mask, mask]))
    assert out.shape == (3, 2)
    np.testing.assert_allclose(out_garbage, out, atol=1e-5, rtol=0)


def test_permutation_and_padding_invariance(tiny, rng):
    _, run, params = tiny
    features, vectors, mask = jets(3, 5, rng)
    out = np.asarray(run(params, features, vectors, mask))
    perm = rng.permutation(5)
    np.testing.assert_allclose(run(params, features[:, perm], vectors[:, perm], mask[:, perm]), out, atol=1e-5, rtol=0)
    # padded particles of any content, appended and then shuffled in between the real ones
    extra = 3
    garbage = [rng.normal(0.0, 50.0, (3, extra, d)).astype(np.float32) for d in (5, 4)]
    garbage[0][0, 0, 0] = np.nan
    garbage[1][1, 1, 3] = np.inf
    padded = [np.concatenate([a, g], axis=1) for a, g in zip((features, vectors), garbage)]
    padded_mask = np.concatenate([mask, np.zeros((3, extra), np.float32)], axis=1)
    perm = rng.permutation(5 + extra)
    got = run(params, padded[0][:, perm], padded[1][:, perm], padded_mask[:, perm])
    np.testing.assert_allclose(got, out, atol=1e-5, rtol=0)
    # a jet without any real particle still gives a finite logit
    assert np.all(np.isfinite(run(params, features, vectors, np.zeros_like(mask))))


def test_eval_by_default_train_mode_dropout_and_real_particle_statistics(tiny, rng):
    _, run, params = tiny
    model = perturbed(TINY)  # the fixture's weights, for training
    layers = list(nnx.iter_modules(model))
    assert all(m.deterministic for _, m in layers if isinstance(m, nnx.Dropout))
    assert all(m.use_running_average for _, m in layers if isinstance(m, nnx.BatchNorm))
    call = nnx.jit(lambda m, *x: m(*x))
    features, vectors, mask = jets(3, 5, rng)
    eval_out = np.asarray(run(params, features, vectors, mask))
    model.train()
    first, second = (np.asarray(call(model, features, vectors, mask)) for _ in range(2))
    assert np.max(np.abs(first - second)) > 1e-4  # dropout draws new masks
    model.set_attributes(deterministic=True)  # batch statistics, no dropout
    train_out = np.asarray(call(model, features, vectors, mask))
    assert np.max(np.abs(train_out - eval_out)) > 1e-3
    # batch statistics over the real particles (and real pairs) only
    padded = [np.concatenate([a, np.full(a.shape[:1] + (3,) + a.shape[2:], 9.0, np.float32)], axis=1) for a in (features, vectors)]
    out = call(model, *padded, np.concatenate([mask, np.zeros((3, 3), np.float32)], axis=1))
    np.testing.assert_allclose(out, train_out, atol=1e-5, rtol=0)


def test_gradients_reach_every_parameter(tiny, rng):
    model, _, params = tiny
    apply = make_apply(model)[0]
    inputs = jets(3, 5, rng)
    grads = jax.jit(jax.grad(lambda p: jnp.sum(jnp.sin(3.0 * apply(p, *inputs)))))(params)
    leaves = jax.tree_util.tree_leaves_with_path(grads)
    assert len(leaves) == 71
    for path, g in leaves:
        assert float(jnp.abs(g).sum()) > 0, f"no gradient reaches {jax.tree_util.keystr(path)}"


def test_onnx_export_matches_jax_for_two_batches_and_particle_counts(tiny, tmp_path, rng):
    pytest.importorskip("jax2onnx")
    from e2ejax.inference.export import onnx_session, to_onnx

    model, run, params = tiny
    session = onnx_session(to_onnx(model, tmp_path / "part.onnx"))
    for P in (5, 8):
        features, vectors, mask = jets(3, P, rng)
        expected = np.asarray(jax.nn.sigmoid(run(params, features, vectors, mask)[..., 0]))
        for jets_fed in (slice(0, 1), slice(0, 3)):  # batch sizes 1 and 3
            feed = {"features": features[jets_fed], "vectors": vectors[jets_fed], "mask": mask[jets_fed]}
            (got,) = session.run(None, feed)
            assert got.shape == expected[jets_fed].shape
            np.testing.assert_allclose(got, expected[jets_fed], atol=1e-5, rtol=0)
