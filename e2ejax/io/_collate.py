"""Gather events from several padded batches into one batch, re-padding each group to a common bucket."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from e2ejax.io._schema import bucket

__all__ = ["take_events", "slice_batch"]


def _groups(batch: Mapping) -> list[str]:
    return [k[: -len("_mask")] for k in batch if k.endswith("_mask")]


def _group_of(key: str, groups: list[str]) -> str | None:
    for g in groups:
        if key.startswith(g + "_"):
            return g
    return None


def slice_batch(batch: Mapping, start: int, stop: int) -> dict:
    """Entries ``start:stop`` of every array of a batch (axis 0), as a dict."""
    return {k: np.asarray(v)[start:stop] for k, v in batch.items()}


def take_events(batches: Sequence[Mapping], picks: Sequence[tuple[int, int]], *, min_pad: int = 16) -> dict:
    """Build one batch from ``(batch index, event index)`` picks, in the order given.

    Every group (a key ``<group>_mask`` and its ``<group>_*`` arrays ``[B, N, ...]``) is padded to
    ``bucket(largest hit count among the picks, minimum=min_pad)``; other arrays are gathered
    along axis 0. All batches must hold the same keys.

    Args:
        batches: padded batches (mappings name -> array with a leading batch axis).
        picks: ``[(i, j), ...]``: event ``j`` of ``batches[i]``.
        min_pad: smallest padded size (keyword-only).

    Returns:
        dict name -> array with leading size ``len(picks)``.

    Examples:
        >>> a = {"x_mask": np.array([[True, False]]), "x_v": np.array([[1.0, 0.0]]), "event": np.array([5])}
        >>> b = {"x_mask": np.array([[True, True, True]]), "x_v": np.array([[2.0, 3.0, 4.0]]), "event": np.array([6])}
        >>> out = take_events([a, b], [(1, 0), (0, 0)], min_pad=4)
        >>> out["x_v"].tolist(), out["event"].tolist()
        ([[2.0, 3.0, 4.0, 0.0], [1.0, 0.0, 0.0, 0.0]], [6, 5])
    """
    if not picks:
        raise ValueError("expected at least one event to take")
    picks = np.asarray(picks, np.int64).reshape(-1, 2)
    order = np.argsort(picks[:, 0], kind="stable")
    inverse = np.empty_like(order)
    inverse[order] = np.arange(len(order))
    used = np.unique(picks[:, 0])
    groups = _groups(batches[int(used[0])])
    sizes = {}
    for g in groups:
        largest = 0
        for i in used:
            m = np.asarray(batches[int(i)][f"{g}_mask"])[picks[picks[:, 0] == i, 1]]
            if m.any():
                largest = max(largest, int(m.shape[1] - np.argmax(m[:, ::-1].any(axis=0))))
        sizes[g] = bucket(largest, minimum=min_pad)
    out = {}
    for key in batches[int(used[0])]:
        g = _group_of(key, groups)
        parts = []
        for i in used:
            rows = np.asarray(batches[int(i)][key])[picks[picks[:, 0] == i, 1]]
            if g is not None:
                n = sizes[g]
                if rows.shape[1] >= n:
                    rows = rows[:, :n]
                else:
                    pad = [(0, 0), (0, n - rows.shape[1])] + [(0, 0)] * (rows.ndim - 2)
                    rows = np.pad(rows, pad)
            parts.append(rows)
        out[key] = np.concatenate(parts)[inverse]
    return out
