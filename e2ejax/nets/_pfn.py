"""Particle Flow Network (PFN): the Energy Flow Network of per-particle features.

Follows Komiske, Metodiev and Thaler, "Energy Flow Networks: Deep Sets for Particle
Jets" (arXiv:1810.05165): a per-particle network ``Phi`` (dense + ReLU layers, widths
(100, 100, 128) by default), a sum of ``Phi`` over the particles of the jet, and a
jet-level network ``F`` (dense + ReLU, widths (100, 100, 100)) that maps the sum to the
logits. The sum runs over the real particles only, so the output is invariant to the
order of the particles and to padding, with any number of particles ``P``.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

import jax
import jax.numpy as jnp
from flax import nnx

from e2ejax.nets._spec import InputSpec

__all__ = ["PFNConfig", "PFN"]


@dataclass(frozen=True)
class PFNConfig:
    """Particle Flow Network.

    Attributes:
        n_features: features per particle.
        phi: widths of the per-particle layers (the last one is the latent dimension summed over).
        f: widths of the jet-level hidden layers.
        n_outputs: logits per jet.
    """

    n_features: int = 15
    phi: tuple[int, ...] = (100, 100, 128)
    f: tuple[int, ...] = (100, 100, 100)
    n_outputs: int = 1


def _dense_stack(widths: tuple[int, ...], rngs: nnx.Rngs) -> nnx.List:
    return nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in pairwise(widths)])


class PFN(nnx.Module):
    """``features [B, P, F]``, ``mask [B, P]`` (1.0 real, 0.0 padding) -> ``logits [B, n_outputs]``.

    ``F(sum_i mask_i Phi(features_i))``; padded particles (whatever their features)
    contribute nothing.
    """

    def __init__(self, config: PFNConfig, *, rngs: nnx.Rngs):
        c = config
        self.config = config
        self.phi = _dense_stack((c.n_features,) + tuple(c.phi), rngs)
        self.f = _dense_stack((c.phi[-1],) + tuple(c.f), rngs)
        self.out = nnx.Linear(c.f[-1], c.n_outputs, rngs=rngs)

    @property
    def input_spec(self) -> tuple[InputSpec, ...]:
        c = self.config
        return (
            InputSpec("features", ("P", c.n_features), "per-particle features"),
            InputSpec("mask", ("P",), "1.0 real particle, 0.0 padding"),
        )

    def __call__(self, features: jax.Array, mask: jax.Array) -> jax.Array:
        real = (mask > 0.5)[..., None]
        h = jnp.where(real, features, 0.0)  # padded features may hold anything, NaN included
        for layer in self.phi:
            h = jax.nn.relu(layer(h))
        h = jnp.sum(jnp.where(real, h, 0.0), axis=1)
        for layer in self.f:
            h = jax.nn.relu(layer(h))
        return self.out(h)
