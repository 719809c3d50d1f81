import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2ejax.ops import extract_frames, frame_offset
from tests.conftest import assert_all_close, run_three_ways


def recoe2e_crop(images, seeds, height, width):
    """The RecoE2E FrameCropping loop: pixel by pixel, phi wraps, rows outside stay zero."""
    B, H, W, C = images.shape
    S = seeds.shape[1]
    out = np.zeros((B, S, height, width, C), images.dtype)
    ok = np.zeros((B, S), bool)
    oh = height // 2 - 1 if height % 2 == 0 else height // 2
    ow = width // 2 - 1 if width % 2 == 0 else width // 2
    for b in range(B):
        for s in range(S):
            inside = True
            for i in range(height):
                r = seeds[b, s, 0] - oh + i
                if r < 0 or r >= H:
                    inside = False
                    continue
                for j in range(width):
                    c = (seeds[b, s, 1] - ow + j) % W
                    out[b, s, i, j] = images[b, r, c]
            ok[b, s] = inside
    return out, ok


def random_case(rng, B, H, W, C, S, height):
    images = rng.normal(size=(B, H, W, C)).astype(np.float32)
    rows = rng.integers(-height, H + height, size=(B, S))
    cols = rng.integers(-2 * W, 2 * W, size=(B, S))
    return images, np.stack([rows, cols], -1).astype(np.int32)


@pytest.mark.parametrize("height,width", [(5, 5), (8, 6), (32, 32), (7, 12)])
def test_matches_recoe2e_loop(rng, height, width):
    images, seeds = random_case(rng, 2, 40, 36, 3, 5, height)
    expected = recoe2e_crop(images, seeds, height, width)
    results = run_three_ways(extract_frames, images, seeds, height=height, width=width)
    assert_all_close(results, expected, rtol=0, atol=0)


def test_seed_position_in_frame(rng):
    images = rng.normal(size=(1, 280, 360, 1)).astype(np.float32)
    seeds = np.array([[[100, 200], [140, 7]]], np.int32)
    for size, at in ((32, 15), (125, 62)):
        frames, ok = extract_frames(images, seeds, height=size, width=size)
        assert frame_offset(size) == at
        for s in range(2):
            assert frames[0, s, at, at, 0] == images[0, seeds[0, s, 0], seeds[0, s, 1], 0]
        assert ok.all()


def test_phi_wraps_at_both_edges():
    W = 12
    images = np.tile(np.arange(W, dtype=np.float32), (1, 10, 1))[..., None]
    seeds = np.array([[[5, 0], [5, W - 1]]], np.int32)
    frames, ok = extract_frames(images, seeds, height=3, width=5)
    np.testing.assert_array_equal(frames[0, 0, 1, :, 0], [10, 11, 0, 1, 2])
    np.testing.assert_array_equal(frames[0, 1, 1, :, 0], [9, 10, 11, 0, 1])
    assert ok.all()


def test_first_and_last_rows_are_kept_and_zero_padded():
    images = np.ones((1, 10, 8, 2), np.float32)
    seeds = np.array([[[0, 3], [9, 3], [4, 3], [-50, 0]]], np.int32)
    frames, ok = extract_frames(images, seeds, height=5, width=5)
    assert frames.shape == (1, 4, 5, 5, 2)
    np.testing.assert_array_equal(frames[0, 0, :, 0, 0], [0, 0, 1, 1, 1])
    np.testing.assert_array_equal(frames[0, 1, :, 0, 0], [1, 1, 1, 0, 0])
    np.testing.assert_array_equal(ok[0], [False, False, True, False])
    assert float(np.abs(frames[0, 3]).sum()) == 0.0


def test_frame_taller_than_image_never_in_acceptance(rng):
    images, seeds = random_case(rng, 1, 6, 9, 1, 3, 4)
    frames, ok = extract_frames(images, seeds, height=9, width=9)
    assert not ok.any()
    expected, _ = recoe2e_crop(images, seeds, 9, 9)
    np.testing.assert_array_equal(frames, expected)


def test_gradient_is_the_crop(rng):
    images, seeds = random_case(rng, 1, 12, 10, 2, 2, 5)
    weights = rng.normal(size=(1, 2, 5, 5, 2)).astype(np.float32)
    grad = jax.grad(lambda x: jnp.sum(extract_frames(x, seeds, height=5, width=5)[0] * weights))(images)
    # numpy transpose of the crop: scatter the weights back
    expected = np.zeros_like(images)
    for s in range(2):
        for i in range(5):
            r = seeds[0, s, 0] - 2 + i
            if 0 <= r < 12:
                for j in range(5):
                    expected[0, r, (seeds[0, s, 1] - 2 + j) % 10] += weights[0, s, i, j]
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-6)


@settings(max_examples=15, deadline=None)
@given(
    H=st.integers(1, 12), W=st.integers(1, 12), height=st.integers(1, 9), width=st.integers(1, 9),
    seed=st.integers(0, 2**31 - 1),
)
def test_property_matches_loop(H, W, height, width, seed):
    rng = np.random.default_rng(seed)
    images, seeds = random_case(rng, 2, H, W, 1, 3, height)
    frames, ok = extract_frames(images, seeds, height=height, width=width)
    exp_frames, exp_ok = recoe2e_crop(images, seeds, height, width)
    np.testing.assert_array_equal(frames, exp_frames)
    np.testing.assert_array_equal(ok, exp_ok)


