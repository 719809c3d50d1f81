"""Particle-tagger inputs: each jet's particle-flow candidates as padded arrays (jit-able).

ParticleNet, ParT, P-CNN and PFN (:mod:`e2ejax.nets`) tag a jet from its candidates
(``pf_*`` fields of docs/FORMAT.md, ``pf_jet`` naming the jet slot of each), not from an
image. For every jet slot the ``n_particles`` highest-pT candidates are kept, highest
first (:func:`e2ejax.inputs.constituents.select_constituents`); the candidates beyond
are counted in :attr:`Particles.overflow`, never dropped silently.

Features (:data:`FEATURES`, in order) follow the Particle Transformer's JetClass inputs
(Qu, Li, Qian, arXiv:2202.03772, and weaver-core's ``JetClass_full.yaml``) with weaver's
standardisation ``(x - centre) * scale`` built in:

* ``log_pt`` = (ln pT - 1.7) * 0.7, ``log_e`` = (ln E - 2.0) * 0.7,
  ``log_pt_rel`` = (ln(pT / pT_jet) + 4.7) * 0.7, ``log_e_rel`` = (ln(E / E_jet) + 4.7) * 0.7,
  ``delta_r`` = (ΔR - 0.2) * 4.0 (GeV, ΔR to the jet axis);
* ``charge``; one-hot ``is_charged_hadron``, ``is_neutral_hadron``, ``is_photon``,
  ``is_electron``, ``is_muon``;
* ``d0`` = tanh(d0 / cm), ``dz`` = tanh(dz / cm) (0 for neutral candidates);
* ``deta`` = η - η_jet, ``dphi`` = φ - φ_jet wrapped to [-π, π).

JetClass also has the track-parameter errors ``d0err`` / ``dzerr``, which the simulation
does not record: 15 features instead of 17. Energies are massless, E = pT cosh η (the
simulated candidates carry no mass; a pion's mass changes E by < 0.1% above 3 GeV).
The jet energy is that of its four-vector (``jet_pt``, ``jet_eta``, ``jet_mass``).

:attr:`Particles.points` holds ``(deta, dphi)`` (ParticleNet's first kNN) and
:attr:`Particles.vectors` ``(px, py, pz, E)`` in GeV (ParT's pairwise features).
"""

from __future__ import annotations

import functools
from typing import Mapping, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax.errors import InputError, need_fields
from e2ejax.inputs.constituents import select_constituents

__all__ = ["FEATURES", "PARTICLE_FIELDS", "Particles", "ParticleOverflowWarning", "jet_particles", "particle_inputs",
           "particle_examples"]

FEATURES = ("log_pt", "log_e", "log_pt_rel", "log_e_rel", "delta_r", "charge", "is_charged_hadron",
            "is_neutral_hadron", "is_photon", "is_electron", "is_muon", "d0", "dz", "deta", "dphi")

#: the event fields the particle inputs are built from
PARTICLE_FIELDS = ("pf_pt", "pf_eta", "pf_phi", "pf_type", "pf_charge", "pf_d0", "pf_dz", "pf_jet", "pf_mask",
                   "jet_pt", "jet_eta", "jet_phi", "jet_mass", "jet_mask")

# pf_type codes (docs/FORMAT.md) of the one-hot features, in FEATURES order
_TYPE_CODES = (0, 4, 3, 1, 2)  # charged hadron, neutral hadron, photon, electron, muon


class ParticleOverflowWarning(UserWarning):
    """Jets held more candidates than the particle inputs keep (the lowest-pT ones were not used)."""


class Particles(NamedTuple):
    """Padded candidates of every jet slot (``P = n_particles``; padding is all zeros).

    Attributes:
        features: float32 ``[B, S, P, len(FEATURES)]``.
        points: float32 ``[B, S, P, 2]`` (deta, dphi).
        vectors: float32 ``[B, S, P, 4]`` (px, py, pz, E) in GeV.
        mask: float32 ``[B, S, P]``, 1.0 for real candidates.
        overflow: int32 ``[B, S]``, candidates of the jet beyond ``P`` (not in the arrays).
    """

    features: jax.Array
    points: jax.Array
    vectors: jax.Array
    mask: jax.Array
    overflow: jax.Array


def _need(events: Mapping, what: str = "the particle taggers"):
    need_fields(events, PARTICLE_FIELDS, what=what,
                fix="use files written by e2ejax simulate, which hold the pf_* and jet_* branches of docs/FORMAT.md "
                    "(dense images, ML4SCI frames and MLAnalyzer ntuples hold no particle-flow candidates)")


