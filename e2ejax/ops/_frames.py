"""Fixed-size frames cut around seeds (the E2E cropping, vectorised)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from e2ejax.ops._checks import check_float, check_int, check_positive_int, check_rank, shape_str, shapes_equal

__all__ = ["extract_frames", "frame_offset", "frames_in_acceptance"]


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


def frames_in_acceptance(seeds, *, height: int, rows: int):
    """True where a ``height``-row frame around the seed lies fully inside ``rows`` image rows.

    Args:
        seeds: int ``[..., 2]`` seed cells ``(row, col)``.
        height: static frame height (keyword-only).
        rows: static number of image rows (keyword-only).

    Returns:
        bool ``[...]``, the ``in_acceptance`` of :func:`extract_frames`.

    Examples:
        >>> import jax.numpy as jnp
        >>> frames_in_acceptance(jnp.array([[14, 0], [15, 0]]), height=32, rows=280).tolist()
        [False, True]
    """
    check_int("seeds", seeds)
    top = jnp.asarray(seeds)[..., 0] - frame_offset(height)
    return (top >= 0) & (top + check_positive_int("height", height) <= check_positive_int("rows", rows))


def check_images_and_seeds(name: str, images, seeds, height, width) -> tuple[int, int]:
    """Checks shared by the frame cutters: float ``[B, H, W, C]`` images, int ``[B, S, 2]`` seeds, positive sizes."""
    check_rank(name, images, (4,), "[B, H, W, C]")
    check_rank("seeds", seeds, (3,), "[B, S, 2]")
    check_float(name, images)
    check_int("seeds", seeds)
    B = jnp.shape(images)[0]
    if not shapes_equal(jnp.shape(seeds)[::2], (B, 2)):
        raise ValueError(f"expected seeds of shape [{B}, S, 2] for {name} of shape {shape_str(jnp.shape(images))}, "
                         f"got {shape_str(jnp.shape(seeds))}")
    return check_positive_int("height", height), check_positive_int("width", width)


def extract_frames(images: jax.Array, seeds: jax.Array, *, height: int, width: int):
    """Cut ``height x width`` frames around seeds; phi (columns) wraps, eta (rows) zero-pads.

    Frame row ``i`` is image row ``seed_row - frame_offset(height) + i`` (zero
    when outside the image) and frame column ``j`` is image column
    ``(seed_col - frame_offset(width) + j) mod W``. No seed is ever dropped: a
    frame that sticks out of the image in eta is zero-padded and flagged by
    ``in_acceptance``. The cut is made of gathers from the flattened images
    (see ``_two_segment_frames``), so it is linear in ``images``
    (differentiable) and costs about one pass over the frame bytes (no padded
    copy of the images is made).

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
    height, width = check_images_and_seeds("images", images, seeds, height, width)
    B, H, W, C = images.shape
    images = jnp.asarray(images)
    seeds = jnp.asarray(seeds, jnp.int32)
    # image row of every frame row, [B, S, height]
    rows = seeds[..., 0, None] - frame_offset(height) + jnp.arange(height, dtype=jnp.int32)[None, None, :]
    row_inside = (rows >= 0) & (rows < H)
    # static choice: contiguous row slices whenever a frame row wraps at most once and
    # flat element offsets fit in int32 (slice starts reach about one frame past the end)
    if width <= W and (B * H + height + 2) * W * C < _INT32_LIMIT:
        frames = _two_segment_frames(images, rows, row_inside, seeds[..., 1], width)
    else:
        frames = _pixel_gather_frames(images, rows, row_inside, seeds[..., 1], width)
    return frames, jnp.all(row_inside, axis=-1)


# flat element offsets are int32
_INT32_LIMIT = 2**31 - 1


def _pixel_gather_frames(images, rows, row_inside, seed_cols, width):
    """Frames by one gather of single pixels (any width, also frames wider than the image).

    Slower on XLA CPU than ``_two_segment_frames`` (the index arithmetic is done
    per pixel) but valid for every shape; used when ``width > W`` (a frame row
    wraps more than once) or when flat element offsets would overflow int32.
    """
    B, H, W, C = images.shape
    cols = jnp.mod(seed_cols[..., None] - frame_offset(width) + jnp.arange(width, dtype=jnp.int32)[None, None, :], W)
    # rows outside the image index past the end: the gather fills them with zeros
    flat_rows = jnp.where(row_inside, jnp.arange(B, dtype=jnp.int32)[:, None, None] * H + rows, B * H)
    index = flat_rows[..., :, None] * W + cols[..., None, :]  # [B, S, height, width]
    return jnp.take(images.reshape(B * H * W, C), index, axis=0, mode="fill", fill_value=0)


