"""Write event batches back to ROOT: the sparse layout of docs/FORMAT.md or the dense E2E layout."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import awkward as ak
import numpy as np
import uproot

from e2ejax.errors import InputError
from e2ejax.io._atomic import atomic_path
from e2ejax.io._schema import DENSE_IMAGES, DENSE_SEEDS, GROUPS, field_dtype

__all__ = ["write_events", "write_dense", "unpad"]

_DENSE_BRANCH = {key: name for name, (key, _) in DENSE_IMAGES.items()}


def unpad(values: np.ndarray, mask: np.ndarray) -> ak.Array:
    """Padded ``[B, N]`` values + bool mask -> jagged ``[B, var]`` of the masked entries, in order.

    Examples:
        >>> unpad(np.array([[1, 2], [3, 4]]), np.array([[True, False], [True, True]])).tolist()
        [[1], [3, 4]]
    """
    mask = np.asarray(mask, bool)
    return ak.unflatten(np.asarray(values)[mask], mask.sum(axis=1))


def _concat(chunks: list[dict]) -> dict:
    out = {}
    for key in chunks[0]:
        parts = [c[key] for c in chunks]
        out[key] = np.concatenate(parts) if isinstance(parts[0], np.ndarray) else ak.concatenate(parts)
    return out


class _TreeSink:
    """Buffer dicts of branch arrays and ``extend`` a tree once ``flush_entries`` are pending
    (or at once with :meth:`extend`, for callers that buffer themselves)."""

    def __init__(self, file, name, *, flush_entries, **mktree):
        self.file, self.name, self.flush_entries, self.mktree = file, name, flush_entries, mktree
        self.tree, self.pending, self.n_pending, self.n_written = None, [], 0, 0

    def add(self, arrays: dict, n: int) -> None:
        self.pending.append(arrays)
        self.n_pending += n
        if self.n_pending >= self.flush_entries:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            self.extend(_concat(self.pending), self.n_pending)
            self.pending, self.n_pending = [], 0

    def extend(self, arrays: dict, n: int) -> None:
        """Write ``arrays`` now (the tree is made on the first call, typed from them)."""
        if self.tree is None:
            types = {
                k: (np.dtype((v.dtype, v.shape[1:])) if isinstance(v, np.ndarray) else v.type.content)
                for k, v in arrays.items()
            }
            self.tree = self.file.mktree(self.name, types, **self.mktree)
        self.tree.extend(arrays)
        self.n_written += n


def write_events(path: str, batches: Iterable[Mapping], *, tree: str = "Events", flush_entries: int = 5000) -> int:
    """Write sparse batches (padded arrays + masks) as a sparse-layout tree (docs/FORMAT.md).

    Groups written are those with a ``<group>_mask`` in the first batch; padding is removed.
    The file appears at ``path`` only when complete.

    Args:
        path: output ``.root`` path.
        batches: sparse :class:`~e2ejax.io.EventBatch` es or mappings of their arrays.
        tree: tree name (keyword-only).
        flush_entries: entries buffered per ``extend`` (large baskets write and read faster).

    Returns:
        Number of entries written.
    """
    with atomic_path(path) as tmp, uproot.recreate(tmp, compression=uproot.LZ4(1)) as f:
        sink = _TreeSink(f, tree, flush_entries=flush_entries)
        groups = None
        for batch in batches:
            if groups is None:
                groups = [g for g in GROUPS if f"{g}_mask" in batch]
            out = {"event": np.asarray(batch["event"], np.int64)}
            for g in groups:
                mask = batch[f"{g}_mask"]
                out[g] = ak.zip({f: unpad(np.asarray(batch[f"{g}_{f}"], field_dtype(f)), mask) for f in GROUPS[g]})
            sink.add(out, len(out["event"]))
        sink.flush()
        if sink.n_written == 0:
            raise InputError("expected at least one batch of events to write; found none")
        return sink.n_written


def write_dense(path: str, batches: Iterable[Mapping], *, tree: str = "Events", flush_entries: int = 256) -> int:
    """Write batches holding dense images as a dense E2E ntuple: flattened images plus jet seeds (docs/FORMAT.md).

    Each batch holds ``event``, the images under their keys (``ecal``, ``hbhe``,
    ``track_pt`` ..., as :func:`e2ejax.inputs.dense_batches` adds them to sparse batches)
    and the jet seeds ``jet_seed_row`` / ``jet_seed_col`` (stored as HBHE towers
    ``(row - 2) // 5``, ``(col - 2) // 5``).

    Returns:
        Number of entries written.
    """
    with atomic_path(path) as tmp, uproot.recreate(tmp, compression=uproot.LZ4(1)) as f:
        sink = _TreeSink(
            f, tree, flush_entries=flush_entries,
            field_name=lambda outer, inner: outer + inner, counter_name=lambda counted: "n" + counted,
        )
        for batch in batches:
            out = {"event": np.asarray(batch["event"], np.int64)}
            images = {key: np.asarray(batch[key], np.float32) for key in _DENSE_BRANCH if key in batch}
            if not images:
                raise InputError(f"expected dense images {sorted(_DENSE_BRANCH)} in the batches to write; found {sorted(batch)}; "
                                 "add them to sparse batches with e2ejax.inputs.dense_batches")
            for key, image in images.items():
                out[_DENSE_BRANCH[key]] = image.reshape(len(image), -1)
            if "jet_mask" in batch:
                mask = batch["jet_mask"]
                rows = (np.asarray(batch["jet_seed_row"]) - 2) // 5
                cols = (np.asarray(batch["jet_seed_col"]) - 2) // 5
                source = {"jet_seed_tower_row": rows, "jet_seed_tower_col": cols}
                jet = {}
                for name, (key, dtype) in DENSE_SEEDS.items():
                    values = source.get(key, batch.get(key))
                    if values is not None:
                        jet[name[3:]] = unpad(np.asarray(values, dtype), mask)
                out["jet"] = ak.zip(jet)
            sink.add(out, len(out["event"]))
        sink.flush()
        if sink.n_written == 0:
            raise InputError("expected at least one batch of events to write; found none")
        return sink.n_written
