"""Stream E2E ntuples (sparse hits or dense flattened images) into padded numpy batches.

What to read from each tree is planned here; the arrays of each layout are made by
:mod:`e2ejax.io._layout_readers`.
"""

from __future__ import annotations

import ctypes
from typing import NamedTuple

import numpy as np
from uproot.deserialization import DeserializationError

from e2ejax.errors import InputError
from e2ejax.io import _mlanalyzer as mlanalyzer
from e2ejax.io._batch import EventBatch
from e2ejax.io._layout_readers import EVENT_BRANCHES, read_dense, read_mlanalyzer, read_sparse
from e2ejax.io._open import DEFAULT_TREE, Source, check_branches, open_tree, resolve, tree_name
from e2ejax.io._schema import DENSE, DENSE_CONVENTIONS, DENSE_IMAGES, DENSE_SEEDS, GROUPS, INT_FIELDS, SPARSE, layout_of

__all__ = ["iterate_events", "check_files", "count_entries", "detect_layout", "label_task", "entry_range_stop"]


def _malloc_trim():
    try:  # glibc's symbols are visible through the main program; no library search (no subprocess)
        fn = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        fn = None
    return (lambda: fn(0)) if fn is not None else (lambda: None)


_trim = _malloc_trim()


def detect_layout(tree) -> str:
    """``"dense"`` if the tree has ``ECAL_energy`` (e2ejax's dense layout or an MLAnalyzer ntuple),
    ``"sparse"`` if it has sparse hit branches.

    Raises:
        InputError: when the tree matches neither layout.
    """
    layout = layout_of(tree)
    if layout is not None:
        return layout
    keys = list(tree.keys())
    raise InputError(
        f"expected an E2E tree (sparse branches such as 'eb_energy' or dense ones such as 'ECAL_energy'); "
        f"found branches {keys[:10]}{' ...' if len(keys) > 10 else ''}; see docs/FORMAT.md"
    )


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


class _Plan(NamedTuple):
    """What to read from one tree, and what the batches of its producer declare."""

    layout: str  # SPARSE or DENSE
    producer: str | None  # None (sparse), DENSE_CONVENTIONS["producer"] or mlanalyzer.PRODUCER
    groups: list | None  # sparse groups read
    names: list  # branches read, the event id first
    images: dict  # MLAnalyzer image branch -> (batch key, shape)
    jets: dict  # MLAnalyzer per-jet branch -> batch key
    conventions: dict  # EventBatch.conventions


def _plan(tree, layout, groups, path, require=(), optional=(), track_projection=None) -> _Plan:
    if layout == "auto":
        layout = detect_layout(tree)
    if layout not in (SPARSE, DENSE):
        raise InputError(f"expected layout 'auto', 'sparse' or 'dense'; got {layout!r}")
    events = [n for n in EVENT_BRANCHES if n in tree][:1]
    images, jets, conventions = {}, {}, {}
    if layout == SPARSE:
        producer = None
        groups = _sparse_groups(tree, groups, path, require, optional)
        names = [f"{g}_{f}" for g in groups for f in GROUPS[g]]
        kinds = {n: "i" if n.split("_", 1)[1] in INT_FIELDS else "f" for n in names}
    elif mlanalyzer.is_mlanalyzer(tree):
        producer, conventions = mlanalyzer.PRODUCER, dict(mlanalyzer.CONVENTIONS)
        images = mlanalyzer.image_branches(tree, track_projection, path=path)
        jets = mlanalyzer.jet_branches(tree)
        names = list(images) + list(jets)
        kinds = dict.fromkeys(names, "f")
    else:
        producer, conventions = DENSE_CONVENTIONS["producer"], dict(DENSE_CONVENTIONS)
        check_branches(tree, ["ECAL_energy"], path=path)
        names = [n for n in list(DENSE_IMAGES) + list(DENSE_SEEDS) if n in tree]
        kinds = {n: "f" for n in names if n in DENSE_IMAGES}
        kinds.update({n: "i" for n in names if DENSE_SEEDS.get(n, (None, None))[1] is np.int32})
    if track_projection is not None and producer != mlanalyzer.PRODUCER:
        raise InputError(f"expected an MLAnalyzer ntuple for track_projection={track_projection!r} (only those store track "
                         f"images of several projections); found {producer or layout} layout in {path!r}; "
                         "fix: drop track_projection (e2ejax tag: --track-projection)")
    check_branches(tree, names, path=path, kinds=kinds)
    return _Plan(layout, producer, groups, events + names, images, jets, conventions)


def _close_after(source, fn):
    t = open_tree(source)
    try:
        return fn(t)
    finally:
        t.file.close()


def check_files(files, *, tree: str = DEFAULT_TREE, layout: str = "auto", groups=None, require=(), optional=(),
                track_projection: str | None = None) -> list:
    """Open every input and check its tree, entries, layout and branches without reading events.

    Arguments as for :func:`iterate_events`. Cheap (only the file headers and tree metadata
    are read), so commands call it before slower work such as loading a model.

    Returns:
        The resolved :class:`~e2ejax.io.Source` list, each with the tree it reads (the
        file's one E2E tree where the default tree is absent, e.g. ``fevt/RHTree``).

    Raises:
        InputError: as :func:`iterate_events`, for everything but the values of the events.
    """
    sources = resolve(files, tree=tree)
    if not sources:
        raise InputError("expected at least one input ROOT file; found an empty list; pass file paths or globs")

    def checked(t, source):
        _plan(t, layout, groups, source.path, require, optional, track_projection)
        return Source(source.path, tree_name(t), True)

    return [_close_after(source, lambda t, s=source: checked(t, s)) for source in sources]


