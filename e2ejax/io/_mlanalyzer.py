"""MLAnalyzer ntuples as the CMS E2E producers write them: branch names, phi origin, seeds and labels.

The RecHitAnalyzer of MLAnalyzer (github.com/rchudasa/MLAnalyzer, github.com/mbandrews/MLAnalyzer)
fills one TTree ``RHTree`` in the TFileService folder of its module label ``fevt``
(``fevt/RHTree``), one entry per selected event: images as flattened row-major
``vector<float>`` (iphi fastest), jet seeds and per-jet values as ``vector<float>``.
docs/FORMAT.md ("MLAnalyzer ntuples") gives each fact with its source file, commit and lines.

Two things differ from e2ejax's grids (:mod:`e2ejax.geometry`): the phi origin (column 0
of the MLAnalyzer ECAL image starts at phi = -10 degrees, where CMS EB iphi 1 starts;
column 0 of its HBHE image at -10 degrees too, CMS HCAL iphi 71), moved here by rolling
the columns (:data:`ECAL_ROLL`, :data:`HBHE_ROLL`); and the track d0 / dz per cell, a
plain mean over the cell's tracks (``track_impact="mean"``). The rows (eta) agree.

Examples:
    >>> ECAL_ROLL, HBHE_ROLL, DEFAULT_TRACK_PROJECTION
    (170, 34, '_atECALfixIP')
"""

from __future__ import annotations

from types import MappingProxyType

import numpy as np

from e2ejax import geometry, tasks
from e2ejax.errors import InputError
from e2ejax.io._validate import DENSE_SEED_RANGES, check_index, check_integral

__all__ = [
    "PRODUCER",
    "CONVENTIONS",
    "TRACK_PROJECTIONS",
    "DEFAULT_TRACK_PROJECTION",
    "BPIX_PROJECTIONS",
    "ECAL_ROLL",
    "HBHE_ROLL",
    "SEEDS",
    "JET_VALUES",
    "LABELS",
    "is_mlanalyzer",
    "projections",
    "image_branches",
    "jet_branches",
    "label_task",
    "to_e2ejax_phi",
    "seed_towers",
    "jet_labels",
]

#: ``producer`` in :attr:`e2ejax.io.EventBatch.conventions`
PRODUCER = "mlanalyzer"

#: conventions of the stored images: d0 / dz a plain mean per cell, energies and pT in GeV
CONVENTIONS = MappingProxyType({"producer": PRODUCER, "track_impact": "mean", "image_units": "GeV"})

#: suffixes of the track image branches (``ECAL_tracksPt<suffix>``): ``""`` tracks at their
#: direction at the vertex, ``_atECAL`` / ``_atHCAL`` propagated to the ECAL / HCAL surface,
#: ``_atECALfixIP`` at the ECAL surface with d0 / dz from the primary vertex,
#: ``_atECALfixIPfromPV`` the same for the primary vertex's own tracks only
TRACK_PROJECTIONS = ("", "_atECAL", "_atHCAL", "_atECALfixIP", "_atECALfixIPfromPV")

#: the projection read by default: tracks at the ECAL surface with d0 / dz from the primary
#: vertex, as e2ejax places its tracks (``trk_eta`` / ``trk_phi`` at the ECAL surface,
#: ``trk_dz`` from the primary vertex); the only one the current rchudasa producer writes
DEFAULT_TRACK_PROJECTION = "_atECALfixIP"

#: suffixes of the pixel-barrel images (``BPIX_layer<n>_ECAL<suffix>``), the one read first:
#: ``""`` hits seen from the nominal interaction point (as e2ejax's ``bpix_eta`` / ``bpix_phi``),
#: ``_atPV`` seen from the primary vertex (the only one the current rchudasa producer writes)
BPIX_PROJECTIONS = ("", "_atPV")

#: low phi edge (degrees) of column 0 of the MLAnalyzer ECAL and HBHE images
_PHI_ORIGIN_DEG = -10.0


def _roll(n_cols: int) -> int:
    """Columns from the MLAnalyzer phi origin to e2ejax's (-pi) for a grid of ``n_cols`` columns."""
    return round((_PHI_ORIGIN_DEG + 180.0) * n_cols / 360.0)