def jet_particles(events: Mapping, *, n_particles: int) -> Particles:
    """The particle inputs of every jet slot (module docstring).

    Examples:
        >>> import numpy as np
        >>> ev = {"pf_pt": np.array([[10.0, 30.0, 5.0]], np.float32), "pf_eta": np.zeros((1, 3), np.float32),
        ...       "pf_phi": np.array([[0.1, -0.1, 3.0]], np.float32), "pf_type": np.array([[3, 0, 4]], np.int32),
        ...       "pf_charge": np.array([[0, -1, 0]], np.int32), "pf_d0": np.array([[0.0, 0.01, 0.0]], np.float32),
        ...       "pf_dz": np.zeros((1, 3), np.float32), "pf_jet": np.array([[0, 0, -1]], np.int32),
        ...       "pf_mask": np.ones((1, 3), bool), "jet_pt": np.array([[40.0]], np.float32),
        ...       "jet_eta": np.zeros((1, 1), np.float32), "jet_phi": np.zeros((1, 1), np.float32),
        ...       "jet_mass": np.array([[4.0]], np.float32), "jet_mask": np.ones((1, 1), bool)}
        >>> p = jet_particles(ev, n_particles=4)
        >>> p.features.shape, p.mask[0, 0].tolist(), p.overflow.tolist()
        ((1, 1, 4, 15), [1.0, 1.0, 0.0, 0.0], [[0]])
        >>> dict(zip(FEATURES, np.round(np.asarray(p.features[0, 0, 0], np.float64), 3).tolist()))["charge"]
        -1.0
    """
    _need(events)
    if isinstance(n_particles, bool) or not isinstance(n_particles, (int, np.integer)) or n_particles < 1:
        raise InputError(f"n_particles: expected a positive integer, found {n_particles!r}")
    sel = select_constituents(events, int(n_particles))
    keep = sel.keep
    pt, eta, phi, d0, dz = (sel.pick(jnp.asarray(events[f], jnp.float32)) for f in ("pf_pt", "pf_eta", "pf_phi", "pf_d0", "pf_dz"))
    ptype = sel.pick(jnp.asarray(events["pf_type"], jnp.int32))
    charge = sel.pick(jnp.asarray(events["pf_charge"], jnp.float32))
    jmask = jnp.asarray(events["jet_mask"], bool)[..., None]
    jpt = jnp.where(jmask, jnp.asarray(events["jet_pt"], jnp.float32)[..., None], 1.0)
    jeta = jnp.asarray(events["jet_eta"], jnp.float32)[..., None]
    jphi = jnp.asarray(events["jet_phi"], jnp.float32)[..., None]
    jmass = jnp.asarray(events["jet_mass"], jnp.float32)[..., None]
    jet_e = jnp.where(jmask, jnp.sqrt((jpt * jnp.cosh(jeta)) ** 2 + jmass ** 2), 1.0)

    safe_pt = jnp.where(keep, pt, 1.0)
    energy = safe_pt * jnp.cosh(eta)
    deta = eta - jeta
    dphi = jnp.mod(phi - jphi + jnp.pi, 2 * jnp.pi) - jnp.pi
    features = jnp.stack([
        (jnp.log(safe_pt) - 1.7) * 0.7,
        (jnp.log(energy) - 2.0) * 0.7,
        (jnp.log(safe_pt / jpt) + 4.7) * 0.7,
        (jnp.log(energy / jet_e) + 4.7) * 0.7,
        (jnp.hypot(deta, dphi) - 0.2) * 4.0,
        charge,
        *[(ptype == code).astype(jnp.float32) for code in _TYPE_CODES],
        jnp.tanh(d0),
        jnp.tanh(dz),
        deta,
        dphi,
    ], axis=-1)
    vectors = jnp.stack([pt * jnp.cos(phi), pt * jnp.sin(phi), pt * jnp.sinh(eta), pt * jnp.cosh(eta)], axis=-1)
    maskf = keep.astype(jnp.float32)
    pad = int(n_particles) - keep.shape[-1]
    out = [features * maskf[..., None], jnp.stack([deta, dphi], -1) * maskf[..., None], vectors * maskf[..., None], maskf]
    if pad:
        out = [jnp.pad(x, [(0, 0), (0, 0), (0, pad)] + [(0, 0)] * (x.ndim - 3)) for x in out]
    overflow = jnp.maximum(sel.members - int(n_particles), 0)
    return Particles(*out, overflow)


def particle_inputs(particles: Particles, names) -> tuple:
    """The arrays a particle network takes, by its ``input_spec`` names (``features``,
    ``points``, ``vectors``, ``mask``), in that order.

    Raises:
        InputError: a name that is not a particle input.
    """
    unknown = [n for n in names if n not in ("features", "points", "vectors", "mask")]
    if unknown:
        raise InputError(f"expected particle-network inputs from features, points, vectors, mask; found {unknown}")
    return tuple(getattr(particles, n) for n in names)


@functools.cache
def _jitted(n_particles: int):
    return jax.jit(functools.partial(jet_particles, n_particles=n_particles))


def particle_examples(events: Mapping, *, n_particles: int, names, slots, what: str = "the particle taggers") -> tuple[tuple, int]:
    """The inputs ``names`` of the flattened jet ``slots`` (``np.flatnonzero`` of a ``[B, S]``
    mask), each ``[len(slots), P, ...]`` numpy float32, and the candidates beyond ``P`` in them;
    ``what`` (who needs them) starts the message about missing fields."""
    fields = {k: events[k] for k in PARTICLE_FIELDS if k in events}
    _need(fields, what)
    particles = _jitted(int(n_particles))(fields)
    flat = [np.asarray(x).reshape((-1,) + x.shape[2:])[slots] for x in particle_inputs(particles, names)]
    return tuple(flat), int(np.asarray(particles.overflow).reshape(-1)[slots].sum())
