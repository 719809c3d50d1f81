"""HBHE towers -> crystal granularity, energy-conserving."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from e2ejax.ops._checks import check_float, check_positive_int, check_rank

__all__ = ["upsample"]


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
