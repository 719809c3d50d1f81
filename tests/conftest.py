"""Shared test helpers: run ops three ways (plain, jit, vmap) and compare.

Strict dtype and rank promotion are switched on for the ops and nets tests
(their conftest.py); optax and jax2onnx's patched layers are not clean under them.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def run_three_ways(fn, *args, **static):
    """Run ``fn(*args, **static)`` plain, under ``jax.jit`` and under ``jax.vmap``.

    ``vmap`` maps over a new leading axis built by stacking the arguments twice
    (the second copy of every float argument scaled by 1, so results must match
    the plain call). Returns the three results as NumPy trees, vmapped one sliced.
    """
    plain = fn(*args, **static)
    jitted = jax.jit(lambda *a: fn(*a, **static))(*args)
    stacked = [np.stack([np.asarray(a), np.asarray(a)]) for a in args]
    mapped = jax.vmap(lambda *a: fn(*a, **static))(*stacked)
    mapped0 = jax.tree.map(lambda x: x[0], mapped)
    mapped1 = jax.tree.map(lambda x: x[1], mapped)
    to_np = lambda t: jax.tree.map(np.asarray, t)  # noqa: E731
    jax.tree.map(np.testing.assert_array_equal, to_np(mapped0), to_np(mapped1))
    return to_np(plain), to_np(jitted), to_np(mapped0)


def assert_all_close(results, expected, **tol):
    """Every one of ``results`` (plain, jit, vmap) matches ``expected``."""
    for r in results:
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, **tol), r, expected)
