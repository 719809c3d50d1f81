"""Branch names and dtypes of the E2E ROOT layouts (docs/FORMAT.md), and pad-size buckets.

The sparse layout and e2ejax's own dense layout are here; the MLAnalyzer ntuples (a
dense layout of other names and conventions) are in :mod:`e2ejax.io._mlanalyzer`.
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from e2ejax import conventions, geometry

__all__ = [
    "GROUPS",
    "INT_FIELDS",
    "SPARSE",
    "DENSE",
    "DENSE_IMAGES",
    "DENSE_SEEDS",
    "DENSE_PRODUCER",
    "DENSE_CONVENTIONS",
    "DEFAULT_MAX_HITS",
    "PILEUP_LIBRARY_KIND",
    "PILEUP_LIBRARY_TREE",
    "PILEUP_LIBRARY_GROUPS",
    "PILEUP_GROUPS",
    "field_dtype",
    "sparse_branches",
    "layout_of",
    "bucket",
]

SPARSE = "sparse"
DENSE = "dense"

#: hit / object group -> fields; branch ``<group>_<field>``, counter ``n<group>``.
GROUPS: dict[str, tuple[str, ...]] = {
    "eb": ("ieta", "iphi", "energy"),
    "ee": ("eta", "phi", "energy"),
    "hbhe": ("ieta", "iphi", "energy"),
    "trk": ("pt", "eta", "phi", "d0", "dz", "charge"),
    "bpix": ("layer", "eta", "phi"),
    "pf": ("pt", "eta", "phi", "type", "jet", "charge", "d0", "dz"),
    "jet": ("pt", "eta", "phi", "mass", "pt_true", "label", "seed_row", "seed_col"),
    "eg": ("pt", "eta", "phi", "label", "converted", "seed_row", "seed_col"),
}

#: ``kind`` in the ``e2ejax_info`` of a premixed-pileup library (``e2ejax simulate minbias``).
PILEUP_LIBRARY_KIND = "pileup_library"
#: tree of a pileup library, one entry per minimum-bias interaction.
PILEUP_LIBRARY_TREE = "PileupLibrary"
#: pileup library groups -> ((field, dtype), ...); branch ``<group>_<field>``, counter ``n<group>``.
#: ``ecal`` / ``hcal`` are noise-free deposits on the stitched ECAL (280 x 360) and HBHE (56 x 72) grids.
PILEUP_LIBRARY_GROUPS: dict[str, tuple[tuple[str, type], ...]] = {
    "ecal": (("row", np.int32), ("col", np.int32), ("energy", np.float32)),
    "hcal": (("row", np.int32), ("col", np.int32), ("energy", np.float32)),
    "trk": (("pt", np.float32), ("eta", np.float32), ("phi", np.float32), ("d0", np.float32), ("dz", np.float32),
            ("charge", np.int32)),
    "bpix": (("layer", np.int32), ("eta", np.float32), ("phi", np.float32)),
    "pf": (("pt", np.float32), ("eta", np.float32), ("phi", np.float32), ("type", np.int32), ("charge", np.int32),
           ("d0", np.float32), ("dz", np.float32)),
}
#: extra group of premixed event files: ``npileup`` interactions, their library ``pileup_entry`` and vertex ``pileup_z``.
PILEUP_GROUPS: dict[str, tuple[tuple[str, type], ...]] = {
    "pileup": (("entry", np.int32), ("z", np.float32)),
}

#: fields read as int32; every other field is float32.
INT_FIELDS = frozenset({"ieta", "iphi", "charge", "layer", "type", "jet", "label", "converted", "seed_row", "seed_col"})

#: most hits / objects kept per event and group; more are dropped with a :class:`HitOverflowWarning`.
DEFAULT_MAX_HITS: dict[str, int] = {
    "eb": 16384,
    "ee": 8192,
    "hbhe": 4096,
    "trk": 2048,
    "bpix": 8192,
    "pf": 2048,
    "jet": 64,
    "eg": 64,
}

#: e2ejax's dense layout (what :func:`e2ejax.io.write_dense` writes): branch -> (batch key, image shape).
#: Each branch holds a flattened row-major image per event (fixed-size array or a
#: ``vector<float>`` of exactly that length), in e2ejax's phi origin.
DENSE_IMAGES: dict[str, tuple[str, tuple[int, int]]] = {
    "ECAL_energy": ("ecal", geometry.ECAL.shape),
    "HBHE_energy": ("hbhe", geometry.HBHE.shape),
    "TracksAtECAL_pt": ("track_pt", geometry.ECAL.shape),
    "TracksAtECAL_d0": ("track_d0", geometry.ECAL.shape),
    "TracksAtECAL_dz": ("track_dz", geometry.ECAL.shape),
    "BPIX_layer1_ECAL": ("bpix1", geometry.ECAL.shape),
    "BPIX_layer2_ECAL": ("bpix2", geometry.ECAL.shape),
    "BPIX_layer3_ECAL": ("bpix3", geometry.ECAL.shape),
}

#: dense jagged per-jet branch -> (batch key, dtype). ``jetSeed_ieta`` / ``jetSeed_iphi`` are
#: HBHE tower (row, col), 0-based, of each jet seed; its crystal is ``(5 row + 2, 5 col + 2)``.
DENSE_SEEDS: dict[str, tuple[str, type]] = {
    "jetSeed_ieta": ("jet_seed_tower_row", np.int32),
    "jetSeed_iphi": ("jet_seed_tower_col", np.int32),
    "jetPt": ("jet_pt", np.float32),
    "jetEta": ("jet_eta", np.float32),
    "jetPhi": ("jet_phi", np.float32),
    "jetLabel": ("jet_label", np.int32),
}

#: ``producer`` of e2ejax's dense layout in :attr:`e2ejax.io.EventBatch.conventions`
DENSE_PRODUCER = "e2ejax-dense"

#: conventions of the images of e2ejax's dense layout (built by :func:`e2ejax.inputs.sparse_to_dense`)
DENSE_CONVENTIONS = MappingProxyType({"producer": DENSE_PRODUCER, **conventions.DEFAULTS})


def field_dtype(field: str) -> type:
    """numpy dtype of a sparse field: ``np.int32`` for indices and labels, else ``np.float32``."""
    return np.int32 if field in INT_FIELDS else np.float32


def sparse_branches(groups) -> list[str]:
    """Branches of the sparse layout for ``groups`` (``event`` first, then ``<group>_<field>``)."""
    names = ["event"]
    for g in groups:
        names += [f"{g}_{f}" for f in GROUPS[g]]
    return names


def layout_of(tree) -> str | None:
    """:data:`DENSE` for a tree with ``ECAL_energy``, :data:`SPARSE` for one with sparse hit branches, else None.

    Examples:
        >>> layout_of({"ECAL_energy": 0}), layout_of({"eb_ieta": 0}), layout_of({"x": 0})
        ('dense', 'sparse', None)
    """
    if "ECAL_energy" in tree:
        return DENSE
    if any(f"{g}_{fields[0]}" in tree for g, fields in GROUPS.items()):
        return SPARSE
    return None


def bucket(n: int, *, minimum: int = 16) -> int:
    """Smallest power of two ``>= max(n, minimum)``, so padded sizes take few distinct values.

    Examples:
        >>> bucket(0), bucket(16), bucket(17), bucket(1000, minimum=4)
        (16, 16, 32, 1024)
    """
    n = max(int(n), int(minimum), 1)
    return 1 << (n - 1).bit_length()
