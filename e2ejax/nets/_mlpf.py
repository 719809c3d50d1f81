"""MLPF: machine-learned particle flow, from particle-flow elements to one particle per element.

Papers: J. Pata, J. Duarte, J.-R. Vlimant, M. Pierini, M. Spiropulu, "MLPF: efficient
machine-learned particle-flow reconstruction using graph neural networks", Eur. Phys. J. C
81 (2021) 381, arXiv:2101.08578; CMS, "Machine learning for particle flow reconstruction at
CMS", arXiv:2203.00330; J. Pata et al., "Improved particle-flow event reconstruction with
scalable neural networks for current and future particle detectors", arXiv:2309.06782.

The element layout, the particle classes and the output channels are in
:mod:`e2ejax.nets._mlpf_layout`. The network, per event of ``N`` elements:

* type-split encoders: one MLP (Linear, LayerNorm, GELU, Linear) per element type (track,
  ECAL cluster, HCAL cluster) on the features after the type id; each element takes the
  output of its type's encoder; padded elements are zero throughout;
* ``n_layers`` message-passing layers over an LSH-binned kNN graph (MLPF's
  ``CombinedGraphLayer``), each pre-LayerNorm with residual connections: a learned
  projection of the embedding to a ``dist_dim``-wide distance space; its angular-LSH bins
  of ``bin_size`` elements and the ``k`` nearest elements inside a bin
  (:func:`e2ejax.ops.binned_knn`: cost linear in ``N``, no ``N x N`` array); messages from
  the neighbours weighted by a softmax of minus their squared distances (differentiable, so
  the distance projection learns); a sigmoid gate between the neighbourhood's message and
  the element's own (MLPF's GHConv); then a residual feed-forward block;
* heads on the final LayerNorm: an existence logit, logits over the five particle classes,
  and the five regression outputs (the regression head also sees the class probabilities,
  as in MLPF).

As in MLPF, the number of LSH buckets grows with the event, about one bucket per
``bin_size`` real elements (up to ``2 n_projections``; one bucket, an exact kNN, up to
``bin_size`` elements), the elements are sorted by bucket and cut into bins of ``bin_size``.
Differences from MLPF: MLPF stores its random hashing directions with the weights (a fixed,
untrained buffer); here they are fixed per layer by ``lsh_seed`` and rebuilt with the model,
so a checkpoint needs no extra state. MLPF needs ``N`` to be a multiple of ``bin_size``, its bins
follow the sorted list across buckets and the order inside a bucket is left to the sort; here
any ``N`` is allowed, bins never span two buckets (the last bin of a bucket may be partial: a
change of bucket moves the bins of two buckets, not of the whole event) and inside a bucket
the elements are ordered by their projection on the bucket's direction, so that the bins, and
hence the outputs, follow the elements under any permutation of the input (exactly identical
elements cut by a bin boundary excepted). Messages are weighted by a softmax over the ``k``
neighbours of minus the squared distance, where MLPF weights a Gaussian kernel of the
distance and normalises by the node degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from e2ejax.nets._mlpf_layout import ELEMENT_FEATURES, ELEMENT_TYPES, PARTICLE_CLASSES, REGRESSION_TARGETS
from e2ejax.nets._spec import InputSpec
from e2ejax.ops import binned_knn, gather_neighbours

__all__ = ["MLPF", "MLPFConfig", "LSHDirections"]

_N_TYPES = len(ELEMENT_TYPES) - 1


@dataclass(frozen=True)
class MLPFConfig:
    """MLPF network; the defaults are a CPU-friendly MLPF (0.46 M parameters).

    Attributes:
        n_features: columns of ``elements`` (feature 0 the type id); default
            ``len(ELEMENT_FEATURES)``.
        width: embedding width.
        n_layers: message-passing layers (MLPF: 3).
        dist_dim: width of the learned distance space that is hashed and searched.
        n_projections: LSH directions per layer: up to ``2 n_projections`` buckets (an
            event uses about one per ``bin_size`` real elements).
        bin_size: elements per LSH bin.
        k: neighbours per element, ``k < bin_size``.
        head_width: hidden width of each head.
        lsh_seed: seed of the fixed hashing directions (part of the model: changing it
            changes the graph).
    """

    n_features: int = len(ELEMENT_FEATURES)
    width: int = 128
    n_layers: int = 3
    dist_dim: int = 16
    n_projections: int = 8
    bin_size: int = 64
    k: int = 16
    head_width: int = 128
    lsh_seed: int = 0

    def __post_init__(self):
        for name in ("n_features", "width", "n_layers", "dist_dim", "n_projections", "bin_size", "k", "head_width"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"MLPFConfig.{name}: expected a positive int, got {value!r}")
        if self.n_features < 2:
            raise ValueError(f"MLPFConfig.n_features: expected the type id and at least one feature, got {self.n_features}")
        if self.k >= self.bin_size:
            raise ValueError(f"MLPFConfig: expected k < bin_size (neighbours come from the other members of a bin), "
                             f"got k={self.k} and bin_size={self.bin_size}")


class LSHDirections(nnx.Variable):
    """The fixed hashing directions ``[dist_dim, n_projections]`` of one layer: no parameter
    (not trained, not in a checkpoint's params), rebuilt from ``MLPFConfig.lsh_seed``."""


def _layer_norm(n: int, rngs: nnx.Rngs) -> nnx.LayerNorm:
    return nnx.LayerNorm(n, epsilon=1e-5, use_fast_variance=False, rngs=rngs)


class _MLP(nnx.Module):
    """Linear -> LayerNorm -> GELU -> Linear."""

    def __init__(self, c_in: int, hidden: int, c_out: int, *, rngs: nnx.Rngs):
        self.inner = nnx.Linear(c_in, hidden, rngs=rngs)
        self.norm = _layer_norm(hidden, rngs)
        self.outer = nnx.Linear(hidden, c_out, rngs=rngs)

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.outer(jax.nn.gelu(self.norm(self.inner(x)), approximate=False))


class _MessagePassing(nnx.Module):
    """One LSH-binned graph layer with gated neighbour messages and a feed-forward block, both residual."""

    def __init__(self, config: MLPFConfig, layer: int, *, rngs: nnx.Rngs):
        w = config.width
        self.bin_size, self.k = config.bin_size, config.k
        self.norm = _layer_norm(w, rngs)
        self.distance = nnx.Linear(w, config.dist_dim, rngs=rngs)
        self.message = nnx.Linear(w, w, rngs=rngs)
        self.own = nnx.Linear(w, w, rngs=rngs)
        self.gate = nnx.Linear(w, w, rngs=rngs)
        self.ffn_norm = _layer_norm(w, rngs)
        self.ffn = _MLP(w, 2 * w, w, rngs=rngs)
        directions = np.random.default_rng((config.lsh_seed, layer)).standard_normal((config.dist_dim, config.n_projections))
        self.directions = LSHDirections(jnp.asarray(directions, jnp.float32))

    def __call__(self, h: jax.Array, real: jax.Array) -> jax.Array:
        """``h [B, N, W]`` (zero at padding), ``real [B, N]`` bool -> ``[B, N, W]`` (zero at padding)."""
        z = self.norm(h)
        coords = self.distance(z)  # [B, N, D]
        neighbours, ok = binned_knn(coords, real, self.directions[...], bin_size=self.bin_size, k=self.k)
        diff = coords[:, :, None, :] - gather_neighbours(coords, neighbours)
        logit = jnp.where(ok, -jnp.sum(diff * diff, axis=-1), -jnp.inf)  # [B, N, k]
        top = jnp.max(logit, axis=-1, keepdims=True)
        weight = jnp.where(ok, jnp.exp(logit - jnp.where(jnp.isfinite(top), top, 0.0)), 0.0)
        weight = weight / jnp.maximum(jnp.sum(weight, axis=-1, keepdims=True), 1.0)  # the sum is >= 1 when any neighbour
        # a contraction, not a sum over the slot axis: XLA on CPU reduces a middle axis ~10x slower
        gathered = jnp.einsum("bnk,bnkc->bnc", weight, gather_neighbours(self.message(z), neighbours))
        gate = jax.nn.sigmoid(self.gate(z))
        h = h + gate * gathered + (1.0 - gate) * self.own(z)
        h = h + self.ffn(self.ffn_norm(h))
        return jnp.where(real[..., None], h, 0.0)


class MLPF(nnx.Module):
    """``elements [B, N, F]``, ``mask [B, N]`` -> ``outputs [B, N, 11]``
    (:data:`e2ejax.nets._mlpf_layout.OUTPUT_CHANNELS`).

    Any ``B`` and ``N``; elements with ``mask > 0.5`` are real, padded ones (whatever they
    hold) change nothing and get zero outputs. Permuting the elements permutes the outputs.
    ``outputs[..., 0]`` is the existence logit, so :func:`e2ejax.nets.make_predict` gives
    each element's probability of yielding a particle, ``[B, N]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> cfg = MLPFConfig(width=8, n_layers=1, dist_dim=4, n_projections=2, bin_size=4, k=2, head_width=8)
        >>> MLPF(cfg, rngs=nnx.Rngs(0))(jnp.ones((2, 6, 15)), jnp.ones((2, 6))).shape
        (2, 6, 11)
    """

    def __init__(self, config: MLPFConfig, *, rngs: nnx.Rngs):
        self.config = c = config
        n_classes = len(PARTICLE_CLASSES)
        self.encoders = nnx.List([_MLP(c.n_features - 1, c.width, c.width, rngs=rngs) for _ in range(_N_TYPES)])
        self.layers = nnx.List([_MessagePassing(c, layer, rngs=rngs) for layer in range(c.n_layers)])
        self.norm = _layer_norm(c.width, rngs)
        self.existence_head = _MLP(c.width, c.head_width, 1, rngs=rngs)
        self.class_head = _MLP(c.width, c.head_width, n_classes, rngs=rngs)
        self.regression_head = _MLP(c.width + n_classes, c.head_width, len(REGRESSION_TARGETS), rngs=rngs)

    @property
    def input_spec(self) -> tuple[InputSpec, ...]:
        c = self.config
        return (
            InputSpec("elements", ("N", c.n_features),
                      "particle-flow elements: type id (0 padding, 1 track, 2 ECAL, 3 HCAL cluster), then "
                      + ", ".join(ELEMENT_FEATURES[1 : c.n_features])),
            InputSpec("mask", ("N",), "1.0 real element, 0.0 padding"),
        )

    def __call__(self, elements: jax.Array, mask: jax.Array) -> jax.Array:
        real = mask > 0.5
        elements = jnp.where(real[..., None], elements, 0.0)  # padding may hold anything, even NaN
        kind = elements[..., :1]
        features = elements[..., 1:]
        h = sum(jnp.where(jnp.abs(kind - type_id) < 0.5, encoder(features), 0.0)
                for type_id, encoder in enumerate(self.encoders, start=1))
        h = jnp.where(real[..., None], h, 0.0)
        for layer in self.layers:
            h = layer(h, real)
        z = self.norm(h)
        classes = self.class_head(z)
        regression = self.regression_head(jnp.concatenate([z, jax.nn.softmax(classes, axis=-1)], axis=-1))
        out = jnp.concatenate([self.existence_head(z), classes, regression], axis=-1)  # OUTPUT_CHANNELS
        return jnp.where(real[..., None], out, 0.0)
