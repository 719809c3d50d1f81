import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2ejax import geometry
from e2ejax.ops import endcap_hits_to_image, hbhe_towers, hits_to_image, safe_divide, stitch_ecal, track_image
from tests.conftest import assert_all_close, run_three_ways


def loop_image(rows, cols, values, mask, shape):
    H, W = shape
    out = np.zeros((rows.shape[0], H, W) + values.shape[2:], np.float64)
    for b in range(rows.shape[0]):
        for n in range(rows.shape[1]):
            r, c = rows[b, n], cols[b, n]
            if mask[b, n] and 0 <= r < H and 0 <= c < W:
                out[b, r, c] += values[b, n]
    return out


def random_hits(rng, B, N, H, W, C=None):
    rows = rng.integers(-2, H + 2, size=(B, N)).astype(np.int32)
    cols = rng.integers(-2, W + 2, size=(B, N)).astype(np.int32)
    values = rng.exponential(size=(B, N) if C is None else (B, N, C)).astype(np.float32)
    mask = rng.random((B, N)) < 0.8
    return rows, cols, values, mask


@pytest.mark.parametrize("channels", [None, 3])
def test_hits_to_image_matches_loop(rng, channels):
    rows, cols, values, mask = random_hits(rng, 3, 200, 9, 11, channels)
    rows[:, :50] = rows[:, 50:100]  # repeated cells must add up
    cols[:, :50] = cols[:, 50:100]
    expected = loop_image(rows, cols, values, mask, (9, 11))
    results = run_three_ways(hits_to_image, rows, cols, values, mask, shape=(9, 11))
    assert_all_close(results, expected, rtol=1e-5, atol=1e-5)


def test_padded_hits_ignored(rng):
    rows, cols, values, mask = random_hits(rng, 2, 30, 5, 5)
    padded = [np.concatenate([a, b], axis=1) for a, b in zip(
        (rows, cols, values, mask),
        (np.zeros((2, 20), np.int32), np.zeros((2, 20), np.int32), np.full((2, 20), 1e30, np.float32), np.zeros((2, 20), bool)),
    )]
    np.testing.assert_array_equal(hits_to_image(*padded, shape=(5, 5)), hits_to_image(rows, cols, values, mask, shape=(5, 5)))


@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
def test_property_total_energy_of_hits_inside(n, seed):
    rng = np.random.default_rng(seed)
    rows, cols, values, mask = random_hits(rng, 2, n, 6, 7)
    inside = mask & (rows >= 0) & (rows < 6) & (cols >= 0) & (cols < 7)
    img = hits_to_image(rows, cols, values, mask, shape=(6, 7))
    np.testing.assert_allclose(np.asarray(img).sum(axis=(1, 2)), (values * inside).sum(axis=1), rtol=1e-5)


def test_endcap_binning_matches_loop(rng):
    B, N = 2, 300
    eta = rng.uniform(-3.2, 3.2, (B, N)).astype(np.float32)
    phi = rng.uniform(-np.pi, np.pi, (B, N)).astype(np.float32)
    e = rng.exponential(size=(B, N)).astype(np.float32)
    mask = rng.random((B, N)) < 0.9
    edges = geometry.ECAL_ETA_EDGES.astype(np.float32)
    for side, first in (("minus", 0), ("plus", 225)):
        expected = np.zeros((B, 55, 360))
        for b in range(B):
            for n in range(N):
                row = np.searchsorted(edges, eta[b, n], side="right") - 1
                col = int(np.floor((np.float32(phi[b, n]) + np.float32(np.pi)) / np.float32(2 * np.pi) * 360)) % 360
                if mask[b, n] and first <= row < first + 55:
                    expected[b, row - first, col] += e[b, n]
        results = run_three_ways(endcap_hits_to_image, eta, phi, e, mask, side=side)
        assert_all_close(results, expected, rtol=1e-5, atol=1e-5)


def test_stitch_rows():
    ee_m, eb, ee_p = (np.full((1, n, 360), v, np.float32) for n, v in ((55, 1.0), (170, 2.0), (55, 3.0)))
    img = np.asarray(stitch_ecal(ee_m, eb, ee_p))
    assert img.shape == (1, 280, 360)
    assert (img[0, :55] == 1).all() and (img[0, 55:225] == 2).all() and (img[0, 225:] == 3).all()


