import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from e2ejax import nets
from e2ejax.errors import InputError
from e2ejax.training import Batch, make_steps

SMALL = {
    "vgg": {"height": 16, "width": 16, "channels": 2, "features": [4, 8], "hidden": 16},
    "resnet15": {"height": 33, "width": 33, "channels": 3, "features": [4, 8], "blocks": 1, "n_scalars": 2},
    "gnn": {"n_points": 12, "n_features": 5, "k": 3, "hidden": [8, 8], "head": 8},
    "deepsets": {"n_constituents": 10, "n_features": 3, "n_types": 3, "n_jet_features": 2, "hidden": 8},
}


def random_inputs(model, B, rng):
    out = []
    for spec in model.input_spec:
        if spec.name == "mask":
            m = np.zeros((B,) + spec.shape, np.float32)
            for b in range(B):
                m[b, : rng.integers(2, spec.shape[0] + 1)] = 1.0
            out.append(m)
        elif spec.name == "types":
            out.append(rng.integers(0, model.config.n_types, (B,) + spec.shape).astype(np.float32))
        else:
            out.append(rng.normal(size=(B,) + spec.shape).astype(np.float32))
    return out


@pytest.mark.parametrize("name", sorted(SMALL))
def test_shapes_jit_and_gradients_reach_every_parameter(name, rng):
    model = nets.build(name, SMALL[name], rngs=nnx.Rngs(0))
    inputs = random_inputs(model, 4, rng)
    out = model(*inputs)
    assert out.shape == (4, 1) and out.dtype == jnp.float32
    steps = make_steps(model, optax.sgd(0.1), objective="regression" if name == "deepsets" else "classification")
    np.testing.assert_allclose(jax.jit(steps.apply)(steps.init().params, *inputs), out, rtol=1e-5, atol=1e-6)
    batch = Batch(tuple(inputs), jnp.array([0.0, 1.0, 0.0, 1.0]), jnp.ones(4), jnp.zeros(4))

    def loss(p):
        return jnp.sum(steps.apply(p, *batch.inputs) ** 2)

    grads = jax.grad(loss)(steps.init().params)
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
        assert float(jnp.abs(g).sum()) > 0, f"no gradient reaches {jax.tree_util.keystr(path)}"


def _permute(points, mask, rng):
    perm = rng.permutation(points.shape[1])
    return points[:, perm], mask[:, perm]


def test_gnn_permutation_invariant_and_padding_blind(rng):
    model = nets.build("gnn", SMALL["gnn"], rngs=nnx.Rngs(1))
    points, mask = random_inputs(model, 3, rng)
    points = points * mask[..., None]
    ref = np.asarray(model(points, mask))
    p2, m2 = _permute(points, mask, rng)
    np.testing.assert_allclose(model(p2, m2), ref, rtol=1e-5, atol=1e-5)
    pad = np.concatenate([points, rng.normal(size=(3, 7, 5)).astype(np.float32)], axis=1)  # garbage in padding
    np.testing.assert_allclose(model(pad, np.concatenate([mask, np.zeros((3, 7), np.float32)], 1)), ref, rtol=1e-5, atol=1e-5)


def test_deepsets_permutation_invariant_and_padding_blind(rng):
    model = nets.build("deepsets", SMALL["deepsets"], rngs=nnx.Rngs(2))
    const, types, mask, jet = random_inputs(model, 3, rng)
    ref = np.asarray(model(const, types, mask, jet))
    perm = rng.permutation(10)
    np.testing.assert_allclose(model(const[:, perm], types[:, perm], mask[:, perm], jet), ref, rtol=1e-5, atol=1e-5)
    extra = 6
    padded = [np.concatenate([a, b], 1) for a, b in (
        (const, rng.normal(size=(3, extra, 3)).astype(np.float32)),
        (types, np.zeros((3, extra), np.float32)),
        (mask, np.zeros((3, extra), np.float32)),
    )]
    np.testing.assert_allclose(model(*padded, jet), ref, rtol=1e-5, atol=1e-5)


def test_deepsets_type_routing(rng):
    """Constituents of one type only reach their own MLP."""
    model = nets.build("deepsets", SMALL["deepsets"], rngs=nnx.Rngs(3))
    const, types, mask, jet = random_inputs(model, 1, rng)
    types[:] = 0.0
    base = np.asarray(model(const, types, mask, jet))
    # changing the type-2 MLP cannot matter when no constituent has type 2
    model.phi1[2].kernel[...] = model.phi1[2].kernel[...] + 1.0
    np.testing.assert_allclose(model(const, types, mask, jet), base, rtol=1e-6)
    model.phi1[0].kernel[...] = model.phi1[0].kernel[...] + 1.0
    assert not np.allclose(np.asarray(model(const, types, mask, jet)), base)


def test_resnet15_default_architecture():
    model = nets.build("resnet15", {}, rngs=nnx.Rngs(0))
    assert model.stem.kernel.shape == (7, 7, 3, 16)
    assert len(model.blocks) == 7
    assert model.blocks[3].conv1.kernel.shape == (3, 3, 16, 32)
    assert model.head.kernel.shape == (32, 1)
    assert model(jnp.zeros((2, 125, 125, 3))).shape == (2, 1)


