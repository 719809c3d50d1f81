"""Validation helpers for the public ops: static shapes and dtypes only (trace-safe)."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np


def _dim_eq(a, b) -> bool:
    if isinstance(a, (int, np.integer)) and isinstance(b, (int, np.integer)):
        return int(a) == int(b)
    return True  # symbolic dims (dynamic batch during export) are checked by the tracer itself


def shapes_equal(a, b) -> bool:
    """Static shape equality that also works for symbolic (export-time) dimensions."""
    a, b = tuple(a), tuple(b)
    return len(a) == len(b) and all(_dim_eq(x, y) for x, y in zip(a, b))


def shape_str(shape) -> str:
    return "(" + ", ".join(str(int(s)) if isinstance(s, (int, np.integer)) else str(s) for s in shape) + ("," if len(tuple(shape)) == 1 else "") + ")"


def check_rank(name: str, x, ranks: tuple[int, ...], layout: str) -> None:
    """Raise ValueError unless ``x.ndim`` is one of ``ranks``; ``layout`` names the axes."""
    if jnp.ndim(x) not in ranks:
        raise ValueError(f"expected {name} of shape {layout}, got shape {shape_str(jnp.shape(x))}")


def check_float(name: str, x) -> None:
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.floating):
        raise TypeError(f"expected {name} with a floating dtype (float32), got {dtype}")


def check_int(name: str, x) -> None:
    dtype = jnp.result_type(x)
    if not jnp.issubdtype(dtype, jnp.integer):
        raise TypeError(f"expected {name} with an integer dtype (int32), got {dtype}")


def check_bool(name: str, x) -> None:
    dtype = jnp.result_type(x)
    if dtype != jnp.bool_:
        raise TypeError(f"expected {name} with dtype bool, got {dtype}")


def check_same_shape(names: tuple[str, ...], arrays, expected=None) -> None:
    shapes = [tuple(jnp.shape(a)) for a in arrays]
    target = tuple(expected) if expected is not None else shapes[0]
    for n, s in zip(names, shapes):
        if not shapes_equal(s, target):
            listing = ", ".join(f"{m}={shape_str(t)}" for m, t in zip(names, shapes))
            raise ValueError(f"expected {', '.join(names)} to share shape {shape_str(target)}, got {listing}")


def check_positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"expected {name} to be a positive int, got {value!r}")
    return int(value)


def check_shape2(name: str, shape) -> tuple[int, int]:
    try:
        h, w = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise ValueError(f"expected {name}=(height, width) with two positive ints, got {shape!r}") from None
    if h < 1 or w < 1:
        raise ValueError(f"expected {name}=(height, width) with two positive ints, got {shape!r}")
    return h, w
