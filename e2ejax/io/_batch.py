"""The per-batch container yielded by :func:`e2ejax.io.iterate_events`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

__all__ = ["EventBatch", "HitOverflowWarning"]


class HitOverflowWarning(UserWarning):
    """Some events had more hits in a group than the configured maximum; the extra hits were dropped."""


@dataclass(frozen=True, eq=False)
class EventBatch(Mapping):
    """Padded arrays of consecutive entries of one tree, readable as a mapping ``name -> np.ndarray``.

    ``B`` is the number of entries in the batch (``entry_stop - entry_start``; the last batch
    of a file may be shorter). Padded slots hold 0 and are false in the masks.

    Sparse layout (docs/FORMAT.md), for each group read (``eb``, ``ee``, ``hbhe``, ``trk``,
    ``bpix``, ``pf``, ``jet``, ``eg``) with ``N`` its padded size (a power of two, at least
    ``min_pad``, at most the group's ``max_hits``):

    * ``<group>_<field>``: int32 ``[B, N]`` for indices and labels (``eb_ieta``, ``eb_iphi``,
      ``hbhe_ieta``, ``hbhe_iphi``, ``trk_charge``, ``bpix_layer``, ``pf_type``, ``pf_jet``,
      ``jet_label``, ``jet_seed_row``, ``jet_seed_col``, ``eg_label``, ``eg_converted``,
      ``eg_seed_row``, ``eg_seed_col``), float32 ``[B, N]`` for the others;
    * ``<group>_mask``: bool ``[B, N]``, true for real hits;
    * ``n<group>``: int32 ``[B]``, hits in the file per event (more than ``mask.sum(1)`` where hits
      were dropped; see ``overflow``).

    Dense layout (CMS E2E ntuples, docs/FORMAT.md), images present in the file:

    * ``ecal``: float32 ``[B, 280, 360]`` stitched ECAL energy; ``hbhe``: float32 ``[B, 56, 72]``
      HBHE tower energy; ``track_pt``, ``track_d0``, ``track_dz``, ``bpix1``, ``bpix2``,
      ``bpix3``: float32 ``[B, 280, 360]``;
    * ``jet_seed_tower_row``, ``jet_seed_tower_col``: int32 ``[B, S]`` seed HBHE tower, and
      ``jet_seed_row`` / ``jet_seed_col`` = ``5 tower + 2``: int32 ``[B, S]`` its ECAL-grid cell;
      ``jet_pt``, ``jet_eta``, ``jet_phi`` float32 / ``jet_label`` int32 ``[B, S]`` where present;
      ``jet_mask`` bool ``[B, S]``.

    Both layouts: ``event`` int64 ``[B]`` event ids (``event`` or ``eventId`` branch; the entry
    number where the file has neither).

    Attributes:
        arrays: name -> array, as listed above.
        layout: ``"sparse"`` or ``"dense"``.
        file: path of the file read.
        tree: name of the tree read.
        entry_start: first entry of the batch in the tree.
        entry_stop: one past the last entry.
        overflow: group -> hits dropped in this batch (only groups that dropped any).
        tree_entries: entries of the whole tree read (None when not known).
        conventions: how the file's stored images were made (:mod:`e2ejax.conventions`:
            ``track_impact``, ``image_units``); empty for sparse hits (images built to order).
    """

    arrays: dict
    layout: str
    file: str
    tree: str
    entry_start: int
    entry_stop: int
    overflow: dict = field(default_factory=dict)
    tree_entries: int | None = None
    conventions: dict = field(default_factory=dict)

    def __getitem__(self, key: str) -> np.ndarray:
        return self.arrays[key]

    def __iter__(self):
        return iter(self.arrays)

    def __len__(self) -> int:
        return len(self.arrays)

    def split(self, size: int):
        """Consecutive sub-batches of at most ``size`` entries (views of these arrays; ``overflow`` stays on the first).

        Examples:
            >>> import numpy as np
            >>> b = EventBatch({"event": np.arange(5)}, "sparse", "f.root", "Events", 10, 15)
            >>> [(p.entry_start, p.entry_stop, p["event"].tolist()) for p in b.split(2)]
            [(10, 12, [0, 1]), (12, 14, [2, 3]), (14, 15, [4])]
        """
        if size < 1:
            raise ValueError(f"expected a positive sub-batch size, got {size}")
        for i in range(0, self.size, size):
            j = min(i + size, self.size)
            yield EventBatch({k: v[i:j] for k, v in self.arrays.items()}, self.layout, self.file, self.tree,
                             self.entry_start + i, self.entry_start + j, self.overflow if i == 0 else {}, self.tree_entries, self.conventions)

    @property
    def size(self) -> int:
        """Number of entries ``B`` in the batch."""
        return self.entry_stop - self.entry_start

    def __repr__(self) -> str:
        shapes = ", ".join(f"{k}{list(v.shape)}" for k, v in list(self.arrays.items())[:6])
        more = ", ..." if len(self.arrays) > 6 else ""
        return (
            f"EventBatch({self.layout}, {self.file}:{self.tree} entries [{self.entry_start}, {self.entry_stop}), "
            f"{shapes}{more})"
        )
