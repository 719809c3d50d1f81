"""Frames -> padded point clouds -> kNN graphs (static sizes, masks for padding)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp

from e2ejax.ops._checks import check_bool, check_float, check_int, check_positive_int, check_rank, shape_str, shapes_equal

__all__ = ["Graph", "frame_to_points", "knn", "build_graph", "frames_to_graphs", "gather_neighbours"]


class Graph(NamedTuple):
    """A padded graph (or a batch of them: every field may carry leading batch axes ``[...]``).

    Messages flow from ``senders`` to ``receivers``. Edges are grouped by
    receiver: edge ``i * k + m`` carries the ``m``-th nearest neighbour of node
    ``i`` to node ``i``.

    Attributes:
        nodes: float ``[..., N, F]`` node features (zero for padding nodes).
        senders: int32 ``[..., E]`` index of each edge's source node.
        receivers: int32 ``[..., E]`` index of each edge's target node.
        node_mask: bool ``[..., N]``, true for real nodes.
        edge_mask: bool ``[..., E]``, true for real edges (both ends real).
        n_node: int32 ``[...]`` number of real nodes.
    """

    nodes: jax.Array
    senders: jax.Array
    receivers: jax.Array
    node_mask: jax.Array
    edge_mask: jax.Array
    n_node: jax.Array


def frame_to_points(frames, *, n_points: int):
    """The ``n_points`` hottest non-zero pixels of each frame as a padded point cloud.

    Pixels are ranked by the sum of ``|value|`` over channels (ties: lower
    row-major index first). A point's features are the pixel's channel values
    followed by its normalised coordinates ``((row - (H-1)/2) / H, (col - (W-1)/2) / W)``,
    each in ``(-0.5, 0.5)``. Slots beyond the number of non-zero pixels are
    padding: zero features and a false mask.

    Args:
        frames: float ``[B, H, W, C]``.
        n_points: static int <= ``H * W`` (keyword-only).

    Returns:
        ``(points, mask)``: float ``[B, n_points, C + 2]`` and bool ``[B, n_points]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> f = jnp.zeros((1, 3, 3, 1)).at[0, 2, 0, 0].set(2.0).at[0, 1, 1, 0].set(1.0)
        >>> pts, m = frame_to_points(f, n_points=3)
        >>> [[round(float(v), 3) for v in p] for p in pts[0]], m.tolist()
        ([[2.0, 0.333, -0.333], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]], [[True, True, False]])
    """
    check_rank("frames", frames, (4,), "[B, H, W, C]")
    check_float("frames", frames)
    n_points = check_positive_int("n_points", n_points)
    B, H, W, C = frames.shape
    if n_points > H * W:
        raise ValueError(f"expected n_points <= H * W = {H * W} for frames {shape_str(frames.shape)}, got {n_points}")
    flat = frames.reshape(B, H * W, C)
    score = jnp.sum(jnp.abs(flat), axis=-1)
    top, index = jax.lax.top_k(jax.lax.stop_gradient(score), n_points)
    mask = top > 0
    values = jnp.take_along_axis(flat, index[..., None], axis=1)
    row = (index // W).astype(flat.dtype)
    col = (index % W).astype(flat.dtype)
    coords = jnp.stack([(row - (H - 1) / 2) / H, (col - (W - 1) / 2) / W], axis=-1)
    points = jnp.concatenate([values, coords], axis=-1)
    return jnp.where(mask[..., None], points, 0), mask


def knn(points, mask, *, k: int, include_self: bool = False):
    """k nearest neighbours of every node by Euclidean distance, among real nodes.

    Distances to padding nodes (and to the node itself unless ``include_self``)
    are infinite; ``lax.top_k`` picks the ``k`` smallest, ties to the lower
    index. When a node has fewer than ``k`` real neighbours the remaining slots
    point at the node itself with a false mask.

    Args:
        points: float ``[..., N, D]`` coordinates.
        mask: bool ``[..., N]``.
        k: static int, ``k < N`` (``k <= N`` with ``include_self``), keyword-only.
        include_self: count each node as its own neighbour at distance 0.

    Returns:
        ``(neighbours, edge_mask)``: int32 ``[..., N, k]`` and bool ``[..., N, k]``
        (false for padding receivers and for missing neighbours).

    Examples:
        >>> import jax.numpy as jnp
        >>> p = jnp.array([[0.0], [1.0], [3.0], [9.0]])
        >>> nb, ok = knn(p, jnp.array([True, True, True, False]), k=2)
        >>> nb.tolist(), ok.tolist()
        ([[1, 2], [0, 2], [1, 0], [3, 3]], [[True, True], [True, True], [True, True], [False, False]])
    """
    check_rank("points", points, tuple(range(2, 8)), "[..., N, D]")
    check_float("points", points)
    check_bool("mask", mask)
    if not shapes_equal(jnp.shape(mask), jnp.shape(points)[:-1]):
        raise ValueError(f"expected mask of shape {shape_str(jnp.shape(points)[:-1])}, got {shape_str(jnp.shape(mask))}")
    k = check_positive_int("k", k)
    N = points.shape[-2]
    limit = N if include_self else N - 1
    if k > limit:
        raise ValueError(f"expected k <= {limit} for N = {N} nodes (include_self={include_self}), got k={k}")
    points = jax.lax.stop_gradient(points)
    diff = points[..., :, None, :] - points[..., None, :, :]
    dist = jnp.sum(diff * diff, axis=-1)  # [..., N, N]
    pair = mask[..., :, None] & mask[..., None, :]
    if not include_self:
        index = jnp.arange(N, dtype=jnp.int32)
        not_self = index[:, None] != index[None, :]  # a comparison, not EyeLike: ONNX Runtime has no bool EyeLike
        pair = pair & not_self[(None,) * (pair.ndim - 2)]
    dist = jnp.where(pair, dist, jnp.inf)
    neg, neighbours = jax.lax.top_k(-dist, k)
    edge_mask = jnp.isfinite(neg)
    self_index = jnp.zeros_like(neighbours) + jnp.arange(N, dtype=neighbours.dtype)[(None,) * (neighbours.ndim - 2) + (slice(None), None)]
    return jnp.where(edge_mask, neighbours, self_index).astype(jnp.int32), edge_mask


def gather_neighbours(values, neighbours):
    """Every node's neighbour rows: ``values[..., neighbours[..., i, m], :]``.

    The node-major view of a kNN :class:`Graph`'s senders (``neighbours = senders.reshape(..., N, k)``,
    edge ``i * k + m`` is slot ``m`` of node ``i``), so per-edge work becomes ``[..., N, k, F]``
    arrays reduced over the slot axis (:func:`e2ejax.ops.neighbour_mean`). One batched gather
    (the batch axes stay batch axes, as in :func:`e2ejax.ops.segment_sum`); its gradient is a
    scatter-add into ``values``.

    Args:
        values: ``[..., N, F]`` node rows.
        neighbours: int ``[..., M, k]`` indices into the ``N`` axis (e.g. from :func:`knn`).

    Returns:
        ``[..., M, k, F]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> gather_neighbours(jnp.array([[0.0], [10.0], [20.0]]), jnp.array([[1, 2], [0, 0]]))[..., 0].tolist()
        [[10.0, 20.0], [0.0, 0.0]]
    """
    check_rank("values", values, tuple(range(2, 8)), "[..., N, F]")
    check_int("neighbours", neighbours)
    values, neighbours = jnp.asarray(values), jnp.asarray(neighbours)
    lead = neighbours.shape[:-2]  # .shape, not jnp.shape: jax2onnx traces jnp.shape into an array
    if neighbours.ndim < 2 or not shapes_equal(values.shape[:-2], lead):
        raise ValueError(
            f"expected neighbours of shape [..., M, k] with the leading axes of values [..., N, F], got neighbours "
            f"{shape_str(neighbours.shape)} and values {shape_str(values.shape)}"
        )
    M, k = neighbours.shape[-2:]
    rows = jnp.take_along_axis(values, neighbours.reshape(lead + (M * k, 1)), axis=-2)
    return rows.reshape(lead + (M, k, values.shape[-1]))


def build_graph(nodes, node_mask, *, k: int, coords=None) -> Graph:
    """A kNN :class:`Graph` over padded nodes.

    Args:
        nodes: float ``[..., N, F]`` node features.
        node_mask: bool ``[..., N]``.
        k: static neighbours per node (keyword-only).
        coords: float ``[..., N, D]`` positions for the kNN; default the last
            two features (the normalised coordinates of :func:`frame_to_points`).

    Returns:
        A :class:`Graph` with ``E = N * k`` edges.

    Examples:
        >>> import jax.numpy as jnp
        >>> g = build_graph(jnp.array([[1.0, 0.0, 0.0], [2.0, 0.0, 0.5], [0.0, 0.0, 0.0]]),
        ...                 jnp.array([True, True, False]), k=1)
        >>> g.senders.tolist(), g.receivers.tolist(), g.edge_mask.tolist(), int(g.n_node)
        ([1, 0, 2], [0, 1, 2], [True, True, False], 2)
    """
    check_rank("nodes", nodes, tuple(range(2, 8)), "[..., N, F]")
    coords = nodes[..., -2:] if coords is None else coords
    neighbours, edge_mask = knn(coords, node_mask, k=k)
    N = nodes.shape[-2]
    lead = neighbours.shape[:-2]
    senders = neighbours.reshape(lead + (N * k,))
    # an add, not broadcast_to: the leading (batch) axes may be symbolic in an ONNX export
    receivers = jnp.zeros_like(senders) + jnp.repeat(jnp.arange(N, dtype=jnp.int32), k)[(None,) * len(lead)]
    return Graph(
        nodes=nodes,
        senders=senders,
        receivers=receivers,
        node_mask=node_mask,
        edge_mask=edge_mask.reshape(lead + (N * k,)),
        n_node=jnp.sum(node_mask, axis=-1).astype(jnp.int32),
    )


def frames_to_graphs(frames, *, n_points: int, k: int) -> Graph:
    """Frames ``[B, H, W, C]`` -> batched kNN graphs over their hottest pixels.

    Composition of :func:`frame_to_points` and :func:`build_graph` (kNN in the
    normalised pixel coordinates).

    Returns:
        A :class:`Graph` with nodes ``[B, n_points, C + 2]`` and ``n_points * k`` edges per graph.

    Examples:
        >>> import jax.numpy as jnp
        >>> g = frames_to_graphs(jnp.ones((2, 4, 4, 3)), n_points=8, k=3)
        >>> g.nodes.shape, g.senders.shape, bool(g.edge_mask.all())
        ((2, 8, 5), (2, 24), True)
    """
    points, mask = frame_to_points(frames, n_points=n_points)
    return build_graph(points, mask, k=k)