#: MLAnalyzer ECAL-grid column ``c`` is e2ejax column ``(c + ECAL_ROLL) % 360``
ECAL_ROLL = _roll(geometry.ECAL.shape[1])

#: MLAnalyzer HBHE column ``c`` is e2ejax tower column ``(c + HBHE_ROLL) % 72``
HBHE_ROLL = _roll(geometry.HBHE.shape[1])

#: jet seed branch -> batch key: the seed's HBHE image row / column (floats holding whole numbers)
SEEDS = MappingProxyType({"jetSeed_ieta": "jet_seed_tower_row", "jetSeed_iphi": "jet_seed_tower_col"})

#: per-jet value branch -> batch key, the first present of each key read; the q/g (dijet)
#: selections write ``jetPt``, ``jetM``, ``jetEta``, ``jetPhi``, the top and tau ones ``jet_Pt``,
#: ``jet_M``, ``jet_Eta``
JET_VALUES = MappingProxyType({"jetPt": "jet_pt", "jet_Pt": "jet_pt", "jetM": "jet_mass", "jet_M": "jet_mass",
                               "jetEta": "jet_eta", "jet_Eta": "jet_eta", "jetPhi": "jet_phi"})

#: per-jet truth branch -> (task, stored value -> class name of the task's ``classes``)
LABELS = MappingProxyType({"jetIsQuark": ("qg", MappingProxyType({1.0: "quark", 0.0: "gluon"}))})

_ECAL_IMAGES = (("ECAL_tracksPt", "track_pt"), ("ECAL_tracksD0", "track_d0"), ("ECAL_tracksDz", "track_dz"))
_BPIX_LAYERS = (1, 2, 3)  # e2ejax's bpix1..3 (the producers write layers 1..4)


def is_mlanalyzer(tree) -> bool:
    """True for a tree of the MLAnalyzer producers: ``ECAL_energy`` and track images ``ECAL_tracks*``.

    Examples:
        >>> is_mlanalyzer({"ECAL_energy": 0, "ECAL_tracksPt_atECALfixIP": 0}), is_mlanalyzer({"ECAL_energy": 0})
        (True, False)
    """
    return "ECAL_energy" in tree and any(k.startswith("ECAL_tracks") for k in tree.keys())


def projections(tree) -> list[str]:
    """The track projections of :data:`TRACK_PROJECTIONS` the tree holds (``ECAL_tracksPt<suffix>``)."""
    return [s for s in TRACK_PROJECTIONS if f"ECAL_tracksPt{s}" in tree]


def _projection(tree, track_projection: str | None, path: str) -> str:
    """``track_projection`` (None: :data:`DEFAULT_TRACK_PROJECTION`) once known and present in the tree."""
    chosen = DEFAULT_TRACK_PROJECTION if track_projection is None else track_projection
    if chosen not in TRACK_PROJECTIONS:
        raise InputError(f"expected a track projection of the MLAnalyzer producers, one of {list(TRACK_PROJECTIONS)}; "
                         f"found {chosen!r}; fix: pass one of them (docs/FORMAT.md, MLAnalyzer ntuples)")
    have = projections(tree)
    if chosen not in have:
        raise InputError(f"expected MLAnalyzer track images of projection {chosen!r} (branch 'ECAL_tracksPt{chosen}') in "
                         f"{path!r}; found the projections {have}; fix: pick one of them with track_projection= "
                         "(e2ejax tag --track-projection SUFFIX)")
    return chosen


def image_branches(tree, track_projection: str | None, *, path: str) -> dict[str, tuple[str, tuple[int, int]]]:
    """Image branch -> (batch key, image shape) of an MLAnalyzer tree, those present.

    ``ECAL_energy`` (``ecal``), ``HBHE_energy`` (``hbhe``), the track images of the chosen
    projection (``track_pt``, ``track_d0``, ``track_dz``) and the pixel-barrel layers 1-3
    of the first of :data:`BPIX_PROJECTIONS` present (``bpix1`` .. ``bpix3``).

    Raises:
        InputError: an unknown track projection, or one the tree lacks (the ones it has are listed).
    """
    suffix = _projection(tree, track_projection, path)
    out = {"ECAL_energy": ("ecal", geometry.ECAL.shape)}
    if "HBHE_energy" in tree:
        out["HBHE_energy"] = ("hbhe", geometry.HBHE.shape)
    for stem, key in _ECAL_IMAGES:
        if stem + suffix in tree:
            out[stem + suffix] = (key, geometry.ECAL.shape)
    hits = next((h for h in BPIX_PROJECTIONS if f"BPIX_layer1_ECAL{h}" in tree), None)
    for layer in _BPIX_LAYERS if hits is not None else ():
        if f"BPIX_layer{layer}_ECAL{hits}" in tree:
            out[f"BPIX_layer{layer}_ECAL{hits}"] = (f"bpix{layer}", geometry.ECAL.shape)
    return out


