"""Fixed-size frames cut around seeds (the E2E cropping, vectorised)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from e2ejax.ops._checks import check_float, check_int, check_positive_int, check_rank, shape_str, shapes_equal

__all__ = ["extract_frames", "frame_offset"]


def frame_offset(size: int) -> int:
    """Index of the seed inside a frame of ``size`` pixels (RecoE2E convention).

    ``size // 2 - 1`` for even sizes, ``size // 2`` for odd sizes, so a 32-pixel
    frame puts the seed at 15 and a 125-pixel frame at 62.

    Examples:
        >>> frame_offset(32), frame_offset(125)
        (15, 62)
    """
    size = check_positive_int("size", size)
    return size // 2 - 1 if size % 2 == 0 else size // 2


def extract_frames(images: jax.Array, seeds: jax.Array, *, height: int, width: int):
    """Cut ``height x width`` frames around seeds; phi (columns) wraps, eta (rows) zero-pads.

    Frame row ``i`` is image row ``seed_row - frame_offset(height) + i`` (zero
    when outside the image) and frame column ``j`` is image column
    ``(seed_col - frame_offset(width) + j) mod W``. No seed is ever dropped: a
    frame that sticks out of the image in eta is zero-padded and flagged by
    ``in_acceptance``. The cut is one gather from the flattened images, so it is
    linear in ``images`` (differentiable) and costs about one pass over the
    frame bytes (no padded copy of the images is made).

    Args:
        images: float ``[B, H, W, C]`` channels-last images.
        seeds: int ``[B, S, 2]`` seed cells ``(row, col)``; any int values
            (rows far outside give all-zero frames, columns wrap).
        height: static frame height (keyword-only).
        width: static frame width (keyword-only).

    Returns:
        ``(frames, in_acceptance)``: frames ``[B, S, height, width, C]`` with the
        images' dtype, and bool ``[B, S]``, true when every frame row lies inside
        the image.

    Raises:
        ValueError: on wrong ranks, mismatched batch sizes or bad sizes.
        TypeError: on non-float images or non-integer seeds.

    Examples:
        >>> import jax.numpy as jnp
        >>> img = jnp.arange(4 * 6, dtype=jnp.float32).reshape(1, 4, 6, 1)
        >>> frames, ok = extract_frames(img, jnp.array([[[0, 0]]]), height=3, width=3)
        >>> frames[0, 0, ..., 0].astype(int).tolist(), ok.tolist()
        ([[0, 0, 0], [5, 0, 1], [11, 6, 7]], [[False]])
    """
    check_rank("images", images, (4,), "[B, H, W, C]")
    check_rank("seeds", seeds, (3,), "[B, S, 2]")
    check_float("images", images)
    check_int("seeds", seeds)
    height = check_positive_int("height", height)
    width = check_positive_int("width", width)
    B, H, W, C = images.shape
    if not shapes_equal(seeds.shape[::2], (B, 2)):
        raise ValueError(
            f"expected seeds of shape [{B}, S, 2] for images of shape {shape_str(images.shape)}, "
            f"got {shape_str(seeds.shape)}"
        )
    images = jnp.asarray(images)
    seeds = jnp.asarray(seeds, jnp.int32)
    rows = seeds[..., 0, None] - frame_offset(height) + jnp.arange(height, dtype=jnp.int32)[None, None, :]
    cols = jnp.mod(seeds[..., 1, None] - frame_offset(width) + jnp.arange(width, dtype=jnp.int32)[None, None, :], W)
    row_inside = (rows >= 0) & (rows < H)  # [B, S, height]
    # rows outside the image index past the end: the gather fills them with zeros
    flat_rows = jnp.where(row_inside, jnp.arange(B, dtype=jnp.int32)[:, None, None] * H + rows, B * H)
    index = flat_rows[..., :, None] * W + cols[..., None, :]  # [B, S, height, width]
    frames = jnp.take(images.reshape(B * H * W, C), index, axis=0, mode="fill", fill_value=0)
    return frames, jnp.all(row_inside, axis=-1)
