"""Masked segment reductions for padded graphs (sum, mean, max, softmax).

All functions accept leading batch axes: ``data [..., E, *F]`` with
``segment_ids [..., E]`` reduce each batch entry separately into
``[..., num_segments, *F]``; the batch axes stay batch axes (no per-batch
offsets), so they may be sharded over devices.

``segment_sum`` and ``segment_mean`` have two equivalent methods:
``"scatter"`` (a scatter-add, the default) and ``"onehot"`` (a contraction with
a one-hot ``[..., E, num_segments]`` matrix). The one-hot form costs
``E x num_segments`` multiply-adds per feature, cheap on the small padded graphs
of e2ejax, and exports to ONNX with a dynamic batch axis (jax2onnx 0.17 has no
ONNX form for a scatter with batch axes); the networks use it so that training,
inference and export run one function.

``neighbour_mean`` is ``segment_mean`` for edges grouped by receiver with the same
number ``k`` of slots per node (the kNN graphs of :func:`e2ejax.ops.build_graph`):
data ``[..., N, k, *F]`` and a mask ``[..., N, k]``, a masked sum over the slot axis
(no scatter, no one-hot matrix; a plain reduction in ONNX too).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from e2ejax.ops._checks import check_bool, check_int, check_positive_int, shape_str, shapes_equal

__all__ = ["segment_sum", "segment_mean", "segment_max", "segment_softmax", "neighbour_mean"]


def _prepare(data, segment_ids, mask, num_segments):
    num_segments = check_positive_int("num_segments", num_segments)
    check_int("segment_ids", segment_ids)
    data = jnp.asarray(data)
    ids_shape = jnp.shape(segment_ids)
    if len(ids_shape) < 1 or not shapes_equal(data.shape[: len(ids_shape)], ids_shape):
        raise ValueError(
            f"expected segment_ids of shape [..., E] matching data [..., E, ...], got segment_ids "
            f"{shape_str(ids_shape)} and data {shape_str(data.shape)}"
        )
    if mask is None:
        mask = jnp.ones(ids_shape, bool)
    else:
        check_bool("mask", mask)
        if not shapes_equal(jnp.shape(mask), ids_shape):
            raise ValueError(f"expected mask of shape {shape_str(ids_shape)}, got {shape_str(jnp.shape(mask))}")
    ids = jnp.where(mask, segment_ids, num_segments).astype(jnp.int32)  # masked: out of range, dropped
    return data, ids, mask, num_segments


def _expand(mask, like):
    return mask.reshape(mask.shape + (1,) * (like.ndim - mask.ndim))


def _over_batch(fn, lead: int):
    """``vmap`` ``fn`` over ``lead`` leading axes (batch axes stay batching dims of one scatter/gather)."""
    for _ in range(lead):
        fn = jax.vmap(fn)
    return fn


def _scatter(op, data, ids, num_segments, init):
    feature = data.shape[ids.ndim:]

    def one(d, i):  # d [E, *F], i [E]
        out = jnp.full((num_segments,) + feature, init, data.dtype)
        return getattr(out.at[i], op)(d, mode="drop")

    return _over_batch(one, ids.ndim - 1)(data, ids)


def _gather(values, ids, num_segments):
    """``values[..., ids, ...]`` per batch entry, ids clipped into range."""
    return _over_batch(lambda v, i: v[i], ids.ndim - 1)(values, jnp.clip(ids, 0, num_segments - 1))


def _onehot_sum(data, ids, mask, num_segments):
    if data.ndim not in (ids.ndim, ids.ndim + 1):
        raise ValueError(
            f"method='onehot' expects data [..., E] or [..., E, F] for segment_ids [..., E], got data {shape_str(data.shape)}"
        )
    weights = jax.nn.one_hot(ids, num_segments, dtype=data.dtype) * mask[..., None].astype(data.dtype)
    if data.ndim == ids.ndim:
        return jnp.einsum("...es,...e->...s", weights, data)
    return jnp.einsum("...es,...ef->...sf", weights, data)


def _check_method(method):
    if method not in ("scatter", "onehot"):
        raise ValueError(f"expected method='scatter' or method='onehot', got method={method!r}")


def segment_sum(data, segment_ids, *, num_segments: int, mask=None, method: str = "scatter"):
    """Sum of ``data`` rows per segment; masked rows contribute nothing.

    Args:
        data: float ``[..., E, *F]``.
        segment_ids: int ``[..., E]``; ids outside ``[0, num_segments)`` are dropped.
        num_segments: static int (keyword-only).
        mask: optional bool ``[..., E]``.
        method: ``"scatter"`` or ``"onehot"`` (see the module docstring).

    Returns:
        ``[..., num_segments, *F]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> segment_sum(jnp.array([1.0, 2.0, 4.0]), jnp.array([0, 0, 1]), num_segments=2,
        ...             mask=jnp.array([True, False, True])).tolist()
        [1.0, 4.0]
    """
    _check_method(method)
    data, ids, mask, n = _prepare(data, segment_ids, mask, num_segments)
    data = jnp.where(_expand(mask, data), data, 0)
    if method == "onehot":
        return _onehot_sum(data, ids, mask, n)
    return _scatter("add", data, ids, n, 0)


def segment_mean(data, segment_ids, *, num_segments: int, mask=None, method: str = "scatter"):
    """Mean of the unmasked rows per segment; empty segments give 0 (``method`` as :func:`segment_sum`).

    Examples:
        >>> import jax.numpy as jnp
        >>> segment_mean(jnp.array([1.0, 3.0, 4.0]), jnp.array([0, 0, 2]), num_segments=3).tolist()
        [2.0, 0.0, 4.0]
    """
    _check_method(method)
    data, ids, mask, n = _prepare(data, segment_ids, mask, num_segments)
    data = jnp.where(_expand(mask, data), data, 0)
    if method == "onehot":
        total = _onehot_sum(data, ids, mask, n)
        count = _onehot_sum(mask.astype(data.dtype), ids, mask, n)
    else:
        total = _scatter("add", data, ids, n, 0)
        count = _scatter("add", mask.astype(data.dtype), ids, n, 0)
    count = _expand(count, total)
    return jnp.where(count > 0, total / jnp.maximum(count, 1), 0)


def segment_max(data, segment_ids, *, num_segments: int, mask=None):
    """Maximum of the unmasked rows per segment; empty segments give 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> segment_max(jnp.array([-1.0, -3.0, 4.0]), jnp.array([0, 0, 2]), num_segments=3).tolist()
        [-1.0, 0.0, 4.0]
    """
    data, ids, mask, n = _prepare(data, segment_ids, mask, num_segments)
    out = _scatter("max", jnp.where(_expand(mask, data), data, -jnp.inf), ids, n, -jnp.inf)
    return jnp.where(jnp.isfinite(out), out, 0)


def segment_softmax(logits, segment_ids, *, num_segments: int, mask=None):
    """Softmax of ``logits`` within each segment; masked entries get weight 0.

    Args:
        logits: float ``[..., E]`` or ``[..., E, H]``.
        segment_ids: int ``[..., E]``.
        num_segments: static int (keyword-only).
        mask: optional bool ``[..., E]``.

    Returns:
        Same shape as ``logits``; unmasked weights of a segment sum to 1.

    Examples:
        >>> import jax.numpy as jnp
        >>> w = segment_softmax(jnp.array([0.0, 0.0, 5.0]), jnp.array([0, 0, 1]), num_segments=2)
        >>> w.tolist()
        [0.5, 0.5, 1.0]
    """
    logits, ids, mask, n = _prepare(logits, segment_ids, mask, num_segments)
    m = _expand(mask, logits)
    peak = segment_max(logits, segment_ids, num_segments=n, mask=mask)
    shifted = jnp.where(m, logits - _gather(jax.lax.stop_gradient(peak), ids, n), -jnp.inf)
    e = jnp.where(m, jnp.exp(shifted), 0)
    denom = _scatter("add", e, ids, n, 0)
    return jnp.where(m, e / jnp.maximum(_gather(denom, ids, n), 1e-30), 0)



def neighbour_mean(data, mask):
    """Mean of the unmasked slots of every node; nodes without one give 0.

    Equals ``segment_mean(data.reshape(..., N * k, *F), receivers, num_segments=N,
    mask=mask.reshape(..., N * k))`` for the receiver-grouped edges of a kNN
    :class:`~e2ejax.ops.Graph` (``receivers = repeat(arange(N), k)``) up to float
    rounding, as a masked sum over the ``k`` axis and one division per node.

    Args:
        data: float ``[..., N, k, *F]`` (e.g. from :func:`e2ejax.ops.gather_neighbours`).
        mask: bool ``[..., N, k]``; masked slots are ignored (even non-finite ones).

    Returns:
        ``[..., N, *F]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> neighbour_mean(jnp.array([[1.0, 3.0], [4.0, jnp.inf], [5.0, 6.0]]),
        ...                jnp.array([[True, True], [True, False], [False, False]])).tolist()
        [2.0, 4.0, 0.0]
    """
    check_bool("mask", mask)
    data, mask = jnp.asarray(data), jnp.asarray(mask)
    if not jnp.issubdtype(data.dtype, jnp.floating):
        raise TypeError(f"expected data with a floating dtype (float32), got {data.dtype}")
    ms = mask.shape  # not jnp.shape: jax2onnx traces that into an array
    if len(ms) < 1 or not shapes_equal(data.shape[: len(ms)], ms):
        raise ValueError(
            f"expected mask of shape [..., N, k] matching data [..., N, k, ...], got mask {shape_str(ms)} and data {shape_str(data.shape)}"
        )
    feature = data.shape[len(ms):]
    weight = mask.astype(data.dtype)
    flat = jnp.where(_expand(mask, data), data, 0).reshape(ms + (-1,))
    total = jnp.einsum("...kf,...k->...f", flat, weight)  # a batched dot over the slot axis
    count = jnp.sum(weight, axis=-1, keepdims=True)
    return (total / jnp.maximum(count, 1)).reshape(ms[:-1] + feature)
