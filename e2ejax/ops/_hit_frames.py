"""Frames summed straight from hits: the image and the cut in one scatter, no full-detector image."""

from __future__ import annotations

import jax.numpy as jnp

from e2ejax.ops._checks import (
    check_bool,
    check_float,
    check_int,
    check_positive_int,
    check_rank,
    check_same_shape,
    check_shape2,
    shape_str,
    shapes_equal,
)
from e2ejax.ops._frames import frame_offset, frames_in_acceptance

__all__ = ["hits_to_frames"]


def hits_to_frames(rows, cols, values, mask, seeds, *, shape, height, width):
    """Sum padded hits directly into ``height x width`` frames around seeds.

    Equal (up to float summation order) to
    ``extract_frames(hits_to_image(rows, cols, values, mask, shape=shape)[..., None], seeds, ...)``
    but the ``[B, H, W]`` image is never built: every hit is placed in the frame of
    every seed of its event (frame row ``row - seed_row + frame_offset(height)``,
    frame column ``(col - seed_col + frame_offset(width)) mod W``) by one
    scatter-add, and hits falling outside a frame are dropped. The work is
    ``B x S x N`` index computations plus one pass over the frame bytes, instead
    of ``B x H x W`` image cells and a second pass to cut them: the cheaper path
    whenever frames cover a fraction of the detector (125 x 125 jet frames on the
    280 x 360 grid). Same conventions as :func:`extract_frames`: phi (columns)
    wraps, rows outside the image are zero, no seed is dropped. Linear in
    ``values`` (the gradient is a gather).

    Args:
        rows: int ``[B, N]`` hit rows in the ``shape`` grid.
        cols: int ``[B, N]`` hit columns.
        values: float ``[B, N]`` or ``[B, N, C]`` hit values.
        mask: bool ``[B, N]``, true for real hits; hits outside the grid are ignored.
        seeds: int ``[B, S, 2]`` seed cells ``(row, col)``.
        shape: static ``(H, W)`` of the grid (keyword-only).
        height: static frame height (keyword-only).
        width: static frame width, at most ``W`` (keyword-only).

    Returns:
        ``(frames, in_acceptance)``: ``[B, S, height, width]`` (or ``[..., C]``) with the
        dtype of ``values``, and bool ``[B, S]``, true when every frame row lies inside
        the grid.

    Raises:
        ValueError: on mismatched shapes, bad sizes or ``width > W``.
        TypeError: on wrong dtypes.

    Examples:
        >>> import jax.numpy as jnp
        >>> frames, ok = hits_to_frames(jnp.array([[0, 1]]), jnp.array([[5, 0]]), jnp.array([[2.0, 3.0]]),
        ...                             jnp.array([[True, True]]), jnp.array([[[0, 0]]]),
        ...                             shape=(4, 6), height=3, width=3)
        >>> frames[0, 0].astype(int).tolist(), ok.tolist()
        ([[0, 0, 0], [2, 0, 0], [0, 3, 0]], [[False]])
    """
    H, W = check_shape2("shape", shape)
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    if width > W:
        raise ValueError(f"expected width <= {W} (the grid width) so a hit lands in at most one frame column, got width={width}")
    check_rank("rows", rows, (2,), "[B, N]")
    check_rank("values", values, (2, 3), "[B, N] or [B, N, C]")
    check_rank("seeds", seeds, (3,), "[B, S, 2]")
    check_same_shape(("rows", "cols", "mask"), (rows, cols, mask), expected=jnp.shape(rows))
    if not shapes_equal(jnp.shape(values)[:2], jnp.shape(rows)):
        raise ValueError(f"expected values of shape {shape_str(jnp.shape(rows))} (+ channels), got {shape_str(jnp.shape(values))}")
    check_int("rows", rows)
    check_int("cols", cols)
    check_float("values", values)
    check_bool("mask", mask)
    check_int("seeds", seeds)
    B, N = jnp.shape(rows)
    if not shapes_equal(jnp.shape(seeds)[::2], (B, 2)):
        raise ValueError(f"expected seeds of shape [{B}, S, 2] for hits of shape {shape_str((B, N))}, got {shape_str(jnp.shape(seeds))}")
    S = jnp.shape(seeds)[1]
    values = jnp.asarray(values)
    channels = values.shape[2:]
    rows = jnp.asarray(rows, jnp.int32)
    cols = jnp.asarray(cols, jnp.int32)
    seeds = jnp.asarray(seeds, jnp.int32)
    top = seeds[..., 0] - frame_offset(height)  # [B, S] image row of frame row 0
    left = seeds[..., 1] - frame_offset(width)
    on_grid = (mask & (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W))[:, None, :]
    frame_row = rows[:, None, :] - top[..., None]  # [B, S, N]
    frame_col = jnp.mod(cols[:, None, :] - left[..., None], W)
    inside = on_grid & (frame_row >= 0) & (frame_row < height) & (frame_col < width)
    frame = jnp.arange(B * S, dtype=jnp.int32).reshape(B, S, 1)
    index = jnp.where(inside, (frame * height + frame_row) * width + frame_col, B * S * height * width)
    updates = jnp.broadcast_to(values[:, None], (B, S, N) + channels)
    frames = jnp.zeros((B * S * height * width,) + channels, values.dtype)
    frames = frames.at[index.reshape(-1)].add(updates.reshape((-1,) + channels), mode="drop")
    return frames.reshape((B, S, height, width) + channels), frames_in_acceptance(seeds, height=height, rows=H)
