import jax
import jax.numpy as jnp
import numpy as np
import pytest

from e2ejax.ops import neighbour_mean, segment_max, segment_mean, segment_softmax, segment_sum
from tests.conftest import run_three_ways


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


@pytest.mark.parametrize("feature", [(), (3,), (2, 3)])
def test_neighbour_mean_is_the_segment_mean_of_receiver_grouped_edges(rng, feature):
    # 2 graphs of N = 5 nodes with k = 3 slots each (edge i * k + m: slot m of node i), as build_graph makes them
    N, k = 5, 3
    data = rng.normal(size=(2, N, k) + feature).astype(np.float32)
    mask = rng.random((2, N, k)) < 0.6
    mask[0, 1] = False  # a node without a real edge: 0
    mask[1, 2] = True
    data[~mask] = np.inf  # masked slots are ignored, even non-finite ones
    receivers = np.repeat(np.arange(N, dtype=np.int32), k)[None].repeat(2, 0)
    flat = lambda a: a.reshape((2, N * k) + a.shape[3:])  # noqa: E731
    want = np.asarray(segment_mean(flat(data), receivers, num_segments=N, mask=flat(mask)))
    for loop_b in range(2):
        np.testing.assert_allclose(want[loop_b], loop_reduce(flat(data)[loop_b], receivers[loop_b], flat(mask)[loop_b], N, "mean"), rtol=1e-6)
    results = run_three_ways(neighbour_mean, data, mask)
    for r in results:
        np.testing.assert_allclose(r, want, rtol=1e-6, atol=1e-7)
    assert results[0].shape == (2, N) + feature
    np.testing.assert_array_equal(results[0][0, 1], 0.0)
    # the same gradient as the segment mean, zero for masked slots
    safe = np.where(mask.reshape(mask.shape + (1,) * len(feature)), data, 0).astype(np.float32)
    w = rng.normal(size=(2, N) + feature).astype(np.float32)
    g_slots = jax.grad(lambda d: jnp.sum(neighbour_mean(d, mask) * w))(safe)
    g_segment = jax.grad(lambda d: jnp.sum(segment_mean(flat(d), receivers, num_segments=N, mask=flat(mask)) * w))(safe)
    np.testing.assert_allclose(g_slots, g_segment, rtol=1e-6, atol=1e-7)
    assert np.all(np.asarray(g_slots)[~mask] == 0)


def test_neighbour_mean_errors():
    match = r"expected mask of shape \[\.\.\., N, k\] matching data \[\.\.\., N, k, \.\.\.\], got mask \(4, 2\) and data \(4, 3\)"
    with pytest.raises(ValueError, match=match):
        neighbour_mean(np.zeros((4, 3), np.float32), np.ones((4, 2), bool))
    with pytest.raises(TypeError, match="expected mask with dtype bool"):
        neighbour_mean(np.zeros((4, 3), np.float32), np.ones((4, 3), np.float32))
    with pytest.raises(TypeError, match="expected data with a floating dtype"):
        neighbour_mean(np.zeros((4, 3), np.int32), np.ones((4, 3), bool))


def test_errors():
    with pytest.raises(ValueError, match=r"expected segment_ids of shape \[\.\.\., E\] matching data"):
        segment_sum(np.zeros((3, 2), np.float32), np.zeros(4, np.int32), num_segments=2)
    with pytest.raises(TypeError, match="expected segment_ids with an integer dtype"):
        segment_sum(np.zeros(3, np.float32), np.zeros(3, np.float32), num_segments=2)
    with pytest.raises(ValueError, match="expected num_segments to be a positive int"):
        segment_mean(np.zeros(3, np.float32), np.zeros(3, np.int32), num_segments=0)
