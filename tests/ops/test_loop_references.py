"""stitch_ecal, jet_seeds, egamma_seeds, frames_in_acceptance, segment_softmax and build_graph:
plain, under jit and under vmap (``run_three_ways``), each against a NumPy loop."""

import numpy as np
import pytest

from e2ejax.ops import Graph, build_graph, egamma_seeds, frames_in_acceptance, jet_seeds, segment_softmax, stitch_ecal
from tests.conftest import assert_all_close, run_three_ways
from tests.ops.test_graph import brute_knn
from tests.ops.test_seeds import loop_window_argmax


def _sparse(rng, shape, fraction=0.05):
    return np.where(rng.random(shape) < fraction, rng.exponential(size=shape), 0).astype(np.float32)


def test_stitch_ecal_matches_loop(rng):
    parts = [rng.normal(size=(2, rows, 360)).astype(np.float32) for rows in (55, 170, 55)]
    expected = np.zeros((2, 280, 360), np.float32)
    for b in range(2):
        for row in range(280):
            part, local = (0, row) if row < 55 else (1, row - 55) if row < 225 else (2, row - 225)
            for col in range(360):
                expected[b, row, col] = parts[part][b, local, col]
    assert_all_close(run_three_ways(stitch_ecal, *parts), expected, rtol=0, atol=0)


def test_jet_seeds_match_loop(rng):
    hbhe = _sparse(rng, (2, 56, 72), 0.2)
    axes = np.stack([rng.integers(0, 56, (2, 4)), rng.integers(0, 72, (2, 4))], -1).astype(np.int32)
    axes[0, 0] = (2, 70)  # a window across the phi wrap and the eta edge
    mask = np.array([[True, True, True, False], [True, False, True, True]])
    towers = loop_window_argmax(hbhe, axes, mask, 7)
    expected = (5 * towers + 2).astype(np.int32), mask  # the crystal at the tower's centre
    assert_all_close(run_three_ways(jet_seeds, hbhe, axes, mask), expected, rtol=0, atol=0)


def test_egamma_seeds_match_loop(rng):
    ecal = _sparse(rng, (2, 280, 360), 0.05)
    centres = np.stack([rng.integers(0, 280, (2, 3)), rng.integers(0, 360, (2, 3))], -1).astype(np.int32)
    centres[1, 2] = (279, 0)  # the last row, at the phi wrap
    mask = np.array([[True, False, True], [True, True, True]])
    expected = loop_window_argmax(ecal, centres, mask, 5), mask
    assert_all_close(run_three_ways(egamma_seeds, ecal, centres, mask), expected, rtol=0, atol=0)


@pytest.mark.parametrize("height, rows", [(32, 280), (125, 280), (5, 9)])
def test_frames_in_acceptance_matches_loop(rng, height, rows):
    seeds = np.stack([rng.integers(-3, rows + 3, (3, 8)), rng.integers(0, 360, (3, 8))], -1).astype(np.int32)
    offset = height // 2 - 1 if height % 2 == 0 else height // 2
    expected = np.zeros((3, 8), bool)
    for b in range(3):
        for s in range(8):
            top = seeds[b, s, 0] - offset
            expected[b, s] = all(0 <= r < rows for r in range(top, top + height))
    assert expected.any() and not expected.all()
    results = run_three_ways(frames_in_acceptance, seeds, height=height, rows=rows)
    assert_all_close(results, expected, rtol=0, atol=0)


@pytest.mark.parametrize("heads", [None, 3])
def test_segment_softmax_matches_loop(rng, heads):
    E, n = 20, 5
    logits = rng.normal(size=(E,) if heads is None else (E, heads)).astype(np.float32) * 3
    ids = rng.integers(0, n - 1, E).astype(np.int32)
    ids[:2] = n - 1  # the last segment: entries 0 and 1 only, one of them masked out
    mask = rng.random(E) < 0.8
    mask[:2] = [True, False]
    expected = np.zeros_like(logits)
    for s in range(n):
        rows = [i for i in range(E) if ids[i] == s and mask[i]]
        if rows:
            e = np.exp(logits[rows] - logits[rows].max(0))
            expected[rows] = e / e.sum(0)
    np.testing.assert_allclose(expected[0], 1.0)
    results = run_three_ways(lambda x, i, m: segment_softmax(x, i, num_segments=n, mask=m), logits, ids, mask)
    assert_all_close(results, expected, rtol=1e-5, atol=1e-6)


def test_build_graph_matches_loop(rng):
    N, k = 12, 3
    nodes = rng.integers(-3, 4, (N, 4)).astype(np.float32)  # integer coordinates: exact distances and ties
    mask = rng.random(N) < 0.75
    mask[:2] = True
    nb, ok = brute_knn(nodes[:, -2:], mask, k)
    expected = Graph(nodes=nodes, senders=nb.reshape(-1).astype(np.int32), receivers=np.repeat(np.arange(N, dtype=np.int32), k),
                     node_mask=mask, edge_mask=ok.reshape(-1), n_node=np.int32(mask.sum()))
    assert ok.any() and not ok.all()
    results = run_three_ways(lambda x, m: build_graph(x, m, k=k), nodes, mask)
    for r in results:
        assert isinstance(r, Graph)
        np.testing.assert_array_equal(r.edge_mask, expected.edge_mask)
        np.testing.assert_array_equal(r.receivers, expected.receivers)
        np.testing.assert_array_equal(np.where(r.edge_mask, r.senders, -1), np.where(expected.edge_mask, expected.senders, -1))
        for field in ("nodes", "node_mask", "n_node"):
            np.testing.assert_array_equal(getattr(r, field), getattr(expected, field))
