"""hits_to_frames and upsampled_frames: frames without the full image, against image-then-crop loops."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jax.test_util import check_grads

from e2ejax.ops import frames_in_acceptance, hits_to_frames, upsample, upsampled_frames
from tests.conftest import assert_all_close, run_three_ways
from tests.ops.test_frames import recoe2e_crop


def image_loop(rows, cols, values, mask, H, W):
    """Plain loop: sum each real hit inside the grid into its cell."""
    values = values if values.ndim == 3 else values[..., None]
    out = np.zeros((rows.shape[0], H, W, values.shape[-1]), np.float64)
    for b in range(rows.shape[0]):
        for n in range(rows.shape[1]):
            if mask[b, n] and 0 <= rows[b, n] < H and 0 <= cols[b, n] < W:
                out[b, rows[b, n], cols[b, n]] += values[b, n]
    return out.astype(np.float32)


def random_hits(rng, B, N, H, W, C=None):
    rows = rng.integers(-3, H + 3, (B, N)).astype(np.int32)  # some outside the grid: dropped
    cols = rng.integers(-3, W + 3, (B, N)).astype(np.int32)
    shape = (B, N) if C is None else (B, N, C)
    values = rng.normal(size=shape).astype(np.float32)
    mask = rng.random((B, N)) < 0.8
    return rows, cols, values, mask


@pytest.mark.parametrize("height,width,C", [(5, 5, None), (8, 6, 2), (7, 12, 3), (16, 36, 1)])
def test_equals_image_then_crop(rng, height, width, C):
    H, W = 20, 36
    rows, cols, values, mask = random_hits(rng, 2, 300, H, W, C)
    seeds = np.stack([rng.integers(-height, H + height, (2, 4)), rng.integers(-2 * W, 2 * W, (2, 4))], -1).astype(np.int32)
    expected, ok = recoe2e_crop(image_loop(rows, cols, values, mask, H, W), seeds, height, width)
    expected = expected if C is not None else expected[..., 0]
    results = run_three_ways(hits_to_frames, rows, cols, values, mask, seeds, shape=(H, W), height=height, width=width)
    assert_all_close(results, (expected, ok), rtol=1e-5, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), height=st.integers(1, 12), width=st.integers(1, 24))
def test_property_any_size(seed, height, width):
    rng = np.random.default_rng(seed)
    H, W = 10, 24
    rows, cols, values, mask = random_hits(rng, 1, 60, H, W)
    seeds = np.stack([rng.integers(-5, H + 5, (1, 3)), rng.integers(-50, 50, (1, 3))], -1).astype(np.int32)
    frames, ok = hits_to_frames(rows, cols, values, mask, seeds, shape=(H, W), height=height, width=width)
    expected, expected_ok = recoe2e_crop(image_loop(rows, cols, values, mask, H, W), seeds, height, width)
    np.testing.assert_allclose(np.asarray(frames), expected[..., 0], rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(ok), expected_ok)


def test_gradient_is_the_gather(rng):
    rows, cols, values, mask = random_hits(rng, 1, 40, 12, 16)
    seeds = np.array([[[5, 0], [6, 15]]], np.int32)
    weights = jnp.asarray(rng.normal(size=(1, 2, 7, 9)).astype(np.float32))

    def f(v):
        frames, _ = hits_to_frames(rows, cols, v, mask, seeds, shape=(12, 16), height=7, width=9)
        return jnp.sum(jnp.tanh(frames) * weights)

    check_grads(f, (values,), order=1, modes=["rev"], eps=1e-2, atol=2e-2, rtol=2e-2)
    grad = np.asarray(jax.grad(f)(values))
    assert np.all(grad[~mask] == 0)


def test_errors():
    z = np.zeros((1, 4), np.int32)
    v, m, s = np.zeros((1, 4), np.float32), np.ones((1, 4), bool), np.zeros((1, 2, 2), np.int32)
    with pytest.raises(ValueError, match="expected width <= 6"):
        hits_to_frames(z, z, v, m, s, shape=(4, 6), height=3, width=7)
    with pytest.raises(ValueError, match=r"expected seeds of shape \[1, S, 2\]"):
        hits_to_frames(z, z, v, m, np.zeros((2, 2, 2), np.int32), shape=(4, 6), height=3, width=3)
    with pytest.raises(TypeError):
        hits_to_frames(z, z, z, m, s, shape=(4, 6), height=3, width=3)


@pytest.mark.parametrize("height,width", [(125, 125), (32, 32), (6, 9)])
def test_upsampled_frames_equal_upsample_then_crop(rng, height, width):
    towers = rng.exponential(size=(2, 56, 72, 2)).astype(np.float32)
    seeds = np.stack([rng.integers(-70, 350, (2, 5)), rng.integers(-400, 800, (2, 5))], -1).astype(np.int32)
    expected, _ = recoe2e_crop(np.asarray(upsample(towers)), seeds, height, width)
    results = run_three_ways(upsampled_frames, towers, seeds, height=height, width=width)
    assert_all_close(results, expected, rtol=1e-6, atol=0)


def test_frames_in_acceptance_edges():
    seeds = np.array([[14, 0], [15, 0], [263, 3], [264, 3]], np.int32)  # frame rows seed-15 .. seed+16
    np.testing.assert_array_equal(frames_in_acceptance(seeds, height=32, rows=280), [False, True, True, False])
