"""EdgeConv-style GNN tagger over a kNN graph built inside the model from a padded point cloud."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from e2ejax.nets._log_inputs import check_log_scale, log_compress
from e2ejax.nets._spec import InputSpec
from e2ejax.ops import Graph, build_graph, segment_mean

__all__ = ["GNNConfig", "GNNTagger", "masked_pool"]


@dataclass(frozen=True)
class GNNConfig:
    """GNN tagger.

    Attributes:
        n_points: nodes per graph (padded point cloud size).
        n_features: features per node (channels + 2 normalised coordinates).
        k: neighbours per node in the kNN graph (built on the last two features).
        hidden: widths of the EdgeConv layers.
        head: width of the graph-level MLP.
        n_outputs: logits per graph.
        input_scale: one fixed factor per feature applied to the points first (e.g. 0.1
            per GeV), part of the network so exported models take raw points; None: 1.
        log_scale: when set (GeV), every channel value ``v`` (the features before the two
            coordinates) also enters as ``log1p(|v| / log_scale)``: energies and pT of 0.1
            to 100 GeV on one footing (shipped tau GNN: validation AUC 0.912 -> 0.960).
    """

    n_points: int = 64
    n_features: int = 7
    k: int = 8
    hidden: tuple[int, ...] = (32, 32, 64)
    head: int = 64
    n_outputs: int = 1
    input_scale: tuple[float, ...] | None = None
    log_scale: float | None = None


def masked_pool(h: jax.Array, mask: jax.Array) -> jax.Array:
    """Mean and max over the real nodes: ``h [B, N, F]``, ``mask [B, N]`` float -> ``[B, 2 F]``.

    Padding nodes change neither statistic, so the result is invariant to node
    order and to extra padding.
    """
    m = mask[..., None]
    count = jnp.maximum(jnp.sum(m, axis=1), 1.0)
    mean = jnp.sum(h * m, axis=1) / count
    peak = jnp.max(jnp.where(m > 0, h, -jnp.inf), axis=1)
    peak = jnp.where(jnp.isfinite(peak), peak, 0.0)
    return jnp.concatenate([mean, peak], axis=-1)


class _EdgeConv(nnx.Module):
    """``h_i' = relu(mean_j MLP([h_i, h_j - h_i]) + W h_i)`` over the edges into node ``i``."""

    def __init__(self, c_in: int, c_out: int, *, rngs: nnx.Rngs):
        self.edge1 = nnx.Linear(2 * c_in, c_out, rngs=rngs)
        self.edge2 = nnx.Linear(c_out, c_out, rngs=rngs)
        self.skip = nnx.Linear(c_in, c_out, rngs=rngs)

    def __call__(self, graph: Graph) -> Graph:
        """A batched :class:`~e2ejax.ops.Graph` (nodes ``[B, N, F]``, edges ``[B, E]``) -> the same graph, nodes ``[B, N, F']``."""
        h, senders, receivers = graph.nodes, graph.senders, graph.receivers
        hi = jnp.take_along_axis(h, receivers[..., None], axis=1)
        hj = jnp.take_along_axis(h, senders[..., None], axis=1)
        msg = self.edge2(jax.nn.relu(self.edge1(jnp.concatenate([hi, hj - hi], axis=-1))))
        agg = segment_mean(msg, receivers, num_segments=h.shape[1], mask=graph.edge_mask, method="onehot")
        return graph._replace(nodes=jax.nn.relu(agg + self.skip(h)))


class GNNTagger(nnx.Module):
    """``points [B, N, F]``, ``mask [B, N]`` (1.0 real, 0.0 padding) -> ``logits [B, n_outputs]``.

    The kNN graph (:func:`e2ejax.ops.build_graph`: ``lax.top_k`` on masked distances in
    the coordinate features), the message passing (gathers + masked segment means) and
    the pooling all happen inside the call, so they are part of every compiled
    and exported function. The batch axis stays a batch axis of every gather
    and scatter, so it may be dynamic (export) or sharded over devices.
    """

    def __init__(self, config: GNNConfig, *, rngs: nnx.Rngs):
        if config.input_scale is not None and len(config.input_scale) != config.n_features:
            raise ValueError(f"input_scale: expected one factor per feature ({config.n_features}), found {len(config.input_scale)}")
        self.config = config
        check_log_scale(config.log_scale)
        n_log = config.n_features - 2 if config.log_scale is not None else 0
        widths = (config.n_features + n_log,) + tuple(config.hidden)
        self.layers = nnx.List([_EdgeConv(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])
        self.mlp = nnx.Linear(2 * widths[-1], config.head, rngs=rngs)
        self.out = nnx.Linear(config.head, config.n_outputs, rngs=rngs)

    @property
    def input_spec(self) -> tuple[InputSpec, ...]:
        c = self.config
        return (
            InputSpec("points", (c.n_points, c.n_features), "hottest pixels: channel values + 2 normalised coordinates"),
            InputSpec("mask", (c.n_points,), "1.0 for real points, 0.0 for padding"),
        )

    def _node_features(self, points: jax.Array) -> jax.Array:
        """Scaled (masked) points, then the log-compressed channel values when ``log_scale`` is set."""
        c = self.config
        h = points if c.input_scale is None else points * jnp.asarray(c.input_scale, points.dtype).reshape((1, 1, -1))
        if c.log_scale is None:
            return h
        return jnp.concatenate([h, log_compress(points[..., :-2], c.log_scale)], axis=-1)

    def __call__(self, points: jax.Array, mask: jax.Array) -> jax.Array:
        graph = build_graph(self._node_features(points * mask[..., None]), mask > 0.5, k=self.config.k, coords=points[..., -2:])
        for layer in self.layers:
            graph = layer(graph)
        pooled = masked_pool(graph.nodes, mask)
        return self.out(jax.nn.relu(self.mlp(pooled)))
