"""LSH bins and the binned kNN: plain, jit and vmap against NumPy loops; ties, padding,
permutations, linear size of every intermediate, and the error messages."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from e2ejax.ops import binned_knn, lsh_buckets, radix_argsort
from tests.conftest import assert_all_close, run_three_ways


def loop_argsort(keys, bits):
    """Stable argsort per row (NumPy), keys clipped into ``[0, 2**bits)``; and its inverse."""
    keys = np.clip(np.asarray(keys), 0, 2**bits - 1)
    order = np.argsort(keys, axis=-1, kind="stable")
    return order.astype(np.int32), np.argsort(order, axis=-1).astype(np.int32)


def loop_buckets(x, mask, projections, used=None):
    """Bucket and score of each element, one element at a time, with the first ``used`` directions
    (all by default; none: bucket 0); ties: the lower column."""
    N = x.shape[0]
    H = projections.shape[1]
    used = H if used is None else used
    bucket, score = np.full(N, 2 * H, np.int32), np.zeros(N, np.float32)
    for i in range(N):
        if mask[i] and used == 0:
            bucket[i] = 0
        elif mask[i]:
            values = {h: float(x[i] @ projections[:, h]) for h in range(used)}
            values.update({H + h: -float(x[i] @ projections[:, h]) for h in range(used)})
            best = max(values.values())
            bucket[i], score[i] = min(c for c, v in values.items() if v == best), best
    return bucket, score


def loop_binned_knn(x, mask, projections, bin_size, k, score_bits):
    """The binned kNN as a NumPy loop: the number of directions from the event size, keys, a stable
    sort, each bucket's elements cut into bins in sorted order, then brute-force neighbours inside
    each bin (nearest first, ties: the earlier sorted position)."""
    N, H = x.shape[0], projections.shape[1]
    n_real = int(mask.sum())
    used = 0 if n_real <= bin_size else min(H, -(-n_real // (2 * bin_size)))
    bucket, score = loop_buckets(x, mask, projections, used)
    levels = 2**score_bits
    level = np.clip(np.floor(score / (np.float32(1) + score) * np.float32(levels)).astype(np.int64), 0, levels - 1)
    order = list(np.argsort(bucket.astype(np.int64) * levels + level, kind="stable"))
    nb, ok = np.tile(np.arange(N, dtype=np.int32)[:, None], (1, k)), np.zeros((N, k), bool)
    for i in range(N):
        if not mask[i]:
            continue
        same = [j for j in order if bucket[j] == bucket[i]]  # the bucket, in sorted order
        first = same.index(i) // bin_size * bin_size
        members = same[first : first + bin_size]
        cand = sorted((float(np.sum((x[i].astype(np.float64) - x[j]) ** 2)), order.index(j), j) for j in members if j != i)
        for m, (_, _, j) in enumerate(cand[:k]):
            nb[i, m], ok[i, m] = j, True
    return nb, ok


def grid_inputs(rng, B, N, D, H):
    """Coordinates on a 1/4 grid and integer directions: every projection and distance is exact in
    float32 (so the NumPy loop sees the same values) and ties in buckets and distances are common."""
    x = (rng.integers(-8, 9, (B, N, D)) / 4).astype(np.float32)
    projections = rng.integers(-3, 4, (D, H)).astype(np.float32)
    return x, projections


@pytest.mark.parametrize("bits, digit_bits", [(6, 4), (5, 2), (1, 1)])
def test_radix_argsort_matches_stable_numpy_sort(rng, bits, digit_bits):
    keys = rng.integers(-3, 2**bits + 3, (3, 37)).astype(np.int32)  # duplicates, and keys outside the range
    keys[1] = 7 % 2**bits  # one row of equal keys: the input order stays
    results = run_three_ways(lambda k: radix_argsort(k, bits=bits, digit_bits=digit_bits), keys)
    assert_all_close(results, loop_argsort(keys, bits), rtol=0, atol=0)
    np.testing.assert_array_equal(results[0][0][1], np.arange(37))


def test_radix_argsort_unbatched_and_errors():
    order, rank = radix_argsort(jnp.array([3, 0, 3, 1, 0], jnp.int32), bits=2)
    assert order.tolist() == [1, 4, 3, 0, 2] and rank.tolist() == [3, 0, 4, 2, 1]
    with pytest.raises(TypeError, match="integer"):
        radix_argsort(jnp.zeros(3), bits=2)
    with pytest.raises(ValueError, match="bits <= 31"):
        radix_argsort(jnp.zeros(3, jnp.int32), bits=32)


def test_lsh_buckets_match_loop_with_ties_and_padding(rng):
    x, projections = grid_inputs(rng, 3, 19, 3, 2)
    mask = rng.random((3, 19)) < 0.8
    x[~mask] = np.nan  # padding may hold anything
    x[0, 0] = 0.0  # every projection 0: the lowest column by the tie rule
    used = np.array([2, 1, 0], np.int32)  # all directions, one (buckets 0 and 2), none (one bucket)
    expected = tuple(np.stack(a) for a in zip(*(loop_buckets(x[b], mask[b], projections, used[b]) for b in range(3))))
    results = run_three_ways(lsh_buckets, x, mask, projections, used)
    assert_all_close(results, expected, rtol=0, atol=0)
    bucket = results[0][0]
    assert set(bucket[1][mask[1]]) <= {0, 2} and set(bucket[2][mask[2]]) == {0} and np.all(bucket[~mask] == 4)
    np.testing.assert_array_equal(lsh_buckets(x, mask, projections)[0][0], bucket[0])  # default: every direction


def test_lsh_score_gradient_is_the_winning_direction(rng):
    x = rng.normal(size=(6, 3)).astype(np.float32)
    mask = np.array([True] * 5 + [False])
    projections = rng.normal(size=(3, 2)).astype(np.float32)
    grad = np.asarray(jax.grad(lambda v: jnp.sum(lsh_buckets(v, jnp.asarray(mask), projections)[1]))(x))
    bucket = np.asarray(lsh_buckets(x, mask, projections)[0])
    directions = np.concatenate([projections, -projections], axis=1).T  # [2H, D]
    np.testing.assert_allclose(grad[:5], directions[bucket[:5]], rtol=1e-6)
    np.testing.assert_array_equal(grad[5], 0.0)


@pytest.mark.parametrize("N, bin_size, k, three_ways", [(23, 8, 3, True), (6, 8, 4, False), (40, 5, 4, False)])
def test_binned_knn_matches_loop(rng, N, bin_size, k, three_ways):
    """N not a multiple of the bin size, fewer elements than one bin, bins with fewer than k
    real partners; grid coordinates, so buckets and distances tie often. Plain and vmap once
    (each compiles the op anew), jit for every case."""
    x, projections = grid_inputs(rng, 3, N, 3, 2)
    mask = rng.random((3, N)) < 0.8
    mask[2, 2:] = False  # one partner only
    x[~mask] = np.nan
    expected = tuple(np.stack(a) for a in zip(*(loop_binned_knn(x[b], mask[b], projections, bin_size, k, 19) for b in range(3))))
    op = lambda *a: binned_knn(*a, bin_size=bin_size, k=k)  # noqa: E731
    if three_ways:
        results = run_three_ways(op, x, mask, projections)
    else:
        results = [jax.tree.map(np.asarray, jax.jit(op)(x, mask, projections))]
    assert_all_close(results, expected, rtol=0, atol=0)
    nb, ok = results[0]
    assert ok[0].any(axis=1).sum() == mask[0].sum()  # every real element of event 0 has a neighbour
    assert not ok[~mask].any()


def test_binned_knn_restricts_to_bins_and_follows_permutations(rng):
    """Two buckets only (H = 1), so many elements share a bucket and its order decides the bins:
    a permutation of the input moves the neighbours with the elements, and they come from the
    element's bin (not from the whole event)."""
    N, bin_size, k = 48, 8, 3
    x = rng.normal(size=(N, 4)).astype(np.float32)
    mask = np.ones(N, bool)
    mask[[5, 17, 30]] = False
    projections = rng.normal(size=(4, 1)).astype(np.float32)
    run = jax.jit(lambda *a: binned_knn(*a, bin_size=bin_size, k=k))
    nb, ok = (np.asarray(a) for a in run(x, mask, projections))
    full = np.sum((x[:, None] - x[None]) ** 2, axis=-1) + np.where(mask[None] & ~np.eye(N, dtype=bool), 0, np.inf)
    exact = np.argsort(full, axis=1)[:, :k]
    assert np.mean([set(nb[i]) != set(exact[i]) for i in range(N) if mask[i]]) > 0.3  # bins, not an exact kNN
    perm = rng.permutation(N)
    inverse = np.argsort(perm)
    nb_p, ok_p = (np.asarray(a) for a in run(x[perm], mask[perm], projections))
    np.testing.assert_array_equal(ok_p, ok[perm])
    np.testing.assert_array_equal(np.where(ok_p, nb_p, -1), np.where(ok[perm], inverse[nb[perm]], -1))


