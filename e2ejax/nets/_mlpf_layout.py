"""What the MLPF network reads and writes: the particle-flow element layout, the particle
classes, the output channels and the regression coordinates relative to each element.

Inputs: ``elements [B, N, F]`` float32, one row per particle-flow element, the columns of
:data:`ELEMENT_FEATURES`; ``mask [B, N]`` float32, 1.0 for a real element, 0.0 for padding
(padded rows may hold anything). A feature that does not apply to an element's type is 0.

Targets and outputs are per element (MLPF, arXiv:2101.08578, section 3): each element yields
at most one particle. The network predicts whether it does, the particle's class and its
kinematics as corrections to the element's own: ``ln(pT / pT_element)``,
``eta - eta_element``, ``sin(phi) - sin(phi_element)``, ``cos(phi) - cos(phi_element)`` and
``ln(E / E_element)`` (:data:`REGRESSION_TARGETS`, :func:`encode_targets`, :func:`decode_particles`).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import NamedTuple

import jax
import jax.numpy as jnp

__all__ = [
    "ELEMENT_TYPES",
    "ELEMENT_FEATURES",
    "FEATURE_INDEX",
    "PARTICLE_CLASSES",
    "REGRESSION_TARGETS",
    "OUTPUT_CHANNELS",
    "MLPFOutputs",
    "MLPFTargets",
    "Particles",
    "split_outputs",
    "encode_targets",
    "decode_particles",
]

#: Element type ids, the value of feature 0 (``"type"``): 0 padding, 1 track, 2 ECAL cluster, 3 HCAL cluster.
ELEMENT_TYPES = ("padding", "track", "ecal_cluster", "hcal_cluster")

#: The columns of ``elements [B, N, F]`` (energies in GeV, lengths in cm, logs natural):
#:
#: * ``type``: the :data:`ELEMENT_TYPES` id, a float holding an integer;
#: * ``log_pt``: ln(pT); tracks: the track's pT; clusters: E / cosh(eta);
#: * ``eta``, ``sin_phi``, ``cos_phi``: direction; tracks: at the point of closest approach,
#:   clusters: the cluster position seen from the nominal vertex;
#: * ``log_energy``: ln(E); tracks: |p| (massless); clusters: the calibrated cluster energy;
#: * ``charge``: tracks: +1 or -1;
#: * ``d0``, ``dz``: tracks: transverse and longitudinal impact parameters;
#: * ``eta_ecal``, ``sin_phi_ecal``, ``cos_phi_ecal``: tracks: extrapolated to the ECAL front face;
#: * ``sigma_eta``, ``sigma_phi``: clusters: energy-weighted widths in eta and phi;
#: * ``n_hits``: clusters: number of calorimeter hits.
ELEMENT_FEATURES = (
    "type",
    "log_pt",
    "eta",
    "sin_phi",
    "cos_phi",
    "log_energy",
    "charge",
    "d0",
    "dz",
    "eta_ecal",
    "sin_phi_ecal",
    "cos_phi_ecal",
    "sigma_eta",
    "sigma_phi",
    "n_hits",
)

#: Column of each element feature.
FEATURE_INDEX = MappingProxyType({name: i for i, name in enumerate(ELEMENT_FEATURES)})

#: Particle classes of the class head, in logit order (CMS PF candidate types).
PARTICLE_CLASSES = ("charged_hadron", "neutral_hadron", "photon", "electron", "muon")

#: Regression outputs, relative to the element (see the module docstring).
REGRESSION_TARGETS = ("log_pt_ratio", "delta_eta", "delta_sin_phi", "delta_cos_phi", "log_energy_ratio")

#: The last axis of the network's output ``[B, N, C]``: the existence logit, the class
#: logits, then the regression outputs.
OUTPUT_CHANNELS = ("existence",) + tuple(f"class_{c}" for c in PARTICLE_CLASSES) + REGRESSION_TARGETS

_N_CLASSES = len(PARTICLE_CLASSES)


class MLPFOutputs(NamedTuple):
    """The network's output by head (:func:`split_outputs`).

    Attributes:
        existence: float ``[B, N]`` logit of "this element yields a particle".
        classes: float ``[B, N, 5]`` logits over :data:`PARTICLE_CLASSES`.
        regression: float ``[B, N, 5]`` :data:`REGRESSION_TARGETS`.
    """

    existence: jax.Array
    classes: jax.Array
    regression: jax.Array


class MLPFTargets(NamedTuple):
    """Per-element truth (:func:`encode_targets`).

    Attributes:
        exists: float ``[B, N]``, 1.0 where the element yields a particle, else 0.0.
        label: int32 ``[B, N]`` index into :data:`PARTICLE_CLASSES` (ignored where ``exists`` is 0).
        regression: float ``[B, N, 5]`` :data:`REGRESSION_TARGETS` (ignored where ``exists`` is 0).
    """

    exists: jax.Array
    label: jax.Array
    regression: jax.Array


class Particles(NamedTuple):
    """Decoded particles, one candidate per element (:func:`decode_particles`); all ``[B, N]``.

    Attributes:
        probability: sigmoid of the existence logit.
        label: int32 argmax of the class logits.
        pt, eta, phi, energy: kinematics in GeV and radians (``phi`` in ``(-pi, pi]``).
    """

    probability: jax.Array
    label: jax.Array
    pt: jax.Array
    eta: jax.Array
    phi: jax.Array
    energy: jax.Array


def split_outputs(outputs: jax.Array) -> MLPFOutputs:
    """The network's output ``[..., N, C]`` (:data:`OUTPUT_CHANNELS`) by head.

    Examples:
        >>> import jax.numpy as jnp
        >>> out = split_outputs(jnp.zeros((2, 7, len(OUTPUT_CHANNELS))))
        >>> out.existence.shape, out.classes.shape, out.regression.shape
        ((2, 7), (2, 7, 5), (2, 7, 5))
    """
    if outputs.shape[-1] != len(OUTPUT_CHANNELS):
        raise ValueError(f"expected MLPF outputs of shape [B, N, {len(OUTPUT_CHANNELS)}], got {tuple(outputs.shape)}")
    return MLPFOutputs(outputs[..., 0], outputs[..., 1 : 1 + _N_CLASSES], outputs[..., 1 + _N_CLASSES :])


def _element_kinematics(elements: jax.Array):
    i = FEATURE_INDEX
    return (elements[..., i["log_pt"]], elements[..., i["eta"]], elements[..., i["sin_phi"]],
            elements[..., i["cos_phi"]], elements[..., i["log_energy"]])


def encode_targets(elements, exists, label, pt, eta, phi, energy) -> MLPFTargets:
    """Per-element truth particles as :class:`MLPFTargets` in the network's coordinates.

    Args:
        elements: float ``[B, N, F]`` (:data:`ELEMENT_FEATURES`).
        exists: ``[B, N]``, true (or 1.0) where the element yields a particle.
        label: int ``[B, N]`` class index (:data:`PARTICLE_CLASSES`).
        pt, eta, phi, energy: float ``[B, N]`` the particle's kinematics (GeV, radians);
            anything where ``exists`` is false.

    Returns:
        :class:`MLPFTargets`; regression targets 0 where no particle exists.

    Examples:
        >>> import jax.numpy as jnp
        >>> el = jnp.zeros((1, 1, len(ELEMENT_FEATURES))).at[..., FEATURE_INDEX["cos_phi"]].set(1.0)
        >>> t = encode_targets(el, jnp.ones((1, 1)), jnp.zeros((1, 1), jnp.int32), jnp.full((1, 1), jnp.e),
        ...                    jnp.full((1, 1), 0.5), jnp.zeros((1, 1)), jnp.ones((1, 1)))
        >>> [round(float(v), 4) for v in t.regression[0, 0]]
        [1.0, 0.5, 0.0, 0.0, 0.0]
    """
    exists = jnp.asarray(exists) > 0
    log_pt, el_eta, el_sin, el_cos, log_e = _element_kinematics(jnp.asarray(elements))
    safe = lambda v: jnp.where(exists, jnp.asarray(v), 1.0)  # noqa: E731  (no log of garbage where no particle)
    regression = jnp.stack([
        jnp.log(safe(pt)) - log_pt,
        safe(eta) - el_eta,
        jnp.sin(safe(phi)) - el_sin,
        jnp.cos(safe(phi)) - el_cos,
        jnp.log(safe(energy)) - log_e,
    ], axis=-1)
    return MLPFTargets(exists.astype(jnp.float32), jnp.where(exists, jnp.asarray(label), 0).astype(jnp.int32),
                       jnp.where(exists[..., None], regression, 0.0).astype(jnp.float32))


def decode_particles(outputs: jax.Array, elements: jax.Array) -> Particles:
    """The network's output ``[B, N, C]`` as physical :class:`Particles` (the inverse of
    :func:`encode_targets` for the regression).

    Examples:
        >>> import jax.numpy as jnp
        >>> el = jnp.zeros((1, 1, len(ELEMENT_FEATURES))).at[..., FEATURE_INDEX["cos_phi"]].set(1.0)
        >>> p = decode_particles(jnp.zeros((1, 1, len(OUTPUT_CHANNELS))), el)
        >>> float(p.probability[0, 0]), float(p.pt[0, 0]), float(p.phi[0, 0]), float(p.energy[0, 0])
        (0.5, 1.0, 0.0, 1.0)
    """
    out = split_outputs(jnp.asarray(outputs))
    log_pt, el_eta, el_sin, el_cos, log_e = _element_kinematics(jnp.asarray(elements))
    r = out.regression
    return Particles(
        probability=jax.nn.sigmoid(out.existence),
        label=jnp.argmax(out.classes, axis=-1).astype(jnp.int32),
        pt=jnp.exp(log_pt + r[..., 0]),
        eta=el_eta + r[..., 1],
        phi=jnp.arctan2(el_sin + r[..., 2], el_cos + r[..., 3]),
        energy=jnp.exp(log_e + r[..., 4]),
    )
