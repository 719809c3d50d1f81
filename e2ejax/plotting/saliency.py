"""Saliency of a tagger: the gradient of one candidate's score with respect to its frame pixels.

The frame is built with :func:`e2ejax.inputs.seed_frames` (the builder of the tagger and
of training) and scored with :func:`e2ejax.nets.make_predict` (the function inference runs
and export traces), so ``jax.grad`` of that composition is the sensitivity of the very
score ``e2ejax tag`` writes. GNN inputs (:func:`e2ejax.inputs.gnn_points`) are taken from
the frame inside the gradient, so their pixels get the gradient of their point values.
"""

from __future__ import annotations

from typing import Mapping, NamedTuple

import jax
import numpy as np

from e2ejax import tasks
from e2ejax.errors import InputError
from e2ejax.inputs import gnn_points, seed_frames
from e2ejax.nets import make_predict, takes_points

__all__ = ["FrameSaliency", "frame_saliency"]


class FrameSaliency(NamedTuple):
    """One candidate's frame, score and saliency.

    ``frame`` and ``saliency`` are float32 ``[h, w, C]`` (``saliency`` = d score / d pixel);
    ``seed`` is the ``(row, col)`` of the frame centre in the stitched 280 x 360 grid.
    """

    task: str
    channels: tuple[str, ...]
    frame: np.ndarray
    saliency: np.ndarray
    score: float
    seed: tuple[int, int]
    in_acceptance: bool


def frame_saliency(model, task: str, event: Mapping, candidate: int) -> FrameSaliency:
    """Frame and score gradient of seed slot ``candidate`` of a one-event batch.

    Args:
        model: an e2ejax tagger network (its restored parameters are used).
        task: the model's tagger task (its card's ``task``).
        event: a padded batch of one event (``B = 1``) holding the task's hit groups.
        candidate: the seed slot (0 = first candidate of the event).

    Returns:
        A :class:`FrameSaliency`.

    Raises:
        InputError: a candidate slot that holds no real seed.
    """
    t = tasks.get(task)
    frames, seeds, mask, in_acceptance = seed_frames(event, task=task)
    real = np.flatnonzero(np.asarray(mask)[0])
    if candidate not in real:
        raise InputError(f"--candidate: expected a seed slot of this event, one of {real.tolist()}; found {candidate}"
                         + ("; the event has no candidates: pick another --entry" if real.size == 0 else ""))
    predict, params = make_predict(model)
    graph = takes_points(model)

    def score(frame):
        inputs = gnn_points(frame[None], n_points=model.config.n_points) if graph else (frame[None],)
        return predict(params, *inputs)[0]

    frame = frames[candidate]
    value, grad = jax.value_and_grad(score)(frame)
    row, col = (int(v) for v in np.asarray(seeds)[0, candidate])
    return FrameSaliency(task, t.channels, np.asarray(frame, np.float32), np.asarray(grad, np.float32), float(value),
                         (row, col), bool(np.asarray(in_acceptance)[0, candidate]))
