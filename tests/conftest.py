"""Shared test helpers: run ops three ways (plain, jit, vmap) and compare.

Strict dtype and rank promotion are switched on for the ops and nets tests
(their conftest.py); optax and jax2onnx's patched layers are not clean under them.
"""

from __future__ import annotations

import os

import jax
import numpy as np
import pytest
from hypothesis import settings

# Hypothesis: the same cases on every CI run (derandomised), new ones on a developer's runs;
# no example database either way (nothing written into the tree). HYPOTHESIS_PROFILE picks one.
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", database=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def _other_example(a):
    """A second, different example of argument ``a`` for the vmap check: float and bool arrays
    flipped along every axis (same shapes, dtypes and values, other positions), integers as they are."""
    a = np.asarray(a)
    return np.flip(a).copy() if a.dtype.kind in "fb" else a


def run_three_ways(fn, *args, **static):
    """Run ``fn(*args, **static)`` plain, under ``jax.jit`` and under ``jax.vmap``.

    ``vmap`` maps over a new leading axis that stacks ``args`` with a second, different
    example (:func:`_other_example`); its second slice must equal the op on that example,
    so a vmapped op that mixes up its examples fails here. Returns the three results
    on ``args`` as NumPy trees, the vmapped one sliced.
    """
    to_np = lambda t: jax.tree.map(np.asarray, t)  # noqa: E731
    plain = fn(*args, **static)
    jit_fn = jax.jit(lambda *a: fn(*a, **static))
    jitted = jit_fn(*args)
    other = [_other_example(a) for a in args]
    stacked = [np.stack([np.asarray(a), b]) for a, b in zip(args, other)]
    mapped = to_np(jax.vmap(lambda *a: fn(*a, **static))(*stacked))
    # the second example's reference runs jitted (compiled once above, same shapes); plain == jit is checked on the first
    jax.tree.map(lambda m, p: np.testing.assert_allclose(m[1], p, rtol=1e-5, atol=1e-6), mapped, to_np(jit_fn(*other)))
    return to_np(plain), to_np(jitted), jax.tree.map(lambda x: x[0], mapped)


def assert_all_close(results, expected, **tol):
    """Every one of ``results`` (plain, jit, vmap) matches ``expected``."""
    for r in results:
        jax.tree.map(lambda a, b: np.testing.assert_allclose(a, b, **tol), r, expected)
