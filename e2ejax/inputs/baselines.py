"""One-variable baselines: the classic single observables each tagger must beat.

Jet observables come from the particle-flow constituents of each jet (``pf_*``
with ``pf_jet``, docs/FORMAT.md); the e/gamma observable from the 32 x 32 ECAL
frame the CNN sees. Each baseline has a fixed orientation (larger = more
signal-like), chosen from the physics and kept in the task registry
(:attr:`e2ejax.tasks.Task.baselines`); :func:`e2ejax.training.evaluate_tagger` still
credits each with its better orientation on the held-out sample, so a baseline whose
physics sign is wrong in the simulation is not handicapped:

=========  =====================================  ============================================
task       baseline                                why
=========  =====================================  ============================================
qg         ``girth``, ``multiplicity``            gluon jets are wider and have more constituents
top        ``mass``, ``-abs(mass - 172.5)``        top jets carry the top mass
tau        ``-girth``, ``-n_charged``, ``-mass``  hadronic taus are narrow, light, 1 or 3 prongs
egamma     ``phi_width``                          bremsstrahlung spreads electrons in phi
=========  =====================================  ============================================
"""

from __future__ import annotations

from typing import Mapping

import jax
import numpy as np

from e2ejax import tasks
from e2ejax.errors import InputError, need_fields
from e2ejax.inputs.frames import seed_frames

__all__ = ["jet_observables", "phi_width", "baseline_scores", "has_baseline_fields", "slot_baselines"]

#: the event fields of :func:`jet_observables`
_JET_FIELDS = ("pf_pt", "pf_eta", "pf_phi", "pf_type", "pf_jet", "pf_mask", "jet_pt", "jet_eta", "jet_phi", "jet_mass", "jet_mask")


def jet_observables(events: Mapping) -> dict[str, np.ndarray]:
    """Per jet slot float64 ``[B, S]``: ``girth`` (sum of pT dR / jet pT), ``multiplicity``,
    ``n_charged`` (charged hadrons, electrons, muons), ``mass``, ``top_window`` (abs(mass - 172.5)).

    Examples:
        >>> import numpy as np
        >>> ev = {"pf_pt": np.array([[30.0, 10.0, 5.0]]), "pf_eta": np.array([[0.0, 0.1, 0.0]]),
        ...       "pf_phi": np.zeros((1, 3)), "pf_type": np.array([[0, 3, 0]]), "pf_jet": np.array([[0, 0, -1]]),
        ...       "pf_mask": np.ones((1, 3), bool), "jet_pt": np.array([[40.0]]), "jet_eta": np.zeros((1, 1)),
        ...       "jet_phi": np.zeros((1, 1)), "jet_mass": np.array([[4.0]]), "jet_mask": np.ones((1, 1), bool)}
        >>> obs = jet_observables(ev)
        >>> round(float(obs["girth"][0, 0]), 4), obs["multiplicity"].tolist(), obs["n_charged"].tolist()
        (0.025, [[2.0]], [[1.0]])
    """
    need_fields(events, _JET_FIELDS, what="one-variable baselines")
    pt, eta, phi = (np.asarray(events[n], np.float64) for n in ("pf_pt", "pf_eta", "pf_phi"))
    kind, owner, pmask = np.asarray(events["pf_type"]), np.asarray(events["pf_jet"]), np.asarray(events["pf_mask"], bool)
    jpt, jeta, jphi, jmass = (np.asarray(events[n], np.float64) for n in ("jet_pt", "jet_eta", "jet_phi", "jet_mass"))
    n_slots = jpt.shape[1]
    member = pmask[:, None, :] & (owner[:, None, :] == np.arange(n_slots)[None, :, None])  # [B, S, P]
    dphi = (phi[:, None, :] - jphi[:, :, None] + np.pi) % (2 * np.pi) - np.pi
    dr = np.hypot(eta[:, None, :] - jeta[:, :, None], dphi)
    safe = np.where(jpt > 0, jpt, 1.0)
    return {
        "girth": np.sum(member * pt[:, None, :] * dr, axis=-1) / safe,
        "multiplicity": member.sum(axis=-1).astype(np.float64),
        "n_charged": (member & (kind[:, None, :] <= 2)).sum(axis=-1).astype(np.float64),
        "mass": jmass,
        "top_window": np.abs(jmass - 172.5),
    }


def phi_width(frames) -> np.ndarray:
    """Energy-weighted RMS width in phi (crystals) of ``[K, H, W, C]`` frames (channel 0), float64 ``[K]``.

    Examples:
        >>> import numpy as np
        >>> f = np.zeros((1, 32, 32, 1)); f[0, 15, 14, 0] = f[0, 15, 16, 0] = 1.0
        >>> phi_width(f).tolist()
        [1.0]
    """
    energy = np.asarray(frames, np.float64)[..., 0].sum(axis=1)  # [K, W]
    cols = np.arange(energy.shape[1], dtype=np.float64)
    total = np.maximum(energy.sum(axis=1), 1e-12)
    mean = (energy * cols).sum(axis=1) / total
    return np.sqrt(np.maximum((energy * (cols - mean[:, None]) ** 2).sum(axis=1) / total, 0.0))


def baseline_scores(task: str, events: Mapping | None = None, frames=None) -> dict[str, np.ndarray]:
    """Baseline name -> oriented score: per jet slot ``[B, S]`` (jet tasks, from ``events``)
    or per frame ``[K]`` (``egamma``, from ``frames``)."""
    baselines = tasks.get(task).baselines
    if not baselines:
        raise InputError(f"no one-variable baseline for task {task!r}; expected one of "
                         f"{[n for n, t in tasks.TASKS.items() if t.baselines]}")
    observables = {"phi_width": phi_width(frames)} if tasks.get(task).seed_group == "eg" else jet_observables(events)
    return {name: sign * observables[obs] for name, (obs, sign) in baselines.items()}


#: the event fields each seed group's baselines are computed from
_BASELINE_FIELDS = {"jet": _JET_FIELDS, "eg": ("eb_energy",)}


#: the frames of the e/gamma baseline, one compiled program per batch shape
_egamma_frames = jax.jit(seed_frames, static_argnames=("task",))


def has_baseline_fields(events: Mapping, task: str) -> bool:
    """True when ``events`` hold what the baselines of ``task`` are computed from (jets: their
    particle-flow constituents, which files of stored images lack; e/gamma: the ECAL hits)."""
    t = tasks.get(task)
    return bool(t.baselines) and all(name in events for name in _BASELINE_FIELDS[t.seed_group])


def slot_baselines(events: Mapping, task: str) -> dict[str, np.ndarray] | None:
    """The oriented baselines of ``task`` per seed slot, float64 ``[B, S]`` (e/gamma: from the
    frames of :func:`e2ejax.inputs.seed_frames`); None when ``events`` lack the fields they need
    (e.g. jets read without their particle-flow constituents)."""
    if not has_baseline_fields(events, task):
        return None
    if tasks.get(task).seed_group == "eg":
        frames, _, mask, _ = _egamma_frames(dict(events), task=task)
        return {name: v.reshape(mask.shape) for name, v in baseline_scores(task, frames=np.asarray(frames)).items()}
    return baseline_scores(task, events=events)
