"""The arrays of one chunk of an E2E tree, by layout (sparse hits, e2ejax's dense images, an
MLAnalyzer ntuple's images and jet seeds), as the padded numpy arrays of an :class:`~e2ejax.io.EventBatch`."""

from __future__ import annotations

import warnings

import awkward as ak
import numpy as np

from e2ejax import geometry
from e2ejax.errors import InputError
from e2ejax.io import _mlanalyzer as mlanalyzer
from e2ejax.io._batch import HitOverflowWarning
from e2ejax.io._schema import DEFAULT_MAX_HITS, DENSE_IMAGES, DENSE_SEEDS, GROUPS, bucket, field_dtype
from e2ejax.io._validate import DENSE_SEED_RANGES, INDEX_RANGES, check_finite, check_index

__all__ = ["EVENT_BRANCHES", "pad_jagged", "read_dense", "read_mlanalyzer", "read_sparse"]

EVENT_BRANCHES = ("event", "eventId")


def pad_jagged(jagged, *, size: int, dtype) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Jagged awkward ``[B, var]`` numbers -> zero-padded ``[B, size]``, mask and counts.

    Items beyond ``size`` in an event are dropped (the caller reports them).

    Returns:
        ``(values dtype [B, size], mask bool [B, size], counts int64 [B])``.

    Examples:
        >>> v, m, n = pad_jagged(ak.Array([[1, 2, 3], []]), size=2, dtype=np.int32)
        >>> v.tolist(), m.tolist(), n.tolist()
        ([[1, 2], [0, 0]], [[True, True], [False, False]], [3, 0])
    """
    layout = ak.to_layout(jagged)
    if isinstance(layout, ak.contents.ListOffsetArray) and isinstance(layout.content, ak.contents.NumpyArray):
        offsets = np.asarray(layout.offsets)  # what uproot builds: the flat content is read without awkward dispatch
        counts = np.diff(offsets).astype(np.int64)
        flat = np.asarray(layout.content.data)[offsets[0]:offsets[-1]]
    else:
        counts = np.asarray(ak.num(jagged, axis=1), np.int64)
        flat = np.asarray(ak.flatten(jagged, axis=1))
    B = len(counts)
    mask = np.arange(size)[None, :] < np.minimum(counts, size)[:, None]
    if len(counts) and counts.max() > size:  # drop the items past ``size`` of each event
        local = np.arange(len(flat)) - np.repeat(np.cumsum(counts) - counts, counts)
        flat = flat[local < size]
    values = np.zeros((B, size), dtype)
    values[mask] = flat  # row-major order of the mask = event order of the items
    return values, mask, counts


def _event_ids(arrays, fields, start, stop) -> np.ndarray:
    for name in EVENT_BRANCHES:
        if name in fields:
            return np.asarray(arrays[name]).astype(np.int64)
    return np.arange(start, stop, dtype=np.int64)


def _padded_size(group, counts, overflow, *, min_pad, max_hits, start, stop, path) -> int:
    """The padded size of ``group`` for ``counts`` items per event (a power of two, at most its
    ``max_hits``); the items beyond it are counted in ``overflow`` with a :class:`HitOverflowWarning`."""
    cap = int(max_hits.get(group, DEFAULT_MAX_HITS[group]))
    largest = int(counts.max()) if len(counts) else 0
    size = min(bucket(largest, minimum=min_pad), cap)
    dropped = int(np.maximum(counts - size, 0).sum())
    if dropped:
        overflow[group] = dropped
        warnings.warn(
            HitOverflowWarning(
                f"{dropped} {group} hits beyond max_hits[{group!r}]={cap} dropped in {path!r} entries [{start}, {stop}) "
                f"(largest event: {largest}); raise max_hits={{'{group}': {bucket(largest)}}} to keep them"
            ),
            stacklevel=5,
        )
    return size


def read_sparse(arrays, fields, groups, *, min_pad, max_hits, start, stop, path):
    out = {"event": _event_ids(arrays, fields, start, stop)}
    overflow = {}
    for g in groups:
        first = arrays[f"{g}_{GROUPS[g][0]}"]
        counts = np.asarray(ak.num(first, axis=1), np.int64)
        size = _padded_size(g, counts, overflow, min_pad=min_pad, max_hits=max_hits, start=start, stop=stop, path=path)
        for f in GROUPS[g]:
            values, mask, n = pad_jagged(arrays[f"{g}_{f}"], size=size, dtype=field_dtype(f))
            if not np.array_equal(n, counts):
                raise InputError(
                    f"expected branches {g}_* of {path!r} with equal lengths per event; '{g}_{f}' differs from "
                    f"'{g}_{GROUPS[g][0]}' in entries [{start}, {stop}); write the group with one counter n{g}"
                )
            name = f"{g}_{f}"
            if values.dtype.kind == "f":
                check_finite(values, name, path=path, start=start, stop=stop)
            elif name in INDEX_RANGES:
                check_index(values, mask, name, INDEX_RANGES[name], path=path, start=start, stop=stop)
            out[name] = values
        out[f"{g}_mask"] = mask
        out[f"n{g}"] = counts.astype(np.int32)
    return out, overflow


def _flat_image(column, name: str, shape: tuple[int, int], *, path: str, start: int) -> np.ndarray:
    """One image branch, flattened row-major per event (fixed-size arrays, or vectors of exactly
    that length), as float32 ``[B, rows, cols]``.

    Raises:
        InputError: an event with another number of values (the branch, sizes and entry are named).
    """
    size = shape[0] * shape[1]
    fix = f"fix: write the {shape[0]} x {shape[1]} image flattened row-major, {size} values per event"
    if column.ndim == 2 and isinstance(column.type.content, ak.types.ListType):
        counts = np.asarray(ak.num(column, axis=1))
        if len(counts) and not np.all(counts == size):
            bad = int(np.flatnonzero(counts != size)[0])
            raise InputError(f"expected {size} values per event in branch {name!r} of {path!r}; found {int(counts[bad])} "
                             f"at entry {start + bad}; {fix}")
        flat = np.asarray(ak.flatten(column, axis=1), np.float32)
    else:
        flat = np.asarray(ak.to_numpy(column), np.float32)
        if flat.ndim != 2 or flat.shape[1] != size:
            raise InputError(f"expected {size} values per event in branch {name!r} of {path!r}; found shape "
                             f"{flat.shape[1:]}; {fix}")
    return flat.reshape((-1,) + shape)


def _seed_cells(out: dict, mask: np.ndarray) -> None:
    """Add ``jet_seed_row`` / ``jet_seed_col``, the ECAL-grid cells of the seed towers of ``out``, 0 in padded slots."""
    row, col = geometry.tower_to_crystal_centre(out["jet_seed_tower_row"], out["jet_seed_tower_col"])
    out["jet_seed_row"] = np.where(mask, row, 0).astype(np.int32)
    out["jet_seed_col"] = np.where(mask, col, 0).astype(np.int32)


def read_dense(arrays, fields, *, min_pad, max_hits, start, stop, path):
    out = {"event": _event_ids(arrays, fields, start, stop)}
    overflow = {}
    for name, (key, shape) in DENSE_IMAGES.items():
        if name in fields:
            out[key] = _flat_image(arrays[name], name, shape, path=path, start=start)
            check_finite(out[key], name, path=path, start=start, stop=stop)
    seeds = [n for n in DENSE_SEEDS if n in fields]
    if seeds:
        counts = np.asarray(ak.num(arrays[seeds[0]], axis=1))
        size = _padded_size("jet", counts, overflow, min_pad=min_pad, max_hits=max_hits, start=start, stop=stop, path=path)
        for name in seeds:
            key, dtype = DENSE_SEEDS[name]
            out[key], mask, _ = pad_jagged(arrays[name], size=size, dtype=dtype)
            if name in DENSE_SEED_RANGES:
                check_index(out[key], mask, name, DENSE_SEED_RANGES[name], path=path, start=start, stop=stop)
            elif out[key].dtype.kind == "f":
                check_finite(out[key], name, path=path, start=start, stop=stop)
        out["jet_mask"] = mask
        if "jet_seed_tower_row" in out and "jet_seed_tower_col" in out:
            _seed_cells(out, mask)
    return out, overflow


def read_mlanalyzer(arrays, fields, plan, *, min_pad, max_hits, start, stop, path):
    """An MLAnalyzer batch in e2ejax's keys and phi origin (:mod:`e2ejax.io._mlanalyzer`)."""
    out = {"event": _event_ids(arrays, fields, start, stop)}
    overflow = {}
    for name, (key, shape) in plan.images.items():
        image = _flat_image(arrays[name], name, shape, path=path, start=start)
        check_finite(image, name, path=path, start=start, stop=stop)
        out[key] = mlanalyzer.to_e2ejax_phi(image)
    if not plan.jets:
        return out, overflow
    first = next(iter(plan.jets))
    counts = np.asarray(ak.num(arrays[first], axis=1), np.int64)
    size = _padded_size("jet", counts, overflow, min_pad=min_pad, max_hits=max_hits, start=start, stop=stop, path=path)
    values = {}
    for name in plan.jets:
        values[name], mask, n = pad_jagged(arrays[name], size=size, dtype=np.float32)
        if not np.array_equal(n, counts):
            bad = int(np.flatnonzero(n != counts)[0])
            raise InputError(f"expected one value per jet seed in branch {name!r} of {path!r} (as {first!r}); found "
                             f"{int(n[bad])} values for {int(counts[bad])} seeds at entry {start + bad}; "
                             "fix: the per-jet branches of the file disagree: check its producer")
        check_finite(values[name], name, path=path, start=start, stop=stop)
    row, col = mlanalyzer.seed_towers(*(values[n] for n in mlanalyzer.SEEDS), mask, path=path, start=start, stop=stop)
    out.update(jet_seed_tower_row=row, jet_seed_tower_col=col, jet_mask=mask)
    _seed_cells(out, mask)
    for name, key in plan.jets.items():
        if name in mlanalyzer.LABELS:
            out[key] = mlanalyzer.jet_labels(name, values[name], mask, path=path, start=start, stop=stop)
        elif name not in mlanalyzer.SEEDS:
            out[key] = values[name]
    return out, overflow
