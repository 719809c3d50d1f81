"""Pre-cut frame files: ML4SCI's public E2E datasets, one frame already cut around each candidate per row.

:func:`iterate_frames` streams a file in fixed-size :class:`FrameBatch` es in the task's
channel order (the formats, :data:`~e2ejax.io.FRAME_FORMATS`: :mod:`e2ejax.io._frame_formats`),
reading at most ``read_rows`` rows at a time (the readers of HDF5 and parquet files:
:mod:`e2ejax.io._frame_sources`); :func:`iterate_frame_files` streams several files, each
``path`` or ``path:START:STOP`` (:func:`frame_rows`). docs/ML4SCI.md lists the datasets and
where the facts come from.

Examples:
    >>> frame_rows("data/photons.hdf5:0:1000")
    ('data/photons.hdf5', 0, 1000)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from e2ejax.errors import InputError
from e2ejax.io._frame_formats import FRAME_SUFFIXES, FrameFormat, rows_per_read
from e2ejax.io._frame_sources import frame_format, open_frame_file

__all__ = ["FrameBatch", "count_frame_rows", "count_frames", "frame_rows", "is_frame_file", "iterate_frame_files",
           "iterate_frames"]


@dataclass(frozen=True, eq=False)
class FrameBatch:
    """Consecutive rows ``[row_start, row_stop)`` of one frame file.

    Attributes:
        frames: float32 ``[B, H, W, C]``, channels in the task's order (:attr:`e2ejax.tasks.Task.channels`).
        labels: int32 ``[B]``, the task's labels (index into :attr:`e2ejax.tasks.Task.classes`).
        extras: name -> float64 ``[B]``, the format's per-row values the file holds.
        file: the file read.
        row_start: first row of the batch in the file.
        row_stop: one past the last row.
        conventions: the conventions of the stored images (:mod:`e2ejax.conventions`).
        format: the :class:`FrameFormat` name.
    """

    frames: np.ndarray
    labels: np.ndarray
    extras: dict
    file: str
    row_start: int
    row_stop: int
    conventions: dict
    format: str

    @property
    def size(self) -> int:
        """Rows ``B`` in the batch."""
        return self.row_stop - self.row_start


_RANGE = re.compile(r"^(?P<path>.+?\.(?:h5|hdf5|parquet)):(?P<start>\d*):(?P<stop>\d*)$")


def frame_rows(spec) -> tuple[str, int, int | None]:
    """``(path, start, stop)`` of ``path`` or ``path:START:STOP`` (rows ``[START, STOP)``; either may be empty).

    Raises:
        InputError: ``STOP <= START``.

    Examples:
        >>> frame_rows("a.parquet"), frame_rows("a.h5:100:")
        (('a.parquet', 0, None), ('a.h5', 100, None))
    """
    spec = os.fspath(spec)
    match = _RANGE.match(spec)
    if match is None:
        return spec, 0, None
    start = int(match["start"] or 0)
    stop = int(match["stop"]) if match["stop"] else None
    if stop is not None and stop <= start:
        raise InputError(f"expected rows START:STOP with START < STOP in {spec!r}; found {start}:{stop}; "
                         f"fix: write e.g. {match['path']}:0:1000 (STOP excluded)")
    return match["path"], start, stop


def is_frame_file(spec) -> bool:
    """True when ``spec`` (``path`` or ``path:START:STOP``) names an HDF5 or parquet file.

    Examples:
        >>> is_frame_file("x.h5"), is_frame_file("x.parquet:0:10"), is_frame_file("x.root:Events")
        (True, True, False)
    """
    return os.path.splitext(frame_rows(spec)[0])[1].lower() in FRAME_SUFFIXES


def _check_labels(values: np.ndarray, fmt: FrameFormat, where: str) -> np.ndarray:
    """The task's int32 labels of stored 0/1 labels; InputError on any other value."""
    values = np.asarray(values)
    bad = values[(values != 0) & (values != 1)]
    if bad.size:
        raise InputError(f"expected {fmt.labels!r} labels 0 ({fmt.label_classes[0]}) or 1 ({fmt.label_classes[1]}) "
                         f"in {where}; found {np.unique(bad)[:6].tolist()}; fix: pass the dataset as published")
    return fmt.label_map[values.astype(np.int64)]


def _to_frames(images: np.ndarray, fmt: FrameFormat) -> np.ndarray:
    """Stored frames -> float32 ``[B, H, W, C]`` in the task's channel order."""
    order = list(fmt.order)
    x = images[..., order] if fmt.layout == "channels_last" else images[:, order].transpose(0, 2, 3, 1)
    return np.ascontiguousarray(x, dtype=np.float32)


def count_frames(path, *, format_name: str | None = None) -> int:
    """Rows (frames) of one frame file, after the checks of :func:`iterate_frames` (no frame is read)."""
    path = os.fspath(path)
    with open_frame_file(path, frame_format(path, format_name)) as source:
        return source.n


