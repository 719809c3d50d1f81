"""Training steps of networks with batch normalisation and dropout (the particle taggers):
batch statistics in training, running averages carried in the state and used by inference,
a fresh dropout mask every step."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from e2ejax.nets import VARIABLES, make_predict
from e2ejax.training.steps import Batch, make_steps


class Tiny(nnx.Module):
    def __init__(self, *, dropout: float = 0.0, rngs: nnx.Rngs):
        self.lin = nnx.Linear(3, 4, rngs=rngs)
        self.bn = nnx.BatchNorm(4, momentum=0.9, use_running_average=True, rngs=rngs)
        self.drop = nnx.Dropout(dropout, deterministic=True, rngs=rngs)
        self.out = nnx.Linear(4, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(self.drop(self.bn(self.lin(x))))


def _batch(seed=0, n=32):
    x = np.random.default_rng(seed).normal(2.0, 3.0, (n, 3)).astype(np.float32)
    return Batch((jnp.asarray(x),), jnp.asarray((x[:, 0] > 2).astype(np.float32)), jnp.ones(n), jnp.zeros(n)), x


def test_running_statistics_follow_the_batch_statistics():
    model = Tiny(rngs=nnx.Rngs(0))
    steps = make_steps(model, optax.sgd(0.0))  # parameters fixed: only the statistics move
    state = steps.init()
    batch, x = _batch()
    h = x @ np.asarray(model.lin.kernel[...]) + np.asarray(model.lin.bias[...])
    for _ in range(5):
        state, _ = steps.train_step(state, batch)
    decay = 0.9 ** 5
    np.testing.assert_allclose(np.asarray(state.params["bn"]["mean"][...]), (1 - decay) * h.mean(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(state.params["bn"]["var"][...]), decay + (1 - decay) * h.var(0), rtol=1e-4)
    # inference (and validation) normalise with the running statistics, not the batch's
    mean, var = np.asarray(state.params["bn"]["mean"][...]), np.asarray(state.params["bn"]["var"][...])
    normed = (h - mean) / np.sqrt(var + model.bn.epsilon) * np.asarray(model.bn.scale[...]) + np.asarray(model.bn.bias[...])
    want = normed @ np.asarray(model.out.kernel[...]) + np.asarray(model.out.bias[...])
    np.testing.assert_allclose(np.asarray(steps.eval_step(state.params, batch)["outputs"]), want[:, 0], rtol=1e-4, atol=1e-5)
    predict, _ = make_predict(model)
    np.testing.assert_allclose(np.asarray(predict(state.params, x)), 1 / (1 + np.exp(-want[:, 0])), rtol=1e-4, atol=1e-6)


def test_training_normalises_with_the_batch_statistics():
    model = Tiny(rngs=nnx.Rngs(1))
    steps = make_steps(model, optax.sgd(0.0))
    batch, x = _batch(1)
    h = x @ np.asarray(model.lin.kernel[...]) + np.asarray(model.lin.bias[...])
    normed = (h - h.mean(0)) / np.sqrt(h.var(0) + model.bn.epsilon)
    logits = normed @ np.asarray(model.out.kernel[...]) + np.asarray(model.out.bias[...])
    y = np.asarray(batch.targets)
    want = np.mean(np.maximum(logits[:, 0], 0) - logits[:, 0] * y + np.log1p(np.exp(-np.abs(logits[:, 0]))))
    _, metrics = steps.train_step(steps.init(), batch)
    assert float(metrics["loss"]) == pytest.approx(float(want), rel=1e-5)


def test_dropout_draws_a_new_mask_every_step_and_none_in_inference():
    steps = make_steps(Tiny(dropout=0.5, rngs=nnx.Rngs(2)), optax.sgd(0.0))
    state = steps.init()
    batch, _ = _batch(2)
    losses = []
    for _ in range(4):
        state, m = steps.train_step(state, batch)
        losses.append(float(m["loss"]))
    assert len(set(losses)) == 4  # parameters fixed, the mask differs
    a, b = (np.asarray(steps.eval_step(state.params, batch)["outputs"]) for _ in range(2))
    np.testing.assert_array_equal(a, b)


def test_the_state_holds_the_variables_the_optimiser_only_the_parameters():
    model = Tiny(rngs=nnx.Rngs(3))
    state = make_steps(model, optax.adam(1e-3)).init()
    saved = {type(v) for _, v in nnx.to_flat_state(nnx.state(model, VARIABLES))}
    assert saved == {nnx.Param, nnx.BatchStat}
    assert jax.tree.structure(state.params) == jax.tree.structure(nnx.state(model, VARIABLES))
    n_params = sum(int(np.size(v)) for v in jax.tree.leaves(nnx.state(model, nnx.Param)))
    assert sum(int(np.size(v)) for v in jax.tree.leaves(state.opt_state[0].mu)) == n_params  # no moments of the statistics