def test_hbhe_towers_matches_loop(rng):
    B, N = 2, 100
    ieta = rng.choice(np.r_[-29:0, 1:30], size=(B, N)).astype(np.int32)
    iphi = rng.integers(1, 73, size=(B, N)).astype(np.int32)
    e = rng.exponential(size=(B, N)).astype(np.float32)
    mask = rng.random((B, N)) < 0.9
    expected = np.zeros((B, 56, 72))
    for b in range(B):
        for n in range(N):
            if not mask[b, n]:
                continue
            a = min(abs(ieta[b, n]), 28)
            row = (a - 1 if ieta[b, n] > 0 else -a) + 28
            col = (iphi[b, n] - 1 + 36) % 72  # CMS tower iphi 1 covers phi [0, 5) degrees: column 36
            if a > 20:
                expected[b, row, col] += e[b, n] / 2
                expected[b, row, (col + 1) % 72] += e[b, n] / 2
            else:
                expected[b, row, col] += e[b, n]
    results = run_three_ways(hbhe_towers, ieta, iphi, e, mask)
    assert_all_close(results, expected, rtol=1e-5, atol=1e-5)


def test_track_image_matches_loop(rng):
    B, N = 2, 60
    eta = rng.uniform(-2.5, 2.5, (B, N)).astype(np.float32)
    phi = rng.uniform(-np.pi, np.pi, (B, N)).astype(np.float32)
    eta[:, :20], phi[:, :20] = eta[:, 20:40], phi[:, 20:40]  # shared cells
    pt = rng.exponential(5.0, (B, N)).astype(np.float32)
    d0 = rng.normal(0, 0.1, (B, N)).astype(np.float32)
    dz = rng.normal(0, 1.0, (B, N)).astype(np.float32)
    mask = rng.random((B, N)) < 0.9
    rows, cols = geometry.eta_phi_to_cell(eta, phi)
    sums = loop_image(rows, cols, np.stack([pt, pt * d0, pt * dz], -1), mask, (280, 360))
    expected = sums.copy()
    filled = sums[..., 0] > 0
    expected[..., 1] = np.where(filled, sums[..., 1] / np.where(filled, sums[..., 0], 1), 0)
    expected[..., 2] = np.where(filled, sums[..., 2] / np.where(filled, sums[..., 0], 1), 0)
    results = run_three_ways(track_image, eta, phi, pt, d0, dz, mask)
    assert_all_close(results, expected, rtol=1e-4, atol=1e-5)


def test_track_image_gradient_finite_in_empty_cells(rng):
    args = [np.zeros((1, 4), np.float32) for _ in range(5)] + [np.array([[True, False, True, False]])]
    args[2][:] = [[1.0, 0.0, 2.0, 0.0]]
    g = jax.grad(lambda pt: jnp.sum(track_image(args[0], args[1], pt, args[3] + 1.0, args[4], args[5])))(args[2])
    assert np.isfinite(np.asarray(g)).all()


def test_errors():
    r = np.zeros((2, 5), np.int32)
    v = np.zeros((2, 5), np.float32)
    m = np.ones((2, 5), bool)
    with pytest.raises(ValueError, match=r"expected rows of shape \[B, N\], got shape \(5,\)"):
        hits_to_image(r[0], r[0], v[0], m[0], shape=(3, 3))
    with pytest.raises(TypeError, match="expected rows with an integer dtype"):
        hits_to_image(v, r, v, m, shape=(3, 3))
    with pytest.raises(TypeError, match="expected mask with dtype bool"):
        hits_to_image(r, r, v, r, shape=(3, 3))
    with pytest.raises(ValueError, match=r"expected rows, cols, mask to share shape \(2, 5\)"):
        hits_to_image(r, r[:, :3], v, m, shape=(3, 3))
    with pytest.raises(ValueError, match=r"expected shape=\(height, width\)"):
        hits_to_image(r, r, v, m, shape=(3,))
    with pytest.raises(ValueError, match="expected side='minus' or side='plus'"):
        endcap_hits_to_image(v, v, v, m, side="left")
    with pytest.raises(ValueError, match=r"expected eb of shape \[B, 170, 360, ...\]"):
        stitch_ecal(np.zeros((1, 55, 360)), np.zeros((1, 171, 360)), np.zeros((1, 55, 360)))


def test_safe_divide_zero_where_denominator_not_positive_and_gradient_finite():
    num = jnp.array([1.0, 2.0, 3.0])
    den = jnp.array([4.0, 0.0, -1.0])
    np.testing.assert_array_equal(np.asarray(safe_divide(num, den)), [0.25, 0.0, 0.0])
    g_num, g_den = jax.grad(lambda n, d: jnp.sum(safe_divide(n, d)), argnums=(0, 1))(num, den)
    np.testing.assert_allclose(np.asarray(g_num), [0.25, 0.0, 0.0])
    np.testing.assert_allclose(np.asarray(g_den), [-1.0 / 16.0, 0.0, 0.0])