def test_errors():
    img = np.zeros((2, 10, 10, 1), np.float32)
    seeds = np.zeros((2, 3, 2), np.int32)
    with pytest.raises(ValueError, match=r"expected images of shape \[B, H, W, C\], got shape \(10, 10, 1\)"):
        extract_frames(img[0], seeds, height=5, width=5)
    with pytest.raises(TypeError, match="expected seeds with an integer dtype"):
        extract_frames(img, seeds.astype(np.float32), height=5, width=5)
    with pytest.raises(TypeError, match="expected images with a floating dtype"):
        extract_frames(img.astype(np.int32), seeds, height=5, width=5)
    with pytest.raises(ValueError, match=r"expected seeds of shape \[2, S, 2\]"):
        extract_frames(img, seeds[:1], height=5, width=5)
    with pytest.raises(ValueError, match="expected height to be a positive int, got 0"):
        extract_frames(img, seeds, height=0, width=5)


def _edge_case(rng, B, H, W, C, height, width):
    """Seeds on the first and last image rows with wrapping columns, plus random ones."""
    images = rng.normal(size=(B, H, W, C)).astype(np.float32)
    oh, ow = frame_offset(height), frame_offset(width)
    fixed = [[0, ow - 1], [0, W - 1 + ow], [H - 1, 0], [H - 1 - height + oh + 1, W - 1], [oh, 0], [H - 1, W // 2]]
    seeds = np.array([fixed + rng.integers(-height, H + height, (3, 2)).tolist() for _ in range(B)], np.int32)
    return images, seeds


@pytest.mark.parametrize("B,C,height,width", [(1, 1, 5, 5), (1, 3, 4, 7), (3, 1, 9, 12), (2, 2, 6, 11)])
def test_edge_rows_with_wrap_match_loop(rng, B, C, height, width):
    # the fast path borrows wrapped columns from the previous image row; image row 0
    # of event 0 and row H-1 of event B-1 have no neighbour and take the exact fix-up
    images, seeds = _edge_case(rng, B, 7, 12, C, height, width)
    expected = recoe2e_crop(images, seeds, height, width)
    results = run_three_ways(extract_frames, images, seeds, height=height, width=width)
    assert_all_close(results, expected, rtol=0, atol=0)


def test_both_code_paths_agree(rng):
    from e2ejax.ops._frames import _pixel_gather_frames, _two_segment_frames

    images, seeds = _edge_case(rng, 2, 9, 10, 2, 5, 6)
    rows = seeds[..., 0, None] - frame_offset(5) + np.arange(5)[None, None, :]
    inside = (rows >= 0) & (rows < 9)
    args = (jnp.asarray(images), jnp.asarray(rows), jnp.asarray(inside), jnp.asarray(seeds[..., 1]), 6)
    np.testing.assert_array_equal(_two_segment_frames(*args), _pixel_gather_frames(*args))


@pytest.mark.parametrize("width", [4, 10, 13])  # fast path, full-width frame, wider than the image
def test_gradient_on_edge_rows_is_the_crop(rng, width):
    B, H, W, C, height = 2, 6, 10, 2, 5
    images, seeds = _edge_case(rng, B, H, W, C, height, min(width, W))
    weights = rng.normal(size=(B, seeds.shape[1], height, width, C)).astype(np.float32)
    loss = lambda x: jnp.sum(extract_frames(x, seeds, height=height, width=width)[0] * weights)  # noqa: E731
    grad = jax.grad(loss)(images)
    expected = np.zeros_like(images)
    oh, ow = frame_offset(height), frame_offset(width)
    for b in range(B):
        for s in range(seeds.shape[1]):
            for i in range(height):
                r = seeds[b, s, 0] - oh + i
                if 0 <= r < H:
                    for j in range(width):
                        expected[b, r, (seeds[b, s, 1] - ow + j) % W] += weights[b, s, i, j]
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-5)
    grad_vmap = jax.vmap(jax.grad(lambda x, s, w: jnp.sum(extract_frames(x, s, height=height, width=width)[0] * w)))(
        images[None], seeds[None], weights[None]
    )
    np.testing.assert_allclose(grad_vmap[0], expected, rtol=1e-5, atol=1e-5)


@settings(max_examples=25, deadline=None)
@given(
    B=st.integers(1, 3), H=st.integers(1, 9), W=st.integers(1, 12), C=st.integers(1, 3),
    height=st.integers(1, 9), width=st.integers(1, 12), seed=st.integers(0, 2**31 - 1),
)
def test_property_edges_match_loop(B, H, W, C, height, width, seed):
    rng = np.random.default_rng(seed)
    images, seeds = _edge_case(rng, B, H, W, C, height, width)
    frames, ok = jax.jit(extract_frames, static_argnames=("height", "width"))(images, seeds, height=height, width=width)
    exp_frames, exp_ok = recoe2e_crop(images, seeds, height, width)
    np.testing.assert_array_equal(frames, exp_frames)
    np.testing.assert_array_equal(ok, exp_ok)