def test_registry_errors():
    known = r"\['deepsets', 'gnn', 'mlpf', 'part', 'particlenet', 'particlenet_lite', 'pcnn', 'pfn', 'resnet15', 'vgg'\]"
    with pytest.raises(InputError, match=r"unknown network 'resnet50'; expected one of " + known):
        nets.build("resnet50", {}, rngs=nnx.Rngs(0))
    with pytest.raises(InputError, match=r"unknown option\(s\) \['depth'\] for network 'vgg'"):
        nets.make_config("vgg", {"depth": 3})


def test_resnet15_input_scale_equals_scaling_the_frames():
    opts = {"height": 33, "width": 33, "channels": 2, "features": [4, 8], "blocks": 1}
    plain = nets.build("resnet15", opts, rngs=nnx.Rngs(3))
    scaled = nets.build("resnet15", {**opts, "input_scale": [0.1, 2.0]}, rngs=nnx.Rngs(3))
    x = jax.random.uniform(jax.random.key(0), (2, 33, 33, 2)) * 20.0
    np.testing.assert_allclose(scaled(x), plain(x * jnp.asarray([0.1, 2.0]).reshape(1, 1, 1, 2)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"input_scale: expected one factor per channel \(2\), found 3"):
        nets.build("resnet15", {**opts, "input_scale": [1.0, 1.0, 1.0]}, rngs=nnx.Rngs(0))


def test_gnn_input_scale_equals_scaling_the_points_and_keeps_the_graph():
    opts = {"n_points": 12, "n_features": 4, "k": 3, "hidden": [8], "head": 8}
    scale = [0.1, 10.0, 1.0, 1.0]  # coordinates (last two) unscaled: same kNN graph
    plain = nets.build("gnn", opts, rngs=nnx.Rngs(5))
    scaled = nets.build("gnn", {**opts, "input_scale": scale}, rngs=nnx.Rngs(5))
    points = jax.random.uniform(jax.random.key(1), (3, 12, 4))
    mask = (jnp.arange(12) < 9).astype(jnp.float32)[None, :] * jnp.ones((3, 1))
    want = plain(points * jnp.asarray(scale).reshape(1, 1, 4), mask)
    np.testing.assert_allclose(scaled(points, mask), want, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"input_scale: expected one factor per feature \(4\), found 2"):
        nets.build("gnn", {**opts, "input_scale": [1.0, 1.0]}, rngs=nnx.Rngs(0))


def test_gnn_log_compressed_node_features(rng):
    opts = {"n_points": 12, "n_features": 5, "k": 3, "hidden": [8, 8], "head": 8,
            "input_scale": [0.1, 0.1, 0.1, 10.0, 10.0], "log_scale": 0.5}
    model = nets.build("gnn", opts, rngs=nnx.Rngs(4))
    assert model.layers[0].skip.kernel.shape == (5 + 3, 8)
    points, mask = random_inputs(model, 3, rng)
    got = np.asarray(model._node_features(jnp.asarray(points * mask[..., None])))
    for b in range(3):
        for n in range(12):
            p = points[b, n] * mask[b, n]
            want = np.concatenate([p * np.asarray(opts["input_scale"]), np.log1p(np.abs(p[:3]) / 0.5)])
            np.testing.assert_allclose(got[b, n], want, rtol=1e-5, atol=1e-5)
    # still blind to node order and to padding, and every parameter gets a gradient
    points = points * mask[..., None]
    ref = np.asarray(model(points, mask))
    p2, m2 = _permute(points, mask, rng)
    np.testing.assert_allclose(model(p2, m2), ref, rtol=1e-5, atol=1e-5)
    pad = np.concatenate([points, rng.normal(size=(3, 5, 5)).astype(np.float32)], axis=1)
    np.testing.assert_allclose(model(pad, np.concatenate([mask, np.zeros((3, 5), np.float32)], 1)), ref, rtol=1e-5, atol=1e-5)
    graphdef, params = nnx.split(model, nnx.Param)
    grads = jax.grad(lambda p: jnp.sum(nnx.merge(graphdef, p)(points, mask) ** 2))(params)
    for path, g in jax.tree_util.tree_leaves_with_path(grads):
        assert float(jnp.abs(g).sum()) > 0, f"no gradient reaches {jax.tree_util.keystr(path)}"
    with pytest.raises(ValueError, match=r"log_scale: expected a positive energy scale \(GeV\) or None, found 0.0"):
        nets.build("gnn", {**opts, "log_scale": 0.0}, rngs=nnx.Rngs(0))


def test_resnet15_log_scale_appends_log_compressed_channels():
    opts = {"height": 33, "width": 33, "channels": 2, "features": [4, 8], "blocks": 1, "input_scale": [0.1, 2.0]}
    logged = nets.build("resnet15", {**opts, "log_scale": 0.5}, rngs=nnx.Rngs(6))
    plain = nets.build("resnet15", {**opts, "channels": 4, "input_scale": None}, rngs=nnx.Rngs(7))
    nnx.update(plain, nnx.state(logged, nnx.Param))  # same shapes: a stem over 2 x 2 maps
    x = jax.random.normal(jax.random.key(2), (2, 33, 33, 2)) * 20.0
    want = plain(jnp.concatenate([x * jnp.asarray([0.1, 2.0]).reshape(1, 1, 1, 2), jnp.log1p(jnp.abs(x) / 0.5)], axis=-1))
    np.testing.assert_allclose(logged(x), want, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match=r"log_scale: expected a positive energy scale \(GeV\) or None, found -1.0"):
        nets.build("resnet15", {**opts, "log_scale": -1.0}, rngs=nnx.Rngs(0))
