"""Gradients through hits -> image -> upsample -> frames, against finite differences."""

import jax
import jax.numpy as jnp
import numpy as np
from jax.test_util import check_grads

from e2ejax import geometry
from e2ejax.ops import extract_frames, hbhe_towers, hits_to_image, stitch_ecal, upsample


def chain(eb_energy, hcal_energy, eb_rows, eb_cols, hb_ieta, hb_iphi, mask, seeds):
    eb = hits_to_image(eb_rows, eb_cols, eb_energy, mask, shape=(170, 360))
    zeros = jnp.zeros((eb.shape[0], 55, 360), eb.dtype)
    ecal = stitch_ecal(zeros, eb, zeros)
    hcal = upsample(hbhe_towers(hb_ieta, hb_iphi, hcal_energy, mask)[..., None])[..., 0]
    images = jnp.stack([ecal, hcal], axis=-1)
    frames, _ = extract_frames(images, seeds, height=32, width=32)
    weights = jnp.linspace(0.5, 1.5, 32 * 32 * 2, dtype=frames.dtype).reshape(32, 32, 2)
    return jnp.sum(jnp.tanh(frames) * weights[None, None])


def test_check_grads_through_chain():
    rng = np.random.default_rng(0)
    B, N = 1, 24
    eb_rows = rng.integers(90, 110, (B, N)).astype(np.int32)
    eb_cols = rng.integers(0, 20, (B, N)).astype(np.int32)
    ieta = rng.integers(2, 6, (B, N)).astype(np.int32)
    # CMSSW labels: tower columns 0..3 (near the seeds) are iphi 37..40.
    tower_cols = rng.integers(0, 4, (B, N))
    iphi = ((tower_cols - geometry.HBHE_IPHI_OFFSET) % 72 + 1).astype(np.int32)
    mask = rng.random((B, N)) < 0.8
    seeds = np.array([[[100 + geometry.EB_ROW_OFFSET - 55, 5], [150, 2]]], np.int32)
    eb_e = rng.uniform(0.1, 1.0, (B, N)).astype(np.float32)
    hc_e = rng.uniform(0.5, 3.0, (B, N)).astype(np.float32)
    f = lambda a, b: chain(a, b, eb_rows, eb_cols, ieta, iphi, mask, seeds)  # noqa: E731
    check_grads(f, (eb_e, hc_e), order=1, modes=["rev"], eps=1e-2, atol=2e-2, rtol=2e-2)
    g = jax.grad(f, argnums=(0, 1))(eb_e, hc_e)
    assert np.all(np.asarray(g[0])[~mask] == 0) and np.all(np.asarray(g[1])[~mask] == 0)
    assert np.abs(np.asarray(g[0])[mask]).sum() > 0 and np.abs(np.asarray(g[1])[mask]).sum() > 0
    jg = jax.jit(jax.grad(f, argnums=(0, 1)))(eb_e, hc_e)
    np.testing.assert_allclose(jg[0], g[0], rtol=1e-5, atol=1e-6)
