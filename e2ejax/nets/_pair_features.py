"""The Particle Transformer's pairwise features of two four-vectors (ln kT, ln z, ln ΔR, ln m²),
as weaver-core's ``pairwise_lv_fts`` computes them (Qu, Li, Qian, arXiv:2202.03772)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

__all__ = ["PAIR_EPS", "check_pair_features", "pair_features"]

#: Clamp of the pairwise features before their logarithms, weaver's ``PairEmbed`` default.
PAIR_EPS = 1e-8


def check_pair_features(n: int) -> None:
    """ValueError unless ``n`` is a number of pairwise features ParT takes (1, 3 or 4)."""
    if n not in (1, 3, 4):
        raise ValueError(f"n_pair_features: expected 1, 3 or 4, found {n}")


def pair_features(vectors: jax.Array, n_features: int = 4, *, eps: float = PAIR_EPS) -> jax.Array:
    """Pairwise features of weaver's ``pairwise_lv_fts_pp``: ``vectors [B, P, 4]`` -> ``[B, P, P, n_features]``.

    With ``pt``, rapidity ``y = 0.5 ln(1 + 2 pz / max(E - pz, 1e-20))`` and ``phi = atan2(py, px)``
    of each particle, ``dR = sqrt(dy^2 + dphi^2)`` (dphi wrapped into [-pi, pi)), the features of
    a pair are ``ln max(dR, eps)`` for one feature; ``ln max(min(pt) dR, eps)``,
    ``ln max(min(pt) / max(pt_i + pt_j, eps), eps)``, ``ln max(dR, eps)`` for three; and
    ``ln max(m^2(p_i + p_j), eps)`` as the fourth. Entries ``(i, j)`` and ``(j, i)`` are both
    evaluated with the higher index first, as weaver's lower-triangle evaluation does.

    ``m^2 = E^2 - |p|^2`` cancels for nearly massless pairs (a particle with itself): in float32
    its logarithm is then rounding noise, which compiled XLA code (fused multiply-adds) rounds
    otherwise than PyTorch does. Four-vectors on a coarse grid (multiples of 1/8 GeV below
    64 GeV) make every ``m^2`` exact.

    Args:
        vectors: four-vectors ``(px, py, pz, E)`` in GeV.
        n_features: 1, 3 or 4.
        eps: clamp before the logarithms.

    Returns:
        The features, last axis in the order above.
    """
    check_pair_features(n_features)
    px, py, pz, energy = (vectors[..., k] for k in range(4))
    pt = jnp.sqrt(px**2 + py**2)
    rapidity = 0.5 * jnp.log(1 + (2 * pz) / jnp.maximum(energy - pz, 1e-20))
    phi = jnp.arctan2(py, px)

    def rows(a):
        return a[:, :, None]

    def cols(a):
        return a[:, None, :]

    # weaver's (phi_i - phi_j + pi) % (2 pi) - pi, as PyTorch's remainder rounds it, for the
    # range of atan2 differences; without lax.rem, which ONNX export cannot take with symbolic shapes
    shifted = rows(phi) - cols(phi) + math.pi
    two_pi = 2 * math.pi
    dphi = jnp.where(shifted < 0, shifted + two_pi, jnp.where(shifted >= two_pi, shifted - two_pi, shifted)) - math.pi
    delta = jnp.sqrt((rows(rapidity) - cols(rapidity)) ** 2 + dphi**2)
    ln_delta = jnp.log(jnp.maximum(delta, eps))
    if n_features == 1:
        out = ln_delta[..., None]
    else:
        pt_min = jnp.minimum(rows(pt), cols(pt))
        ln_kt = jnp.log(jnp.maximum(pt_min * delta, eps))
        ln_z = jnp.log(jnp.maximum(pt_min / jnp.maximum(rows(pt) + cols(pt), eps), eps))
        fts = [ln_kt, ln_z, ln_delta]
        if n_features == 4:
            total = vectors[:, :, None, :] + vectors[:, None, :, :]
            m2 = total[..., 3] ** 2 - (total[..., 0] ** 2 + total[..., 1] ** 2 + total[..., 2] ** 2)
            fts.append(jnp.log(jnp.maximum(m2, eps)))
        out = jnp.stack(fts, axis=-1)
    n = vectors.shape[1]
    lower = jax.lax.broadcasted_iota(jnp.int32, (n, n), 0) >= jax.lax.broadcasted_iota(jnp.int32, (n, n), 1)
    return jnp.where(lower[None, :, :, None], out, jnp.swapaxes(out, 1, 2))
