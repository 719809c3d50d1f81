"""Held-out evaluation of a trained model, next to its one-variable baselines.

Taggers: ROC AUC of the network and of each baseline of :mod:`e2ejax.inputs.baselines` on
the same labelled seeds. Jet calibration: median response and resolution of the
uncalibrated and the calibrated pT (:func:`e2ejax.metrics.response_and_resolution`).
This is what the model cards of the shipped models record. Pre-cut frame files (ML4SCI's
datasets, :func:`frame_examples`) are evaluated on their rows, next to the baselines their
own values give (the e/gamma frame's phi width, the stored jet mass).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from e2ejax import tasks
from e2ejax.errors import InputError
from e2ejax.inputs import baseline_scores, calibrated_pt, calibration_examples, has_baseline_fields, phi_width, trim_seed_slots
from e2ejax.io import FRAME_FORMATS, is_frame_file, iterate_events, iterate_frame_files
from e2ejax.metrics import auc_difference_error, auc_standard_error, response_and_resolution, roc_auc
from e2ejax.training.batches import EVENTS_PER_READ, _points_fn, fixed_batches, seed_examples

__all__ = ["evaluate_tagger", "evaluate_calibration", "frame_examples", "frame_inputs"]


def frame_inputs(files) -> bool:
    """True when ``files`` are pre-cut frame files (:func:`e2ejax.io.is_frame_file`), False when none is.

    Raises:
        InputError: a mix of frame files and ROOT files.
    """
    kinds = {f: is_frame_file(f) for f in files}
    if len(set(kinds.values())) > 1:
        frames = [f for f, k in kinds.items() if k]
        roots = [f for f, k in kinds.items() if not k]
        raise InputError(f"expected ROOT files or frame files (.h5, .hdf5, .parquet) in one list; found both ({frames[0]!r} "
                         f"and {roots[0]!r}); fix: train on one kind (their images differ in conventions)")
    return any(kinds.values())


def _frame_chunk(batch, *, n_points: int | None):
    """``(inputs, labels, mass)`` of a :class:`~e2ejax.io.FrameBatch` (GNN points when ``n_points`` is given)."""
    mass_name = FRAME_FORMATS[batch.format].mass
    mass = batch.extras.get(mass_name, np.zeros(batch.size)) if mass_name else np.zeros(batch.size)
    inputs = (batch.frames,) if n_points is None else tuple(np.asarray(x) for x in _points_fn(n_points)(batch.frames))
    return inputs, batch.labels.astype(np.float32), np.asarray(mass, np.float32)


def frame_examples(files, *, task: str, n_points: int | None = None, max_events: int | None = None,
                   format_name: str | None = None, batch_size: int = EVENTS_PER_READ):
    """``(inputs, labels, mass)`` chunks of every row of frame files (``path`` or ``path:START:STOP``), one
    chunk of each file in turn (:func:`e2ejax.io.iterate_frame_files`), at most ``max_events`` rows in all.

    The frames are the network inputs as stored (float32 ``[K, H, W, C]`` in the task's channel
    order; GNN points when ``n_points`` is given); ``labels`` float32 ``[K]`` the task's 0/1;
    ``mass`` the stored jet mass (zeros where the format stores none).
    """
    for batch in iterate_frame_files(list(files), task=task, format_name=format_name, batch_size=batch_size, max_rows=max_events):
        yield _frame_chunk(batch, n_points=n_points)


def _frame_observables(task: str, batch) -> dict[str, np.ndarray]:
    """The baseline observables a frame file's rows give: the e/gamma frame's ``phi_width``, the stored jet ``mass``."""
    if tasks.get(task).seed_group == "eg":
        return {"phi_width": phi_width(batch.frames)}
    mass_name = FRAME_FORMATS[batch.format].mass
    return {"mass": batch.extras[mass_name]} if mass_name in batch.extras else {}


def _evaluate_frames(predict: Callable, params, files, *, task: str, n_points, max_events, format_name, batch_size) -> dict:
    """:func:`evaluate_tagger` on frame files: every row is a labelled seed."""
    chunks, observables = [], {}
    for batch in iterate_frame_files(list(files), task=task, format_name=format_name, batch_size=EVENTS_PER_READ,
                                     max_rows=max_events):
        chunks.append(_frame_chunk(batch, n_points=n_points))
        for name, values in _frame_observables(task, batch).items():
            observables.setdefault(name, []).append(values)
    n_rows = sum(len(c[1]) for c in chunks)
    known = {o: np.concatenate(v) for o, v in observables.items() if sum(map(len, v)) == n_rows}
    baselines = {name: [sign * known[o]] for name, (o, sign) in tasks.get(task).baselines.items() if o in known}
    return _tagger_figures(predict, params, files, chunks, baselines, task=task, n_events=n_rows, batch_size=batch_size,
                           without=None if baselines else "the frame files store none of the baselines' observables")


def _predict_all(predict: Callable, params, chunks, *, batch_size: int) -> np.ndarray:
    """Scores of every example of ``(inputs, labels, mass)`` chunks, in order (fixed-size batches)."""
    out = []
    for batch in fixed_batches(chunks, batch_size=batch_size):
        keep = np.asarray(batch.weights) > 0
        out.append(np.asarray(predict(params, *batch.inputs))[keep])
    return np.concatenate(out) if out else np.zeros(0, np.float32)


def evaluate_tagger(predict: Callable, params, files, *, task: str, n_points: int | None = None,
                    max_events: int | None = None, batch_size: int = 64, format_name: str | None = None,
                    track_impact: str = "pt_weighted", particles: tuple[str, ...] | None = None) -> dict:
    """AUC of ``predict(params, *inputs)`` and of the task's baselines on labelled seeds of ``files``
    (ROOT files, or frame files of ``format_name``: each row a seed; ``track_impact``: the d0 / dz
    of frames built from sparse tracks; ``particles``: a particle network's input names, see
    :func:`~e2ejax.training.seed_examples`).

    Returns:
        ``{"files", "events", "seeds", "signal", "auc", "auc_error", "baselines": {name: auc},
        "baseline_errors": {name: error}, "best_baseline", "margin", "margin_error",
        "margin_sigma"}`` with ``margin = auc - max(baseline aucs)``; each baseline AUC is
        that of its better orientation, ``max(AUC, 1 - AUC)``. The errors are Hanley-McNeil
        standard errors (:func:`e2ejax.metrics.auc_standard_error`), ``margin_error`` is
        :func:`e2ejax.metrics.auc_difference_error` and ``margin_sigma = margin / margin_error``.
        Files without what the baselines are computed from (jets of stored images carry no
        particle-flow constituents) give ``baselines`` ``{}`` and ``best_baseline``, ``margin``,
        ``margin_error``, ``margin_sigma`` None, with the reason in ``no_baselines``.
    """
    if frame_inputs(files) and particles is not None:
        raise InputError(f"expected ROOT files with particle-flow candidates for a particle network; found frame files "
                         f"{list(files)[:2]}, which hold images only")
    if frame_inputs(files):
        return _evaluate_frames(predict, params, files, task=task, n_points=n_points, max_events=max_events,
                                format_name=format_name, batch_size=batch_size)
    group = tasks.get(task).seed_group
    chunks, baselines, n_events, without = [], {}, 0, []
    for events in iterate_events(list(files), max_events=max_events, step_size=EVENTS_PER_READ):
        n_events += len(np.asarray(events[f"{group}_mask"]))
        inputs, labels, mass = seed_examples(events, task=task, n_points=n_points, track_impact=track_impact, particles=particles)
        trimmed = trim_seed_slots(events, group)
        keep = (np.asarray(trimmed[f"{group}_mask"]) & (np.asarray(trimmed[f"{group}_label"]) >= 0))
        if group == "eg":  # the e/gamma observable is measured on the frame the network sees
            scores = baseline_scores(task, frames=inputs[0])
        elif not has_baseline_fields(events, task):
            without.append(getattr(events, "file", "events"))
            scores = {}
        else:
            scores = {k: v[keep] for k, v in baseline_scores(task, events=trimmed).items()}
        for name, s in scores.items():
            baselines.setdefault(name, []).append(s)
        chunks.append((inputs, labels, mass))
    return _tagger_figures(predict, params, files, chunks, baselines, task=task, n_events=n_events, batch_size=batch_size,
                           without=f"no particle-flow constituents in {sorted(set(map(str, without)))}" if without else None)


def _tagger_figures(predict: Callable, params, files, chunks, baselines: dict, *, task: str, n_events: int,
                    batch_size: int, without: str | None) -> dict:
    """The figures of :func:`evaluate_tagger` from ``(inputs, labels, mass)`` chunks and the baselines'
    scores of the same seeds (``without``: why there are none)."""
    labels = np.concatenate([c[1] for c in chunks]) if chunks else np.zeros(0)
    if len(np.unique(labels)) < 2:
        raise InputError(f"held-out evaluation needs labelled signal and background {task} seeds in {list(files)}; found {len(labels)} seeds with labels {sorted(set(labels.tolist()))}")
    scores = _predict_all(predict, params, chunks, batch_size=batch_size)
    n_signal = int(labels.sum())
    n_background = int(len(labels)) - n_signal
    auc = roc_auc(labels, scores)
    out = {"files": [str(f) for f in files], "events": n_events, "seeds": int(len(labels)), "signal": n_signal,
           "auc": auc, "auc_error": auc_standard_error(auc, n_signal, n_background)}
    if without:  # one baseline over some of the seeds only would not compare with the network's AUC
        return {**out, "baselines": {}, "baseline_errors": {}, "best_baseline": None, "margin": None, "margin_error": None,
                "margin_sigma": None, "no_baselines": without}
    # a baseline is credited with its better orientation, so it is never handicapped by the sign convention
    aucs = {name: max(a, 1.0 - a) for name, a in ((n, roc_auc(labels, np.concatenate(v))) for n, v in baselines.items())}
    best = max(aucs, key=aucs.get)
    margin_error = auc_difference_error(auc, aucs[best], n_signal, n_background)
    return {**out, "baselines": aucs,
            "baseline_errors": {name: auc_standard_error(a, n_signal, n_background) for name, a in aucs.items()},
            "best_baseline": best, "margin": auc - aucs[best], "margin_error": margin_error,
            "margin_sigma": (auc - aucs[best]) / margin_error}


def evaluate_calibration(predict: Callable, params, files, *, n_constituents: int, max_events: int | None = None,
                         batch_size: int = 256) -> dict:
    """Response and resolution before and after the calibration on the matched jets of ``files``.

    Returns:
        ``{"files", "events", "jets", "uncalibrated": {"response", "resolution"},
        "calibrated": {...}, "resolution_gain"}`` (``gain``: uncalibrated / calibrated resolution).
    """
    chunks, reco, true, n_events = [], [], [], 0
    for events in iterate_events(list(files), max_events=max_events, step_size=EVENTS_PER_READ):
        n_events += len(np.asarray(events["jet_mask"]))
        inputs, targets, reco_pt, true_pt = calibration_examples(events, n_constituents=n_constituents)
        chunks.append((inputs, targets, np.zeros_like(targets)))
        reco.append(reco_pt)
        true.append(true_pt)
    reco, true = (np.concatenate(x) if x else np.zeros(0) for x in (reco, true))
    if len(reco) == 0:
        raise InputError(f"held-out calibration needs jets matched to generator jets (jet_pt_true > 0) in {list(files)}; found none")
    corrected = calibrated_pt(reco, _predict_all(predict, params, chunks, batch_size=batch_size))
    before, after = response_and_resolution(reco, true), response_and_resolution(corrected, true)
    return {"files": [str(f) for f in files], "events": n_events, "jets": int(len(reco)),
            "uncalibrated": before._asdict(), "calibrated": after._asdict(),
            "resolution_gain": before.resolution / after.resolution}
