import os
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from e2ejax import nets
from e2ejax.training import mass_decorrelation_kl
from e2ejax.training import Batch, make_steps


def toy_frames(rng, n):
    """Signal frames have a bright centre, background frames a diffuse spread."""
    labels = rng.integers(0, 2, n).astype(np.float32)
    x = rng.exponential(0.2, size=(n, 16, 16, 2)).astype(np.float32)
    x[labels == 1, 6:10, 6:10, 0] += 2.0
    return x, labels


def test_loss_decreases_vgg(rng):
    model = nets.build("vgg", {"height": 16, "width": 16, "channels": 2, "features": [4, 8], "hidden": 16}, rngs=nnx.Rngs(0))
    steps = make_steps(model, optax.adam(3e-3))
    state = steps.init()
    x, y = toy_frames(rng, 64)
    batch = Batch((jnp.asarray(x),), jnp.asarray(y), jnp.ones(64), jnp.zeros(64))
    first = None
    for _ in range(30):
        state, metrics = steps.train_step(state, batch)
        first = float(metrics["loss"]) if first is None else first
    last = float(steps.eval_step(state.params, batch)["loss_sum"]) / 64
    assert last < 0.5 * first
    assert int(state.step) == 30
    scores = np.asarray(steps.predict(state.params, jnp.asarray(x)))
    assert scores.shape == (64,) and ((scores >= 0) & (scores <= 1)).all()


def test_zero_weight_examples_do_not_matter(rng):
    model = nets.build("vgg", {"height": 16, "width": 16, "channels": 2, "features": [4], "hidden": 8}, rngs=nnx.Rngs(0))
    steps = make_steps(model, optax.sgd(0.1))
    x, y = toy_frames(rng, 8)
    w = jnp.array([1, 1, 1, 1, 0, 0, 0, 0], jnp.float32)
    garbage = x.copy()
    garbage[4:] = 100.0
    a, _ = steps.train_step(steps.init(), Batch((jnp.asarray(x),), jnp.asarray(y), w, jnp.zeros(8)))
    b, _ = steps.train_step(steps.init(), Batch((jnp.asarray(garbage),), jnp.asarray(y), w, jnp.zeros(8)))
    jax.tree.map(lambda p, q: np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-7), a.params, b.params)


def test_decorrelation_kl_zero_for_flat_score_and_positive_for_sculpting(rng):
    mass = jnp.asarray(rng.uniform(0, 300, 400), jnp.float32)
    labels = jnp.zeros(400)
    w = jnp.ones(400)
    edges = jnp.linspace(0.0, 300.0, 11)
    flat = mass_decorrelation_kl(jnp.full(400, 0.3), mass, labels, w, edges=edges)
    sculpt = mass_decorrelation_kl(jax.nn.sigmoid((mass - 150) / 20), mass, labels, w, edges=edges)
    assert abs(float(flat)) < 1e-5 and float(sculpt) > 0.1
    g = jax.grad(lambda s: mass_decorrelation_kl(s, mass, labels, w, edges=edges))(jnp.full(400, 0.3))
    assert np.isfinite(np.asarray(g)).all()


SHARDED = textwrap.dedent(
    """
    import json, sys
    import jax, jax.numpy as jnp, numpy as np, optax
    from flax import nnx
    from jax.sharding import Mesh
    from e2ejax import nets
    from e2ejax.training import Batch, make_steps
    def run(mesh):
        model = nets.build("vgg", {"height": 8, "width": 8, "channels": 2, "features": [4], "hidden": 8}, rngs=nnx.Rngs(0))
        steps = make_steps(model, optax.sgd(0.05), mesh=mesh)
        state = steps.init()
        rng = np.random.default_rng(0)
        losses = []
        for _ in range(5):
            x = rng.normal(size=(16, 8, 8, 2)).astype(np.float32)
            y = rng.integers(0, 2, 16).astype(np.float32)
            state, m = steps.train_step(state, Batch((jnp.asarray(x),), jnp.asarray(y), jnp.ones(16), jnp.zeros(16)))
            losses.append(float(m["loss"]))
        return losses
    mesh = Mesh(np.array(jax.devices()), ("data",))
    print(json.dumps({"n": len(jax.devices()), "single": run(None), "sharded": run(mesh)}))
    """
)