def _two_segment_frames(images, rows, row_inside, seed_cols, width):
    """Frames from contiguous slices of the flattened images, one per frame row (``width <= W``).

    A frame row starting at column ``c0`` covers image columns ``c0 .. W-1`` then,
    when it wraps, ``0 .. c0+width-W-1``. In the flattened ``[B*H*W*C]`` images
    the slice of ``width*C`` elements starting at ``(row, c0)`` holds the first
    part at the right place, and the slice starting one image row earlier,
    at ``(row-1, c0)``, holds the wrapped part at the right place (its tail runs
    into ``row``). So one gather of ``height + 1`` contiguous slices per seed (the
    frame rows and the row above) gives every frame row as a per-column select
    between slice ``i+1`` and slice ``i``: no per-pixel index arithmetic, which
    is what makes this faster than a pixel gather on XLA CPU (measured in
    ``benchmarks/ops.py``).

    Only two image rows have no neighbour to borrow from: the first row of event 0
    (no row before it) and the last row of event ``B-1`` (its slice would run
    past the end). Slice starts are clamped into the array and frame rows on
    those two image rows are overwritten with exact pixel gathers (at most one
    frame row per seed, only for seeds of those events). Rows outside the image
    are zeroed by a select. Linear in ``images``: the gradient is a scatter-add
    of the slices and of the two fixed rows.
    """
    B, H, W, C = images.shape
    S, height = rows.shape[1:]
    flat = images.reshape(B * H * W * C)
    c0 = jnp.mod(seed_cols - frame_offset(width), W)  # [B, S] first frame column
    # slice k starts at image row rows[0] - 1 + k, column c0 (the index arithmetic is kept
    # minimal: XLA fuses it into the gather loop); the clip on the first row only keeps
    # int32 from overflowing for seeds far outside the image
    top = jnp.clip(rows[..., 0] - 1, -height - 1, H)  # [B, S]
    first = ((jnp.arange(B, dtype=jnp.int32)[:, None] * H + top) * W + c0) * C
    step = jnp.arange(height + 1, dtype=jnp.int32)[None, None, :] * (W * C)
    start = jnp.clip(first[..., None] + step, 0, (B * H * W - width) * C)  # [B, S, height + 1]
    dnums = jax.lax.GatherDimensionNumbers(offset_dims=(3,), collapsed_slice_dims=(), start_index_map=(0,))
    slices = jax.lax.gather(
        flat, start[..., None], dnums, (width * C,), mode=jax.lax.GatherScatterMode.PROMISE_IN_BOUNDS
    )  # [B, S, height + 1, width*C]
    same_row, row_before = slices[:, :, 1:], slices[:, :, :-1]
    column = jnp.arange(width * C, dtype=jnp.int32)[None, None, None, :] // C
    not_wrapped = column < W - c0[..., None, None]  # [B, S, 1, width*C]
    inside = row_inside[..., None]
    frames = jnp.where(inside & not_wrapped, same_row, jnp.where(inside, row_before, jnp.zeros((), images.dtype)))
    # exact frame rows for image row 0 of event 0 and row H-1 of event B-1
    cols = jnp.mod(c0[..., None] + jnp.arange(width, dtype=jnp.int32)[None, None, :], W)  # [B, S, width]
    fixed = (images[0, 0][cols[0]], images[B - 1, H - 1][cols[B - 1]])  # 2 x [S, width, C]
    at_row = (-rows[0, :, 0], H - 1 - rows[B - 1, :, 0])  # frame row on those image rows, [S]
    # XLA CPU keeps the scatter in place with the [.., width*C] layout for C > 1 but adds a
    # layout copy for C == 1; the [.., width, 1] layout avoids it (same data, no copy)
    if C == 1:
        frames = frames.reshape(B, S, height, width, C)
    else:
        fixed = tuple(f.reshape(S, width * C) for f in fixed)
    seed_index = jnp.arange(S)
    for event, at, values in zip((0, B - 1), at_row, fixed):
        at = jnp.where((at >= 0) & (at < height), at, height)  # not on that row: dropped
        frames = frames.at[event, seed_index, at].set(values, mode="drop", unique_indices=True)
    return frames.reshape(B, S, height, width, C)