def _avals(jaxpr):
    for eqn in jaxpr.eqns:
        yield from (v.aval for v in eqn.outvars)
        for param in eqn.params.values():
            inner = getattr(param, "jaxpr", None)
            if inner is not None:
                yield from _avals(inner if hasattr(inner, "eqns") else inner.jaxpr)


def test_binned_knn_work_is_linear_in_the_number_of_elements():
    """Every intermediate of the op is at most N x bin_size x D (no N x N array anywhere)."""
    N, bin_size, k, D = 600, 16, 4, 3
    jaxpr = jax.make_jaxpr(lambda x, m, p: binned_knn(x, m, p, bin_size=bin_size, k=k))(
        jnp.zeros((N, D)), jnp.ones(N, bool), jnp.ones((D, 4)))
    sizes = [int(np.prod(a.shape)) for a in _avals(jaxpr.jaxpr) if hasattr(a, "shape")]
    assert max(sizes) <= N * bin_size * D
    assert max(sizes) >= N * bin_size  # the walk saw the candidate distances


def test_binned_knn_errors():
    x, m, p = jnp.zeros((4, 2)), jnp.ones(4, bool), jnp.eye(2)
    with pytest.raises(ValueError, match="k < bin_size"):
        binned_knn(x, m, p, bin_size=4, k=4)
    with pytest.raises(ValueError, match=r"projections of shape \[2, H\]"):
        binned_knn(x, m, jnp.eye(3), bin_size=4, k=2)
    with pytest.raises(ValueError, match="mask of shape"):
        binned_knn(x, jnp.ones(5, bool), p, bin_size=4, k=2)
    with pytest.raises(ValueError, match="score_bits"):
        binned_knn(x, m, p, bin_size=4, k=2, score_bits=29)
