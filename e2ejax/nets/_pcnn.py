"""P-CNN: the DeepAK8 1D residual CNN over the pT-ordered particle candidates of a jet.

Follows DeepAK8 (CMS, "Identification of heavy, energetic, hadronically decaying particles
using machine-learning techniques", arXiv:2004.08262, section on DeepAK8): the candidate
list, ordered by pT, is processed by a one-dimensional CNN of the ResNet kind, whose
output feeds fully connected layers. The layer layout (input BatchNorm, a kernel-3 stem
conv, residual units conv-BN-ReLU-conv-BN-ReLU with an identity or 1x1-conv shortcut,
global average pooling, FC + dropout head) is that of the P-CNN ``ResNet`` example of
the weaver benchmarks (weaver-core itself ships no P-CNN). Two deliberate differences
make the network blind to padding, with any number of candidates ``P``:

* every stage keeps stride 1, so each position stays one candidate and one mask applies
  to every layer;
* padded positions are set to zero after every BatchNorm / ReLU, so trailing padding
  looks exactly like the convolutions' own ``SAME`` zero padding, and the pooling is a
  mean over the real candidates only. BatchNorm statistics in training mode are taken
  over the real candidates only as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import jax
import jax.numpy as jnp
from flax import nnx

from e2ejax.nets._spec import InputSpec

__all__ = ["PCNNConfig", "PCNN"]

#: BatchNorm running-average momentum, PyTorch's default (0.1 update) as in weaver.
_BN_MOMENTUM = 0.9


@dataclass(frozen=True)
class PCNNConfig:
    """P-CNN (DeepAK8-style 1D ResNet).

    Attributes:
        n_features: features per candidate.
        stem: channels of the first (kernel-3) convolution.
        channels: output channels of each stage.
        blocks: residual units per stage.
        head: widths of the hidden fully connected layers after the pooling.
        dropout: dropout rate after each hidden fully connected layer (train mode only).
        n_outputs: logits per jet.
    """

    n_features: int = 15
    stem: int = 32
    channels: tuple[int, ...] = (32, 48, 64)
    blocks: int = 2
    head: tuple[int, ...] = (128,)
    dropout: float = 0.2
    n_outputs: int = 1


def _batch_norm(n: int, rngs: nnx.Rngs) -> nnx.BatchNorm:
    return nnx.BatchNorm(n, use_running_average=True, momentum=_BN_MOMENTUM, rngs=rngs)


class _ConvBN(nnx.Module):
    """``relu(BN(conv_k(x)))`` along the candidate axis, zero at the padded positions."""

    def __init__(self, c_in: int, c_out: int, *, rngs: nnx.Rngs):
        self.conv = nnx.Conv(c_in, c_out, (3,), padding="SAME", rngs=rngs)
        self.bn = _batch_norm(c_out, rngs)

    def __call__(self, x: jax.Array, m: jax.Array) -> jax.Array:
        """``x [B, P, C_in]`` (zero where padded), ``m [B, P, 1]`` float -> ``[B, P, C_out]``."""
        return jax.nn.relu(self.bn(self.conv(x), mask=m > 0)) * m


class _ResidualUnit(nnx.Module):
    """Two kernel-3 conv-BN-ReLU layers plus the input (1x1 conv, no bias, when widths differ)."""

    def __init__(self, c_in: int, c_out: int, *, rngs: nnx.Rngs):
        self.first = _ConvBN(c_in, c_out, rngs=rngs)
        self.second = _ConvBN(c_out, c_out, rngs=rngs)
        self.shortcut = nnx.Conv(c_in, c_out, (1,), use_bias=False, rngs=rngs) if c_in != c_out else None

    def __call__(self, x: jax.Array, m: jax.Array) -> jax.Array:
        identity = x if self.shortcut is None else self.shortcut(x)
        return self.second(self.first(x, m), m) + identity


class PCNN(nnx.Module):
    """``features [B, P, F]``, ``mask [B, P]`` (1.0 real, 0.0 padding) -> ``logits [B, n_outputs]``.

    The candidates are taken in the order given (pT-ordered): the convolutions see
    neighbours along the list, so the network is not permutation invariant, but
    candidates appended as padding at the end change nothing. Built in inference
    mode (running BatchNorm statistics, no dropout); ``model.train()`` switches to
    batch statistics and active dropout (drawing from the ``rngs`` given here).
    """

    def __init__(self, config: PCNNConfig, *, rngs: nnx.Rngs):
        c = config
        self.config = config
        self.input_bn = _batch_norm(c.n_features, rngs)
        self.stem = _ConvBN(c.n_features, c.stem, rngs=rngs)
        units = []
        c_in = c.stem
        for c_out in c.channels:
            for _ in range(c.blocks):
                units.append(_ResidualUnit(c_in, c_out, rngs=rngs))
                c_in = c_out
        self.units = nnx.List(units)
        widths = (c_in,) + tuple(c.head)
        self.fc = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in pairwise(widths)])
        self.dropout = nnx.Dropout(c.dropout, deterministic=True, rngs=rngs)
        self.out = nnx.Linear(widths[-1], c.n_outputs, rngs=rngs)

    @property
    def input_spec(self) -> tuple[InputSpec, ...]:
        c = self.config
        return (
            InputSpec("features", ("P", c.n_features), "per-candidate features, candidates in decreasing pT"),
            InputSpec("mask", ("P",), "1.0 real particle, 0.0 padding"),
        )

    def __call__(self, features: jax.Array, mask: jax.Array) -> jax.Array:
        m = jnp.where(mask > 0.5, 1.0, 0.0)[..., None]
        x = self.input_bn(jnp.where(m > 0, features, 0.0), mask=m > 0) * m
        x = self.stem(x, m)
        for unit in self.units:
            x = unit(x, m)
        h = jnp.sum(x, axis=1) / jnp.maximum(jnp.sum(m, axis=1), 1.0)
        for fc in self.fc:
            h = self.dropout(jax.nn.relu(fc(h)))
        return self.out(h)
