"""Write event batches back to ROOT (the sparse layout of docs/FORMAT.md or the dense E2E layout), and
the trees of premixed pileup: the minimum-bias library (written and read back) and the per-event
``pileup`` branches of premixed files.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping
from typing import NamedTuple

import awkward as ak
import numpy as np
import uproot
from uproot.deserialization import DeserializationError

from e2ejax.errors import InputError
from e2ejax.io._atomic import atomic_path
from e2ejax.io._schema import (
    DENSE_IMAGES,
    DENSE_SEEDS,
    GROUPS,
    PILEUP_GROUPS,
    PILEUP_LIBRARY_GROUPS,
    PILEUP_LIBRARY_KIND,
    PILEUP_LIBRARY_TREE,
    field_dtype,
)

__all__ = [
    "write_events",
    "write_dense",
    "unpad",
    "jagged_groups",
    "TreeWriter",
    "PileupLibrary",
    "read_pileup_library",
    "PILEUP_GROUPS",
    "PILEUP_LIBRARY_GROUPS",
    "PILEUP_LIBRARY_KIND",
    "PILEUP_LIBRARY_TREE",
]

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


def jagged_groups(records: list[dict], groups: Mapping[str, tuple]) -> dict:
    """Records -> ``{group: awkward record array [B, var]}``, each field cast to its dtype (floats not rounded).

    Args:
        records: dicts holding a 1-D array ``<group>_<field>`` per field of ``groups``.
        groups: group -> ``((field, dtype), ...)``, as :data:`PILEUP_GROUPS` or :data:`PILEUP_LIBRARY_GROUPS`.

    Examples:
        >>> out = jagged_groups([{"pileup_entry": [3, 1], "pileup_z": [0.5, -2.0]}, {"pileup_entry": [], "pileup_z": []}],
        ...                     PILEUP_GROUPS)
        >>> out["pileup"].entry.tolist(), ak.num(out["pileup"]).tolist()
        ([[3, 1], []], [2, 0])
    """
    out = {}
    for group, fields in groups.items():
        counts = np.array([len(r[f"{group}_{fields[0][0]}"]) for r in records], np.int64)
        columns = {}
        for name, dtype in fields:
            flat = np.concatenate([np.asarray(r[f"{group}_{name}"], dtype) for r in records] + [np.zeros(0, dtype)])
            columns[name] = ak.unflatten(flat, counts)
        out[group] = ak.zip(columns)
    return out


class TreeWriter:
    """Append chunks of branch arrays to a tree of an open uproot file, with a JSON record beside it.

    Args:
        file: an ``uproot.WritableDirectory`` (from :func:`e2ejax.io.open_output`).
        info: JSON-serialisable metadata, stored as the ``TObjString`` ``e2ejax_info``.
        tree: tree name (keyword-only).
        flush_entries: entries buffered per ``extend``.
    """

    def __init__(self, file, info: dict, *, tree: str = "Events", flush_entries: int = 1000):
        self._sink = _TreeSink(file, tree, flush_entries=flush_entries)
        file["e2ejax_info"] = json.dumps(info, sort_keys=True)

    def add(self, arrays: dict, n: int) -> None:
        """Queue ``n`` entries: ``{branch: numpy [n]}`` or ``{group: awkward record array [n, var]}``."""
        self._sink.add(arrays, n)

    def flush(self) -> None:
        """Write the queued entries."""
        self._sink.flush()


class PileupLibrary(NamedTuple):
    """A pileup library in memory: flat columns plus per-group offsets.

    Attributes:
        info: the library's ``e2ejax_info`` record (``kind == "pileup_library"``, ``detector``, ``seed`` ...).
        entries: number of interactions ``L``.
        offsets: group -> int64 ``[L + 1]``: entry ``i`` holds items ``offsets[i]:offsets[i + 1]``.
        columns: ``"<group>_<field>"`` -> flat 1-D array of the dtype of :data:`PILEUP_LIBRARY_GROUPS`.
    """

    info: dict
    entries: int
    offsets: dict
    columns: dict


_LIBRARY_FIX = "make a library with: e2ejax simulate minbias --events 2000 -o pileup.root"
_READ_ERRORS = (OSError, ValueError, KeyError, TypeError, IndexError, DeserializationError)


def _not_a_library(path, found):
    return InputError(f"pileup library: expected a pileup library (a ROOT file written by 'e2ejax simulate minbias', "
                      f"with the tree {PILEUP_LIBRARY_TREE!r}), found {found} at {str(path)!r}; fix: {_LIBRARY_FIX}")


def _library_info(f, path) -> dict:
    if "e2ejax_info" not in f:
        raise _not_a_library(path, f"a ROOT file without the e2ejax_info record (keys {sorted(f.keys(cycle=False))[:6]})")
    info = json.loads(str(f["e2ejax_info"]))
    if not isinstance(info, dict) or info.get("kind") != PILEUP_LIBRARY_KIND:
        what = f"an e2ejax event file (sample {info.get('sample')!r})" if isinstance(info, dict) and "sample" in info \
            else "a ROOT file of another kind"
        raise _not_a_library(path, what)
    if PILEUP_LIBRARY_TREE not in f:
        raise _not_a_library(path, f"a library record without its tree (keys {sorted(f.keys(cycle=False))})")
    return info


def read_pileup_library(path: str) -> PileupLibrary:
    """Read a whole pileup library (``e2ejax simulate minbias``, docs/FORMAT.md) into memory.

    Args:
        path: the library ``.root`` file.

    Returns:
        :class:`PileupLibrary`.

    Raises:
        InputError: the path is not a file, the file is not a ROOT file or not a pileup library,
            branches are missing or the file cannot be read (one line: expected / found / fix).
    """
    path = os.fspath(path)
    if not os.path.isfile(path):
        found = "a directory" if os.path.isdir(path) else "no file"
        raise InputError(f"pileup library: expected a pileup library file (written by 'e2ejax simulate minbias'), "
                         f"found {found} at {path!r}; fix: pass the library's path, or {_LIBRARY_FIX}")
    try:
        with uproot.open(path) as f:
            info = _library_info(f, path)
            tree = f[PILEUP_LIBRARY_TREE]
            needed = [f"n{g}" for g in PILEUP_LIBRARY_GROUPS] + [
                f"{g}_{name}" for g, fields in PILEUP_LIBRARY_GROUPS.items() for name, _ in fields]
            missing = [b for b in needed if b not in tree]
            if missing:
                raise _not_a_library(path, f"a library tree without the branches {missing}")
            entries = int(tree.num_entries)
            offsets, columns = {}, {}
            for g, fields in PILEUP_LIBRARY_GROUPS.items():
                counts = np.asarray(tree[f"n{g}"].array(library="np"), np.int64)
                offsets[g] = np.concatenate([[0], np.cumsum(counts)])
                for name, dtype in fields:
                    flat = ak.to_numpy(ak.flatten(tree[f"{g}_{name}"].array(library="ak")))
                    if len(flat) != offsets[g][-1]:
                        raise _not_a_library(path, f"{g}_{name} with {len(flat)} items for {offsets[g][-1]} counted")
                    columns[f"{g}_{name}"] = np.asarray(flat, dtype)
    except _READ_ERRORS as exc:
        if isinstance(exc, InputError):
            raise
        raise _not_a_library(path, f"a file that cannot be read as one ({type(exc).__name__}: "
                                   f"{' '.join(str(exc).split())[:160]})") from None
    if entries < 1 or info.get("entries") != entries:
        raise _not_a_library(path, f"a library of {entries} entries whose record says {info.get('entries')!r}")
    return PileupLibrary(info, entries, offsets, columns)
