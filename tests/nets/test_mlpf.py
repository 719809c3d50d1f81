"""MLPF: element layout, equivariance, padding, gradients, ONNX parity, a tiny training and the
loss against NumPy."""

import dataclasses
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from e2ejax import nets
from e2ejax.nets import make_apply, make_predict
from e2ejax.nets._mlpf import MLPF, LSHDirections, MLPFConfig
from e2ejax.nets._mlpf_layout import (
    ELEMENT_FEATURES,
    FEATURE_INDEX,
    OUTPUT_CHANNELS,
    PARTICLE_CLASSES,
    MLPFTargets,
    decode_particles,
    encode_targets,
    split_outputs,
)
from e2ejax.training.losses import mlpf_loss

#: three layers as the default, tiny widths; bins of 8 so that events of 20-40 elements have several bins
TINY = MLPFConfig(width=16, n_layers=3, dist_dim=4, n_projections=2, bin_size=8, k=3, head_width=16)
F = len(ELEMENT_FEATURES)


def make_elements(B, N, rng, n_real=None):
    """Synthetic events: tracks, ECAL and HCAL clusters (real elements first), features as the layout
    says, the rest of each row zero; padded rows zero."""
    n_real = rng.integers(N // 2, N + 1, B) if n_real is None else np.asarray(n_real)
    mask = (np.arange(N)[None, :] < n_real[:, None]).astype(np.float32)
    i = FEATURE_INDEX
    x = np.zeros((B, N, F), np.float32)
    kind = rng.integers(1, 4, (B, N))
    eta, phi = rng.uniform(-2.5, 2.5, (B, N)), rng.uniform(-math.pi, math.pi, (B, N))
    log_e = rng.uniform(-0.5, 4.0, (B, N))
    x[..., i["type"]] = kind
    x[..., i["eta"]], x[..., i["sin_phi"]], x[..., i["cos_phi"]] = eta, np.sin(phi), np.cos(phi)
    x[..., i["log_energy"]] = log_e
    x[..., i["log_pt"]] = log_e - np.log(np.cosh(eta))
    track = kind == 1
    x[..., i["charge"]] = np.where(track, rng.choice([-1.0, 1.0], (B, N)), 0.0)
    x[..., i["d0"]] = np.where(track, rng.normal(0, 0.05, (B, N)), 0.0)
    x[..., i["dz"]] = np.where(track, rng.normal(0, 0.5, (B, N)), 0.0)
    x[..., i["eta_ecal"]] = np.where(track, eta + rng.normal(0, 0.02, (B, N)), 0.0)
    phi_ecal = phi + rng.normal(0, 0.05, (B, N))
    x[..., i["sin_phi_ecal"]] = np.where(track, np.sin(phi_ecal), 0.0)
    x[..., i["cos_phi_ecal"]] = np.where(track, np.cos(phi_ecal), 0.0)
    for name in ("sigma_eta", "sigma_phi"):
        x[..., i[name]] = np.where(track, 0.0, rng.uniform(0.01, 0.1, (B, N)))
    x[..., i["n_hits"]] = np.where(track, 0.0, rng.integers(1, 30, (B, N)))
    return x * mask[..., None], mask


def perturbed(config=TINY, seed=0):
    """A model whose LayerNorm scales and biases are not the identity."""
    model = MLPF(config, rngs=nnx.Rngs(seed))
    rng = np.random.default_rng(seed)
    for _, m in nnx.iter_modules(model):
        if isinstance(m, nnx.LayerNorm):
            m.scale[...] = jnp.asarray(rng.uniform(0.5, 1.5, m.scale.shape), jnp.float32)
            m.bias[...] = jnp.asarray(rng.normal(0, 0.3, m.bias.shape), jnp.float32)
    return model


@pytest.fixture(scope="module")
def tiny():
    """``(model, jitted apply, params)`` of a perturbed :data:`TINY` MLPF."""
    model = perturbed()
    apply, params = make_apply(model)
    return model, jax.jit(apply), params


def test_registry_layout_shapes_and_config(tiny, rng):
    model = nets.build("mlpf", dataclasses.asdict(TINY), rngs=nnx.Rngs(0))
    assert isinstance(model, MLPF) and not nets.takes_particles(model) and not nets.takes_points(model)
    assert [(s.name, s.shape) for s in model.input_spec] == [("elements", ("N", F)), ("mask", ("N",))]
    assert len(OUTPUT_CHANNELS) == 1 + len(PARTICLE_CLASSES) + 5 == 11
    _, run, params = tiny
    for N in (5, 21):  # fewer elements than a bin; a partial last bin
        x, mask = make_elements(3, N, rng)
        out = run(params, x, mask)
        assert out.shape == (3, N, 11) and out.dtype == jnp.float32 and np.all(np.isfinite(out))
    predict, p = make_predict(model)
    scores = jax.jit(predict)(p, x, mask)
    assert scores.shape == (3, 21) and np.all((scores >= 0) & (scores <= 1))
    # the hashing directions: fixed by lsh_seed (whatever the rngs), not among the trained parameters
    directions = [np.asarray(d) for d in jax.tree.leaves(nnx.state(model, LSHDirections))]
    assert len(directions) == TINY.n_layers and all(d.shape == (TINY.dist_dim, TINY.n_projections) for d in directions)
    again = jax.tree.leaves(nnx.state(MLPF(TINY, rngs=nnx.Rngs(7)), LSHDirections))
    other = jax.tree.leaves(nnx.state(MLPF(dataclasses.replace(TINY, lsh_seed=1), rngs=nnx.Rngs(0)), LSHDirections))
    assert all(np.array_equal(a, b) for a, b in zip(directions, again))
    assert not any(np.allclose(a, b) for a, b in zip(directions, other))
    assert len(jax.tree.leaves(p)) == len(jax.tree.leaves(nnx.state(model, nnx.Param)))
    with pytest.raises(ValueError, match="k < bin_size"):
        MLPFConfig(bin_size=8, k=8)
    with pytest.raises(ValueError, match="n_features"):
        MLPFConfig(n_features=1)
    with pytest.raises(ValueError, match="width"):
        MLPFConfig(width=0)


def test_per_element_outputs_follow_a_permutation(tiny, rng):
    """40 elements in bins of 8 over 4 LSH buckets: buckets span several bins, so the in-bucket
    order decides the bins; it follows the elements, not their positions."""
    _, run, params = tiny
    x, mask = make_elements(2, 40, rng, n_real=[40, 31])
    out = np.asarray(run(params, x, mask))
    real = mask > 0
    assert np.ptp(out[real], axis=0).min() > 1e-2  # every channel varies over elements: the check is not vacuous
    for _ in range(2):
        perm = rng.permutation(40)  # all slots, padding included: the mask moves with the elements
        np.testing.assert_allclose(run(params, x[:, perm], mask[:, perm]), out[:, perm], atol=2e-5, rtol=0)


def test_padding_changes_nothing(tiny, rng):
    """NaN and huge garbage in padded rows, appended and shuffled in between the real elements, or
    no padding at all: the real elements' outputs are the same, the padded ones are zero."""
    _, run, params = tiny
    x, mask = make_elements(3, 20, rng, n_real=[20, 13, 2])
    out = np.asarray(run(params, x, mask))
    garbage = rng.normal(0, 1e3, (3, 15, F)).astype(np.float32)
    garbage[0, 0, 3], garbage[1, 4, 0], garbage[2, 2, 7] = np.nan, 1.0, np.inf  # a "track" row that is padding
    padded = np.concatenate([x, garbage], axis=1)
    padded_mask = np.concatenate([mask, np.zeros((3, 15), np.float32)], axis=1)
    perm = rng.permutation(35)
    got = np.asarray(run(params, padded[:, perm], padded_mask[:, perm]))[:, np.argsort(perm)]
    assert np.all(np.isfinite(got))
    real = mask > 0
    np.testing.assert_allclose(got[:, :20][real], out[real], atol=2e-5, rtol=0)
    np.testing.assert_array_equal(got[:, :20][~real], 0.0)
    np.testing.assert_array_equal(got[:, 20:], 0.0)
    # no padding at all: the two-element event alone (fewer partners than k) gives the same
    np.testing.assert_allclose(run(params, x[2:, :2], mask[2:, :2])[0], out[2, :2], atol=2e-5, rtol=0)


def test_gradients_reach_every_parameter(tiny, rng):
    model, _, params = tiny
    apply = make_apply(model)[0]
    x, mask = make_elements(2, 24, rng, n_real=[18, 24])
    x[0, 18:] = np.nan  # padding garbage must not poison the gradient
    weights = rng.normal(size=(1, 1, 11)).astype(np.float32)
    grad = jax.jit(jax.grad(lambda p, elements: jnp.sum(jnp.sin(3.0 * apply(p, elements, mask)) * weights)))
    grads = grad(params, x)
    leaves = jax.tree_util.tree_leaves_with_path(grads)
    n_mlp = 6  # Linear (kernel, bias), LayerNorm (scale, bias), Linear (kernel, bias)
    assert len(leaves) == 3 * n_mlp + 3 * (4 * 2 + 2 + 2 + n_mlp) + 2 + 3 * n_mlp
    for path, g in leaves:
        assert np.all(np.isfinite(g)), jax.tree_util.keystr(path)
        assert float(jnp.abs(g).max()) > 0, f"no gradient reaches {jax.tree_util.keystr(path)}"
    # type-split encoders: an event of tracks only reaches the track encoder alone
    tracks = x.copy()
    tracks[..., FEATURE_INDEX["type"]] = np.where(mask > 0, 1.0, 0.0)
    grads = grad(params, tracks)
    per_encoder = [max(float(jnp.abs(g).max()) for g in jax.tree.leaves(grads["encoders"][t])) for t in range(3)]
    assert per_encoder[0] > 0 and per_encoder[1:] == [0.0, 0.0], per_encoder


class _AllOutputs(nnx.Module):
    """The network with its whole output as ``scores``: ``[B, N, 11, 1]``, so that the export's
    ``[..., 0]`` keeps every channel (``objective="regression"``: no sigmoid)."""

    def __init__(self, net):
        self.net = net

    @property
    def input_spec(self):
        return self.net.input_spec

    def __call__(self, elements, mask):
        return self.net(elements, mask)[..., None]


def test_onnx_export_matches_jax_for_two_batches_and_element_counts(tiny, tmp_path, rng):
    """One exported file (symbolic batch and element axes) at N = 21 (three bins) and 40 (five),
    each at batch 1 and at the full batch; the shapes are the ones the other tests compile."""
    pytest.importorskip("jax2onnx")
    from e2ejax.inference.export import onnx_session, to_onnx

    model, run, params = tiny
    session = onnx_session(to_onnx(_AllOutputs(model), tmp_path / "mlpf.onnx", objective="regression"))
    assert [i.name for i in session.get_inputs()] == ["elements", "mask"]
    for B, N in ((3, 21), (2, 40)):
        x, mask = make_elements(B, N, rng)
        expected = np.asarray(run(params, x, mask))
        assert np.ptp(expected[mask > 0], axis=0).min() > 1e-2  # outputs vary: the tolerance means something
        for events in (slice(0, 1), slice(0, B)):
            (got,) = session.run(None, {"elements": x[events], "mask": mask[events]})
            assert got.shape == expected[events].shape
            np.testing.assert_allclose(got, expected[events], atol=1e-4, rtol=0)


def test_default_export_scores_are_the_existence_probability(tiny, tmp_path, rng):
    """``e2ejax export``'s file (:func:`e2ejax.nets.make_predict`): ``scores [B, N]``, the sigmoid of
    the existence logit per element."""
    pytest.importorskip("jax2onnx")
    from e2ejax.inference.export import onnx_session, to_onnx

    model, run, params = tiny
    session = onnx_session(to_onnx(model, tmp_path / "mlpf.onnx"))
    x, mask = make_elements(3, 21, rng)
    expected = np.asarray(jax.nn.sigmoid(run(params, x, mask)[..., 0]))
    for events in (slice(0, 1), slice(0, 3)):
        (got,) = session.run(None, {"elements": x[events], "mask": mask[events]})
        np.testing.assert_allclose(got, np.where(mask[events] > 0, expected[events], 0.5), atol=1e-5, rtol=0)


def synthetic_targets(x, mask):
    """Truth as a deterministic function of each element: HCAL clusters below e^1 GeV yield
    nothing; tracks are muons above pT e^1.5 GeV, else charged hadrons; ECAL clusters photons,
    HCAL clusters neutral hadrons; kinematics shifted by smooth functions of the features."""
    i = FEATURE_INDEX
    kind, log_pt, log_e = x[..., i["type"]], x[..., i["log_pt"]], x[..., i["log_energy"]]
    eta, phi = x[..., i["eta"]], np.arctan2(x[..., i["sin_phi"]], x[..., i["cos_phi"]])
    exists = (mask > 0) & ~((kind == 3) & (log_e < 1.0))
    label = np.select([kind == 1, kind == 2], [np.where(log_pt > 1.5, 4, 0), 2], 1)
    pt = np.exp(log_pt + 0.3 * np.tanh(eta))
    return encode_targets(x, exists, label, pt, eta + 0.1 * x[..., i["cos_phi"]], phi + 0.05, np.exp(log_e - 0.2 * (kind == 3)))


def test_tiny_training_reduces_every_part_of_the_loss(rng):
    model = MLPF(dataclasses.replace(TINY, n_layers=1), rngs=nnx.Rngs(1))
    apply, params = make_apply(model)
    x, mask = make_elements(16, 24, rng)
    targets = synthetic_targets(x, mask)
    tx = optax.adam(3e-3)

    def loss(p):
        return mlpf_loss(apply(p, x, mask), targets, mask)

    @jax.jit
    def step(p, opt):
        (value, parts), grads = jax.value_and_grad(loss, has_aux=True)(p)
        updates, opt = tx.update(grads, opt, p)
        return optax.apply_updates(p, updates), opt, parts

    opt = tx.init(params)
    history = []
    for _ in range(100):
        params, opt, parts = step(params, opt)  # parts: the loss before this step's update
        history.append(parts)
    first, last = ({k: float(v) for k, v in h.items()} for h in (history[0], history[-1]))
    for name in first:
        assert last[name] < 0.5 * first[name], (name, first[name], last[name])


def _numpy_loss(out, exists, label, reg, mask, gamma, delta, weights):
    """The loss one element at a time, float64."""
    out, reg = out.astype(np.float64), reg.astype(np.float64)
    bce, focal, regression, n_real, n_part = 0.0, 0.0, 0.0, 0, 0
    for b, n in np.ndindex(mask.shape):
        if mask[b, n] <= 0.5:
            continue
        n_real += 1
        y, z = float(exists[b, n] > 0.5), out[b, n, 0]
        bce += max(z, 0) - z * y + math.log1p(math.exp(-abs(z)))
        if not y:
            continue
        n_part += 1
        logits = out[b, n, 1:6]
        p = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
        pt = p[label[b, n]]
        focal += -((1 - pt) ** gamma) * math.log(pt)
        for d in out[b, n, 6:] - reg[b, n]:
            regression += d * d if delta is None else (0.5 * d * d if abs(d) <= delta else delta * (abs(d) - 0.5 * delta))
    parts = {"existence": bce / n_real, "classification": focal / n_part, "regression": regression / n_part}
    return sum(w * parts[k] for k, w in zip(("existence", "classification", "regression"), weights)), parts


@pytest.mark.parametrize("gamma, delta", [(2.0, 1.0), (2.0, None), (0.0, 0.3)])
def test_mlpf_loss_matches_numpy(rng, gamma, delta):
    B, N = 3, 9
    out = rng.normal(0, 2.0, (B, N, 11)).astype(np.float32)
    mask = (rng.random((B, N)) < 0.8).astype(np.float32)
    exists = (rng.random((B, N)) < 0.6).astype(np.float32)
    label = rng.integers(0, 5, (B, N)).astype(np.int32)
    reg = rng.normal(0, 1.5, (B, N, 5)).astype(np.float32)
    no_particle = (mask == 0) | (exists == 0)
    reg[no_particle] = np.nan  # targets of elements without a particle, and of padding, are never read
    label[no_particle] = 99
    out[mask == 0] = np.nan
    weights = (2.0, 0.5, 3.0)
    kwargs = dict(gamma=gamma, huber_delta=delta, existence_weight=weights[0], class_weight=weights[1],
                  regression_weight=weights[2])
    total, parts = jax.jit(lambda *a: mlpf_loss(*a, **kwargs))(out, MLPFTargets(exists, label, reg), mask)
    want_total, want = _numpy_loss(out, exists, label, reg, mask, gamma, delta, weights)
    for k in want:
        assert float(parts[k]) == pytest.approx(want[k], rel=1e-5), k
    assert float(total) == pytest.approx(want_total, rel=1e-5)
    split = split_outputs(jnp.asarray(out))  # the triple form gives the same
    np.testing.assert_allclose(mlpf_loss(tuple(split), (exists, label, reg), mask, **kwargs)[0], total, rtol=1e-6)
    grad = jax.grad(lambda o: mlpf_loss(o, (exists, label, reg), mask, **kwargs)[0])(jnp.where(mask[..., None] > 0, out, 0.0))
    assert np.all(np.isfinite(grad)) and np.all(np.asarray(grad)[mask == 0] == 0)


def test_targets_encode_and_decode_back(rng):
    x, mask = make_elements(2, 11, rng)
    t = synthetic_targets(x, mask)
    exists = np.asarray(t.exists) > 0
    i = FEATURE_INDEX
    logits = np.where(np.arange(5) == np.asarray(t.label)[..., None], 4.0, -4.0)
    out = np.concatenate([np.where(exists, 6.0, -6.0)[..., None], logits, np.asarray(t.regression)], axis=-1)
    p = decode_particles(jnp.asarray(out, jnp.float32), jnp.asarray(x))
    log_pt, eta = x[..., i["log_pt"]], x[..., i["eta"]]
    phi = np.arctan2(x[..., i["sin_phi"]], x[..., i["cos_phi"]])
    kind = x[..., i["type"]]
    np.testing.assert_array_equal(np.asarray(p.probability) > 0.5, exists)
    np.testing.assert_array_equal(np.asarray(p.label)[exists], np.asarray(t.label)[exists])
    np.testing.assert_allclose(np.asarray(p.pt)[exists], np.exp(log_pt + 0.3 * np.tanh(eta))[exists], rtol=1e-5)
    np.testing.assert_allclose(np.asarray(p.eta)[exists], (eta + 0.1 * x[..., i["cos_phi"]])[exists], atol=1e-5)
    dphi = (np.asarray(p.phi) - phi - 0.05 + np.pi) % (2 * np.pi) - np.pi
    np.testing.assert_allclose(dphi[exists], 0.0, atol=1e-5)
    energy = np.exp(x[..., i["log_energy"]] - 0.2 * (kind == 3))
    np.testing.assert_allclose(np.asarray(p.energy)[exists], energy[exists], rtol=1e-5)
    np.testing.assert_array_equal(np.asarray(t.regression)[~exists], 0.0)
