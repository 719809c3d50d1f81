"""training.losses against NumPy formulas, and nets.make_apply against calling the model."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from e2ejax import nets
from e2ejax.training.losses import weighted_bce, weighted_mse


def _numpy_bce(logits, labels, weights):
    logits = logits.astype(np.float64)
    # log(sigmoid(x)) = -log1p(exp(-x)), written stably for both signs
    log_p = -np.logaddexp(0.0, -logits)
    log_not_p = -np.logaddexp(0.0, logits)
    per = -(labels * log_p + (1 - labels) * log_not_p)
    return (per * weights).sum() / weights.sum()


def test_weighted_bce_matches_numpy_and_ignores_zero_weights(rng):
    logits = np.r_[rng.normal(0, 3, 30), [60.0, -60.0]].astype(np.float32)  # saturated logits stay finite
    labels = rng.integers(0, 2, 32).astype(np.float32)
    labels[-2:] = [0.0, 1.0]  # confidently wrong: a loss of 60 each
    weights = rng.exponential(1.0, 32).astype(np.float32)
    weights[:5] = 0.0
    got = float(weighted_bce(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(weights)))
    assert got == pytest.approx(_numpy_bce(logits, labels, weights), rel=1e-5)
    moved = logits.copy()
    moved[:5] += 100.0  # entries of weight 0 do not count
    assert float(weighted_bce(jnp.asarray(moved), jnp.asarray(labels), jnp.asarray(weights))) == pytest.approx(got, rel=1e-6)
    # d loss / d logit_i = w_i (sigmoid(x_i) - y_i) / sum(w)
    grad = np.asarray(jax.grad(weighted_bce)(jnp.asarray(logits), jnp.asarray(labels), jnp.asarray(weights)))
    np.testing.assert_allclose(grad, weights * (1 / (1 + np.exp(-logits.astype(np.float64))) - labels) / weights.sum(), rtol=1e-4, atol=1e-7)
    assert float(weighted_bce(jnp.asarray(logits), jnp.asarray(labels), jnp.zeros(32))) == 0.0  # an all-padding batch


def test_weighted_mse_matches_numpy(rng):
    pred, target = rng.normal(size=(2, 40)).astype(np.float32)
    weights = rng.exponential(1.0, 40).astype(np.float32)
    weights[::3] = 0.0
    got = float(weighted_mse(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(weights)))
    assert got == pytest.approx(float((weights * (pred - target) ** 2).sum() / weights.sum()), rel=1e-5)
    grad = np.asarray(jax.grad(weighted_mse)(jnp.asarray(pred), jnp.asarray(target), jnp.asarray(weights)))
    np.testing.assert_allclose(grad, 2 * weights * (pred - target) / weights.sum(), rtol=1e-5, atol=1e-7)


TINY_VGG = {"height": 16, "width": 16, "channels": 2, "features": [4], "hidden": 8}


def test_make_apply_is_the_model_as_a_function_of_its_parameters(rng):
    model = nets.build("vgg", TINY_VGG, rngs=nnx.Rngs(4))
    apply, params = nets.make_apply(model)
    x = jnp.asarray(rng.exponential(size=(3, 16, 16, 2)).astype(np.float32))
    np.testing.assert_allclose(np.asarray(apply(params, x)), np.asarray(model(x)), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(np.asarray(jax.jit(apply)(params, x)), np.asarray(model(x)), rtol=1e-5, atol=1e-6)
    # other parameters, other outputs; the model itself is left as it was
    before = np.asarray(model(x))
    scaled = jax.tree.map(lambda p: p * 0.5, params)
    assert not np.allclose(np.asarray(apply(scaled, x)), before)
    np.testing.assert_array_equal(np.asarray(model(x)), before)
    # gradients reach every parameter array
    grads = jax.grad(lambda p: jnp.sum(apply(p, x) ** 2))(params)
    leaves = jax.tree.leaves(grads)
    assert len(leaves) == len(jax.tree.leaves(params)) and all(np.abs(np.asarray(g)).sum() > 0 for g in leaves)
