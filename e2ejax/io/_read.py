"""Stream E2E ntuples (sparse hits or dense flattened images) into padded numpy batches."""

from __future__ import annotations

import ctypes
import warnings

import awkward as ak
import numpy as np
from uproot.deserialization import DeserializationError

from e2ejax.errors import InputError
from e2ejax.io._batch import EventBatch, HitOverflowWarning
from e2ejax.io._open import DEFAULT_TREE, check_branches, open_tree, resolve
from e2ejax.io._schema import (
    DEFAULT_MAX_HITS,
    DENSE,
    DENSE_IMAGES,
    DENSE_SEEDS,
    DENSE_SIZES,
    GROUPS,
    INT_FIELDS,
    SPARSE,
    bucket,
    field_dtype,
)
from e2ejax.io._validate import DENSE_SEED_RANGES, INDEX_RANGES, check_finite, check_index

__all__ = ["iterate_events", "check_files", "detect_layout", "pad_jagged"]

_EVENT_BRANCHES = ("event", "eventId")


def _malloc_trim():
    try:  # glibc's symbols are visible through the main program; no library search (no subprocess)
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        fn = None
    return (lambda: fn(0)) if fn is not None else (lambda: None)


_trim = _malloc_trim()


def detect_layout(tree) -> str:
    """``"dense"`` if the tree has ``ECAL_energy``, ``"sparse"`` if it has sparse hit branches.

    Raises:
        InputError: when the tree matches neither layout.
    """
    if "ECAL_energy" in tree:
        return DENSE
    if any(f"{g}_{fields[0]}" in tree for g, fields in GROUPS.items()):
        return SPARSE
    keys = list(tree.keys())
    raise InputError(
        f"expected an E2E tree (sparse branches such as 'eb_energy' or dense ones such as 'ECAL_energy'); "
        f"found branches {keys[:10]}{' ...' if len(keys) > 10 else ''}; see docs/FORMAT.md"
    )


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
    for name in _EVENT_BRANCHES:
        if name in fields:
            return np.asarray(arrays[name]).astype(np.int64)
    return np.arange(start, stop, dtype=np.int64)


def _check_group_names(groups) -> None:
    unknown = [g for g in groups if g not in GROUPS]
    if unknown:
        raise InputError(f"unknown hit groups {unknown}; expected names from {list(GROUPS)}")


def _sparse_groups(tree, groups, path, require=(), optional=()):
    _check_group_names(require)
    _check_group_names(optional)
    present = [g for g, fields in GROUPS.items() if all(f"{g}_{f}" in tree for f in fields)]
    if groups is None:
        if not present and not require:
            check_branches(tree, [f"eb_{f}" for f in GROUPS["eb"]], path=path)
        return present + [g for g in require if g not in present]
    _check_group_names(groups)
    chosen = list(groups) + [g for g in require if g not in groups]
    return chosen + [g for g in optional if g in present and g not in chosen]


def _read_sparse(arrays, fields, groups, *, min_pad, max_hits, start, stop, path):
    out = {"event": _event_ids(arrays, fields, start, stop)}
    overflow = {}
    for g in groups:
        first = arrays[f"{g}_{GROUPS[g][0]}"]
        counts = np.asarray(ak.num(first, axis=1), np.int64)
        cap = int(max_hits.get(g, DEFAULT_MAX_HITS[g]))
        largest = int(counts.max()) if len(counts) else 0
        size = min(bucket(largest, minimum=min_pad), cap)
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
        dropped = int(np.maximum(counts - size, 0).sum())
        if dropped:
            overflow[g] = dropped
            warnings.warn(
                HitOverflowWarning(
                    f"{dropped} {g} hits beyond max_hits[{g!r}]={cap} dropped in {path!r} entries [{start}, {stop}) "
                    f"(largest event: {largest}); raise max_hits={{'{g}': {bucket(largest)}}} to keep them"
                ),
                stacklevel=3,
            )
    return out, overflow


def _dense_image(column, name, path):
    size = DENSE_SIZES[name]
    arr = column
    if arr.ndim == 2 and isinstance(arr.type.content, ak.types.ListType):
        counts = np.asarray(ak.num(arr, axis=1))
        if len(counts) and not np.all(counts == size):
            bad = int(np.flatnonzero(counts != size)[0])
            raise InputError(
                f"expected {size} values per event in branch {name!r} of {path!r}; found {int(counts[bad])} "
                f"in batch entry {bad}; write the flattened {DENSE_IMAGES[name][1]} image row-major"
            )
        flat = np.asarray(ak.flatten(arr, axis=1), np.float32)
    else:
        flat = np.asarray(ak.to_numpy(arr), np.float32)
        if flat.ndim != 2 or flat.shape[1] != size:
            raise InputError(
                f"expected {size} values per event in branch {name!r} of {path!r}; found shape {flat.shape[1:]}; "
                f"write the flattened {DENSE_IMAGES[name][1]} image row-major"
            )
    return flat.reshape((-1,) + DENSE_IMAGES[name][1])


