"""Seed finding: the hottest cell in a window around a jet axis or an e/gamma candidate."""

from __future__ import annotations

import jax.numpy as jnp

from e2ejax import geometry
from e2ejax.ops._hit_frames import hits_to_frames
from e2ejax.ops._checks import (
    check_bool, check_float, check_int, check_positive_int, check_rank, check_shape2, shape_str, shapes_equal,
)

__all__ = ["window_argmax", "hits_window_argmax", "jet_seeds", "egamma_seeds"]


def _check_centres(image, centres, mask, layout):
    check_rank("image", image, (3,), layout)
    check_rank("centres", centres, (3,), "[B, S, 2]")
    check_float("image", image)
    check_int("centres", centres)
    check_bool("mask", mask)
    B = image.shape[0]
    if not (shapes_equal(centres.shape[::2], (B, 2)) and shapes_equal(mask.shape, centres.shape[:2])):
        raise ValueError(
            f"expected centres [{B}, S, 2] and mask [{B}, S] for image {shape_str(image.shape)}, "
            f"got centres {shape_str(centres.shape)} and mask {shape_str(mask.shape)}"
        )


def window_argmax(image, centres, mask, *, window: int):
    """Cell of the largest value in a ``window x window`` box around each centre.

    Columns (phi) wrap; rows outside the image are not candidates; centre rows
    outside the image are first clipped into it. Ties go to the first cell in
    row-major window order. When no cell in the window is positive, or the
    centre is masked, the (clipped) centre itself is returned.

    Args:
        image: float ``[B, H, W]``.
        centres: int ``[B, S, 2]`` cells ``(row, col)``.
        mask: bool ``[B, S]``.
        window: static odd positive int (keyword-only).

    Returns:
        int32 ``[B, S, 2]`` cells.

    Examples:
        >>> import jax.numpy as jnp
        >>> img = jnp.zeros((1, 5, 6)).at[0, 1, 5].set(3.0)
        >>> window_argmax(img, jnp.array([[[0, 0]]]), jnp.array([[True]]), window=3).tolist()
        [[[1, 5]]]
    """
    _check_centres(image, centres, mask, "[B, H, W]")
    window = check_positive_int("window", window)
    if window % 2 == 0:
        raise ValueError(f"expected an odd window so the centre is a cell, got window={window}")
    B, H, W = image.shape
    r0, c0, rows, cols, inside = _window_cells(centres, H, W, window)
    b = jnp.arange(B)[:, None, None, None]
    values = image[b, jnp.clip(rows, 0, H - 1)[..., :, None], cols[..., None, :]]
    return _best_cell(values, rows, cols, inside, r0, c0, mask)


def _window_cells(centres, H, W, window):
    """Clipped centres ``r0, c0`` ``[B, S]``, window rows / columns ``[B, S, window]`` (columns wrap) and rows inside."""
    half = window // 2
    offsets = jnp.arange(-half, half + 1, dtype=jnp.int32)[None, None, :]
    r0 = jnp.clip(jnp.asarray(centres)[..., 0].astype(jnp.int32), 0, H - 1)
    c0 = jnp.mod(jnp.asarray(centres)[..., 1].astype(jnp.int32), W)
    rows = r0[..., None] + offsets
    return r0, c0, rows, jnp.mod(c0[..., None] + offsets, W), (rows >= 0) & (rows < H)


