"""The particle-flow constituents of each jet slot, highest pT first (jit-able).

One selection shared by the jet calibration (:mod:`e2ejax.inputs.calibration`) and the
particle taggers (:mod:`e2ejax.inputs.particles`): candidate ``c`` belongs to jet slot
``s`` when ``pf_jet[c] == s`` and both are real; the ``k`` highest-pT members of each slot
are kept, highest first, ties in the candidates' order (``jax.lax.top_k``).
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp

from e2ejax.errors import InputError

__all__ = ["Selection", "select_constituents"]


class Selection(NamedTuple):
    """The constituents kept per jet slot.

    Attributes:
        index: int32 ``[B, S, k]`` candidate index of each kept constituent (any index where ``keep`` is false).
        keep: bool ``[B, S, k]``, true for real constituents.
        members: int32 ``[B, S]``, every constituent of the slot, kept or not.
    """

    index: jax.Array
    keep: jax.Array
    members: jax.Array

    def pick(self, values) -> jax.Array:
        """Per-candidate ``values [B, P]`` gathered to ``[B, S, k]`` (zeros where not kept)."""
        x = jnp.asarray(values)
        picked = jnp.take_along_axis(jnp.broadcast_to(x[:, None, :], self.keep.shape[:2] + x.shape[1:]), self.index, axis=-1)
        return jnp.where(self.keep, picked, jnp.zeros((), picked.dtype))


def select_constituents(events: Mapping, k: int) -> Selection:
    """The ``min(k, P)`` highest-pT constituents of every jet slot (``pf_pt``, ``pf_jet``,
    ``pf_mask``, ``jet_mask``); callers pad to ``k``.

    Examples:
        >>> import numpy as np
        >>> ev = {"pf_pt": np.array([[5.0, 30.0, 7.0, 1.0]]), "pf_jet": np.array([[0, 0, 1, 0]]),
        ...       "pf_mask": np.array([[True, True, True, False]]), "jet_mask": np.array([[True, True]])}
        >>> sel = select_constituents(ev, 2)
        >>> sel.index[0].tolist(), sel.keep[0].tolist(), sel.members[0].tolist()
        ([[1, 0], [2, 0]], [[True, True], [True, False]], [2, 1])
    """
    if k < 1:
        raise InputError(f"expected a positive number of constituents per jet; found {k}")
    pt = jnp.asarray(events["pf_pt"], jnp.float32)
    owner = jnp.asarray(events["pf_jet"]).astype(jnp.int32)
    pmask = jnp.asarray(events["pf_mask"], bool)
    jmask = jnp.asarray(events["jet_mask"], bool)
    slot = jnp.arange(jmask.shape[1], dtype=jnp.int32)
    member = pmask[:, None, :] & (owner[:, None, :] == slot[None, :, None]) & jmask[:, :, None]  # [B, S, P]
    _, index = jax.lax.top_k(jnp.where(member, pt[:, None, :], -jnp.inf), min(k, pt.shape[1]))
    keep = jnp.take_along_axis(member, index, axis=-1)
    return Selection(index.astype(jnp.int32), keep, member.sum(-1).astype(jnp.int32))