def iterate_frames(path, *, format_name: str | None = None, batch_size: int = 64, row_start: int = 0,
                   row_stop: int | None = None, read_rows: int | None = None) -> Iterator[FrameBatch]:
    """Yield the rows ``[row_start, row_stop)`` of one frame file in :class:`FrameBatch` es of
    ``batch_size`` rows (the last may be shorter), in file order.

    Never more than ``read_rows`` rows of frames are read at once (HDF5: slices of the
    datasets; parquet: record batches of the row groups from the one holding ``row_start``);
    batches are cut across reads, so a batch may hold the end of one read and the start of
    the next.

    Args:
        path: an HDF5 (``.h5``, ``.hdf5``) or parquet file.
        format_name: a :data:`FRAME_FORMATS` name (default: detected, :func:`frame_format`).
        batch_size: rows per batch.
        row_start, row_stop: the rows to read (``row_stop`` None or past the end: to the end).
        read_rows: rows per read (default :func:`rows_per_read`).

    Raises:
        InputError: a missing or unreadable file, missing datasets or columns, frames of
            another shape than the format's, labels other than 0 and 1, bad counts.
        MissingDependencyError: h5py (``e2ejax[hdf5]``) or pyarrow (``e2ejax[parquet]``) missing.
    """
    if batch_size < 1 or row_start < 0 or (read_rows is not None and read_rows < 1):
        raise InputError(f"expected batch_size >= 1, row_start >= 0 and read_rows >= 1; found {batch_size}, {row_start}, "
                         f"{read_rows}; fix: pass positive counts")
    path = os.fspath(path)
    fmt = frame_format(path, format_name)
    read_rows = read_rows or rows_per_read(fmt)
    with open_frame_file(path, fmt) as source:
        stop = source.n if row_stop is None else min(int(row_stop), source.n)
        pending: list[tuple] = []
        for a, images, labels, extras in source.read(row_start, stop, read_rows):
            pending.append((a, _to_frames(images, fmt), _check_labels(labels, fmt, repr(path)),
                            {k: np.asarray(v, np.float64) for k, v in extras.items()}))
            while sum(len(p[1]) for p in pending) >= batch_size:
                batch, pending = _take(pending, batch_size)
                yield _batch(batch, path, fmt)
        if pending:
            yield _batch(_take(pending, sum(len(p[1]) for p in pending))[0], path, fmt)


def _take(pending: list[tuple], n: int) -> tuple[tuple, list[tuple]]:
    """The first ``n`` rows of the pending reads as one ``(start, frames, labels, extras)``, and the rest."""
    taken, rest, need = [], [], n
    for i, (a, frames, labels, extras) in enumerate(pending):
        if need == 0:
            rest = pending[i:]
            break
        k = min(need, len(frames))
        taken.append((a, frames[:k], labels[:k], {e: v[:k] for e, v in extras.items()}))
        if k < len(frames):
            rest = [(a + k, frames[k:], labels[k:], {e: v[k:] for e, v in extras.items()})] + pending[i + 1:]
            need = 0
            break
        need -= k
    joined = (taken[0][0], np.concatenate([t[1] for t in taken]) if len(taken) > 1 else taken[0][1],
              np.concatenate([t[2] for t in taken]), {e: np.concatenate([t[3][e] for t in taken]) for e in taken[0][3]})
    return joined, rest


def _batch(part: tuple, path: str, fmt: FrameFormat) -> FrameBatch:
    a, frames, labels, extras = part
    return FrameBatch(frames, labels.astype(np.int32), extras, path, a, a + len(frames), dict(fmt.conventions), fmt.name)


def _specs(specs, task: str | None, format_name: str | None) -> list[tuple[str, int, int | None, FrameFormat]]:
    """``(path, start, stop, format)`` of each ``path`` or ``path:START:STOP``, every format of ``task`` when given."""
    out = []
    for spec in [specs] if isinstance(specs, (str, os.PathLike)) else list(specs):
        path, start, stop = frame_rows(spec)
        fmt = frame_format(path, format_name)
        if task is not None and fmt.task != task:
            raise InputError(f"expected frame files of task {task!r}; found {path!r} holding {fmt.task} frames ({fmt.name}); "
                             f"fix: use {task} files, or the task {fmt.task!r}")
        out.append((path, start, stop, fmt))
    return out


def count_frame_rows(specs, *, task: str | None = None, format_name: str | None = None, max_rows: int | None = None) -> int:
    """The rows :func:`iterate_frame_files` yields for the same arguments (no frame is read).

    Examples:
        >>> count_frame_rows([]), count_frame_rows([], max_rows=5)
        (0, 0)
    """
    total = 0
    for path, start, stop, fmt in _specs(specs, task, format_name):
        n = count_frames(path, format_name=fmt.name)
        total += max(min(n, n if stop is None else stop) - start, 0)
    return total if max_rows is None else min(total, int(max_rows))


def iterate_frame_files(specs, *, task: str | None = None, format_name: str | None = None, batch_size: int = 64,
                        max_rows: int | None = None) -> Iterator[FrameBatch]:
    """The rows of several frame files (each ``path`` or ``path:START:STOP``, :func:`frame_rows`), one
    batch of each file in turn, so files of one class each (the e/gamma datasets) mix batch by batch.

    Args:
        specs: the files, in order.
        task: refuse files holding frames of another task.
        format_name, batch_size: as :func:`iterate_frames`.
        max_rows: stop after this many rows in all (None: all).

    Raises:
        InputError: as :func:`iterate_frames`; a file of another task.
    """
    streams = [iterate_frames(path, format_name=fmt.name, batch_size=batch_size, row_start=start, row_stop=stop)
               for path, start, stop, fmt in _specs(specs, task, format_name)]
    left = None if max_rows is None else int(max_rows)
    while streams and (left is None or left > 0):
        for stream in list(streams):
            batch = next(stream, None)
            if batch is None:
                streams.remove(stream)
                continue
            if left is not None and batch.size > left:
                batch = FrameBatch(batch.frames[:left], batch.labels[:left], {k: v[:left] for k, v in batch.extras.items()},
                                   batch.file, batch.row_start, batch.row_start + left, batch.conventions, batch.format)
            if left is not None:
                left -= batch.size
            yield batch
            if left == 0:
                return
