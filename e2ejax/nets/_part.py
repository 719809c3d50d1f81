"""Particle Transformer (ParT): a transformer over the particles of a jet with pairwise biases.

Follows H. Qu, C. Li, S. Qian, "Particle Transformer for Jet Tagging", arXiv:2202.03772,
layer for layer as weaver-core implements it (``weaver/nn/model/ParticleTransformer.py``,
``version=1``), so that a weaver state dict loads into it and gives the same logits:

* particle embedding: BatchNorm on the inputs, then per width LayerNorm -> Linear -> GELU;
* pair embedding: the four pairwise features of :func:`pair_features` (ln kT, ln z, ln dR,
  ln m^2, weaver's ``eps`` 1e-8, rapidity and phi conventions, each pair evaluated with the
  higher index first as weaver's lower-triangle evaluation does), BatchNorm, then per width a
  1x1 convolution, BatchNorm and GELU, ending on ``num_heads`` channels without the last GELU
  (``use_pre_activation_pair``): one attention bias per head and particle pair;
* ``num_layers`` particle attention blocks: pre-LayerNorm multi-head attention with the pair
  bias and the key padding mask, the per-head output scale ``c_attn``, post-attention
  LayerNorm, residual; LayerNorm -> Linear (4x) -> GELU -> LayerNorm -> Linear, plus the
  residual scaled by ``w_resid``;
* ``num_cls_layers`` class-attention blocks (arXiv:2103.17239): a learnable class token queries
  the LayerNorm of ``[class token, particles]``, without pair bias; then LayerNorm and the
  fully connected head.

Weight initialisation is weaver's default (``weight_init="moco"``, ``fix_init=True``):
Xavier-uniform Linear weights (query, key and value blocks of ``in_proj`` each on its own
fan), zero biases, the attention output and second MLP weights of particle block ``l``
divided by ``sqrt(2 (l + 1))``, PyTorch's default for the pair-embedding convolutions, a
normal(0, 0.02) class token. LayerNorm and BatchNorm use PyTorch's epsilon (1e-5) and
BatchNorm PyTorch's running-average momentum (0.1 update).

Differences, all invisible for zero-padded inputs in eval mode: padded particles are set to
zero on entry (features and four-vectors) and masked in every attention as keys with a
finite bias, so a jet with no real particle gives finite scores; BatchNorm statistics in
training mode are taken over the real particles only (weaver includes the padding in the
particle embedding's input BatchNorm; its pair BatchNorms, evaluated sparsely, already see
the real lower-triangle pairs only, as here); weaver's training-time sequence trimming
(random reordering, cutting trailing padding) is left out, shapes stay static.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from itertools import pairwise

import jax
import jax.numpy as jnp
from flax import nnx

from e2ejax.nets._pair_features import check_pair_features, pair_features
from e2ejax.nets._spec import InputSpec

__all__ = ["ParTConfig", "ParT", "PART_SMALL", "pair_features"]

#: BatchNorm running-average momentum, PyTorch's default (0.1 update) as in weaver.
BN_MOMENTUM = 0.9
#: LayerNorm / BatchNorm epsilon, PyTorch's default as in weaver.
NORM_EPS = 1e-5
#: Attention logit of a padded key: finite, so rows without real keys stay finite.
MASKED_LOGIT = -1e9


@dataclass(frozen=True)
class ParTConfig:
    """Particle Transformer; defaults are weaver's ``ParticleTransformer`` ones (the paper's ParT).

    Attributes:
        n_features: features per particle (weaver's ``input_dim``).
        n_pair_features: pairwise features from the four-vectors (weaver's ``pair_input_dim``,
            type ``"pp"``): 1 (ln dR), 3 (ln kT, ln z, ln dR) or 4 (and ln m^2).
        embed_dims: widths of the particle embedding (at least one); the last is the transformer width.
        pair_embed_dims: widths of the pair embedding before its last layer (``num_heads`` wide).
        num_heads: attention heads; must divide the transformer width.
        num_layers: particle attention blocks.
        num_cls_layers: class-attention blocks; 0: masked mean over the particles instead.
        fc_params: hidden layers of the head as ``(width, dropout)`` pairs (Linear, ReLU,
            Dropout), before the last Linear to ``n_outputs``.
        dropout: dropout after the attention and after the MLP of each particle block.
        attn_dropout: dropout on the attention weights of each particle block.
        activation_dropout: dropout after the GELU of each particle block's MLP.
        n_outputs: logits per jet.
        remove_self_pair: no pair bias between a particle and itself (weaver's switch).
        use_pre_activation_pair: the pair bias is the last BatchNorm's output, without its GELU.
    """

    n_features: int = 15
    n_pair_features: int = 4
    embed_dims: tuple[int, ...] = (128, 512, 128)
    pair_embed_dims: tuple[int, ...] = (64, 64, 64)
    num_heads: int = 8
    num_layers: int = 8
    num_cls_layers: int = 2
    fc_params: tuple[tuple[int, float], ...] = ()
    dropout: float = 0.1
    attn_dropout: float = 0.1
    activation_dropout: float = 0.1
    n_outputs: int = 1
    remove_self_pair: bool = False
    use_pre_activation_pair: bool = True


#: A ParT small enough to train on CPU (0.22 M parameters with 15 features; the default has 2.14 M).
PART_SMALL = ParTConfig(embed_dims=(64, 128, 64), pair_embed_dims=(32, 32, 32), num_heads=4, num_layers=3, num_cls_layers=1)


def _gelu(x: jax.Array) -> jax.Array:
    return jax.nn.gelu(x, approximate=False)


def _layer_norm(n: int, rngs: nnx.Rngs) -> nnx.LayerNorm:
    return nnx.LayerNorm(n, epsilon=NORM_EPS, use_fast_variance=False, rngs=rngs)


def _batch_norm(n: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
    return nnx.BatchNorm(n, use_running_average=True, momentum=BN_MOMENTUM, epsilon=NORM_EPS, use_fast_variance=False, rngs=rngs)


def _linear(c_in: int, c_out: int, rngs: nnx.Rngs, *, scale: float = 1.0) -> nnx.Linear:
    """Linear with weaver's Xavier-uniform weights (variance times ``scale``) and zero bias."""
    init = nnx.initializers.variance_scaling(scale, "fan_avg", "uniform")
    return nnx.Linear(c_in, c_out, kernel_init=init, bias_init=nnx.initializers.zeros, rngs=rngs)


def _torch_conv(c_in: int, c_out: int, rngs: nnx.Rngs) -> nnx.Linear:
    """A 1x1 convolution on the last axis with PyTorch's default init (uniform within 1/sqrt(c_in))."""
    bound = 1.0 / math.sqrt(c_in)

    def bias_init(key, shape, dtype=jnp.float32):
        return jax.random.uniform(key, shape, dtype, -bound, bound)

    kernel_init = nnx.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform")
    return nnx.Linear(c_in, c_out, kernel_init=kernel_init, bias_init=bias_init, rngs=rngs)


class _Embed(nnx.Module):
    """Input BatchNorm, then per width LayerNorm -> Linear -> GELU; zero at padded particles."""

    def __init__(self, c_in: int, dims: tuple[int, ...], *, rngs: nnx.Rngs):
        widths = (c_in,) + tuple(dims)
        self.input_bn = _batch_norm(c_in, rngs)
        self.norms = nnx.List([_layer_norm(a, rngs) for a in widths[:-1]])
        self.linears = nnx.List([_linear(a, b, rngs) for a, b in pairwise(widths)])

    def __call__(self, x: jax.Array, real: jax.Array) -> jax.Array:
        """``x [B, P, F]`` (zero where padded), ``real [B, P, 1]`` bool -> ``[B, P, dims[-1]]``."""
        x = self.input_bn(x, mask=real)
        for norm, linear in zip(self.norms, self.linears):
            x = _gelu(linear(norm(x)))
        return jnp.where(real, x, 0.0)


class _PairEmbed(nnx.Module):
    """BatchNorm, then per width 1x1 conv -> BatchNorm -> GELU over the pairwise features."""

    def __init__(self, c_in: int, dims: tuple[int, ...], *, pre_activation: bool, rngs: nnx.Rngs):
        widths = (c_in,) + tuple(dims)
        self.input_bn = _batch_norm(c_in, rngs)
        self.convs = nnx.List([_torch_conv(a, b, rngs) for a, b in pairwise(widths)])
        self.bns = nnx.List([_batch_norm(b, rngs) for b in widths[1:]])
        self.pre_activation = pre_activation

    def __call__(self, u: jax.Array, pair_real: jax.Array) -> jax.Array:
        """``u [B, P, P, C]``, ``pair_real [B, P, P, 1]`` bool (pairs in the statistics) -> ``[B, P, P, dims[-1]]``."""
        x = self.input_bn(u, mask=pair_real)
        for k, (conv, bn) in enumerate(zip(self.convs, self.bns)):
            x = bn(conv(x), mask=pair_real)
            if k < len(self.convs) - 1 or not self.pre_activation:
                x = _gelu(x)
        return x


class _Attention(nnx.Module):
    """Multi-head attention with weaver's packed ``in_proj`` (query, key, value) and ``out_proj``."""

    def __init__(self, dim: int, heads: int, dropout: float, *, out_scale: float, rngs: nnx.Rngs):
        if dim % heads:
            raise ValueError(f"num_heads ({heads}) must divide the transformer width ({dim})")
        # variance 2 / (fan_in + fan_out) on the [dim, 3 dim] kernel = Xavier of each [dim, dim] block
        self.in_proj = _linear(dim, 3 * dim, rngs, scale=2.0)
        self.out_proj = _linear(dim, dim, rngs, scale=out_scale)
        self.dropout = nnx.Dropout(dropout, deterministic=True, rngs=rngs)
        self.heads = heads

    def _project(self, x: jax.Array, columns: slice) -> jax.Array:
        """``x [B, N, E]`` through the ``in_proj`` columns -> ``[T, B, H, N, D]``, T the query, key, value blocks taken.

        The heads are split on the kernel, not on the activations (no reshape of ``N``).
        """
        dim = x.shape[-1]
        kernel = self.in_proj.kernel[...][:, columns].reshape(dim, -1, self.heads, dim // self.heads)
        bias = self.in_proj.bias[...][columns].reshape(-1, 1, self.heads, 1, dim // self.heads)
        return jnp.einsum("bne,ethd->tbhnd", x, kernel) + bias

    @staticmethod
    def _logits(q: jax.Array, k: jax.Array) -> jax.Array:
        """``q [B, H, Q, D]``, ``k [B, H, K, D]`` -> scaled dot products ``[B, H, Q, K]``."""
        return jnp.einsum("bhqd,bhkd->bhqk", q, k) / math.sqrt(q.shape[-1])

    def _output(self, out: jax.Array) -> jax.Array:
        """Heads ``[B, H, Q, D]`` through ``out_proj`` -> ``[B, Q, E]``."""
        dim = self.out_proj.kernel.shape[0]
        kernel = self.out_proj.kernel[...].reshape(self.heads, dim // self.heads, dim)
        return jnp.einsum("bhqd,hde->bqe", out, kernel) + self.out_proj.bias[...].reshape(1, 1, dim)

    def self_attention(self, x: jax.Array, key_real: jax.Array, bias: jax.Array) -> jax.Array:
        """``x [B, P, E]`` attends to itself with the pair ``bias [B, H, P, P]``; padded keys
        (``key_real [B, 1, 1, P]`` false) are masked -> ``[B, P, E]``."""
        q, k, v = self._project(x, slice(None))
        logits = jnp.where(key_real, self._logits(q, k) + bias, MASKED_LOGIT)
        weights = self.dropout(jax.nn.softmax(logits, axis=-1))
        return self._output(jnp.einsum("bhqk,bhkd->bhqd", weights, v))

    def class_attention(self, query: jax.Array, context_cls: jax.Array, context: jax.Array, key_real: jax.Array) -> jax.Array:
        """The class token ``query [B, 1, E]`` attends to the keys of ``context_cls [B, 1, E]`` (the
        class token) and of ``context [B, P, E]`` (the particles, ``key_real [B, 1, 1, P]``) -> ``[B, 1, E]``.

        weaver's attention over the sequence ``[class token, particles]``, the softmax taken over
        the two key sets together: the ONNX export takes no axis of size ``1 + P``. No dropout
        (weaver's class blocks have none).
        """
        dim = query.shape[-1]
        q = self._project(query, slice(0, dim))[0]
        k_cls, v_cls = self._project(context_cls, slice(dim, None))
        k, v = self._project(context, slice(dim, None))
        logit_cls = self._logits(q, k_cls)
        logits = jnp.where(key_real, self._logits(q, k), MASKED_LOGIT)
        top = jnp.maximum(logit_cls, jnp.max(logits, axis=-1, keepdims=True))
        w_cls, w = jnp.exp(logit_cls - top), jnp.exp(logits - top)
        total = w_cls + jnp.sum(w, axis=-1, keepdims=True)
        return self._output((w_cls * v_cls + jnp.einsum("bhqk,bhkd->bhqd", w, v)) / total)


class _Block(nnx.Module):
    """weaver's ``Block`` (version 1): attention and MLP, each normalised before and after."""

    def __init__(self, dim: int, heads: int, *, dropout: float, attn_dropout: float, activation_dropout: float,
                 out_scale: float, rngs: nnx.Rngs):
        self.pre_attn_norm = _layer_norm(dim, rngs)
        self.attn = _Attention(dim, heads, attn_dropout, out_scale=out_scale, rngs=rngs)
        self.post_attn_norm = _layer_norm(dim, rngs)
        self.dropout = nnx.Dropout(dropout, deterministic=True, rngs=rngs)
        self.pre_fc_norm = _layer_norm(dim, rngs)
        self.fc1 = _linear(dim, 4 * dim, rngs)
        self.act_dropout = nnx.Dropout(activation_dropout, deterministic=True, rngs=rngs)
        self.post_fc_norm = _layer_norm(4 * dim, rngs)
        self.fc2 = _linear(4 * dim, dim, rngs, scale=out_scale)
        self.c_attn = nnx.Param(jnp.ones((heads,), jnp.float32))
        self.w_resid = nnx.Param(jnp.ones((dim,), jnp.float32))
        self.heads = heads

    def __call__(self, x: jax.Array, key_real: jax.Array, bias: jax.Array) -> jax.Array:
        """Particle attention: ``x [B, P, E]``, ``key_real [B, 1, 1, P]``, ``bias [B, H, P, P]`` -> ``[B, P, E]``."""
        return self._finish(self.attn.self_attention(self.pre_attn_norm(x), key_real, bias), x)

    def attend_class(self, x_cls: jax.Array, x: jax.Array, key_real: jax.Array) -> jax.Array:
        """Class attention: ``x_cls [B, 1, E]`` queries the LayerNorm of ``[x_cls, x]`` (``key_real [B, 1, 1, P]``
        for ``x``) -> ``[B, 1, E]``."""
        attended = self.attn.class_attention(x_cls, self.pre_attn_norm(x_cls), self.pre_attn_norm(x), key_real)
        return self._finish(attended, x_cls)

    def _finish(self, h: jax.Array, residual: jax.Array) -> jax.Array:
        dim = h.shape[-1]
        h = h * jnp.repeat(self.c_attn[...], dim // self.heads).reshape(1, 1, dim)  # one scale per head's columns
        x = self.dropout(self.post_attn_norm(h)) + residual
        h = self.act_dropout(_gelu(self.fc1(self.pre_fc_norm(x))))
        h = self.dropout(self.fc2(self.post_fc_norm(h)))
        return h + self.w_resid[...].reshape(1, 1, dim) * x


class ParT(nnx.Module):
    """``features [B, P, F]``, ``vectors [B, P, 4]``, ``mask [B, P]`` -> ``logits [B, n_outputs]``.

    Any number of particles ``P``; the output does not depend on the particles' order nor on
    padded particles (mask 0.0), whatever their content. Built in inference mode (running
    BatchNorm statistics, no dropout); ``model.train()`` switches to batch statistics and
    active dropout (``rngs`` stream ``dropout``).
    """

    def __init__(self, config: ParTConfig, *, rngs: nnx.Rngs):
        c = config
        self.config = config
        if not c.embed_dims:
            raise ValueError("embed_dims: expected at least one width")
        check_pair_features(c.n_pair_features)
        dim = c.embed_dims[-1]
        self.embed = _Embed(c.n_features, c.embed_dims, rngs=rngs)
        self.pair_embed = _PairEmbed(c.n_pair_features, tuple(c.pair_embed_dims) + (c.num_heads,),
                                     pre_activation=c.use_pre_activation_pair, rngs=rngs)
        self.blocks = nnx.List([
            _Block(dim, c.num_heads, dropout=c.dropout, attn_dropout=c.attn_dropout, activation_dropout=c.activation_dropout,
                   out_scale=1.0 / (2.0 * (layer + 1)), rngs=rngs)
            for layer in range(c.num_layers)
        ])
        self.cls_blocks = nnx.List([
            _Block(dim, c.num_heads, dropout=0.0, attn_dropout=0.0, activation_dropout=0.0, out_scale=1.0, rngs=rngs)
            for _ in range(c.num_cls_layers)
        ])
        # weaver: trunc_normal_(std=0.02) truncated at +-2, i.e. 100 standard deviations
        self.cls_token = nnx.Param(0.02 * jax.random.normal(rngs.params(), (1, 1, dim), jnp.float32)) if c.num_cls_layers else None
        self.norm = _layer_norm(dim, rngs)
        widths = (dim,) + tuple(w for w, _ in c.fc_params)
        self.fc = nnx.List([_linear(a, b, rngs) for a, b in pairwise(widths)])
        self.fc_dropout = nnx.List([nnx.Dropout(rate, deterministic=True, rngs=rngs) for _, rate in c.fc_params])
        self.out = _linear(widths[-1], c.n_outputs, rngs)

    @property
    def input_spec(self) -> tuple[InputSpec, ...]:
        c = self.config
        return (
            InputSpec("features", ("P", c.n_features), "per-particle features"),
            InputSpec("vectors", ("P", 4), "particle four-vectors (px, py, pz, E) in GeV"),
            InputSpec("mask", ("P",), "1.0 real particle, 0.0 padding"),
        )

    def __call__(self, features: jax.Array, vectors: jax.Array, mask: jax.Array) -> jax.Array:
        c = self.config
        real = mask > 0.5
        real3 = real[..., None]
        x = self.embed(jnp.where(real3, features, 0.0), real3)
        n = real.shape[1]
        rows = jax.lax.broadcasted_iota(jnp.int32, (n, n), 0)
        cols = jax.lax.broadcasted_iota(jnp.int32, (n, n), 1)
        lower = rows > cols if c.remove_self_pair else rows >= cols
        pair_real = real[:, :, None] & real[:, None, :] & lower[None]
        bias = self.pair_embed(pair_features(jnp.where(real3, vectors, 0.0), c.n_pair_features), pair_real[..., None])
        if c.remove_self_pair:
            bias = jnp.where((rows == cols)[None, :, :, None], 0.0, bias)
        bias = jnp.transpose(bias, (0, 3, 1, 2))
        key_real = real[:, None, None, :]
        for block in self.blocks:
            x = block(x, key_real, bias)
        if self.cls_token is not None:
            x_cls = jnp.zeros_like(x[:, :1]) + self.cls_token[...]
            for block in self.cls_blocks:
                x_cls = block.attend_class(x_cls, x, key_real)
            h = x_cls[:, 0]
        else:
            m = real3.astype(x.dtype)
            h = jnp.sum(x * m, axis=1) / jnp.maximum(jnp.sum(m, axis=1), 1.0)
        h = self.norm(h)
        for fc, dropout in zip(self.fc, self.fc_dropout):
            h = dropout(jax.nn.relu(fc(h)))
        return self.out(h)
