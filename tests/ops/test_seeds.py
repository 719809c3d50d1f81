import numpy as np
import pytest

from e2ejax.ops import egamma_seeds, jet_seeds, window_argmax
from tests.conftest import assert_all_close, run_three_ways


def loop_window_argmax(image, centres, mask, window):
    B, H, W = image.shape
    half = window // 2
    out = np.zeros(centres.shape, np.int32)
    for b in range(B):
        for s in range(centres.shape[1]):
            r0 = min(max(centres[b, s, 0], 0), H - 1)
            c0 = centres[b, s, 1] % W
            best, cell = -np.inf, (r0, c0)
            for dr in range(-half, half + 1):
                for dc in range(-half, half + 1):
                    r, c = r0 + dr, (c0 + dc) % W
                    if 0 <= r < H and image[b, r, c] > best:
                        best, cell = image[b, r, c], (r, c)
            out[b, s] = cell if (mask[b, s] and best > 0) else (r0, c0)
    return out


@pytest.mark.parametrize("window", [1, 3, 7])
def test_window_argmax_matches_loop(rng, window):
    image = np.where(rng.random((2, 12, 15)) < 0.3, rng.exponential(size=(2, 12, 15)), 0).astype(np.float32)
    image[0, :, :] = np.round(image[0] * 2) / 2  # ties
    centres = np.stack([rng.integers(-3, 15, (2, 6)), rng.integers(-20, 30, (2, 6))], -1).astype(np.int32)
    centres[0, 0] = (0, 0)
    centres[1, 0] = (11, 14)
    mask = rng.random((2, 6)) < 0.8
    results = run_three_ways(window_argmax, image, centres, mask, window=window)
    assert_all_close(results, loop_window_argmax(image, centres, mask, window), rtol=0, atol=0)


def test_jet_seed_wraps_phi_and_returns_crystal_centre():
    hb = np.zeros((1, 56, 72), np.float32)
    hb[0, 0, 70] = 3.0  # first row, across the phi edge from the axis
    hb[0, 55, 2] = 4.0  # last row
    axes = np.array([[[1, 1], [54, 0], [30, 30]]], np.int32)
    seeds, mask = jet_seeds(hb, axes, np.ones((1, 3), bool))
    np.testing.assert_array_equal(seeds[0], [[2, 352], [277, 12], [152, 152]])
    assert mask.all()


def test_egamma_seed_in_window_only(rng):
    ecal = np.zeros((1, 280, 360), np.float32)
    ecal[0, 100, 100] = 5.0
    ecal[0, 100, 103] = 50.0  # outside a 5 x 5 window around (100, 100)
    seeds, _ = egamma_seeds(ecal, np.array([[[100, 100]]], np.int32), np.ones((1, 1), bool))
    np.testing.assert_array_equal(seeds[0, 0], [100, 100])
    seeds, _ = egamma_seeds(ecal, np.array([[[100, 100]]], np.int32), np.ones((1, 1), bool), window=7)
    np.testing.assert_array_equal(seeds[0, 0], [100, 103])


def test_errors():
    img = np.zeros((1, 56, 72), np.float32)
    c = np.zeros((1, 2, 2), np.int32)
    m = np.ones((1, 2), bool)
    with pytest.raises(ValueError, match="expected an odd window"):
        window_argmax(img, c, m, window=4)
    with pytest.raises(ValueError, match=r"expected hbhe of shape \[B, 56, 72\], got \(1, 50, 72\)"):
        jet_seeds(img[:, :50], c, m)
    with pytest.raises(ValueError, match=r"expected centres \[1, S, 2\] and mask \[1, S\]"):
        jet_seeds(img, c, m[:, :1])
    with pytest.raises(TypeError, match="expected centres with an integer dtype"):
        egamma_seeds(np.zeros((1, 280, 360), np.float32), c.astype(np.float32), m)


def test_hits_window_argmax_equals_image_search(rng):
    """The window search summed from hits picks the cell the image search picks (edges, ties, masked centres)."""
    from e2ejax.ops import hits_to_image, hits_window_argmax, window_argmax

    H, W, B, N, S = 12, 20, 3, 80, 6
    rows = rng.integers(-1, H + 1, (B, N)).astype(np.int32)
    cols = rng.integers(0, W, (B, N)).astype(np.int32)
    values = rng.choice([-1.0, 0.5, 1.0, 2.0], (B, N)).astype(np.float32)  # ties and negative cells
    hit_mask = rng.random((B, N)) < 0.7
    centres = np.stack([rng.integers(-3, H + 3, (B, S)), rng.integers(-W, 2 * W, (B, S))], -1).astype(np.int32)
    mask = rng.random((B, S)) < 0.8
    image = hits_to_image(rows, cols, values, hit_mask, shape=(H, W))
    for window in (3, 5):
        expected = window_argmax(image, centres, mask, window=window)
        results = run_three_ways(hits_window_argmax, rows, cols, values, hit_mask, centres, mask, shape=(H, W), window=window)
        assert_all_close(results, np.asarray(expected), rtol=0, atol=0)
