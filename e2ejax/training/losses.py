"""Losses for taggers and regressors, with padding weights and an optional mass-decorrelation term."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = ["weighted_bce", "weighted_mse", "mass_decorrelation_kl"]


def _weighted_mean(values, weights):
    return jnp.sum(values * weights) / jnp.maximum(jnp.sum(weights), 1e-12)


def weighted_bce(logits: jax.Array, labels: jax.Array, weights: jax.Array) -> jax.Array:
    """Binary cross-entropy on logits ``[B]`` with labels ``[B]`` in {0, 1} and weights ``[B]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> round(float(weighted_bce(jnp.zeros(2), jnp.array([0.0, 1.0]), jnp.ones(2))), 4)
        0.6931
    """
    return _weighted_mean(optax.sigmoid_binary_cross_entropy(logits, labels), weights)


def weighted_mse(pred: jax.Array, target: jax.Array, weights: jax.Array) -> jax.Array:
    """Weighted mean squared error over ``[B]``.

    Examples:
        >>> import jax.numpy as jnp
        >>> float(weighted_mse(jnp.array([1.0, 3.0]), jnp.array([0.0, 0.0]), jnp.array([1.0, 0.0])))
        1.0
    """
    return _weighted_mean((pred - target) ** 2, weights)


def mass_decorrelation_kl(
    scores: jax.Array, mass: jax.Array, labels: jax.Array, weights: jax.Array, *, edges: jax.Array
) -> jax.Array:
    """KL divergence between the background mass distribution and the same distribution
    weighted by the tagger score (per batch, soft-binned so it is differentiable).

    A tagger whose score does not sculpt the background mass gives 0.

    Args:
        scores: float ``[B]`` in (0, 1).
        mass: float ``[B]`` jet mass.
        labels: float ``[B]``; background is ``label == 0``.
        weights: float ``[B]`` (0 for padding examples).
        edges: float ``[K + 1]`` increasing mass bin edges (static values).

    Returns:
        float scalar, ``KL(p_background || p_background weighted by score)``.
    """
    centres = 0.5 * (edges[1:] + edges[:-1])
    width = edges[1:] - edges[:-1]
    kernel = jax.nn.softmax(-(((mass[:, None] - centres[None, :]) / width[None, :]) ** 2), axis=-1)  # [B, K]
    bkg = weights * (1.0 - labels)
    p = jnp.sum(kernel * bkg[:, None], axis=0) + 1e-6
    q = jnp.sum(kernel * (bkg * scores)[:, None], axis=0) + 1e-6
    p, q = p / jnp.sum(p), q / jnp.sum(q)
    return jnp.sum(p * jnp.log(p / q))
