"""The vmap check of ``run_three_ways`` sees an op that mixes up the examples of a batch."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from tests.conftest import run_three_ways


def _first_example_everywhere(x):
    """``cumsum`` through a callback whose vmap rule is wrong: every example gets the first one's result."""
    def host(a):
        a = np.asarray(a)
        return np.broadcast_to(np.cumsum(a.reshape((-1,) + a.shape[-1:])[0]), a.shape).astype(a.dtype)

    return jax.pure_callback(host, jax.ShapeDtypeStruct(x.shape, x.dtype), x, vmap_method="expand_dims")


def test_run_three_ways_passes_a_correct_op(rng):
    x = rng.normal(size=7).astype(np.float32)
    for result in run_three_ways(jnp.cumsum, x):
        np.testing.assert_allclose(result, np.cumsum(x), rtol=1e-6)


def test_run_three_ways_catches_examples_mixed_up_under_vmap(rng):
    x = rng.normal(size=7).astype(np.float32)
    np.testing.assert_allclose(_first_example_everywhere(x), np.cumsum(x), rtol=1e-6)  # right on one example
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        run_three_ways(_first_example_everywhere, x)
