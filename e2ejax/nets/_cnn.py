"""CNN taggers on frames: the VGG-like e/gamma net and the E2E ResNet-15."""

from __future__ import annotations

from dataclasses import dataclass

import jax
import jax.numpy as jnp
from flax import nnx

from e2ejax.nets._log_inputs import check_log_scale, log_compress
from e2ejax.nets._spec import InputSpec

__all__ = ["VGGConfig", "EGammaVGG", "ResNetConfig", "ResNet15"]


def _max_pool(x, size):
    return nnx.max_pool(x, window_shape=(size, size), strides=(size, size))


@dataclass(frozen=True)
class VGGConfig:
    """VGG-like e/gamma CNN.

    Attributes:
        height, width, channels: frame shape (default 32 x 32 ECAL energy).
        features: conv widths of the blocks; each block is two 3x3 convs + 2x2 max-pool.
        hidden: width of the dense layer.
        n_outputs: logits per frame.
    """

    height: int = 32
    width: int = 32
    channels: int = 1
    features: tuple[int, ...] = (16, 32, 64)
    hidden: int = 128
    n_outputs: int = 1


class EGammaVGG(nnx.Module):
    """VGG-like CNN for 32 x 32 e/gamma frames: ``frames [B, H, W, C] -> logits [B, n_outputs]``."""

    def __init__(self, config: VGGConfig, *, rngs: nnx.Rngs):
        self.config = config
        convs = []
        c_in = config.channels
        for f in config.features:
            convs.append(nnx.Conv(c_in, f, (3, 3), rngs=rngs))
            convs.append(nnx.Conv(f, f, (3, 3), rngs=rngs))
            c_in = f
        self.convs = nnx.List(convs)
        h, w = config.height, config.width
        for _ in config.features:
            h, w = h // 2, w // 2
        self.dense = nnx.Linear(h * w * c_in, config.hidden, rngs=rngs)
        self.head = nnx.Linear(config.hidden, config.n_outputs, rngs=rngs)

    @property
    def input_spec(self) -> tuple[InputSpec, ...]:
        c = self.config
        return (InputSpec("frames", (c.height, c.width, c.channels), "e/gamma frame, seed at (15, 15)"),)

    def __call__(self, frames: jax.Array) -> jax.Array:
        x = frames
        for i in range(0, len(self.convs), 2):
            x = jax.nn.relu(self.convs[i](x))
            x = jax.nn.relu(self.convs[i + 1](x))
            x = _max_pool(x, 2)
        x = x.reshape(x.shape[0], -1)
        return self.head(jax.nn.relu(self.dense(x)))


@dataclass(frozen=True)
class ResNetConfig:
    """ResNet-15 of the E2E papers.

    Attributes:
        height, width, channels: frame shape (125 x 125 x 3 for quark/gluon,
            x 8 for top).
        features: maps before and after the downsampling block (16, 32).
        blocks: residual blocks at each width (3).
        n_scalars: extra per-frame scalars fed to the head (e.g. seed ieta/iphi); 0 for none.
        n_outputs: logits per frame.
        input_scale: one fixed factor per channel applied to the frames first (e.g. 0.1
            per GeV), part of the network so exported models take raw frames; None: 1.
        log_scale: when set (GeV), every channel also enters as ``log1p(|x| / log_scale)``
            (``2 C`` maps into the stem): pixel values of 0.1 to 100 GeV on one footing, at
            the cost of a wider stem.
    """

    height: int = 125
    width: int = 125
    channels: int = 3
    features: tuple[int, int] = (16, 32)
    blocks: int = 3
    n_scalars: int = 0
    n_outputs: int = 1
    input_scale: tuple[float, ...] | None = None
    log_scale: float | None = None


class _ResBlock(nnx.Module):
    def __init__(self, c_in: int, c_out: int, *, stride: int, rngs: nnx.Rngs):
        self.conv1 = nnx.Conv(c_in, c_out, (3, 3), strides=stride, rngs=rngs)
        self.conv2 = nnx.Conv(c_out, c_out, (3, 3), rngs=rngs)
        self.project = nnx.Conv(c_in, c_out, (1, 1), strides=stride, rngs=rngs) if (stride != 1 or c_in != c_out) else None

    def __call__(self, x):
        shortcut = x if self.project is None else self.project(x)
        y = self.conv2(jax.nn.relu(self.conv1(x)))
        return jax.nn.relu(y + shortcut)


class ResNet15(nnx.Module):
    """E2E ResNet-15: 7x7 conv (stride 2), max-pool, 3 blocks of 16 maps, a stride-2 block
    to 32 maps, 3 blocks of 32, global max-pool, dense head.

    ``frames [B, H, W, C]`` (and ``scalars [B, n_scalars]`` when configured) -> ``logits [B, n_outputs]``.
    """

    def __init__(self, config: ResNetConfig, *, rngs: nnx.Rngs):
        if config.input_scale is not None and len(config.input_scale) != config.channels:
            raise ValueError(f"input_scale: expected one factor per channel ({config.channels}), found {len(config.input_scale)}")
        check_log_scale(config.log_scale)
        self.config = config
        f0, f1 = config.features
        stem_in = config.channels * (2 if config.log_scale is not None else 1)
        self.stem = nnx.Conv(stem_in, f0, (7, 7), strides=2, rngs=rngs)
        blocks = [_ResBlock(f0, f0, stride=1, rngs=rngs) for _ in range(config.blocks)]
        blocks.append(_ResBlock(f0, f1, stride=2, rngs=rngs))
        blocks += [_ResBlock(f1, f1, stride=1, rngs=rngs) for _ in range(config.blocks)]
        self.blocks = nnx.List(blocks)
        self.head = nnx.Linear(f1 + config.n_scalars, config.n_outputs, rngs=rngs)

    @property
    def input_spec(self) -> tuple[InputSpec, ...]:
        c = self.config
        spec = (InputSpec("frames", (c.height, c.width, c.channels), "jet frame, seed at (62, 62)"),)
        if c.n_scalars:
            spec += (InputSpec("scalars", (c.n_scalars,), "per-jet scalars for the head"),)
        return spec

    def __call__(self, frames: jax.Array, scalars: jax.Array | None = None) -> jax.Array:
        raw = frames
        if self.config.input_scale is not None:
            frames = frames * jnp.asarray(self.config.input_scale, frames.dtype).reshape((1, 1, 1, -1))
        if self.config.log_scale is not None:
            frames = jnp.concatenate([frames, log_compress(raw, self.config.log_scale)], axis=-1)
        x = _max_pool(jax.nn.relu(self.stem(frames)), 2)
        for block in self.blocks:
            x = block(x)
        x = jnp.max(x, axis=(1, 2))
        if self.config.n_scalars:
            x = jnp.concatenate([x, scalars], axis=-1)
        return self.head(x)
