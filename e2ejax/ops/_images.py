"""Detector hits -> dense images: a masked segment sum onto a grid, per detector."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from e2ejax import geometry
from e2ejax.conventions import check_track_impact
from e2ejax.ops._checks import (
    check_bool,
    check_float,
    check_int,
    check_rank,
    check_same_shape,
    check_shape2,
    shapes_equal,
)

__all__ = [
    "hits_to_image",
    "endcap_hits_to_image",
    "stitch_ecal",
    "hbhe_towers",
    "track_image",
    "safe_divide",
]


def hits_to_image(rows, cols, values, mask, *, shape):
    """Sum padded hits into a grid with one segment sum.

    A hit contributes ``values`` at ``(row, col)``; hits whose mask is false or
    whose cell is outside ``[0, H) x [0, W)`` contribute nothing (padding
    slots may hold any finite value). Linear in ``values``.

    Args:
        rows: int ``[B, N]`` hit rows.
        cols: int ``[B, N]`` hit columns.
        values: float ``[B, N]`` or ``[B, N, C]`` hit values.
        mask: bool ``[B, N]``, true for real hits.
        shape: static ``(H, W)`` of the grid (keyword-only).

    Returns:
        ``[B, H, W]`` (or ``[B, H, W, C]``) with the dtype of ``values``.

    Raises:
        ValueError: on mismatched shapes or a bad ``shape``.
        TypeError: on wrong dtypes.

    Examples:
        >>> import jax.numpy as jnp
        >>> img = hits_to_image(jnp.array([[0, 0, 1]]), jnp.array([[1, 1, 0]]),
        ...                     jnp.array([[1.0, 2.0, 5.0]]), jnp.array([[True, True, False]]),
        ...                     shape=(2, 2))
        >>> img[0].tolist()
        [[0.0, 3.0], [0.0, 0.0]]
    """
    H, W = check_shape2("shape", shape)
    check_rank("rows", rows, (2,), "[B, N]")
    check_rank("values", values, (2, 3), "[B, N] or [B, N, C]")
    check_same_shape(("rows", "cols", "mask"), (rows, cols, mask), expected=jnp.shape(rows))
    check_same_shape(("rows", "values[..., 0]"), (rows, jnp.zeros(jnp.shape(values)[:2])))
    check_int("rows", rows)
    check_int("cols", cols)
    check_float("values", values)
    check_bool("mask", mask)
    values = jnp.asarray(values)
    B = values.shape[0]
    valid = mask & (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)
    segment = jnp.arange(B, dtype=jnp.int32)[:, None] * (H * W) + rows * W + cols
    segment = jnp.where(valid, segment, B * H * W)  # out of range: dropped by segment_sum
    flat = jax.ops.segment_sum(
        values.reshape((-1,) + values.shape[2:]), segment.reshape(-1).astype(jnp.int32),
        num_segments=B * H * W,
    )
    return flat.reshape((B, H, W) + values.shape[2:])


def endcap_hits_to_image(eta, phi, energy, mask, *, side):
    """Bin EE hits given as ``(eta, phi, E)`` onto the 55 pseudo-crystal rows of one side.

    Row ``i`` of the result is row ``i`` of the stitched image for ``side="minus"``
    and row ``225 + i`` for ``side="plus"`` (see :mod:`e2ejax.geometry`); hits on
    the other side, inside the barrel or beyond ``|eta| = 3`` are ignored.

    Args:
        eta: float ``[B, N]``.
        phi: float ``[B, N]`` in radians.
        energy: float ``[B, N]``.
        mask: bool ``[B, N]``.
        side: ``"minus"`` or ``"plus"`` (keyword-only).

    Returns:
        float ``[B, 55, 360]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> img = endcap_hits_to_image(jnp.array([[2.99, -2.99]]), jnp.zeros((1, 2)),
        ...                            jnp.array([[1.0, 4.0]]), jnp.ones((1, 2), bool), side="plus")
        >>> float(img[0, 54, 180]), float(img.sum())
        (1.0, 1.0)
    """
    if side not in ("minus", "plus"):
        raise ValueError(f"expected side='minus' or side='plus', got side={side!r}")
    check_same_shape(("eta", "phi", "energy", "mask"), (eta, phi, energy, mask))
    check_float("eta", eta)
    row = geometry.eta_to_row(jnp.asarray(eta), geometry.ECAL)
    if side == "plus":
        row = jnp.where(row >= geometry.EEP_ROW_OFFSET, row - geometry.EEP_ROW_OFFSET, -1)
    else:
        row = jnp.where(row < geometry.EE_ROWS, row, -1)
    col = geometry.phi_to_col(jnp.asarray(phi), geometry.ECAL)
    return hits_to_image(row, col, energy, mask, shape=(geometry.EE_ROWS, 360))


def stitch_ecal(ee_minus, eb, ee_plus):
    """Stitch EE-, EB and EE+ images into the 280 x 360 ECAL image.

    Args:
        ee_minus: ``[B, 55, 360, ...]``.
        eb: ``[B, 170, 360, ...]``.
        ee_plus: ``[B, 55, 360, ...]``.

    Returns:
        ``[B, 280, 360, ...]``: rows 0-54 EE-, 55-224 EB, 225-279 EE+.

    Examples:
        >>> import jax.numpy as jnp
        >>> stitch_ecal(jnp.zeros((2, 55, 360)), jnp.ones((2, 170, 360)), jnp.zeros((2, 55, 360))).shape
        (2, 280, 360)
    """
    for name, x, rows in (("ee_minus", ee_minus, 55), ("eb", eb, 170), ("ee_plus", ee_plus, 55)):
        if jnp.ndim(x) < 3 or not shapes_equal(jnp.shape(x)[1:3], (rows, 360)):
            raise ValueError(f"expected {name} of shape [B, {rows}, 360, ...], got shape {tuple(jnp.shape(x))}")
    if not (jnp.shape(ee_minus)[0] == jnp.shape(eb)[0] == jnp.shape(ee_plus)[0]):
        raise ValueError(
            "expected ee_minus, eb and ee_plus with the same batch size, got "
            f"{jnp.shape(ee_minus)[0]}, {jnp.shape(eb)[0]}, {jnp.shape(ee_plus)[0]}"
        )
    return jnp.concatenate([ee_minus, eb, ee_plus], axis=1)


def hbhe_towers(ieta, iphi, energy, mask):
    """HCAL hits with CMS tower indices -> ``[B, 56, 72]`` tower image.

    HCAL ieta 29 is merged into 28 and towers with ``|ieta| > 20`` (10 degrees
    wide, labelled by odd iphi) are split 50/50 over their two 5-degree columns
    (:func:`e2ejax.geometry.hbhe_wide_tower_split`).

    Args:
        ieta: int ``[B, N]``; iphi: int ``[B, N]``; energy: float ``[B, N]``; mask: bool ``[B, N]``.

    Returns:
        float ``[B, 56, 72]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> t = hbhe_towers(jnp.array([[21, 1]]), jnp.array([[1, 1]]), jnp.array([[4.0, 1.0]]),
        ...                 jnp.ones((1, 2), bool))
        >>> t[0, 48, 36:38].tolist(), float(t[0, 28, 36])
        ([2.0, 2.0], 1.0)
    """
    check_same_shape(("ieta", "iphi", "energy", "mask"), (ieta, iphi, energy, mask))
    check_rank("ieta", ieta, (2,), "[B, N]")
    check_int("ieta", ieta)
    check_int("iphi", iphi)
    split = jax.vmap(geometry.hbhe_wide_tower_split)
    rows, cols, values = split(jnp.asarray(ieta), jnp.asarray(iphi), jnp.asarray(energy))
    return hits_to_image(rows, cols, values, jnp.concatenate([mask, mask], axis=1), shape=geometry.HBHE.shape)


def safe_divide(num, den):
    """``num / den`` where ``den > 0``, else 0, with finite gradients everywhere.

    The per-cell means of the track channels (``sum(pT d0) / sum(pT)``) use it so
    that empty cells are 0 rather than NaN, also under ``jax.grad``.

    Args:
        num: float array.
        den: float array broadcastable with ``num``.

    Returns:
        float array of the broadcast shape.

    Examples:
        >>> import jax.numpy as jnp
        >>> safe_divide(jnp.array([1.0, 2.0]), jnp.array([4.0, 0.0])).tolist()
        [0.25, 0.0]
    """
    positive = den > 0
    return jnp.where(positive, num / jnp.where(positive, den, 1), 0)


def track_image(eta, phi, pt, d0, dz, mask, *, shape=(280, 360), impact: str = "pt_weighted"):
    """Track channels on the stitched ECAL grid: pT sum, mean d0 and dz per cell.

    Tracks are placed at their ``(eta, phi)`` on the ECAL surface. Channel 0 is
    the scalar pT sum in the cell; channels 1 and 2 are the cell's d0 and dz:
    with ``impact="pt_weighted"`` ``sum(pT d0) / sum(pT)`` and ``sum(pT dz) / sum(pT)``
    (the hardest track of a shared cell dominates; differentiable in every input),
    with ``impact="mean"`` the plain average over the cell's tracks (what the
    MLAnalyzer producers store); 0 in empty cells.

    Args:
        eta, phi, pt, d0, dz: float ``[B, N]``.
        mask: bool ``[B, N]``.
        shape: static grid shape; only ``(280, 360)`` (stitched ECAL) is binned.
        impact: ``"pt_weighted"`` or ``"mean"`` (:data:`e2ejax.conventions.TRACK_IMPACT`).

    Returns:
        float ``[B, 280, 360, 3]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> args = (*(jnp.array([[0.01, 0.01]]),) * 2, jnp.array([[1.0, 3.0]]),
        ...         jnp.array([[0.4, 0.0]]), jnp.array([[0.0, 2.0]]), jnp.ones((1, 2), bool))
        >>> [round(float(v), 3) for v in track_image(*args).sum((0, 1, 2))]
        [4.0, 0.1, 1.5]
        >>> [round(float(v), 3) for v in track_image(*args, impact="mean").sum((0, 1, 2))]
        [4.0, 0.2, 1.0]
    """
    if tuple(shape) != geometry.ECAL.shape:
        raise ValueError(f"expected shape={geometry.ECAL.shape} (stitched ECAL grid), got {tuple(shape)}")
    check_track_impact(impact)
    check_same_shape(("eta", "phi", "pt", "d0", "dz", "mask"), (eta, phi, pt, d0, dz, mask))
    check_float("pt", pt)
    row, col = geometry.eta_phi_to_cell(jnp.asarray(eta), jnp.asarray(phi), geometry.ECAL)
    weight = pt if impact == "pt_weighted" else jnp.ones_like(pt)
    values = jnp.stack([pt, weight * d0, weight * dz, weight], axis=-1)
    sums = hits_to_image(row, col, values, mask, shape=geometry.ECAL.shape)
    norm = sums[..., 3]
    return jnp.stack([sums[..., 0], safe_divide(sums[..., 1], norm), safe_divide(sums[..., 2], norm)], axis=-1)
