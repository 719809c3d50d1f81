"""Log-compressed input values, shared by the networks' ``log_scale`` option."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def check_log_scale(log_scale) -> None:
    """``log_scale`` must be None (off) or a positive energy scale in GeV."""
    if log_scale is not None and not log_scale > 0:
        raise ValueError(f"log_scale: expected a positive energy scale (GeV) or None, found {log_scale}")


def log_compress(values: jax.Array, log_scale: float) -> jax.Array:
    """``log1p(|values| / log_scale)``: energies and pT of 0.1 to 100 GeV on one footing.

    Examples:
        >>> round(float(log_compress(jnp.array(-0.9), 0.1)), 4)
        2.3026
    """
    return jnp.log1p(jnp.abs(values) / log_scale)