def _best_cell(values, rows, cols, inside, r0, c0, mask):
    """The cell of the largest positive value of ``[B, S, w, w]`` windows (first in row-major order),
    else the centre ``(r0, c0)``; rows outside the image (``inside`` false) are not candidates."""
    B, S, window = rows.shape
    values = jnp.where(inside[..., :, None], values, -jnp.inf).reshape(B, S, window * window)
    best = jnp.argmax(values, axis=-1)
    use_best = mask & (jnp.max(values, axis=-1) > 0)
    best_row = jnp.take_along_axis(rows, (best // window)[..., None], axis=-1)[..., 0]
    best_col = jnp.take_along_axis(cols, (best % window)[..., None], axis=-1)[..., 0]
    return jnp.stack([jnp.where(use_best, best_row, r0), jnp.where(use_best, best_col, c0)], -1).astype(jnp.int32)


def hits_window_argmax(rows, cols, values, hit_mask, centres, mask, *, shape, window: int):
    """:func:`window_argmax` of the image the hits sum to, without building the image.

    The ``window x window`` boxes are summed from the hits (:func:`e2ejax.ops.hits_to_frames`
    around the clipped centres), then the same choice is made: the largest positive cell,
    ties to the first in row-major order, else the clipped centre.

    Args:
        rows, cols: int ``[B, N]`` hit cells in the ``shape`` grid; values: float ``[B, N]``;
        hit_mask: bool ``[B, N]``.
        centres: int ``[B, S, 2]``; mask: bool ``[B, S]``.
        shape: static ``(H, W)`` (keyword-only); window: static odd positive int (keyword-only).

    Returns:
        int32 ``[B, S, 2]`` cells, equal to
        ``window_argmax(hits_to_image(rows, cols, values, hit_mask, shape=shape), centres, mask, window=window)``.

    Examples:
        >>> import jax.numpy as jnp
        >>> hits_window_argmax(jnp.array([[1, 4]]), jnp.array([[5, 5]]), jnp.array([[3.0, 9.0]]),
        ...                    jnp.array([[True, True]]), jnp.array([[[0, 0]]]), jnp.array([[True]]),
        ...                    shape=(5, 6), window=3).tolist()
        [[[1, 5]]]
    """
    H, W = check_shape2("shape", shape)
    window = check_positive_int("window", window)
    if window % 2 == 0:
        raise ValueError(f"expected an odd window so the centre is a cell, got window={window}")
    check_rank("centres", centres, (3,), "[B, S, 2]")
    check_int("centres", centres)
    check_bool("mask", mask)
    r0, c0, box_rows, box_cols, inside = _window_cells(centres, H, W, window)
    boxes, _ = hits_to_frames(rows, cols, values, hit_mask, jnp.stack([r0, c0], -1), shape=(H, W), height=window, width=window)
    return _best_cell(boxes, box_rows, box_cols, inside, r0, c0, jnp.asarray(mask))


def jet_seeds(hbhe, axes, mask, *, window: int = 7):
    """Jet seeds: the highest-energy HBHE tower in a 7 x 7 tower window around the jet axis.

    Args:
        hbhe: float ``[B, 56, 72]`` tower energies (see :func:`e2ejax.ops.hbhe_towers`).
        axes: int ``[B, S, 2]`` tower ``(row, col)`` of each jet axis
            (:func:`e2ejax.geometry.eta_phi_to_cell` with grid ``"HBHE"``).
        mask: bool ``[B, S]``, true for real jets.
        window: static odd window size in towers (keyword-only).

    Returns:
        ``(seeds, mask)``: int32 ``[B, S, 2]`` crystal cells ``(5 row + 2, 5 col + 2)``
        of the seed tower in the stitched 280 x 360 grid, and the input mask.
        Jets at any eta are kept (RecoE2E dropped ``|ieta_tower| > 16``).

    Examples:
        >>> import jax.numpy as jnp
        >>> hb = jnp.zeros((1, 56, 72)).at[0, 30, 71].set(5.0)
        >>> seeds, m = jet_seeds(hb, jnp.array([[[28, 1]]]), jnp.array([[True]]))
        >>> seeds.tolist()
        [[[152, 357]]]
    """
    check_rank("hbhe", hbhe, (3,), "[B, 56, 72]")
    if not shapes_equal(hbhe.shape[1:], geometry.HBHE.shape):
        raise ValueError(f"expected hbhe of shape [B, 56, 72], got {shape_str(hbhe.shape)}")
    tower = window_argmax(hbhe, axes, mask, window=window)
    row, col = geometry.tower_to_crystal_centre(tower[..., 0], tower[..., 1])
    return jnp.stack([row, col], -1), mask


def egamma_seeds(ecal, centres, mask, *, window: int = 5):
    """e/gamma seeds: the highest-energy crystal in a window around each candidate.

    Args:
        ecal: float ``[B, 280, 360]`` stitched ECAL energies.
        centres: int ``[B, S, 2]`` candidate cells ``(row, col)`` in that grid.
        mask: bool ``[B, S]``.
        window: static odd window size in crystals (keyword-only).

    Returns:
        ``(seeds, mask)``: int32 ``[B, S, 2]`` and the input mask.

    Examples:
        >>> import jax.numpy as jnp
        >>> ecal = jnp.zeros((1, 280, 360)).at[0, 141, 2].set(9.0)
        >>> egamma_seeds(ecal, jnp.array([[[140, 0]]]), jnp.array([[True]]))[0].tolist()
        [[[141, 2]]]
    """
    check_rank("ecal", ecal, (3,), "[B, 280, 360]")
    if not shapes_equal(ecal.shape[1:], geometry.ECAL.shape):
        raise ValueError(f"expected ecal of shape [B, 280, 360], got {shape_str(ecal.shape)}")
    return window_argmax(ecal, centres, mask, window=window), mask