def test_sharded_step_matches_single_device():
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8", JAX_PLATFORMS="cpu")
    out = subprocess.run([sys.executable, "-c", SHARDED], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    res = json.loads(out.stdout.strip().splitlines()[-1])
    assert res["n"] == 8
    np.testing.assert_allclose(res["sharded"], res["single"], rtol=1e-5, atol=1e-6)


def test_fit_early_stopping_and_best_params(rng):
    from e2ejax.training import evaluate, fit

    model = nets.build("vgg", {"height": 16, "width": 16, "channels": 2, "features": [4], "hidden": 8}, rngs=nnx.Rngs(0))
    steps = make_steps(model, optax.adam(3e-3))
    x, y = toy_frames(rng, 64)
    train = [Batch((jnp.asarray(x[i:i + 16]),), jnp.asarray(y[i:i + 16]), jnp.ones(16), jnp.zeros(16)) for i in range(0, 64, 16)]
    xv, yv = toy_frames(rng, 32)
    # validation labels are noise: the validation loss stops improving and training stops early
    val = [Batch((jnp.asarray(xv),), jnp.asarray(rng.integers(0, 2, 32).astype(np.float32)), jnp.ones(32), jnp.zeros(32))]
    seen = []
    state, best, history = fit(steps, steps.init(), lambda e: train, lambda: val, epochs=40, patience=2,
                               on_epoch_end=lambda e, s, m, b: seen.append((e, b)), progress=False)
    assert len(history) < 40 and len(seen) == len(history)
    best_epoch = min(range(len(history)), key=lambda i: history[i]["val_loss"])
    assert len(history) == best_epoch + 1 + 2  # stopped after `patience` epochs without improvement
    assert evaluate(steps, best, val) == pytest.approx(history[best_epoch]["val_loss"], rel=1e-5)
    assert history[-1]["train_loss"] < history[0]["train_loss"]


def test_fit_records_the_validation_auc_of_each_epoch(rng, capsys):
    from sklearn.metrics import roc_auc_score

    from e2ejax.training import fit

    model = nets.build("vgg", {"height": 16, "width": 16, "channels": 2, "features": [4], "hidden": 8}, rngs=nnx.Rngs(0))
    steps = make_steps(model, optax.adam(3e-3))
    x, y = toy_frames(rng, 32)
    train = [Batch((jnp.asarray(x[i:i + 16]),), jnp.asarray(y[i:i + 16]), jnp.ones(16), jnp.zeros(16)) for i in range(0, 32, 16)]
    xv, _ = toy_frames(rng, 24)
    yv = (rng.random(24) < 0.5).astype(np.float32)  # labels unrelated to the frames: an AUC away from 0 and 1
    weights = np.ones(24, np.float32)
    weights[-4:] = 0.0  # padding examples of the last batch do not enter the AUC
    val = [Batch((jnp.asarray(xv),), jnp.asarray(yv), jnp.asarray(weights), jnp.zeros(24))]
    aucs = []
    fit(steps, steps.init(), lambda e: train, lambda: val, epochs=2, patience=5, progress=True,
        on_epoch_end=lambda e, s, m, b: aucs.append(roc_auc_score(yv[:20], np.asarray(steps.predict(s.params, xv))[:20])))
    _, _, history = fit(steps, steps.init(), lambda e: train, lambda: val, epochs=2, patience=5, progress=False)
    assert [h["val_auc"] for h in history] == pytest.approx(aucs, abs=1e-12)
    assert len(set(np.round(aucs, 6))) == 2  # the AUC follows the epoch's parameters
    assert "val_auc" in capsys.readouterr().out
