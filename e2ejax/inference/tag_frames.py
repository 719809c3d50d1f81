"""``tag_frame_files``: score every row of a pre-cut frame file (ML4SCI's HDF5 and parquet datasets).

The frames are stored already cut around each candidate, so no frame is built: each
batch goes straight to :meth:`Tagger.network` (through :meth:`Tagger.network_inputs`, so a
GNN gets its points). The scores are written aligned row by row, one seed per row, as
:class:`e2ejax.io.PredictionWriter` writes a friend tree (``event`` is the row number).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

import numpy as np
from tqdm.auto import tqdm

from e2ejax import conventions, tasks
from e2ejax.errors import InputError
from e2ejax.inference.seed_rows import pad_rows
from e2ejax.inference.tagger import Tagger
from e2ejax.io import PredictionWriter, check_output, count_frames, entry_range_stop, frame_format, iterate_frames
from e2ejax.metrics import auc_standard_error, roc_auc

__all__ = ["frame_scores", "tag_frame_files"]


def frame_scores(tagger: Tagger, frames) -> np.ndarray:
    """float32 ``[K]`` scores of frames ``[K, H, W, C]`` (the tagger's task's channels and frame size).

    The frames go in consecutive parts of at most ``tagger.max_rows``, each padded to a
    :func:`~e2ejax.inference.pad_rows` size, as the tagger scores the seeds of events, so
    a file's batches share a few compiled programs and the memory of a call is bounded.
    """
    frames = np.asarray(frames, np.float32)
    out = np.zeros(len(frames), np.float32)
    for part in tagger.row_parts(np.arange(len(frames))):
        if part.size:
            inputs = tagger.network_inputs(frames[pad_rows(part)], part.size)
            out[part] = np.asarray(tagger.network(inputs)).reshape(-1)[: part.size]
    return out


def _check_taggers(taggers: Mapping[str, Tagger], fmt, path: str, accept_units: bool) -> None:
    """InputError unless every tagger is of the file's task and agrees with its image conventions."""
    wrong = {name: t.task for name, t in taggers.items() if t.task != fmt.task}
    if wrong:
        raise InputError(f"expected {tasks.get(fmt.task).title} models for {path!r} (format {fmt.name}: {fmt.task} frames); "
                         f"found {', '.join(f'{n} (task {t})' for n, t in wrong.items())}; fix: tag it with {fmt.task} models")
    for tagger in taggers.values():
        conventions.check(tagger.conventions, fmt.conventions, channels=tasks.get(fmt.task).channels, where=path,
                          accept_units=accept_units or tagger.accept_units)


def tag_frame_files(taggers: Mapping[str, Tagger], file, output, *, format_name: str | None = None, batch_size: int = 64,
                    max_events: int | None = None, entry_start: int = 0, entry_stop: int | None = None,
                    overwrite: bool = False, progress: bool = True, accept_units: bool = False,
                    say: Callable[[str], None] = print) -> dict:
    """Score every row of one frame file with one or more taggers of its task, writing the scores
    aligned row by row.

    Args:
        taggers: score name -> :class:`~e2ejax.inference.Tagger`, all of the file's task.
        file: an HDF5 or parquet frame file (:data:`e2ejax.io.FRAME_FORMATS`).
        output: ``.root`` (friend tree ``Predictions``, one entry per row, one seed each:
            ``<group>_<name>`` scores, ``<group>_valid``, ``event`` = the row) or ``.parquet``;
            written under a temporary name and renamed when complete.
        format_name: the file's format (default: detected from the datasets / columns it holds).
        batch_size: rows per network batch.
        max_events, entry_start, entry_stop: score the rows ``[entry_start, entry_stop)``, at most
            ``max_events`` of them; output entry ``i`` is row ``entry_start + i``.
        overwrite: replace an existing ``output`` that is not an e2ejax prediction file.
        progress: a progress bar over the rows.
        accept_units: score images whose ``image_units`` differ from the models' (the user
            says they agree); other conventions are still checked.
        say: where the line about stored channels the models do not read goes.

    Returns:
        Summary: ``events`` (rows scored), ``seeds`` (the same), ``in_acceptance`` (1: the frames are
        stored whole), ``seconds``, ``events_per_s``, ``seeds_per_s``, ``replaced``, ``format``,
        ``truth`` (the file's task) and, when the rows hold both classes, ``auc`` and its
        Hanley-McNeil ``auc_error`` per tagger with the ``n_signal`` and ``n_background`` rows.

    Raises:
        InputError: an unreadable file, taggers of another task, conventions that differ from the
            models' (:func:`e2ejax.conventions.check`), no row in the range.
        OutputError: another process is writing ``output``.
    """
    if not taggers:
        raise InputError("expected at least one tagger; found none")
    path = str(file)
    fmt = frame_format(path, format_name)
    _check_taggers(taggers, fmt, path, accept_units)
    n_rows = count_frames(path, format_name=fmt.name)
    stop = entry_range_stop(entry_start, entry_stop, max_events)
    stop = n_rows if stop is None else min(stop, n_rows)
    if stop <= entry_start:
        raise InputError(f"expected rows to tag in {path!r} ({n_rows} rows); found none in rows [{entry_start}, {stop}); "
                         "fix: choose a range inside the file")
    check_output(output, overwrite=overwrite, source=path)
    note = fmt.unread_note(path)
    if note:
        say(note)
    group = tasks.get(fmt.task).seed_group
    labels, scores = [], {name: [] for name in taggers}
    t0 = time.perf_counter()
    bar = tqdm(desc="tag", unit="row", total=stop - entry_start, disable=not progress)
    writer = PredictionWriter(output, group=group, n_entries=stop - entry_start, entry_start=entry_start, overwrite=overwrite)
    with writer:
        for batch in iterate_frames(path, format_name=fmt.name, batch_size=batch_size, row_start=entry_start, row_stop=stop):
            scored = {name: frame_scores(t, batch.frames) for name, t in taggers.items()}
            writer.write({name: s[:, None] for name, s in scored.items()}, mask=np.ones((batch.size, 1), bool),
                         event=np.arange(batch.row_start, batch.row_stop), entry_start=batch.row_start)
            labels.append(batch.labels)
            for name, s in scored.items():
                scores[name].append(s)
            bar.update(batch.size)
    bar.close()
    seconds = time.perf_counter() - t0
    n = stop - entry_start
    summary = {"events": n, "seeds": n, "in_acceptance": 1.0, "seconds": seconds, "events_per_s": n / max(seconds, 1e-9),
               "seeds_per_s": n / max(seconds, 1e-9), "replaced": writer.replaced, "format": fmt.name, "truth": fmt.task}
    y = np.concatenate(labels)
    if len(np.unique(y)) == 2:
        n_signal = int((y == 1).sum())
        summary.update(n_signal=n_signal, n_background=len(y) - n_signal)
        summary["auc"] = {name: roc_auc(y, np.concatenate(s)) for name, s in scores.items()}
        summary["auc_error"] = {name: auc_standard_error(a, n_signal, len(y) - n_signal) for name, a in summary["auc"].items()}
    return summary
