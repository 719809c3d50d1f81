"""The formats of the pre-cut frame files: ML4SCI's public E2E datasets, one frame already cut around each candidate per row.

Each format of :data:`FRAME_FORMATS` declares where its frames, labels and per-row values
are stored, how its channels map onto the task's (:mod:`e2ejax.tasks`), what its labels
mean and the conventions of its images (:mod:`e2ejax.conventions`). docs/ML4SCI.md lists
the datasets and where the facts come from.

Examples:
    >>> FRAME_FORMATS["qg_parquet"].images, FRAME_FORMATS["qg_parquet"].layout
    ('X_jets', 'channels_first')
    >>> FRAME_FORMATS["egamma_hdf5"].unread
    ('time',)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np

from e2ejax import tasks

__all__ = ["FRAME_FORMATS", "FRAME_SUFFIXES", "READ_BYTES", "FrameFormat", "rows_per_read"]

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


def rows_per_read(fmt: FrameFormat) -> int:
    """Rows of :data:`READ_BYTES` of ``fmt``'s frames (at least 1).

    Examples:
        >>> [rows_per_read(FRAME_FORMATS[n]) for n in ("qg_hdf5", "top_parquet", "egamma_hdf5")]
        [357, 134, 8192]
    """
    h, w, c = fmt.stored_shape()
    return max(1, READ_BYTES // (h * w * c * 4))
