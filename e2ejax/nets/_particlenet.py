"""ParticleNet jet tagger: dynamic-graph EdgeConv over a particle cloud.

Paper: H. Qu and L. Gouskos, "ParticleNet: Jet Tagging via Particle Clouds",
Phys. Rev. D 101, 056019 (2020), arXiv:1902.08570.

The architecture matches ``weaver.nn.model.ParticleNet.ParticleNet`` of
weaver-core (the reference implementation; ``benchmarks/weaver_particlenet.py``
copies its weights into this module and compares logits), layer for layer:

* input BatchNorm of the features (``use_fts_bn``), padded particles zeroed (the
  inputs' padding is zeroed first, which weaver leaves to its zero-padded inputs);
* per EdgeConv block: kNN in the points ``(deta, dphi)`` for the first block and
  in the previous block's features afterwards, squared distances computed as
  weaver does (``|x_i|^2 - 2 x_i.x_j + |x_j|^2``, clamped at 0), the particle
  itself excluded; edge features ``(x_i, x_j - x_i)``; one 1x1 convolution
  (no bias) per width, each followed by BatchNorm and ReLU; mean over the ``k`` edges;
  a shortcut (1x1 convolution + BatchNorm, or the identity when the widths
  agree) added before a final ReLU; padded particles zeroed;
* fusion (``use_fusion``): the blocks' outputs concatenated, a 1x1 convolution
  to ``clip(128 * (C // 128), 128, 1024)`` channels, BatchNorm, ReLU;
* pooling: the sum over particles divided by the number of real particles
  (``use_counts``), or weaver's plain mean over all ``P`` slots (in eval mode
  weaver first trims the batch to its longest jet, here ``P`` is as given);
* head: ``Linear + ReLU + Dropout`` per ``fc_params`` entry, then a final Linear.

Masking. Weaver moves padded particles to a coordinate of ``1e9`` so that they
are never the nearest neighbours of a real particle, but a real particle with
fewer than ``k`` real partners still receives padded particles (whose features
it has zeroed) as neighbours. Here padded particles are never selected; the
unfilled neighbour slots carry zero features instead, which is the same
arithmetic as weaver's, independent of how much padding there is, and also
defined for ``P <= k``. Training-mode BatchNorm statistics are taken over real
particles (and their edges) only, where weaver also counts padded slots.
BatchNorm is torch's: epsilon 1e-5, running averages updated by 0.1 of the batch
statistics (flax ``momentum=0.9``).

Neighbours. Weaver takes the ``k + 1`` nearest and drops the first, assumed to be
the particle itself; here the particle itself is excluded, which differs only when
another particle sits at distance 0 (duplicate coordinates). Among equal
distances ``lax.top_k`` takes the lower index; ``torch.topk`` does not specify.

Work is channels-last (``[B, P, C]``, edges ``[B, P, k, C]``): a 1x1
convolution is a matmul over the channel axis. The first edge convolution
``W [x_i, x_j - x_i]`` is evaluated as ``x_i (W_1 - W_2) + gather(x W_2)_j``,
projecting each particle once instead of each of its ``k`` edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import jax
import jax.numpy as jnp
from flax import nnx

from e2ejax.nets._spec import InputSpec

__all__ = ["EdgeConvBlock", "ParticleNet", "ParticleNetConfig", "ParticleNetLiteConfig", "fusion_width", "knn_neighbours"]


def _as_conv_params(conv_params) -> tuple[tuple[int, tuple[int, ...]], ...]:
    out = tuple((int(k), tuple(int(c) for c in channels)) for k, channels in conv_params)
    if not out:
        raise ValueError("conv_params: expected at least one EdgeConv block")
    for k, channels in out:
        if k < 1 or not channels or min(channels) < 1:
            raise ValueError(f"conv_params: expected (k >= 1, non-empty positive widths), got {(k, channels)}")
    return out


def _as_fc_params(fc_params) -> tuple[tuple[int, float], ...]:
    out = tuple((int(width), float(rate)) for width, rate in fc_params)
    if not out:
        raise ValueError("fc_params: expected at least one (width, dropout) layer")
    for width, rate in out:
        if width < 1 or not 0.0 <= rate < 1.0:
            raise ValueError(f"fc_params: expected (width >= 1, 0 <= dropout < 1), got {(width, rate)}")
    return out


@dataclass(frozen=True)
class ParticleNetConfig:
    """ParticleNet (weaver's full configuration by default).

    Attributes:
        n_features: features per particle.
        conv_params: one ``(k, (c1, c2, c3, ...))`` per EdgeConv block: neighbours and
            the widths of its 1x1 convolutions.
        fc_params: one ``(width, dropout rate)`` per hidden fully connected layer.
        use_fusion: concatenate all blocks' outputs into a fusion convolution.
        use_fts_bn: BatchNorm on the input features.
        use_counts: pool by the number of real particles (padding-invariant); False is
            weaver's mean over all ``P`` slots, which depends on the padded length.
        n_outputs: logits per jet.

    Examples:
        >>> ParticleNetConfig(conv_params=[[7, [32, 32]]]).conv_params  # lists from YAML
        ((7, (32, 32)),)
    """

    n_features: int = 15
    conv_params: tuple[tuple[int, tuple[int, ...]], ...] = ((16, (64, 64, 64)), (16, (128, 128, 128)), (16, (256, 256, 256)))
    fc_params: tuple[tuple[int, float], ...] = ((256, 0.1),)
    use_fusion: bool = True
    use_fts_bn: bool = True
    use_counts: bool = True
    n_outputs: int = 1

    def __post_init__(self):
        object.__setattr__(self, "conv_params", _as_conv_params(self.conv_params))
        object.__setattr__(self, "fc_params", _as_fc_params(self.fc_params))
        if self.n_features < 1 or self.n_outputs < 1:
            raise ValueError(f"expected n_features >= 1 and n_outputs >= 1, got {self.n_features} and {self.n_outputs}")


@dataclass(frozen=True)
class ParticleNetLiteConfig(ParticleNetConfig):
    """ParticleNet-Lite: weaver's ``ParticleNet`` defaults (two blocks of k = 7, 32 and 64 wide).

    Examples:
        >>> ParticleNetLiteConfig().conv_params, ParticleNetLiteConfig().fc_params
        (((7, (32, 32, 32)), (7, (64, 64, 64))), ((128, 0.1),))
    """

    conv_params: tuple[tuple[int, tuple[int, ...]], ...] = ((7, (32, 32, 32)), (7, (64, 64, 64)))
    fc_params: tuple[tuple[int, float], ...] = ((128, 0.1),)


def fusion_width(conv_params) -> int:
    """Width of the fusion convolution, weaver's ``clip(128 * (C // 128), 128, 1024)``
    for ``C`` the summed output widths of the blocks.

    Examples:
        >>> fusion_width(ParticleNetConfig().conv_params), fusion_width(ParticleNetLiteConfig().conv_params)
        (384, 128)
    """
    total = sum(channels[-1] for _, channels in conv_params)
    return min(max(128 * (total // 128), 128), 1024)


def knn_neighbours(x: jax.Array, real: jax.Array, *, k: int) -> tuple[jax.Array, jax.Array]:
    """The ``k`` nearest real particles of every particle, itself excluded.

    Squared distances are weaver's ``|x_i|^2 - 2 x_i.x_j + |x_j|^2`` clamped at 0;
    ``lax.top_k`` takes the ``k`` smallest, ties to the lower index. Slots left
    over when fewer than ``k`` other real particles exist are invalid.

    Args:
        x: float ``[B, P, D]`` coordinates (points or features); not differentiated.
        real: bool ``[B, P]``, true for real particles.
        k: static number of neighbours (keyword-only); any ``P`` is allowed.

    Returns:
        ``(index, valid)``: int32 ``[B, P, k]`` neighbour indices (0 where invalid)
        and bool ``[B, P, k]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> x = jnp.array([[[0.0], [1.0], [3.0], [9.0]]])
        >>> idx, ok = knn_neighbours(x, jnp.array([[True, True, True, False]]), k=2)
        >>> idx[0].tolist(), ok[0].all(axis=-1).tolist()
        ([[1, 2], [0, 2], [1, 0], [2, 1]], [True, True, True, True])
    """
    x = jax.lax.stop_gradient(x)
    inner = -2.0 * jnp.einsum("bpc,bqc->bpq", x, x, precision=jax.lax.Precision.HIGHEST)
    xx = jnp.sum(x * x, axis=-1)
    dist = jnp.maximum(xx[:, :, None] + inner + xx[:, None, :], 0.0)
    position = jnp.cumsum(jnp.ones_like(real, dtype=jnp.int32), axis=-1)  # 1..P, an arange that follows a symbolic P
    allowed = real[:, None, :] & (position[:, :, None] != position[:, None, :])
    dist = jnp.where(allowed, dist, jnp.inf)
    dist = jnp.pad(dist, ((0, 0), (0, 0), (0, k)), constant_values=jnp.inf)  # k never-chosen slots: any P, even P <= k
    neg, index = jax.lax.top_k(-dist, k)
    valid = jnp.isfinite(neg)
    return jnp.where(valid, index, 0).astype(jnp.int32), valid


def _gather(x: jax.Array, index: jax.Array) -> jax.Array:
    """``x [B, P, C]`` at ``index [B, P, k]`` -> ``[B, P, k, C]``."""
    return jnp.take_along_axis(x[:, None, :, :], index[..., None], axis=2)


def _batch_norm(c: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
    # torch's BatchNorm: eps 1e-5, running-average momentum 0.1 (flax counts 1 - that)
    return nnx.BatchNorm(c, use_running_average=True, momentum=0.9, epsilon=1e-5, rngs=rngs)


class EdgeConvBlock(nnx.Module):
    """One ParticleNet EdgeConv block (weaver's ``EdgeConvBlock``), channels-last.

    Attributes:
        convs: the 1x1 convolutions over edges, no bias; ``convs[0]`` maps ``2 C_in``
            (``x_i`` channels first, then ``x_j - x_i``) to ``widths[0]``.
        bns: one BatchNorm after each convolution.
        sc, sc_bn: shortcut convolution and BatchNorm, None when ``C_in == widths[-1]``.
    """

    def __init__(self, k: int, c_in: int, widths: tuple[int, ...], *, rngs: nnx.Rngs):
        self.k = k
        self.c_in = c_in
        sizes = (2 * c_in,) + tuple(widths)
        self.convs = nnx.List([nnx.Linear(a, b, use_bias=False, rngs=rngs) for a, b in pairwise(sizes)])
        self.bns = nnx.List([_batch_norm(b, rngs) for b in widths])
        if c_in == widths[-1]:
            self.sc, self.sc_bn = None, None
        else:
            self.sc = nnx.Linear(c_in, widths[-1], use_bias=False, rngs=rngs)
            self.sc_bn = _batch_norm(widths[-1], rngs)

    def __call__(self, coords: jax.Array, x: jax.Array, real: jax.Array) -> jax.Array:
        """``coords [B, P, D]`` (kNN space), ``x [B, P, C_in]`` (zero at padding),
        ``real [B, P]`` bool -> ``[B, P, widths[-1]]`` (not yet masked)."""
        index, valid = knn_neighbours(coords, real, k=self.k)
        kernel = self.convs[0].kernel[...]
        w_self, w_diff = kernel[: self.c_in], kernel[self.c_in :]
        neighbour = jnp.where(valid[..., None], _gather(x @ w_diff, index), 0.0)  # x_j W_2; 0 for empty slots
        h = (x @ (w_self - w_diff))[:, :, None, :] + neighbour
        edge_mask = real[:, :, None, None]
        for i, bn in enumerate(self.bns):
            if i:
                h = self.convs[i](h)
            h = jax.nn.relu(bn(h, mask=edge_mask))
        fts = jnp.mean(h, axis=2)
        shortcut = x if self.sc is None else self.sc_bn(self.sc(x), mask=real[..., None])
        return jax.nn.relu(shortcut + fts)


class ParticleNet(nnx.Module):
    """``points [B, P, 2]``, ``features [B, P, F]``, ``mask [B, P]`` -> ``logits [B, n_outputs]``.

    Any ``P`` and ``B``; particles with ``mask > 0.5`` are real, padded ones change
    nothing (with ``use_counts``). Built in
    inference mode (running BatchNorm statistics, no dropout); ``model.train()``
    switches to batch statistics and active dropout (``rngs`` needs a ``dropout``
    stream or a default one).

    Examples:
        >>> import jax.numpy as jnp
        >>> from flax import nnx
        >>> cfg = ParticleNetConfig(n_features=3, conv_params=((2, (4, 4)),), fc_params=((8, 0.0),))
        >>> net = ParticleNet(cfg, rngs=nnx.Rngs(0))
        >>> net(jnp.ones((2, 5, 2)), jnp.ones((2, 5, 3)), jnp.ones((2, 5))).shape
        (2, 1)
    """

    def __init__(self, config: ParticleNetConfig, *, rngs: nnx.Rngs):
        self.config = c = config
        self.bn_fts = _batch_norm(c.n_features, rngs) if c.use_fts_bn else None
        widths_in = (c.n_features,) + tuple(channels[-1] for _, channels in c.conv_params[:-1])
        self.edge_convs = nnx.List(
            [EdgeConvBlock(k, c_in, channels, rngs=rngs) for (k, channels), c_in in zip(c.conv_params, widths_in)]
        )
        if c.use_fusion:
            width = fusion_width(c.conv_params)
            self.fusion = nnx.Linear(sum(ch[-1] for _, ch in c.conv_params), width, use_bias=False, rngs=rngs)
            self.fusion_bn = _batch_norm(width, rngs)
        else:
            width = c.conv_params[-1][1][-1]
            self.fusion, self.fusion_bn = None, None
        sizes = (width,) + tuple(w for w, _ in c.fc_params)
        self.fcs = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in pairwise(sizes)])
        self.dropouts = nnx.List([nnx.Dropout(rate, deterministic=True, rngs=rngs) for _, rate in c.fc_params])
        self.out = nnx.Linear(sizes[-1], c.n_outputs, rngs=rngs)

    @property
    def input_spec(self) -> tuple[InputSpec, ...]:
        c = self.config
        return (
            InputSpec("points", ("P", 2), "particle (delta-eta, delta-phi) to the jet axis"),
            InputSpec("features", ("P", c.n_features), "per-particle features"),
            InputSpec("mask", ("P",), "1.0 real particle, 0.0 padding"),
        )

    def __call__(self, points: jax.Array, features: jax.Array, mask: jax.Array) -> jax.Array:
        c = self.config
        real = mask > 0.5
        point_mask = real[..., None]
        points = jnp.where(point_mask, points, 0.0)  # padding may hold anything, even NaN
        features = jnp.where(point_mask, features, 0.0)
        fts = features if self.bn_fts is None else self.bn_fts(features, mask=point_mask)
        fts = jnp.where(point_mask, fts, 0.0)
        outputs = []
        for i, block in enumerate(self.edge_convs):
            fts = jnp.where(point_mask, block(points if i == 0 else fts, fts, real), 0.0)
            outputs.append(fts)
        if self.fusion is not None:
            fused = self.fusion(jnp.concatenate(outputs, axis=-1))
            fts = jnp.where(point_mask, jax.nn.relu(self.fusion_bn(fused, mask=point_mask)), 0.0)
        if c.use_counts:
            count = jnp.maximum(jnp.sum(real, axis=-1, keepdims=True).astype(fts.dtype), 1.0)
            x = jnp.sum(fts, axis=1) / count
        else:
            x = jnp.mean(fts, axis=1)
        for fc, dropout in zip(self.fcs, self.dropouts):
            x = dropout(jax.nn.relu(fc(x)))
        return self.out(x)