def _read_dense(arrays, fields, *, min_pad, max_hits, start, stop, path):
    out = {"event": _event_ids(arrays, fields, start, stop)}
    for name, (key, _) in DENSE_IMAGES.items():
        if name in fields:
            out[key] = _dense_image(arrays[name], name, path)
            check_finite(out[key], name, path=path, start=start, stop=stop)
    seeds = [n for n in DENSE_SEEDS if n in fields]
    if seeds:
        counts = np.asarray(ak.num(arrays[seeds[0]], axis=1))
        largest = int(counts.max()) if len(counts) else 0
        size = min(bucket(largest, minimum=min_pad), int(max_hits.get("jet", DEFAULT_MAX_HITS["jet"])))
        for name in seeds:
            key, dtype = DENSE_SEEDS[name]
            out[key], mask, _ = pad_jagged(arrays[name], size=size, dtype=dtype)
            if name in DENSE_SEED_RANGES:
                check_index(out[key], mask, name, DENSE_SEED_RANGES[name], path=path, start=start, stop=stop)
            elif out[key].dtype.kind == "f":
                check_finite(out[key], name, path=path, start=start, stop=stop)
        out["jet_mask"] = mask
        if "jet_seed_tower_row" in out and "jet_seed_tower_col" in out:
            out["jet_seed_row"] = np.where(mask, out["jet_seed_tower_row"] * 5 + 2, 0).astype(np.int32)
            out["jet_seed_col"] = np.where(mask, out["jet_seed_tower_col"] * 5 + 2, 0).astype(np.int32)
    return out, {}


def _plan(tree, layout, groups, path, require=(), optional=()):
    if layout == "auto":
        layout = detect_layout(tree)
    if layout not in (SPARSE, DENSE):
        raise InputError(f"expected layout 'auto', 'sparse' or 'dense'; got {layout!r}")
    events = [n for n in _EVENT_BRANCHES if n in tree][:1]
    if layout == SPARSE:
        groups = _sparse_groups(tree, groups, path, require, optional)
        names = [f"{g}_{f}" for g in groups for f in GROUPS[g]]
        kinds = {n: "i" if n.split("_", 1)[1] in INT_FIELDS else "f" for n in names}
    else:
        check_branches(tree, ["ECAL_energy"], path=path)
        names = [n for n in list(DENSE_IMAGES) + list(DENSE_SEEDS) if n in tree]
        kinds = {n: "f" for n in names if n in DENSE_IMAGES}
        kinds.update({n: "i" for n in names if DENSE_SEEDS.get(n, (None, None))[1] is np.int32})
    check_branches(tree, names, path=path, kinds=kinds)
    return layout, groups, events + names


def _close_after(source, fn):
    t = open_tree(source)
    try:
        return fn(t)
    finally:
        t.file.close()


def check_files(files, *, tree: str = DEFAULT_TREE, layout: str = "auto", groups=None, require=(), optional=()) -> list:
    """Open every input and check its tree, entries, layout and branches without reading events.

    Arguments as for :func:`iterate_events`. Cheap (only the file headers and tree metadata
    are read), so commands call it before slower work such as loading a model.

    Returns:
        The resolved :class:`~e2ejax.io.Source` list.

    Raises:
        InputError: as :func:`iterate_events`, for everything but the values of the events.
    """
    sources = resolve(files, tree=tree)
    if not sources:
        raise InputError("expected at least one input ROOT file; found an empty list; pass file paths or globs")
    for source in sources:
        _close_after(source, lambda t, s=source: _plan(t, layout, groups, s.path, require, optional))
    return sources


def count_entries(file, *, tree: str = DEFAULT_TREE, layout: str = "auto", groups=None, require=(), optional=()) -> int:
    """The entries of one input's tree, after the checks of :func:`check_files` (same arguments).

    Raises:
        InputError: as :func:`check_files`; more than one file (a glob matching several).
    """
    sources = check_files(file, tree=tree, layout=layout, groups=groups, require=require, optional=optional)
    if len(sources) != 1:
        raise InputError(f"expected one input file; found {len(sources)} for {file!r}; count the files one at a time")
    return _close_after(sources[0], lambda t: int(t.num_entries))


