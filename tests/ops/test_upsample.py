import numpy as np
import pytest

from e2ejax.ops import upsample
from tests.conftest import assert_all_close, run_three_ways


def loop_upsample(towers, f):
    B, H, W, C = towers.shape
    out = np.zeros((B, H * f, W * f, C), towers.dtype)
    for b in range(B):
        for i in range(H * f):
            for j in range(W * f):
                out[b, i, j] = towers[b, i // f, j // f] / (f * f)
    return out


@pytest.mark.parametrize("factor", [1, 2, 5])
def test_matches_loop(rng, factor):
    towers = rng.exponential(size=(2, 6, 7, 2)).astype(np.float32)
    results = run_three_ways(upsample, towers, factor=factor)
    assert_all_close(results, loop_upsample(towers, factor), rtol=1e-6)


def test_hbhe_to_ecal_grid_conserves_energy(rng):
    towers = rng.exponential(size=(3, 56, 72, 1)).astype(np.float32)
    up = np.asarray(upsample(towers))
    assert up.shape == (3, 280, 360, 1)
    np.testing.assert_allclose(up.sum(axis=(1, 2, 3)), towers.sum(axis=(1, 2, 3)), rtol=1e-5)


def test_errors():
    with pytest.raises(ValueError, match=r"expected towers of shape \[B, H, W, C\], got shape \(56, 72\)"):
        upsample(np.zeros((56, 72), np.float32))
    with pytest.raises(ValueError, match="expected factor to be a positive int, got 0"):
        upsample(np.zeros((1, 2, 2, 1), np.float32), factor=0)
    with pytest.raises(TypeError, match="expected towers with a floating dtype"):
        upsample(np.zeros((1, 2, 2, 1), np.int32))
