"""How a batch's seeds become calls: checked event arrays, seed rows padded to a few sizes, the
events the jitted input builders get, and the rows per call that bound a call's memory."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from e2ejax import tasks
from e2ejax.errors import InputError
from e2ejax.inputs import is_dense, trim_seed_slots  # noqa: F401  (trim_seed_slots: builder_events' example)
from e2ejax.io import GROUPS, bucket

__all__ = ["CALL_BYTES", "OPTIONAL_GROUPS", "builder_events", "check_events", "check_max_rows", "pad_rows", "rows_per_call"]


def check_events(events: Mapping) -> dict:
    """Padded event arrays as numpy ``[B, N]`` (``event``: ``[B]``), one ``B`` for all; InputError otherwise."""
    if not isinstance(events, Mapping):
        raise InputError(f"expected events as a mapping name -> padded array (an EventBatch or a dict); found {type(events).__name__}")
    out, sizes = {}, {}
    for name, value in events.items():
        shape = np.shape(value)
        group = name.split("_", 1)[0]
        hits = group in GROUPS and name.split("_", 1)[-1] in GROUPS[group] + ("mask",)
        if (hits and len(shape) != 2) or len(shape) == 0:
            expected = "[B, N] (events x padded hits)" if hits else "[B, ...]"
            raise InputError(f"expected event field {name!r} of shape {expected}; found shape {shape}; "
                             "pass the padded arrays of e2ejax.io.iterate_events")
        sizes.setdefault(shape[0], name)
        out[name] = value
    if len(sizes) > 1:
        raise InputError(f"expected every event field to have the same number of events B; found {sorted(sizes)} "
                         f"(e.g. {list(sizes.values())[:2]})")
    return out


def pad_rows(rows: np.ndarray) -> np.ndarray:
    """Seed-slot indices padded by repeating the last one (slot 0 when empty) to the next size
    of 8, 12, 16, 24, 32, 48, ... (powers of two and 1.5 times them).

    The jitted input builders compile once per row count and build a frame for every
    row: these sizes keep both the number of programs and the padding work small (at
    most a third of the rows are padding). Results of the extra rows are discarded.

    Examples:
        >>> pad_rows(np.array([3, 4, 9])).tolist()
        [3, 4, 9, 9, 9, 9, 9, 9]
        >>> len(pad_rows(np.arange(68)))
        96
    """
    rows = np.asarray(rows, np.int32)
    size = _row_size(len(rows))
    return np.pad(rows, (0, size - len(rows)), mode="edge") if len(rows) else np.zeros(size, np.int32)


def _row_size(n: int) -> int:
    """The smallest of :func:`pad_rows`' sizes 8, 12, 16, 24, 32, 48, ... that holds ``n`` rows."""
    size = 8
    while size < n:
        size = size * 3 // 2 if size & (size - 1) == 0 else size * 4 // 3
    return size


#: hit groups the input builders read when the events hold them, beyond a task's own
OPTIONAL_GROUPS = ("ee",)


def builder_events(events: Mapping, trimmed: Mapping, task: str):
    """The events the jitted input builder of ``task`` gets, and the real seeds' slots in them.

    The builder is traced and compiled once per distinct set of input shapes, each a
    fraction of a second even when the compiled program comes from the persistent
    cache, so the shapes are kept few. Sparse jet events (frames built for the listed
    seed slots only) keep only the fields of the groups the builder reads, the seed
    slots as the reader padded them (16 on the shipped samples; the seed search
    per padded slot is a 7 x 7 tower window, nothing next to a frame), and ``B``
    padded with empty events to a power of two (a file's last, shorter batch
    reuses the program of the others). Any other events go as ``trimmed`` is
    (:func:`e2ejax.inputs.trim_seed_slots`): their builders cut a frame for every slot.

    Args:
        events: checked padded events ``[B, ...]``.
        trimmed: ``events`` with the trailing empty seed slots dropped.
        task: the tagger task.

    Returns:
        ``(built, slots)``: the builder's events, and the flattened slots of ``built``
        of the real seeds, in the order of ``np.flatnonzero`` of ``trimmed``'s mask.

    Examples:
        >>> ev = {"jet_mask": np.array([[True, False, False, False], [True, True, False, False]]),
        ...       "jet_eta": np.zeros((2, 4)), "njet": np.array([1, 2]), "eb_energy": np.zeros((2, 8))}
        >>> built, slots = builder_events(ev, trim_seed_slots(ev, "jet"), "qg")
        >>> {k: v.shape for k, v in built.items()}, slots.tolist()
        ({'jet_mask': (2, 4), 'jet_eta': (2, 4), 'eb_energy': (2, 8)}, [0, 4, 5])
    """
    t = tasks.get(task)
    mask = trimmed.get(t.mask_field)
    kept = np.flatnonzero(np.asarray(mask)) if mask is not None else np.zeros(0, np.int64)
    if t.seed_group != "jet" or is_dense(events) or mask is None:
        return trimmed, kept
    groups = set(t.hit_groups) | {t.seed_group} | set(OPTIONAL_GROUPS)
    built = {k: v for k, v in events.items() if k.split("_", 1)[0] in groups}
    n, slots = np.shape(mask)[1], np.shape(events[t.mask_field])[1]
    return _pad_events(built, bucket(len(mask), minimum=1)), kept // max(n, 1) * slots + kept % max(n, 1)


def _pad_events(events: Mapping, size: int) -> dict:
    """``events`` ``[B, ...]`` followed by ``size - B`` empty events (zeros: every mask false)."""
    return {k: (np.pad(np.asarray(v), [(0, size - len(v))] + [(0, 0)] * (np.ndim(v) - 1)) if len(v) < size else v)
            for k, v in events.items()}


#: frame bytes built and scored per call when a Tagger's ``max_rows`` is not given
CALL_BYTES = 16 << 20


def rows_per_call(task: str) -> int:
    """The largest :func:`pad_rows` size whose frames for ``task`` fit :data:`CALL_BYTES` (at least 8).

    Examples:
        >>> [rows_per_call(t) for t in ("top", "qg", "tau", "egamma")]
        [32, 64, 48, 4096]
    """
    t = tasks.get(task)
    frame = t.frame_size * t.frame_size * len(t.channels) * 4
    best = 8
    while _row_size(best + 1) * frame <= CALL_BYTES:
        best = _row_size(best + 1)
    return best


def check_max_rows(max_rows) -> int:
    if isinstance(max_rows, bool) or not isinstance(max_rows, (int, np.integer)) or max_rows < 8 \
            or _row_size(max_rows) != max_rows:
        raise InputError(f"expected max_rows to be one of pad_rows' sizes (8, 12, 16, 24, 32, 48, 64, ...); found {max_rows!r}")
    return int(max_rows)