def entry_range_stop(entry_start: int, entry_stop: int | None, max_events: int | None) -> int | None:
    """Where reading stops: the entries ``[entry_start, entry_stop)``, at most ``max_events`` of them (None: to the end).

    Examples:
        >>> entry_range_stop(100, None, 50), entry_range_stop(100, 120, 50), entry_range_stop(0, None, None)
        (150, 120, None)
    """
    if max_events is None:
        return entry_stop
    stop = int(entry_start) + int(max_events)
    return stop if entry_stop is None else min(int(entry_stop), stop)


def iterate_events(
    files,
    *,
    tree: str = DEFAULT_TREE,
    layout: str = "auto",
    groups=None,
    step_size: int | str = "32 MB",
    max_events: int | None = None,
    entry_start: int = 0,
    entry_stop: int | None = None,
    max_hits: dict | None = None,
    min_pad: int = 16,
    release_memory: bool = True,
    check_first: bool = True,
    require=(),
    optional=(),
):
    """Stream events from ROOT files as :class:`EventBatch` es of padded numpy arrays.

    Each file is read with uproot's iterate over only the branches needed; batches never
    span files, and follow the entry order of each tree.

    Args:
        files: a path, glob or ``file.root:tree`` spec, or a sequence of them.
        tree: tree name where a spec does not give one (keyword-only, default ``"Events"``).
        layout: ``"auto"`` (from the branches present), ``"sparse"`` or ``"dense"``.
        groups: sparse groups to read (default: every group fully present in the file).
        step_size: entries per batch (int) or a size string such as ``"32 MB"`` (uproot's).
        max_events: stop after this many events in total (``None``: all).
        entry_start, entry_stop: the entries ``[entry_start, entry_stop)`` of each tree, as
            uproot's (``None``: to the end); ``max_events`` counts from ``entry_start``.
        max_hits: group -> most hits kept per event (default :data:`DEFAULT_MAX_HITS`);
            extra hits are dropped with a :class:`HitOverflowWarning`.
        min_pad: smallest padded size of a group (padded sizes are powers of two).
        release_memory: return freed heap pages to the system after each batch (glibc's
            ``malloc_trim``), which keeps the resident size flat on long files.
        check_first: with several files, open every one and check its tree and branches
            before the first batch, so a bad file late in the list fails before any work is
            done (a single file is checked when it is opened for reading).
        require: sparse groups that must be present (their missing branches are named,
            with the closest names in the file); read in addition to ``groups``.
        optional: sparse groups read in addition to an explicit ``groups`` list when a file
            has them (``ee`` for the ECAL image: endcap hits are used if written).

    Yields:
        :class:`EventBatch` (see its docstring for every array, shape and dtype).

    Raises:
        InputError: missing file, a file that is not ROOT or is truncated, a missing tree,
            missing or mistyped branches, a tree without entries, a NaN or infinite value
            in a floating-point branch, a grid index outside its grid (the policies are in
            docs/RELIABILITY.md; negative energies are kept).
    """
    max_hits = dict(max_hits or {})
    sources = resolve(files, tree=tree)
    if not sources:
        raise InputError("expected at least one input ROOT file; found an empty list; pass file paths or globs")
    if check_first and len(sources) > 1:  # one file is checked as it is opened below: no second open
        check_files(files, tree=tree, layout=layout, groups=groups, require=require, optional=optional)
    remaining = None if max_events is None else int(max_events)
    for source in sources:
        if remaining is not None and remaining <= 0:
            return
        t = open_tree(source)
        first = min(int(entry_start), t.num_entries)
        stop = t.num_entries if entry_stop is None else max(min(t.num_entries, int(entry_stop)), first)
        stop = stop if remaining is None else min(stop, first + remaining)
        try:
            lay, grps, names = _plan(t, layout, groups, source.path, require, optional)
            chunks = t.iterate(names, step_size=step_size, entry_start=first, entry_stop=stop, library="ak", report=True)
            for arrays, report in chunks:
                start, end = int(report.tree_entry_start), int(report.tree_entry_stop)
                kwargs = dict(min_pad=min_pad, max_hits=max_hits, start=start, stop=end, path=source.path)
                if lay == SPARSE:
                    out, overflow = _read_sparse(arrays, set(arrays.fields), grps, **kwargs)
                else:
                    out, overflow = _read_dense(arrays, set(arrays.fields), **kwargs)
                del arrays
                if release_memory:
                    _trim()
                yield EventBatch(out, lay, source.path, source.tree, start, end, overflow, t.num_entries)
        except InputError:
            raise
        except (OSError, ValueError, EOFError, RuntimeError, DeserializationError) as exc:
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise InputError(
                f"expected readable baskets in {source.path!r}; reading failed ({type(exc).__name__}: {first}); "
                "the file may be truncated or corrupt: copy or write it again"
            ) from None
        finally:
            t.file.close()
        if remaining is not None:
            remaining -= stop - first
