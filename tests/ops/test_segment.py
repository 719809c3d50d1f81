import jax
import jax.numpy as jnp
import numpy as np
import pytest

from e2ejax.ops import segment_max, segment_mean, segment_softmax, segment_sum


def loop_reduce(data, ids, mask, n, how):
    out = np.zeros((n,) + data.shape[1:])
    for s in range(n):
        rows = [data[e] for e in range(len(ids)) if mask[e] and ids[e] == s]
        if rows:
            out[s] = {"sum": np.sum, "mean": np.mean, "max": np.max}[how](np.stack(rows), axis=0)
    return out


@pytest.mark.parametrize("fn,how", [(segment_sum, "sum"), (segment_mean, "mean"), (segment_max, "max")])
def test_matches_loop_plain_jit_vmap(rng, fn, how):
    data = rng.normal(size=(40, 3)).astype(np.float32)
    ids = rng.integers(0, 6, 40).astype(np.int32)
    ids[ids == 4] = 5  # segment 4 empty
    mask = rng.random(40) < 0.7
    expected = loop_reduce(data, ids, mask, 7, how)
    np.testing.assert_allclose(fn(data, ids, num_segments=7, mask=mask), expected, rtol=1e-5, atol=1e-6)
    jitted = jax.jit(lambda d, i, m: fn(d, i, num_segments=7, mask=m))(data, ids, mask)
    np.testing.assert_allclose(jitted, expected, rtol=1e-5, atol=1e-6)
    mapped = jax.vmap(lambda d, i, m: fn(d, i, num_segments=7, mask=m))(
        np.stack([data, -data]), np.stack([ids, ids]), np.stack([mask, mask])
    )
    np.testing.assert_allclose(mapped[0], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(mapped[1], loop_reduce(-data, ids, mask, 7, how), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn,how", [(segment_sum, "sum"), (segment_mean, "mean"), (segment_max, "max")])
def test_leading_batch_axes(rng, fn, how):
    data = rng.normal(size=(2, 3, 20, 4)).astype(np.float32)
    ids = rng.integers(0, 5, (2, 3, 20)).astype(np.int32)
    mask = rng.random((2, 3, 20)) < 0.7
    out = np.asarray(fn(data, ids, num_segments=5, mask=mask))
    assert out.shape == (2, 3, 5, 4)
    for i in range(2):
        for j in range(3):
            np.testing.assert_allclose(out[i, j], loop_reduce(data[i, j], ids[i, j], mask[i, j], 5, how), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fn", [segment_sum, segment_mean])
def test_onehot_method_equals_scatter(rng, fn):
    data = rng.normal(size=(3, 30, 4)).astype(np.float32)
    ids = rng.integers(0, 7, (3, 30)).astype(np.int32)
    mask = rng.random((3, 30)) < 0.7
    a = fn(data, ids, num_segments=7, mask=mask)
    b = jax.jit(lambda d: fn(d, ids, num_segments=7, mask=mask, method="onehot"))(data)
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    ga = jax.grad(lambda d: jnp.sum(fn(d, ids, num_segments=7, mask=mask) ** 2))(data)
    gb = jax.grad(lambda d: jnp.sum(fn(d, ids, num_segments=7, mask=mask, method="onehot") ** 2))(data)
    np.testing.assert_allclose(ga, gb, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="expected method='scatter' or method='onehot'"):
        fn(data, ids, num_segments=7, method="dense")


def test_softmax(rng):
    logits = rng.normal(size=30).astype(np.float32) * 10
    ids = rng.integers(0, 4, 30).astype(np.int32)
    mask = rng.random(30) < 0.8
    w = np.asarray(jax.jit(lambda x: segment_softmax(x, ids, num_segments=4, mask=mask))(logits))
    for s in range(4):
        sel = (ids == s) & mask
        if sel.any():
            e = np.exp(logits[sel] - logits[sel].max())
            np.testing.assert_allclose(w[sel], e / e.sum(), rtol=1e-5)
    assert (w[~mask] == 0).all()


def test_gradients_respect_mask(rng):
    data = rng.normal(size=(10, 2)).astype(np.float32)
    ids = np.array([0, 0, 1, 1, 1, 2, 2, 2, 2, 2], np.int32)
    mask = np.array([1, 1, 1, 0, 1, 1, 0, 1, 1, 1], bool)
    for fn in (segment_sum, segment_mean, segment_max):
        g = jax.grad(lambda d: jnp.sum(fn(d, ids, num_segments=3, mask=mask) ** 2))(data)
        assert np.all(np.asarray(g)[~mask] == 0)
        assert np.isfinite(np.asarray(g)).all()


def test_errors():
    with pytest.raises(ValueError, match=r"expected segment_ids of shape \[\.\.\., E\] matching data"):
        segment_sum(np.zeros((3, 2), np.float32), np.zeros(4, np.int32), num_segments=2)
    with pytest.raises(TypeError, match="expected segment_ids with an integer dtype"):
        segment_sum(np.zeros(3, np.float32), np.zeros(3, np.float32), num_segments=2)
    with pytest.raises(ValueError, match="expected num_segments to be a positive int"):
        segment_mean(np.zeros(3, np.float32), np.zeros(3, np.int32), num_segments=0)