def jet_branches(tree) -> dict[str, str]:
    """Per-jet branch -> batch key of an MLAnalyzer tree: the two seed branches first, then
    :data:`JET_VALUES` (the first present of each key) and :data:`LABELS` present; empty
    without seeds (an event-level ntuple)."""
    if not any(name in tree for name in SEEDS):
        return {}
    out = dict(SEEDS)
    for name, key in JET_VALUES.items():
        if name in tree and key not in out.values():
            out[name] = key
    out.update({name: "jet_label" for name in LABELS if name in tree})
    return out


def label_task(tree) -> str | None:
    """The task whose classes the tree's jet labels index (``"qg"`` with ``jetIsQuark``), or None."""
    return next((task for name, (task, _) in LABELS.items() if name in tree), None) if is_mlanalyzer(tree) else None


def to_e2ejax_phi(image: np.ndarray) -> np.ndarray:
    """An MLAnalyzer ECAL-grid ``[B, 280, 360]`` or HBHE ``[B, 56, 72]`` image with its columns in e2ejax's phi origin.

    Examples:
        >>> image = np.zeros((1, 56, 72), np.float32); image[0, 3, 0] = 1.0
        >>> np.argwhere(to_e2ejax_phi(image)).tolist()
        [[0, 3, 34]]
    """
    shift = ECAL_ROLL if image.shape[-1] == geometry.ECAL.shape[1] else HBHE_ROLL
    return np.roll(image, shift, axis=-1)


def seed_towers(rows: np.ndarray, cols: np.ndarray, mask: np.ndarray, *, path: str, start: int, stop: int):
    """The float seeds ``jetSeed_ieta`` / ``jetSeed_iphi`` ``[B, S]`` as int32 e2ejax HBHE tower (row, col).

    Returns:
        ``(row, col)`` int32 ``[B, S]``, 0 in padded slots.

    Raises:
        InputError: a seed that is not a whole number or lies outside the 56 x 72 tower grid.
    """
    out = []
    for name, values in zip(SEEDS, (rows, cols)):
        bounds = DENSE_SEED_RANGES[name]
        check_integral(values, mask, name, bounds[3], path=path, start=start, stop=stop)
        index = np.where(mask, values, 0).astype(np.int32)
        check_index(index, mask, name, bounds, path=path, start=start, stop=stop)
        out.append(index)
    row, col = out
    col = np.where(mask, (col + HBHE_ROLL) % geometry.HBHE.shape[1], 0).astype(np.int32)
    return row, col


def jet_labels(name: str, values: np.ndarray, mask: np.ndarray, *, path: str, start: int, stop: int) -> np.ndarray:
    """A truth branch of :data:`LABELS` ``[B, S]`` as ``jet_label`` int32: the index of each jet's class in the
    task's ``classes`` (``jetIsQuark`` 1 -> ``"quark"``, 0 -> ``"gluon"`` of ``qg``), 0 in padded slots.

    Raises:
        InputError: a value that is none of the branch's stored values.
    """
    task, classes = LABELS[name]
    names = tasks.get(task).classes
    out = np.zeros(values.shape, np.int32)
    known = np.zeros(values.shape, bool)
    for stored, cls in classes.items():
        hit = mask & (values == stored)
        out[hit] = names.index(cls)
        known |= hit
    bad = mask & ~known
    if bad.any():
        b, s = np.argwhere(bad)[0]
        meaning = ", ".join(f"{v:g} {c}" for v, c in classes.items())
        raise InputError(f"expected {name!r} values {sorted(classes)} ({meaning}) in {path!r}; found {values[b, s]} at entry "
                         f"{start + int(b)} ({int(bad.sum())} such value(s) in entries [{start}, {stop})); "
                         "fix: the branch holds something else than the truth label: check the producer of the file")
    return out
