import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from e2ejax.ops import Graph, build_graph, frame_to_points, frames_to_graphs, gather_neighbours, knn
from tests.conftest import assert_all_close, run_three_ways


def numpy_points(frames, n_points):
    B, H, W, C = frames.shape
    pts = np.zeros((B, n_points, C + 2), np.float32)
    mask = np.zeros((B, n_points), bool)
    for b in range(B):
        flat = frames[b].reshape(H * W, C)
        score = np.abs(flat).sum(-1)
        order = np.argsort(-score, kind="stable")[:n_points]
        for slot, idx in enumerate(order):
            if score[idx] > 0:
                r, c = divmod(idx, W)
                pts[b, slot] = np.concatenate([flat[idx], [(r - (H - 1) / 2) / H, (c - (W - 1) / 2) / W]])
                mask[b, slot] = True
    return pts, mask


def brute_knn(points, mask, k, include_self=False):
    N = points.shape[0]
    nb = np.tile(np.arange(N)[:, None], (1, k))
    ok = np.zeros((N, k), bool)
    for i in range(N):
        if not mask[i]:
            continue
        cand = [(float(np.sum((points[i] - points[j]) ** 2)), j) for j in range(N) if mask[j] and (include_self or j != i)]
        cand.sort()  # distance, then lower index first
        for m, (_, j) in enumerate(cand[:k]):
            nb[i, m], ok[i, m] = j, True
    return nb, ok


def test_frame_to_points_matches_numpy(rng):
    frames = np.where(rng.random((3, 9, 8, 2)) < 0.2, rng.normal(size=(3, 9, 8, 2)), 0).astype(np.float32)
    frames[0] = 0.0  # an empty frame
    frames[1, 0, :4, 0] = 1.0  # ties go to the lower pixel index
    results = run_three_ways(frame_to_points, frames, n_points=20)
    assert_all_close(results, numpy_points(frames, 20), rtol=1e-6, atol=1e-7)
    assert not results[0][1][0].any()


@pytest.mark.parametrize("include_self", [False, True])
def test_knn_matches_brute_force_with_ties(rng, include_self):
    # integer lattice points: many equal distances
    points = rng.integers(0, 4, size=(3, 16, 2)).astype(np.float32)
    mask = rng.random((3, 16)) < 0.75
    mask[2, 3:] = False  # fewer real nodes than k
    k = 5
    nb, ok = zip(*(brute_knn(points[b], mask[b], k, include_self) for b in range(3)))
    expected = (np.stack(nb), np.stack(ok))
    results = run_three_ways(lambda p, m: knn(p, m, k=k, include_self=include_self), points, mask)
    assert_all_close(results, expected, rtol=0, atol=0)


@settings(max_examples=15, deadline=None)
@given(n=st.integers(2, 12), k=st.integers(1, 11), seed=st.integers(0, 2**31 - 1))
def test_property_knn(n, k, seed):
    k = min(k, n - 1)
    rng = np.random.default_rng(seed)
    points = rng.integers(0, 3, size=(n, 3)).astype(np.float32)
    mask = rng.random(n) < 0.7
    nb, ok = knn(points, mask, k=k)
    exp_nb, exp_ok = brute_knn(points, mask, k)
    np.testing.assert_array_equal(ok, exp_ok)
    np.testing.assert_array_equal(np.where(exp_ok, nb, -1), np.where(exp_ok, exp_nb, -1))


