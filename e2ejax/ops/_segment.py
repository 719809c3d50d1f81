"""Masked segment reductions for padded graphs (sum, mean, max, softmax)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from e2ejax.ops._checks import check_bool, check_int, check_positive_int, shape_str

__all__ = ["segment_sum", "segment_mean", "segment_max", "segment_softmax"]


def _prepare(data, segment_ids, mask, num_segments):
    num_segments = check_positive_int("num_segments", num_segments)
    check_int("segment_ids", segment_ids)
    data = jnp.asarray(data)
    if jnp.ndim(segment_ids) != 1 or data.shape[:1] != jnp.shape(segment_ids):
        raise ValueError(
            f"expected segment_ids of shape [E] matching data [E, ...], got segment_ids "
            f"{shape_str(jnp.shape(segment_ids))} and data {shape_str(data.shape)}"
        )
    if mask is None:
        mask = jnp.ones(data.shape[:1], bool)
    else:
        check_bool("mask", mask)
        if jnp.shape(mask) != jnp.shape(segment_ids):
            raise ValueError(f"expected mask of shape {shape_str(jnp.shape(segment_ids))}, got {shape_str(jnp.shape(mask))}")
    ids = jnp.where(mask, segment_ids, num_segments).astype(jnp.int32)  # masked: out of range, dropped
    return data, ids, mask, num_segments


def _expand(mask, like):
    return mask.reshape(mask.shape + (1,) * (like.ndim - 1))


def segment_sum(data, segment_ids, *, num_segments: int, mask=None):
    """Sum of ``data`` rows per segment; masked rows contribute nothing.

    Args:
        data: float ``[E, ...]``.
        segment_ids: int ``[E]``; ids outside ``[0, num_segments)`` are dropped.
        num_segments: static int (keyword-only).
        mask: optional bool ``[E]``.

    Returns:
        ``[num_segments, ...]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> segment_sum(jnp.array([1.0, 2.0, 4.0]), jnp.array([0, 0, 1]), num_segments=2,
        ...             mask=jnp.array([True, False, True])).tolist()
        [1.0, 4.0]
    """
    data, ids, mask, n = _prepare(data, segment_ids, mask, num_segments)
    data = jnp.where(_expand(mask, data), data, 0)
    return jax.ops.segment_sum(data, ids, num_segments=n)


def segment_mean(data, segment_ids, *, num_segments: int, mask=None):
    """Mean of the unmasked rows per segment; empty segments give 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> segment_mean(jnp.array([1.0, 3.0, 4.0]), jnp.array([0, 0, 2]), num_segments=3).tolist()
        [2.0, 0.0, 4.0]
    """
    data, ids, mask, n = _prepare(data, segment_ids, mask, num_segments)
    total = jax.ops.segment_sum(jnp.where(_expand(mask, data), data, 0), ids, num_segments=n)
    count = jax.ops.segment_sum(mask.astype(data.dtype), ids, num_segments=n)
    count = count.reshape(count.shape + (1,) * (data.ndim - 1))
    return jnp.where(count > 0, total / jnp.maximum(count, 1), 0)


def segment_max(data, segment_ids, *, num_segments: int, mask=None):
    """Maximum of the unmasked rows per segment; empty segments give 0.

    Examples:
        >>> import jax.numpy as jnp
        >>> segment_max(jnp.array([-1.0, -3.0, 4.0]), jnp.array([0, 0, 2]), num_segments=3).tolist()
        [-1.0, 0.0, 4.0]
    """
    data, ids, mask, n = _prepare(data, segment_ids, mask, num_segments)
    data = jnp.where(_expand(mask, data), data, -jnp.inf)
    out = jax.ops.segment_max(data, ids, num_segments=n)
    return jnp.where(jnp.isfinite(out), out, 0)


def segment_softmax(logits, segment_ids, *, num_segments: int, mask=None):
    """Softmax of ``logits`` within each segment; masked entries get weight 0.

    Args:
        logits: float ``[E]`` or ``[E, H]``.
        segment_ids: int ``[E]``.
        num_segments: static int (keyword-only).
        mask: optional bool ``[E]``.

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
    peak = jax.lax.stop_gradient(segment_max(logits, segment_ids, num_segments=n, mask=mask))
    shifted = jnp.where(m, logits - peak[jnp.clip(ids, 0, n - 1)], -jnp.inf)
    e = jnp.where(m, jnp.exp(shifted), 0)
    denom = jax.ops.segment_sum(e, ids, num_segments=n)
    return jnp.where(m, e / jnp.maximum(denom[jnp.clip(ids, 0, n - 1)], 1e-30), 0)
