"""Losses for taggers and regressors, with padding weights and an optional mass-decorrelation term."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

__all__ = ["weighted_bce", "weighted_mse", "mass_decorrelation_kl", "mlpf_loss"]


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


def mlpf_loss(outputs, targets, mask, *, gamma: float = 2.0, huber_delta: float | None = 1.0,
              existence_weight: float = 1.0, class_weight: float = 1.0, regression_weight: float = 1.0):
    """The MLPF loss (arXiv:2101.08578, arXiv:2203.00330): per element, whether it yields a
    particle; for true particles, their class and their kinematics.

    * existence: binary cross-entropy of the existence logit, mean over real elements;
    * class: focal loss (T.-Y. Lin et al., arXiv:1708.02002) ``-(1 - p_t)^gamma ln p_t`` of
      the softmax over the class logits, mean over true particles;
    * regression: Huber loss (``huber_delta``; None: squared error) summed over the
      regression outputs, mean over true particles.

    Padded elements and, for class and regression, elements without a particle contribute
    nothing, whatever their outputs and targets hold (NaN included).

    Args:
        outputs: the network's float ``[B, N, 1 + C + R]`` (existence logit, ``C`` class
            logits, ``R`` regression outputs: :data:`e2ejax.nets._mlpf_layout.OUTPUT_CHANNELS`),
            or the triple ``(existence [B, N], classes [B, N, C], regression [B, N, R])``.
        targets: ``(exists [B, N] 0/1, label int [B, N], regression [B, N, R])``, e.g.
            :class:`e2ejax.nets._mlpf_layout.MLPFTargets`.
        mask: ``[B, N]``, true (or > 0.5) for real elements.
        gamma: focal-loss exponent (0: cross-entropy).
        huber_delta: Huber transition point, or None for the squared error.
        existence_weight, class_weight, regression_weight: weights of the parts in the total.

    Returns:
        ``(total, parts)``: float scalar and ``{"existence", "classification", "regression"}``
        float scalars (unweighted); ``total`` is their weighted sum.

    Examples:
        >>> import jax.numpy as jnp
        >>> out = jnp.zeros((1, 2, 1 + 5 + 5))
        >>> targets = (jnp.array([[1.0, 0.0]]), jnp.array([[2, 0]]), jnp.zeros((1, 2, 5)))
        >>> total, parts = mlpf_loss(out, targets, jnp.ones((1, 2)), gamma=0.0)
        >>> round(float(parts["existence"]), 4), round(float(parts["classification"]), 4), float(parts["regression"])
        (0.6931, 1.6094, 0.0)
    """
    exists, label, target_reg = (jnp.asarray(t) for t in targets)
    if isinstance(outputs, tuple):
        logit, classes, regression = (jnp.asarray(o) for o in outputs)
    else:
        outputs = jnp.asarray(outputs)
        n_reg = target_reg.shape[-1]
        n_out = outputs.shape[-1]
        logit, classes, regression = outputs[..., 0], outputs[..., 1 : n_out - n_reg], outputs[..., n_out - n_reg :]
    real = jnp.asarray(mask) > 0.5
    particle = real & (exists > 0.5)
    real_f, particle_f = real.astype(logit.dtype), particle.astype(logit.dtype)

    bce = optax.sigmoid_binary_cross_entropy(jnp.where(real, logit, 0.0), jnp.where(particle, 1.0, 0.0))
    existence = _weighted_mean(bce, real_f)

    log_p = jax.nn.log_softmax(jnp.where(particle[..., None], classes, 0.0), axis=-1)
    safe_label = jnp.where(particle, label, 0).astype(jnp.int32)
    log_pt = jnp.take_along_axis(log_p, safe_label[..., None], axis=-1)[..., 0]
    focal = -((1.0 - jnp.exp(log_pt)) ** gamma) * log_pt
    classification = _weighted_mean(focal, particle_f)

    diff = jnp.where(particle[..., None], regression - target_reg, 0.0)
    if huber_delta is None:
        per_output = diff**2
    else:
        per_output = optax.huber_loss(diff, delta=huber_delta)
    regression_loss = _weighted_mean(jnp.sum(per_output, axis=-1), particle_f)

    parts = {"existence": existence, "classification": classification, "regression": regression_loss}
    total = existence_weight * existence + class_weight * classification + regression_weight * regression_loss
    return total, parts
