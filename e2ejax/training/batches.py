"""Labelled training batches from padded events: frames (or GNN points) of every labelled seed.

The same input builder as the tagger (:func:`e2ejax.inputs.seed_frames`) builds the inputs, so
training sees exactly what inference sees. Batches have a fixed size; the
last one is padded with zero-weight examples (no recompilation, no bias).
"""

from __future__ import annotations

import functools
from typing import Iterable, Iterator, Mapping

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax import tasks
from e2ejax.errors import InputError
from e2ejax.inputs import gnn_points, particle_examples, seed_frames, trim_seed_slots
from e2ejax.training.steps import Batch

__all__ = ["EVENTS_PER_READ", "seed_examples", "fixed_batches"]

#: events to read at a time when building examples: the frames of all their seeds are
#: built at once (a tau event may hold 16 jets: 128 x 16 x 125 x 125 x 5 float32 = 640 MB)
EVENTS_PER_READ = 128


def seed_examples(events: Mapping, *, task: str, n_points: int | None = None, track_impact: str = "pt_weighted",
                  particles: tuple[str, ...] | None = None):
    """Inputs and labels of the labelled seeds of one batch of events.

    Args:
        events: padded event fields (see :mod:`e2ejax.inputs.images`) including the
            labels ``jet_label`` (or ``eg_label``) int ``[B, S]`` and, for jets, ``jet_mass``.
        task: ``qg``, ``top``, ``tau`` or ``egamma``.
        n_points: GNN point-cloud size; None gives frames.
        track_impact: the d0 / dz per pixel built from sparse tracks (:func:`e2ejax.inputs.seed_frames`).
        particles: the input names of a particle network (its ``input_spec``): each jet's
            candidates (:func:`e2ejax.inputs.particle_examples`) instead of frames.

    Returns:
        ``(inputs, labels, mass)``: tuple of float32 arrays ``[K, ...]``, float32 ``[K]`` labels
        in {0, 1} and ``[K]`` jet masses (zeros for e/gamma), for the ``K`` seeds with a label >= 0.
    """
    t = tasks.get(task)
    label_name = t.label_field
    if label_name not in events:
        raise InputError(f"expected a {label_name!r} field with truth labels for training; found {sorted(events)}")
    events = trim_seed_slots(events, t.seed_group)
    labels = np.asarray(events[label_name])
    keep = np.asarray(events[t.mask_field]) & (labels >= 0)
    flat_keep = keep.reshape(-1)
    if particles is not None:
        inputs, _ = particle_examples(events, n_particles=t.n_particles, names=particles, slots=np.flatnonzero(flat_keep))
    elif n_points is None:
        inputs = (np.asarray(_frames_fn(task, track_impact)(dict(events)))[flat_keep],)
    else:
        points, pmask = _points_fn(n_points)(_frames_fn(task, track_impact)(dict(events)))
        inputs = (np.asarray(points)[flat_keep], np.asarray(pmask)[flat_keep])
    if t.seed_group == "jet":
        mass = np.asarray(events.get("jet_mass", np.zeros(labels.shape)), np.float32).reshape(-1)[flat_keep]
    else:
        mass = np.zeros(int(flat_keep.sum()), np.float32)
    return inputs, labels.reshape(-1)[flat_keep].astype(np.float32), mass


@functools.cache
def _frames_fn(task, track_impact):
    return jax.jit(lambda ev: seed_frames(ev, task=task, track_impact=track_impact)[0])


@functools.cache
def _points_fn(n_points):
    return jax.jit(lambda f: gnn_points(f, n_points=n_points))


def fixed_batches(examples: Iterable, *, batch_size: int, rng: np.random.Generator | None = None, buffer: int = 0) -> Iterator[Batch]:
    """Regroup ``(inputs, labels, mass)`` chunks into :class:`Batch` es of exactly ``batch_size``.

    With ``rng`` and ``buffer > 0``, examples pass through a shuffle buffer of
    that many examples. The final partial batch is padded with zero-weight copies.
    """
    pending_inputs, pending_labels, pending_mass, n = None, [], [], 0

    def emit(inputs, labels, mass, weights):
        return Batch(tuple(jnp.asarray(x) for x in inputs), jnp.asarray(labels), jnp.asarray(weights), jnp.asarray(mass))

    for inputs, labels, mass in examples:
        if pending_inputs is None:
            pending_inputs = [[] for _ in inputs]
        for store, x in zip(pending_inputs, inputs):
            store.append(x)
        pending_labels.append(labels)
        pending_mass.append(mass)
        n += len(labels)
        while n >= max(batch_size, buffer):
            cat = [np.concatenate(s) for s in pending_inputs]
            lab, ms = np.concatenate(pending_labels), np.concatenate(pending_mass)
            order = rng.permutation(len(lab)) if rng is not None else np.arange(len(lab))
            take, rest = order[:batch_size], order[batch_size:]
            yield emit([c[take] for c in cat], lab[take], ms[take], np.ones(batch_size, np.float32))
            pending_inputs = [[c[rest]] for c in cat]
            pending_labels, pending_mass, n = [lab[rest]], [ms[rest]], len(rest)
    while pending_inputs is not None and n > 0:
        cat = [np.concatenate(s) for s in pending_inputs]
        lab, ms = np.concatenate(pending_labels), np.concatenate(pending_mass)
        take = min(n, batch_size)
        pad = batch_size - take
        idx = np.concatenate([np.arange(take), np.zeros(pad, int)])
        weights = np.concatenate([np.ones(take), np.zeros(pad)]).astype(np.float32)
        yield emit([c[idx] for c in cat], lab[idx], ms[idx], weights)
        pending_inputs = [[c[take:]] for c in cat]
        pending_labels, pending_mass, n = [lab[take:]], [ms[take:]], n - take
