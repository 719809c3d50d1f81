"""Open pre-cut frame files and check them against their :class:`~e2ejax.io.FrameFormat`.

HDF5 datasets are read by slices (h5py), parquet files by record batches
(``pyarrow.parquet.ParquetFile.iter_batches``), the nested lists turned into arrays from
their flat values. docs/ML4SCI.md lists the datasets.
"""

from __future__ import annotations

import os

import numpy as np

from e2ejax.errors import InputError, require
from e2ejax.io._frame_formats import FRAME_FORMATS, FRAME_SUFFIXES, FrameFormat

__all__ = ["frame_format", "open_frame_file"]


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


def open_frame_file(path: str, fmt: FrameFormat) -> _Source:
    return _HDF5(path, fmt) if fmt.kind == "hdf5" else _Parquet(path, fmt)