def test_build_graph_fields(rng):
    # 8 x 8 frames: normalised coordinates are multiples of 1/16, so distances (and ties) are exact
    frames = np.where(rng.random((2, 8, 8, 3)) < 0.3, rng.exponential(size=(2, 8, 8, 3)), 0).astype(np.float32)
    g = frames_to_graphs(frames, n_points=16, k=4)
    assert isinstance(g, Graph)
    assert g.nodes.shape == (2, 16, 5) and g.senders.shape == (2, 64) and g.receivers.shape == (2, 64)
    assert g.senders.dtype == jnp.int32 and g.edge_mask.dtype == jnp.bool_
    pts, mask = numpy_points(frames, 16)
    np.testing.assert_array_equal(g.n_node, mask.sum(1))
    for b in range(2):
        nb, ok = brute_knn(pts[b, :, -2:], mask[b], 4)
        np.testing.assert_array_equal(np.asarray(g.receivers[b]).reshape(16, 4), np.repeat(np.arange(16), 4).reshape(16, 4))
        np.testing.assert_array_equal(np.asarray(g.edge_mask[b]).reshape(16, 4), ok)
        np.testing.assert_array_equal(np.where(ok, np.asarray(g.senders[b]).reshape(16, 4), -1), np.where(ok, nb, -1))
    # edges never touch padding nodes
    send_ok = np.take_along_axis(np.asarray(g.node_mask), np.asarray(g.senders), 1)
    recv_ok = np.take_along_axis(np.asarray(g.node_mask), np.asarray(g.receivers), 1)
    assert np.all(send_ok[np.asarray(g.edge_mask)]) and np.all(recv_ok[np.asarray(g.edge_mask)])
    jitted = jax.jit(lambda f: frames_to_graphs(f, n_points=16, k=4))(frames)
    jax.tree.map(np.testing.assert_array_equal, jitted, g)


def test_gather_neighbours_is_the_node_major_view_of_the_senders(rng):
    nodes = rng.normal(size=(3, 10, 4)).astype(np.float32)
    mask = rng.random((3, 10)) < 0.8
    g = build_graph(nodes, mask, k=3)
    neighbours = np.asarray(g.senders).reshape(3, 10, 3)
    # slot m of node i: the sender of edge i * k + m, gathered per graph
    want = np.stack([nodes[b][np.asarray(g.senders[b])] for b in range(3)]).reshape(3, 10, 3, 4)
    results = run_three_ways(gather_neighbours, nodes, neighbours)
    assert_all_close(results, want, rtol=0, atol=0)
    # a batched gather: each graph indexes its own nodes; the gradient scatter-adds into the rows
    w = rng.normal(size=(3, 10, 3, 4)).astype(np.float32)
    grad = np.asarray(jax.grad(lambda v: jnp.sum(gather_neighbours(v, neighbours) * w))(nodes))
    expected = np.zeros_like(nodes)
    for b in range(3):
        np.add.at(expected[b], neighbours[b].reshape(-1), w[b].reshape(-1, 4))
    np.testing.assert_allclose(grad, expected, rtol=1e-6, atol=1e-6)
    # other query nodes than values (M != N), no batch axis
    np.testing.assert_array_equal(gather_neighbours(nodes[0], neighbours[0][:4]), want[0][:4])


def test_point_features_differentiable(rng):
    frames = rng.exponential(size=(1, 5, 5, 1)).astype(np.float32)
    grad = jax.grad(lambda f: jnp.sum(frame_to_points(f, n_points=25)[0][..., 0]))(frames)
    np.testing.assert_allclose(grad, 1.0)


def test_errors():
    with pytest.raises(ValueError, match="expected k <= 3 for N = 4 nodes"):
        knn(np.zeros((4, 2), np.float32), np.ones(4, bool), k=4)
    with pytest.raises(ValueError, match=r"expected mask of shape \(4,\), got \(3,\)"):
        knn(np.zeros((4, 2), np.float32), np.ones(3, bool), k=1)
    with pytest.raises(ValueError, match="expected n_points <= H \\* W = 4"):
        frame_to_points(np.zeros((1, 2, 2, 1), np.float32), n_points=5)
    with pytest.raises(TypeError, match="expected mask with dtype bool"):
        build_graph(np.zeros((4, 3), np.float32), np.ones(4, np.int32), k=1)
    with pytest.raises(ValueError, match=r"expected neighbours of shape \[\.\.\., M, k\] with the leading axes of values"):
        gather_neighbours(np.zeros((2, 4, 3), np.float32), np.zeros((3, 4, 2), np.int32))
    with pytest.raises(TypeError, match="expected neighbours with an integer dtype"):
        gather_neighbours(np.zeros((4, 3), np.float32), np.zeros((4, 2), np.float32))
