"""Locality-sensitive hashing (LSH) bins and the k nearest neighbours inside each bin.

The neighbour search of MLPF (J. Pata et al., "MLPF: efficient machine-learned particle-flow
reconstruction using graph neural networks", Eur. Phys. J. C 81 (2021) 381, arXiv:2101.08578):
every element is hashed by angular LSH (A. Andoni et al., arXiv:1509.02897, as in the Reformer,
arXiv:2001.04451): its coordinates are projected on ``h`` fixed directions and the bucket is
the argmax of ``[x P, -x P]``, one of ``2 h``; as in MLPF, ``h`` grows with the number of real
elements, about one bucket per ``bin_size`` of them (:func:`directions_used`; one bucket, an
exact kNN, up to ``bin_size``). Elements are sorted by bucket, each bucket's elements are cut
into bins of ``bin_size`` consecutive ones, and each element takes its ``k`` nearest
neighbours (squared Euclidean distance) among the members of its bin. The cost is
``N x bin_size`` distances, linear in the number of elements ``N``; no ``N x N`` array exists.

Determinism. A bin boundary falls wherever the sorted position says, so the order among
elements of one bucket decides who shares a bin. That order must not depend on where the
elements sit in the input, or a permutation of the input would change the neighbours: inside
a bucket the elements are sorted by their projection on the bucket's direction (the winning
value of ``[x P, -x P]``, quantised to ``score_bits`` bits). Only elements whose buckets and
quantised projections are equal keep their input order (a stable sort); for elements with
identical coordinates that is unavoidable, for distinct ones it needs projections closer than
about ``2**-score_bits`` of their scale. Padded elements have a bucket of their own, so the
amount and position of padding never changes a real element's bin.

Continuity. Bins follow ranks: an element that changes bucket, or moves far inside its
bucket's order, shifts the bin boundaries of the elements it passes (bins never span two
buckets, so of its two buckets only). In a network that rebuilds the bins from each layer's
output, float32 rounding differences (another backend, another summation order) can thus
change the neighbours of many elements in large events.

The sort is an LSD radix sort (:func:`radix_argsort`) built from cumulative sums and one
flat scatter per pass, the passes a ``fori_loop`` (one pass in the compiled program and in the
ONNX graph): it runs under ``jit`` and ``vmap`` and exports to ONNX with a symbolic number of
elements (jax2onnx 0.17 lowers ``lax.sort`` only along axes of static length).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax.ops._checks import check_bool, check_float, check_int, check_positive_int, check_rank, shape_str, shapes_equal
from e2ejax.ops._graph import gather_neighbours

__all__ = ["lsh_buckets", "radix_argsort", "binned_knn", "directions_used"]


def _iota(like: jax.Array) -> jax.Array:
    """0, 1, ..., N - 1 along the last axis of int ``like [..., N]`` (an arange that follows a symbolic N)."""
    return jnp.cumsum(jnp.ones_like(like, dtype=jnp.int32), axis=-1) - 1


def _place(values: jax.Array, positions: jax.Array) -> jax.Array:
    """``out[..., positions[..., i], :] = values[..., i, :]`` for a permutation ``positions [..., N]``
    of the rows of ``values [..., N, C]``.

    One flat scatter over all leading rows (each row's positions offset by ``row * N``):
    jax2onnx 0.17 has no ONNX form for a scatter with batch axes, a flat one exports.
    """
    shape = values.shape
    p = positions.reshape((-1, shape[-2]))
    row = jnp.cumsum(jnp.ones_like(p[:, :1]), axis=0) - 1  # [R, 1]
    n = jnp.sum(jnp.ones_like(p[:1]), axis=1, keepdims=True)  # [1, 1]: N as a value
    flat = (row * n + p).reshape(-1)
    rows = values.reshape((-1, shape[-1]))
    out = jnp.zeros_like(rows).at[flat].set(rows, unique_indices=True, mode="promise_in_bounds")
    return out.reshape(shape)


def radix_argsort(keys, *, bits: int, digit_bits: int = 4):
    """Stable argsort of non-negative integer keys along the last axis (LSD radix sort).

    ``ceil(bits / digit_bits)`` passes; each orders the elements by one digit of
    ``digit_bits`` bits, keeping the order of the previous pass among equal digits. A pass
    costs ``N x 2**digit_bits`` additions: linear in ``N``.

    Args:
        keys: int ``[..., N]``; values are clipped into ``[0, 2**bits - 1]``.
        bits: static number of key bits, 1 to 31 (keyword-only).
        digit_bits: static bits per pass, 1 to 8.

    Returns:
        ``(order, rank)``: int32 ``[..., N]`` each; ``order[..., p]`` is the index of the
        element at sorted position ``p`` (ties: lower index first, as
        ``np.argsort(kind="stable")``) and ``rank`` its inverse, ``rank[..., order[..., p]] = p``.

    Examples:
        >>> import jax.numpy as jnp
        >>> order, rank = radix_argsort(jnp.array([5, 1, 5, 0]), bits=3)
        >>> order.tolist(), rank.tolist()
        ([3, 1, 0, 2], [2, 1, 3, 0])
    """
    check_int("keys", keys)
    check_rank("keys", keys, tuple(range(1, 8)), "[..., N]")
    bits, digit_bits = check_positive_int("bits", bits), check_positive_int("digit_bits", digit_bits)
    if bits > 31 or digit_bits > 8:
        raise ValueError(f"expected bits <= 31 and digit_bits <= 8, got bits={bits} and digit_bits={digit_bits}")
    return _radix_argsort(jnp.asarray(keys), bits=bits, digit_bits=digit_bits)


@functools.partial(jax.jit, static_argnames=("bits", "digit_bits"))
def _radix_argsort(keys, *, bits: int, digit_bits: int):
    radix = 1 << digit_bits
    keys = jnp.clip(keys.astype(jnp.int32), 0, (1 << bits) - 1)
    digits = np.arange(radix, dtype=np.int32).reshape((1,) * keys.ndim + (radix,))  # a constant, not traced
    index = _iota(keys)

    def one_pass(_, carry):
        state, scale = carry  # state [..., N, 2]: (element, key) in the current order; scale = radix ** pass
        high = jax.lax.div(state[..., 1], scale)  # non-negative: truncation is floor; no rem (jax2onnx 0.17
        digit = high - jax.lax.div(high, jnp.int32(radix)) * jnp.int32(radix)  # lowers it for static shapes only)
        onehot = (digit[..., None] == digits).astype(jnp.int32)  # [..., N, R]
        before = jnp.cumsum(onehot, axis=-2) - onehot  # earlier elements with the same digit
        count = jnp.sum(onehot, axis=-2, keepdims=True)  # [..., 1, R]
        start = jnp.cumsum(count, axis=-1) - count  # first position of each digit
        position = jnp.sum(onehot * (before + start), axis=-1)
        return _place(state, position), scale * jnp.int32(radix)

    passes = -(-bits // digit_bits)
    state, _ = jax.lax.fori_loop(0, passes, one_pass, (jnp.stack([index, keys], axis=-1), jnp.int32(1)))
    order = state[..., 0]
    return order, _place(index[..., None], order)[..., 0]


def lsh_buckets(x, mask, projections, used=None):
    """Angular LSH bucket of every element and its projection on the bucket's direction.

    Args:
        x: float ``[..., N, D]`` coordinates (padded rows may hold anything).
        mask: bool ``[..., N]``, true for real elements.
        projections: float ``[D, H]``, the ``H`` hashing directions.
        used: optional int ``[...]``, how many of the directions each event uses, 0 to ``H``
            (default all): ``h`` gives the ``2 h`` buckets ``0 .. h - 1`` (``+P``) and
            ``H .. H + h - 1`` (``-P``); 0 puts every real element in bucket 0.

    Returns:
        ``(bucket, score)``: int32 ``[..., N]``, the argmax over the used columns of
        ``[x P, -x P]`` (ties: the lower column), ``2 H`` for padding; float ``[..., N]``, that
        maximum (0 for padding, and with ``used`` 0).

    Examples:
        >>> import jax.numpy as jnp
        >>> x = jnp.array([[1.0, 0.0], [-1.0, -2.0], [5.0, 5.0]])
        >>> b, s = lsh_buckets(x, jnp.array([True, True, False]), jnp.eye(2))
        >>> b.tolist(), s.tolist()
        ([0, 3, 4], [1.0, 2.0, 0.0])
        >>> lsh_buckets(x, jnp.array([True, True, False]), jnp.eye(2), jnp.array(1))[0].tolist()  # p0 and -p0
        [0, 2, 4]
    """
    check_rank("x", x, tuple(range(2, 8)), "[..., N, D]")
    check_float("x", x)
    check_bool("mask", mask)
    check_float("projections", projections)
    if not shapes_equal(jnp.shape(mask), jnp.shape(x)[:-1]):
        raise ValueError(f"expected mask of shape {shape_str(jnp.shape(x)[:-1])}, got {shape_str(jnp.shape(mask))}")
    if jnp.ndim(projections) != 2 or not shapes_equal(jnp.shape(projections)[:1], jnp.shape(x)[-1:]):
        raise ValueError(f"expected projections of shape [{jnp.shape(x)[-1]}, H], got {shape_str(jnp.shape(projections))}")
    if used is None:
        used = jnp.full(jnp.shape(mask)[:-1], projections.shape[1], jnp.int32)
    check_int("used", used)
    if not shapes_equal(jnp.shape(used), jnp.shape(mask)[:-1]):
        raise ValueError(f"expected used of shape {shape_str(jnp.shape(mask)[:-1])}, got {shape_str(jnp.shape(used))}")
    return _lsh_buckets(x, mask, projections, jnp.asarray(used).astype(jnp.int32))


@jax.jit
def _lsh_buckets(x, mask, projections, used):
    H = projections.shape[1]
    x = jnp.where(mask[..., None], x, 0.0)
    proj = jnp.matmul(x, projections.astype(x.dtype), precision=jax.lax.Precision.HIGHEST)
    both = jnp.concatenate([proj, -proj], axis=-1)  # [..., N, 2H]
    direction = (np.arange(2 * H, dtype=np.int32) % H).reshape((1,) * (both.ndim - 1) + (2 * H,))  # of each column
    both = jnp.where(direction < used[..., None, None], both, -jnp.inf)
    bucket = jnp.argmax(both, axis=-1).astype(jnp.int32)
    score = jnp.max(both, axis=-1)
    single = (used < 1)[..., None]  # no direction: one bucket
    real_bucket, real_score = jnp.where(single, 0, bucket), jnp.where(single, 0.0, score)
    return jnp.where(mask, real_bucket, 2 * H), jnp.where(mask, real_score, 0.0)


def _sort_keys(bucket, score, *, score_bits: int):
    """``bucket * 2**score_bits + floor(score / (1 + score) * 2**score_bits)``: int32, bucket first."""
    levels = 1 << score_bits
    level = jnp.floor(score / (1.0 + score) * float(levels)).astype(jnp.int32)
    return bucket * jnp.int32(levels) + jnp.clip(level, 0, levels - 1)


def directions_used(n_real, n_directions: int, *, bin_size: int):
    """How many hashing directions an event of ``n_real`` real elements uses in :func:`binned_knn`:
    0 (one bucket) up to ``bin_size`` elements, else ``min(H, ceil(n_real / (2 bin_size)))``,
    so that buckets hold about ``bin_size`` elements up to ``2 H bin_size`` elements.

    Examples:
        >>> import jax.numpy as jnp
        >>> directions_used(jnp.array([3, 8, 9, 33, 500]), 4, bin_size=8).tolist()
        [0, 0, 1, 3, 4]
    """
    n_real = jnp.asarray(n_real).astype(jnp.int32)
    wanted = jax.lax.div(n_real + jnp.int32(2 * bin_size - 1), jnp.int32(2 * bin_size))
    return jnp.where(n_real <= bin_size, 0, jnp.minimum(wanted, n_directions)).astype(jnp.int32)


def binned_knn(x, mask, projections, *, bin_size: int, k: int, score_bits: int = 19):
    """The ``k`` nearest real elements of every element among the members of its LSH bin.

    Each event hashes its real elements with the first ``h`` directions
    (:func:`directions_used`, :func:`lsh_buckets`): one bucket up to ``bin_size`` elements,
    more as the event grows. Elements are sorted by (bucket, quantised score) with
    :func:`radix_argsort`; the elements of each bucket, in that order, are cut into bins of
    ``bin_size`` (the last bin of a bucket may hold fewer), so a bin never spans two buckets:
    a change of bucket moves the bins of those two buckets only. Each element ranks the other
    members of its bin by squared Euclidean distance and keeps the ``k`` nearest (ties: the
    earlier sorted position). Slots left when a bin holds fewer than ``k`` other elements point
    at the element itself with a false mask, as in :func:`e2ejax.ops.knn`. Not differentiated
    (indices only).

    Args:
        x: float ``[..., N, D]`` coordinates (padded rows may hold anything, even NaN).
        mask: bool ``[..., N]``, true for real elements.
        projections: float ``[D, H]`` hashing directions (up to ``2 H`` buckets).
        bin_size: static elements per bin (keyword-only).
        k: static neighbours per element, ``k < bin_size``.
        score_bits: static resolution of the in-bucket order, ``bits(2 H) + score_bits <= 31``.

    Returns:
        ``(neighbours, edge_mask)``: int32 ``[..., N, k]`` element indices and bool
        ``[..., N, k]`` (false for padded receivers and missing neighbours).

    Examples:
        >>> import jax.numpy as jnp
        >>> x = jnp.array([[0.0, 1.0], [0.0, 3.0], [0.0, 2.0], [1.0, 0.0], [0.0, 4.0]])
        >>> nb, ok = binned_knn(x, jnp.ones(5, bool), jnp.eye(2), bin_size=2, k=1)
        >>> nb.tolist(), ok.tolist()  # buckets [3] and [0, 2, 1, 4] (by score): bins [3], [0, 2], [1, 4]
        ([[2], [4], [0], [3], [1]], [[True], [True], [True], [False], [True]])
    """
    bin_size, k = check_positive_int("bin_size", bin_size), check_positive_int("k", k)
    score_bits = check_positive_int("score_bits", score_bits)
    if k >= bin_size:
        raise ValueError(f"expected k < bin_size (the other members of a bin), got k={k} and bin_size={bin_size}")
    check_rank("projections", projections, (2,), "[D, H]")
    bucket_bits = (2 * projections.shape[1]).bit_length()
    if bucket_bits + score_bits > 31:
        raise ValueError(f"expected bits(2 H) + score_bits <= 31 for H = {projections.shape[1]} directions, "
                         f"got score_bits={score_bits}")
    check_bool("mask", mask)
    used = directions_used(jnp.sum(mask, axis=-1), projections.shape[1], bin_size=bin_size)
    bucket, score = lsh_buckets(x, mask, projections, used)
    return _binned_knn(x, mask, bucket, score, bin_size=bin_size, k=k, score_bits=score_bits,
                       n_buckets=2 * projections.shape[1])


@functools.partial(jax.jit, static_argnames=("bin_size", "k", "score_bits", "n_buckets"))
def _binned_knn(x, mask, bucket, score, *, bin_size: int, k: int, score_bits: int, n_buckets: int):
    bucket_bits = n_buckets.bit_length()
    x = jax.lax.stop_gradient(jnp.where(mask[..., None], x, 0.0))
    order, rank = _radix_argsort(jax.lax.stop_gradient(_sort_keys(bucket, score, score_bits=score_bits)),
                                 bits=bucket_bits + score_bits, digit_bits=4)
    ids = np.arange(n_buckets + 1, dtype=np.int32).reshape((1,) * bucket.ndim + (-1,))  # the last: padding
    onehot = (bucket[..., None] == ids).astype(jnp.int32)  # [..., N, 2H + 1]
    count = jnp.sum(onehot, axis=-2, keepdims=True)
    start = jnp.cumsum(count, axis=-1) - count  # sorted position of each bucket's first element
    own_start = jnp.sum(onehot * start, axis=-1)  # [..., N]
    own_end = own_start + jnp.sum(onehot * count, axis=-1)
    # the first sorted position of each element's bin: bins start at multiples of bin_size inside the bucket
    first = own_start + jax.lax.div(rank - own_start, jnp.int32(bin_size)) * jnp.int32(bin_size)
    slots = np.arange(bin_size, dtype=np.int32).reshape((1,) * rank.ndim + (bin_size,))
    position = first[..., None] + slots  # [..., N, bin]
    # slots past the bucket's end (its last bin is partial) point at the element itself, excluded below
    position = jnp.where(position < own_end[..., None], position, rank[..., None])
    candidate = gather_neighbours(order[..., None], position)[..., 0]
    self_index = _iota(order)[..., None]
    allowed = (candidate != self_index) & mask[..., None]  # a real element's bin holds real elements only
    diff = x[..., :, None, :] - gather_neighbours(x, candidate)
    dist = jnp.where(allowed, jnp.sum(diff * diff, axis=-1), jnp.inf)
    neg, slot = jax.lax.top_k(-dist, k)
    edge_mask = jnp.isfinite(neg)
    neighbours = jnp.take_along_axis(candidate, slot, axis=-1)
    return jnp.where(edge_mask, neighbours, self_index).astype(jnp.int32), edge_mask
