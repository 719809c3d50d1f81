"""Pre-cut frame files: ML4SCI's public E2E datasets, one frame already cut around each candidate per row.

Each format of :data:`FRAME_FORMATS` declares where its frames, labels and per-row values
are stored, how its channels map onto the task's (:mod:`e2ejax.tasks`), what its labels
mean and the conventions of its images (:mod:`e2ejax.conventions`). :func:`iterate_frames`
streams a file in fixed-size :class:`FrameBatch` es in the task's channel order, reading at
most ``read_rows`` rows at a time: HDF5 datasets by slices (h5py), parquet files by record
batches (``pyarrow.parquet.ParquetFile.iter_batches``), the nested lists turned into
arrays from their flat values. docs/ML4SCI.md lists the datasets and where the facts come from.

Examples:
    >>> FRAME_FORMATS["qg_parquet"].images, FRAME_FORMATS["qg_parquet"].layout
    ('X_jets', 'channels_first')
    >>> frame_rows("data/photons.hdf5:0:1000")
    ('data/photons.hdf5', 0, 1000)
    >>> FRAME_FORMATS["egamma_hdf5"].unread
    ('time',)
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from e2ejax import tasks
from e2ejax.errors import InputError, require

__all__ = ["FRAME_FORMATS", "FRAME_SUFFIXES", "READ_BYTES", "FrameBatch", "FrameFormat", "count_frame_rows", "count_frames",
           "frame_format", "frame_rows", "is_frame_file", "iterate_frame_files", "iterate_frames", "rows_per_read"]

#: file name endings of frame files, by kind
FRAME_SUFFIXES = MappingProxyType({".h5": "hdf5", ".hdf5": "hdf5", ".parquet": "parquet"})

#: frame bytes (float32, as stored) held per read when ``read_rows`` is not given
READ_BYTES = 64 << 20


@dataclass(frozen=True)
class FrameFormat:
    """One pre-cut frame format.

    Attributes:
        name: registry key (``qg_hdf5``, ``qg_parquet``, ``top_parquet``, ``egamma_hdf5``).
        task: the e2ejax task its frames and labels are for.
        kind: ``"hdf5"`` or ``"parquet"``.
        images: the dataset (HDF5) or column (parquet) of the frames.
        layout: ``"channels_last"`` (``[N, H, W, C]``) or ``"channels_first"`` (``[N, C, H, W]``).
        stored: the stored channels in their order, in the producer's words.
        channels: the e2ejax channel of each stored one (None: not an e2ejax channel, not read).
        labels: the label dataset or column.
        label_classes: the class of stored label 0 and of stored label 1 (names of the task's classes).
        extras: per-row values read beside the frames when the file holds them.
        mass: the extra holding the jet mass (training's decorrelation term, the top mass
            baseline), or None.
        conventions: how the images were made (``image_units``, and ``track_impact`` where
            d0 / dz channels are stored).
    """

    name: str
    task: str
    kind: str
    images: str
    layout: str
    stored: tuple[str, ...]
    channels: tuple[str | None, ...]
    labels: str
    label_classes: tuple[str, str]
    extras: tuple[str, ...]
    mass: str | None
    conventions: Mapping = field(default_factory=dict)

    @property
    def order(self) -> tuple[int, ...]:
        """Indices of the stored channels in the task's channel order."""
        return tuple(self.channels.index(c) for c in tasks.get(self.task).channels)

    @property
    def unread(self) -> tuple[str, ...]:
        """The stored channels that are no e2ejax channel (the models do not read them)."""
        return tuple(s for s, c in zip(self.stored, self.channels) if c is None)

    @property
    def label_map(self) -> np.ndarray:
        """int32 ``[2]``: the task's label of stored label 0 and of stored label 1."""
        classes = tasks.get(self.task).classes
        return np.array([classes.index(c) for c in self.label_classes], np.int32)

    def stored_shape(self) -> tuple[int, int, int]:
        """One stored frame's shape: ``(H, W, C)`` or ``(C, H, W)`` by :attr:`layout`."""
        size, n = tasks.get(self.task).frame_size, len(self.stored)
        return (size, size, n) if self.layout == "channels_last" else (n, size, size)

    def unread_note(self, path) -> str | None:
        """The line telling which stored channels of ``path`` the models do not read (None: all are read)."""
        if not self.unread:
            return None
        where = ", ".join(f"{self.images} channel {self.stored.index(s)} ({s})" for s in self.unread)
        return (f"{path}: {where} is not an e2ejax channel; the {tasks.get(self.task).name} model does not read it "
                f"(it reads {', '.join(tasks.get(self.task).channels)})")


_ML4SCI = MappingProxyType({"image_units": "ml4sci"})

FRAME_FORMATS = MappingProxyType({f.name: f for f in (
    FrameFormat("qg_hdf5", "qg", "hdf5", "X_jets", "channels_last", ("Tracks pT", "ECAL", "HCAL"),
                ("track_pt", "ecal", "hcal"), "y", ("gluon", "quark"), ("m0", "pt"), "m0", _ML4SCI),
    FrameFormat("qg_parquet", "qg", "parquet", "X_jets", "channels_first", ("Tracks pT", "ECAL", "HCAL"),
                ("track_pt", "ecal", "hcal"), "y", ("gluon", "quark"), ("pt", "m0"), "m0", _ML4SCI),
    FrameFormat("top_parquet", "top", "parquet", "X_jet", "channels_first",
                ("pT", "dz", "d0", "ECAL", "HCAL", "BPIX1", "BPIX2", "BPIX3"),
                ("track_pt", "track_dz", "track_d0", "ecal", "hcal", "bpix1", "bpix2", "bpix3"), "y", ("QCD", "top"),
                ("m", "pt", "ieta", "iphi"), "m", MappingProxyType({"image_units": "ml4sci", "track_impact": "mean"})),
    FrameFormat("egamma_hdf5", "egamma", "hdf5", "X", "channels_last", ("energy", "time"), ("ecal", None), "y",
                ("photon", "electron"), (), None, _ML4SCI),
)})


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


def _kind(path: str) -> str:
    kind = FRAME_SUFFIXES.get(os.path.splitext(path)[1].lower())
    if kind is None:
        raise InputError(f"expected a frame file ending in {', '.join(FRAME_SUFFIXES)}; found {path!r}; "
                         "fix: pass an ML4SCI HDF5 or parquet file (ROOT files go through e2ejax.io.iterate_events)")
    if not os.path.isfile(path):
        raise InputError(f"expected a {kind} file at {path!r}; found {'a directory' if os.path.isdir(path) else 'no such file'}; "
                         "fix: check the path")
    return kind


def _hdf5_file(path: str):
    h5py = require("h5py", "hdf5")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise InputError(f"expected an HDF5 file at {path!r}; h5py cannot open it ({exc}); "
                         "fix: pass an ML4SCI .h5/.hdf5 file") from None


def _parquet_file(path: str):
    pq = require("pyarrow.parquet", "parquet")
    try:
        return pq.ParquetFile(path)
    except (OSError, ValueError) as exc:  # pyarrow's ArrowInvalid is a ValueError
        raise InputError(f"expected a parquet file at {path!r}; pyarrow cannot open it ({exc}); "
                         "fix: pass an ML4SCI .parquet file") from None


def _names(path: str, kind: str) -> list[str]:
    if kind == "parquet":
        return list(_parquet_file(path).schema_arrow.names)
    with _hdf5_file(path) as f:
        return sorted(f.keys())


def frame_format(path, name: str | None = None) -> FrameFormat:
    """The :class:`FrameFormat` of a frame file: ``name`` when given, else the one whose frames
    (``images``) the file holds among the formats of its kind.

    Raises:
        InputError: an unknown name, a format of another kind than the file, or a file holding
            no known frames.
    """
    path = os.fspath(path)
    kind = _kind(path)
    if name is not None:
        if name not in FRAME_FORMATS:
            raise InputError(f"expected a frame format among {sorted(FRAME_FORMATS)}; found {name!r}; "
                             "fix: name one of them or leave the format out to detect it")
        fmt = FRAME_FORMATS[name]
        if fmt.kind != kind:
            raise InputError(f"expected a {fmt.kind} file for format {name!r}; found the {kind} file {path!r}; "
                             f"fix: use one of {sorted(f.name for f in FRAME_FORMATS.values() if f.kind == kind)}")
        return fmt
    names = _names(path, kind)
    found = [f for f in FRAME_FORMATS.values() if f.kind == kind and f.images in names]
    if not found:
        wanted = ", ".join(f"{f.images!r} ({f.name})" for f in FRAME_FORMATS.values() if f.kind == kind)
        raise InputError(f"expected an ML4SCI {kind} frame file holding {wanted}; found {names[:12]} in {path!r}; "
                         "fix: pass one of the datasets of docs/ML4SCI.md, or name the format")
    return found[0]


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


def _shape_error(fmt: FrameFormat, what: str, found, where: str) -> InputError:
    return InputError(f"expected {what} in {where} ({fmt.name}: {fmt.layout}, channels {', '.join(fmt.stored)}); "
                      f"found {found}; fix: pass the dataset as published (docs/ML4SCI.md) or name its format")


class _Source:
    """One open frame file: its row count and reads of row ranges ``(images, labels, extras)``."""

    def __init__(self, path: str, fmt: FrameFormat):
        self.path, self.fmt = path, fmt

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


class _HDF5(_Source):
    def __init__(self, path: str, fmt: FrameFormat):
        super().__init__(path, fmt)
        self.file = _hdf5_file(path)
        try:
            self._check()
        except BaseException:
            self.file.close()
            raise

    def _check(self):
        fmt, f, where = self.fmt, self.file, repr(self.path)
        for name in (fmt.images, fmt.labels):
            if name not in f or not hasattr(f[name], "shape"):
                raise InputError(f"expected the dataset {name!r} in {where} ({fmt.name}); found {sorted(f.keys())[:12]}; "
                                 "fix: pass the dataset as published (docs/ML4SCI.md) or name its format")
        images = f[fmt.images]
        if images.ndim != 4 or tuple(images.shape[1:]) != fmt.stored_shape():
            raise _shape_error(fmt, f"{fmt.images!r} of shape [N, {', '.join(map(str, fmt.stored_shape()))}]",
                               tuple(images.shape), where)
        self.n = int(images.shape[0])
        self.extras = [e for e in fmt.extras if e in f]
        for name in [fmt.labels, *self.extras]:
            if tuple(f[name].shape) != (self.n,):
                raise _shape_error(fmt, f"{name!r} of shape [{self.n}] (one value per frame)", tuple(f[name].shape), where)

    def read(self, start: int, stop: int, read_rows: int):
        f = self.file
        for a in range(start, stop, read_rows):
            b = min(a + read_rows, stop)
            yield a, f[self.fmt.images][a:b], f[self.fmt.labels][a:b], {e: f[e][a:b] for e in self.extras}

    def close(self):
        self.file.close()


def _nested(column, shape: tuple[int, ...], name: str, where: str) -> np.ndarray:
    """A parquet nested-list column of ``len(column)`` rows of ``shape`` as one numpy array, from its flat values."""
    values, n = column, len(column)
    for depth, size in enumerate(shape):
        lengths = values.value_lengths().to_numpy(zero_copy_only=False) if values.null_count == 0 else None
        if lengths is None or (lengths != size).any():
            found = "null lists" if lengths is None else f"lists of {sorted(set(lengths.tolist()))[:6]} values"
            raise InputError(f"expected {name!r} rows of shape {list(shape)} (nested lists, {size} values at depth {depth}) "
                             f"in {where}; found {found}; fix: pass the dataset as published (docs/ML4SCI.md)")
        values = values.flatten()
    if values.null_count:
        raise InputError(f"expected numbers in every cell of {name!r} in {where}; found {values.null_count} nulls; "
                         "fix: pass the dataset as published")
    return values.to_numpy(zero_copy_only=False).reshape((n,) + shape)


class _Parquet(_Source):
    def __init__(self, path: str, fmt: FrameFormat):
        super().__init__(path, fmt)
        self.file = _parquet_file(path)
        self._check()

    def _check(self):
        pa = require("pyarrow", "parquet")
        fmt, schema, where = self.fmt, self.file.schema_arrow, repr(self.path)
        missing = [c for c in (fmt.images, fmt.labels) if c not in schema.names]
        if missing:
            raise InputError(f"expected the columns {[fmt.images, fmt.labels]} in {where} ({fmt.name}); missing {missing}; "
                             f"found {schema.names[:12]}; fix: pass the dataset as published (docs/ML4SCI.md) or name its format")
        kind, depth = schema.field(fmt.images).type, 0
        while pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
            kind, depth = kind.value_type, depth + 1
        if depth != 3 or not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
            raise _shape_error(fmt, f"{fmt.images!r} as nested lists of numbers [{', '.join(map(str, fmt.stored_shape()))}]",
                               f"type {schema.field(fmt.images).type}", where)
        self.n = int(self.file.metadata.num_rows)
        self.extras = [e for e in fmt.extras if e in schema.names]

    def read(self, start: int, stop: int, read_rows: int):
        meta, fmt, where = self.file.metadata, self.fmt, repr(self.path)
        ends = np.cumsum([meta.row_group(i).num_rows for i in range(meta.num_row_groups)])
        first = int(np.searchsorted(ends, start, side="right"))  # the row group holding row `start`
        at = int(ends[first - 1]) if first else 0
        columns = [fmt.images, fmt.labels, *self.extras]
        for batch in self.file.iter_batches(batch_size=read_rows, row_groups=list(range(first, meta.num_row_groups)),
                                            columns=columns, use_threads=False):
            a, b = max(at, start), min(at + batch.num_rows, stop)
            if a < b:
                part = batch.slice(a - at, b - a)
                images = _nested(part.column(fmt.images), fmt.stored_shape(), fmt.images, where)
                yield (a, images, part.column(fmt.labels).to_numpy(zero_copy_only=False),
                       {e: part.column(e).to_numpy(zero_copy_only=False) for e in self.extras})
            at += batch.num_rows
            if at >= stop:
                return

    def close(self):
        self.file.close()


def _open(path: str, fmt: FrameFormat) -> _Source:
    return _HDF5(path, fmt) if fmt.kind == "hdf5" else _Parquet(path, fmt)


def count_frames(path, *, format_name: str | None = None) -> int:
    """Rows (frames) of one frame file, after the checks of :func:`iterate_frames` (no frame is read)."""
    path = os.fspath(path)
    with _open(path, frame_format(path, format_name)) as source:
        return source.n


def rows_per_read(fmt: FrameFormat) -> int:
    """Rows of :data:`READ_BYTES` of ``fmt``'s frames (at least 1).

    Examples:
        >>> [rows_per_read(FRAME_FORMATS[n]) for n in ("qg_hdf5", "top_parquet", "egamma_hdf5")]
        [357, 134, 8192]
    """
    h, w, c = fmt.stored_shape()
    return max(1, READ_BYTES // (h * w * c * 4))


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
    with _open(path, fmt) as source:
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