def count_entries(file, *, tree: str = DEFAULT_TREE, layout: str = "auto", groups=None, require=(), optional=(),
                  track_projection: str | None = None) -> int:
    """The entries of one input's tree, after the checks of :func:`check_files` (same arguments).

    Raises:
        InputError: as :func:`check_files`; more than one file (a glob matching several).
    """
    sources = check_files(file, tree=tree, layout=layout, groups=groups, require=require, optional=optional,
                          track_projection=track_projection)
    if len(sources) != 1:
        raise InputError(f"expected one input file; found {len(sources)} for {file!r}; count the files one at a time")
    return _close_after(sources[0], lambda t: int(t.num_entries))


def label_task(file, *, tree: str = DEFAULT_TREE) -> str | None:
    """The task whose classes the stored ``jet_label`` values of one input index, when its producer
    says so: ``"qg"`` for an MLAnalyzer ntuple with ``jetIsQuark``; None otherwise, or for an
    input that cannot be opened (e2ejax's own files name their sample in their provenance
    record: :func:`e2ejax.io.file_provenance`).
    """
    try:
        sources = resolve(file, tree=tree)
        return _close_after(sources[0], mlanalyzer.label_task) if len(sources) == 1 else None
    except InputError:
        return None


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
    track_projection: str | None = None,
):
    """Stream events from ROOT files as :class:`EventBatch` es of padded numpy arrays.

    Each file is read with uproot's iterate over only the branches needed; batches never
    span files, and follow the entry order of each tree.

    Args:
        files: a path, glob or ``file.root:tree`` spec, or a sequence of them.
        tree: tree name where a spec does not give one (keyword-only, default ``"Events"``).
            A file without ``Events`` (and no tree named) is read from its one tree that
            holds E2E branches, in any directory: ``fevt/RHTree`` of an MLAnalyzer ntuple.
        layout: ``"auto"`` (from the branches present), ``"sparse"`` or ``"dense"`` (e2ejax's
            dense layout or an MLAnalyzer ntuple, told apart by its ``ECAL_tracks*`` branches).
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
        track_projection: which track images of an MLAnalyzer ntuple to read, by branch
            suffix (:data:`e2ejax.io._mlanalyzer.TRACK_PROJECTIONS`). None reads
            ``"_atECALfixIP"``: tracks propagated to the ECAL surface, d0 and dz from the
            primary vertex, the closest to e2ejax's tracks (placed at the ECAL surface, dz
            from the primary vertex). Only MLAnalyzer ntuples have projections: another
            value on another layout is an InputError.

    Yields:
        :class:`EventBatch` (see its docstring for every array, shape and dtype).

    Raises:
        InputError: missing file, a file that is not ROOT or is truncated, a missing tree,
            missing or mistyped branches, a tree without entries, a NaN or infinite value
            in a floating-point branch, a grid index outside its grid, an image of another
            size, an MLAnalyzer seed that is not a whole number or label that is not 0 / 1,
            a track projection the file lacks (the policies are in docs/RELIABILITY.md;
            negative energies are kept).
    """
    max_hits = dict(max_hits or {})
    sources = resolve(files, tree=tree)
    if not sources:
        raise InputError("expected at least one input ROOT file; found an empty list; pass file paths or globs")
    if check_first and len(sources) > 1:  # one file is checked as it is opened below: no second open
        check_files(files, tree=tree, layout=layout, groups=groups, require=require, optional=optional,
                    track_projection=track_projection)
    remaining = None if max_events is None else int(max_events)
    for source in sources:
        if remaining is not None and remaining <= 0:
            return
        t = open_tree(source)
        first = min(int(entry_start), t.num_entries)
        stop = t.num_entries if entry_stop is None else max(min(t.num_entries, int(entry_stop)), first)
        stop = stop if remaining is None else min(stop, first + remaining)
        try:
            plan = _plan(t, layout, groups, source.path, require, optional, track_projection)
            name = tree_name(t)
            chunks = t.iterate(plan.names, step_size=step_size, entry_start=first, entry_stop=stop, library="ak", report=True)
            for arrays, report in chunks:
                start, end = int(report.tree_entry_start), int(report.tree_entry_stop)
                kwargs = dict(min_pad=min_pad, max_hits=max_hits, start=start, stop=end, path=source.path)
                if plan.layout == SPARSE:
                    out, overflow = read_sparse(arrays, set(arrays.fields), plan.groups, **kwargs)
                elif plan.producer == mlanalyzer.PRODUCER:
                    out, overflow = read_mlanalyzer(arrays, set(arrays.fields), plan, **kwargs)
                else:
                    out, overflow = read_dense(arrays, set(arrays.fields), **kwargs)
                del arrays
                if release_memory:
                    _trim()
                yield EventBatch(out, plan.layout, source.path, name, start, end, overflow, t.num_entries, plan.conventions)
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
