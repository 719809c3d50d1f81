"""HBHE towers -> crystal granularity, energy-conserving."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from e2ejax.ops._checks import check_float, check_positive_int, check_rank
from e2ejax.ops._frames import check_images_and_seeds, frame_offset

__all__ = ["upsample", "upsampled_frames"]


def upsample(towers: jax.Array, *, factor: int = 5) -> jax.Array:
    """Copy each tower into ``factor x factor`` cells, dividing by ``factor**2``.

    As RecoE2E's FrameStriding: the total energy is unchanged, so a 56 x 72
    HBHE image becomes a 280 x 360 image on the stitched ECAL grid.

    Args:
        towers: float ``[B, H, W, C]``.
        factor: static positive int (keyword-only).

    Returns:
        ``[B, H * factor, W * factor, C]``, same dtype.

    Examples:
        >>> import jax.numpy as jnp
        >>> up = upsample(jnp.ones((1, 56, 72, 1)) * 25.0)
        >>> up.shape, float(up[0, 0, 0, 0]), float(up.sum())
        ((1, 280, 360, 1), 1.0, 100800.0)
    """
    check_rank("towers", towers, (4,), "[B, H, W, C]")
    check_float("towers", towers)
    factor = check_positive_int("factor", factor)
    B, H, W, C = towers.shape
    scaled = towers / jnp.asarray(factor * factor, towers.dtype)
    tiled = jnp.broadcast_to(scaled[:, :, None, :, None, :], (B, H, factor, W, factor, C))
    return tiled.reshape(B, H * factor, W * factor, C)


def upsampled_frames(towers: jax.Array, seeds: jax.Array, *, height: int, width: int, factor: int = 5) -> jax.Array:
    """Frames of the upsampled towers around seeds, without building the upsampled image.

    Equal to ``extract_frames(upsample(towers, factor=factor), seeds, height=height,
    width=width)[0]``: frame pixel ``(i, j)`` is cell ``(r, c)`` of the upsampled grid
    (rows from ``seed_row - frame_offset(height)``, columns wrapping), i.e. tower
    ``(r // factor, c // factor)`` divided by ``factor**2``, and zero for rows outside.
    A gather of ``height x width`` values per seed instead of ``H W factor**2`` cells
    per event; linear in ``towers``.

    Args:
        towers: float ``[B, H, W, C]``.
        seeds: int ``[B, S, 2]`` seed cells ``(row, col)`` in the upsampled grid.
        height: static frame height (keyword-only).
        width: static frame width (keyword-only).
        factor: static positive int (keyword-only).

    Returns:
        ``[B, S, height, width, C]``, same dtype as ``towers``.

    Examples:
        >>> import jax.numpy as jnp
        >>> towers = jnp.zeros((1, 56, 72, 1)).at[0, 10, 0].set(25.0)
        >>> f = upsampled_frames(towers, jnp.array([[[52, 0]]]), height=5, width=5)
        >>> f[0, 0, ..., 0].astype(int).tolist()[0], float(f.sum())
        ([0, 0, 1, 1, 1], 15.0)
    """
    height, width = check_images_and_seeds("towers", towers, seeds, height, width)
    factor = check_positive_int("factor", factor)
    B, H, W, C = towers.shape
    seeds = jnp.asarray(seeds, jnp.int32)
    rows = seeds[..., 0, None] - frame_offset(height) + jnp.arange(height, dtype=jnp.int32)[None, None, :]  # [B, S, height]
    cols = jnp.mod(seeds[..., 1, None] - frame_offset(width) + jnp.arange(width, dtype=jnp.int32)[None, None, :], W * factor)
    inside = (rows >= 0) & (rows < H * factor)
    tower_rows = jnp.where(inside, rows // factor, 0)
    b = jnp.arange(B, dtype=jnp.int32)[:, None, None, None]
    picked = towers[b, tower_rows[..., :, None], (cols // factor)[..., None, :]]  # [B, S, height, width, C]
    scale = jnp.asarray(factor * factor, towers.dtype)
    return jnp.where(inside[..., None, None], picked / scale, jnp.zeros((), towers.dtype))
