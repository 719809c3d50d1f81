"""Value checks on what the reader yields: finite floats, grid indices inside their grid.

Policies (docs/RELIABILITY.md): a NaN or infinite value in any floating-point branch is
an error (no value is guessed for it); an index outside its grid is an error (the image
ops would otherwise drop the hit silently); negative energies are kept as they are
(noise-subtracted calorimeter hits can be negative, and the images stay energy-conserving).
"""

from __future__ import annotations

import numpy as np

from e2ejax import geometry
from e2ejax.errors import InputError

__all__ = ["INDEX_RANGES", "DENSE_SEED_RANGES", "check_finite", "check_index", "check_integral"]

_EB_IETA = geometry.EB.shape[0] // 2
_HBHE_IETA = geometry.HBHE.shape[0] // 2 + 1  # ieta 29 is merged into 28 but may be written

#: sparse branch -> (lowest, highest, zero allowed, what the index counts); bounds inclusive.
INDEX_RANGES: dict[str, tuple[int, int, bool, str]] = {
    "eb_ieta": (-_EB_IETA, _EB_IETA, False, "EB crystal ieta, signed, no 0"),
    "eb_iphi": (1, geometry.EB.shape[1], True, "EB crystal iphi, 1-based"),
    "hbhe_ieta": (-_HBHE_IETA, _HBHE_IETA, False, "HCAL tower ieta, signed, no 0"),
    "hbhe_iphi": (1, geometry.HBHE.shape[1], True, "HCAL tower iphi, 1-based"),
    "bpix_layer": (1, 3, True, "pixel barrel layer"),
    "jet_seed_row": (0, geometry.ECAL.shape[0] - 1, True, "stitched ECAL row, 0-based"),
    "jet_seed_col": (0, geometry.ECAL.shape[1] - 1, True, "stitched ECAL column, 0-based"),
    "eg_seed_row": (0, geometry.ECAL.shape[0] - 1, True, "stitched ECAL row, 0-based"),
    "eg_seed_col": (0, geometry.ECAL.shape[1] - 1, True, "stitched ECAL column, 0-based"),
}

#: dense jagged seed branch -> the same tuple (HBHE tower row / column, 0-based; for an MLAnalyzer
#: ntuple the column of its own phi origin, checked before it is moved to e2ejax's).
DENSE_SEED_RANGES: dict[str, tuple[int, int, bool, str]] = {
    "jetSeed_ieta": (0, geometry.HBHE.shape[0] - 1, True, "HCAL tower row, 0-based"),
    "jetSeed_iphi": (0, geometry.HBHE.shape[1] - 1, True, "HCAL tower column, 0-based"),
}


def _where(bad: np.ndarray, start: int) -> tuple[int, tuple[int, ...]]:
    first = np.unravel_index(int(np.flatnonzero(bad)[0]), bad.shape)
    return start + int(first[0]), tuple(int(i) for i in first)


def check_finite(values: np.ndarray, name: str, *, path: str, start: int, stop: int) -> None:
    """Raise an InputError naming the branch, file and entry of the first NaN or infinity in ``values``.

    Args:
        values: float array, entries on axis 0 (padding must be finite, e.g. zeros).
        name: branch name for the message.
        path: file name for the message (keyword-only).
        start, stop: entry range of ``values`` in the tree.

    Examples:
        >>> check_finite(np.zeros((2, 3), np.float32), "eb_energy", path="x.root", start=0, stop=2)
    """
    bad = ~np.isfinite(values)
    if not bad.any():
        return
    entry, index = _where(bad, start)
    value = values[index]
    raise InputError(
        f"expected finite values in branch {name!r} of {path!r}; found {value} at entry {entry} "
        f"({int(bad.sum())} non-finite value(s) in entries [{start}, {stop})); e2ejax does not guess a value "
        "for NaN or inf: fix the producer or drop these events"
    )


def check_index(values: np.ndarray, mask: np.ndarray, name: str, bounds, *, path: str, start: int, stop: int) -> None:
    """Raise an InputError naming the branch, file and entry of the first index outside ``bounds``.

    Args:
        values: int array ``[B, N]`` (padded); mask: bool ``[B, N]`` of the real entries.
        bounds: ``(lowest, highest, zero allowed, description)`` as in :data:`INDEX_RANGES`.

    Examples:
        >>> check_index(np.array([[1, 0]]), np.array([[True, False]]), "eb_ieta", INDEX_RANGES["eb_ieta"],
        ...             path="x.root", start=0, stop=1)
    """
    lo, hi, zero, what = bounds
    bad = mask & ((values < lo) | (values > hi) | ((values == 0) if not zero else False))
    if not bad.any():
        return
    entry, index = _where(bad, start)
    allowed = f"[{lo}, {hi}]" + ("" if zero else " without 0")
    raise InputError(
        f"expected {name!r} ({what}) in {allowed} in {path!r}; found {int(values[index])} at entry {entry} "
        f"({int(bad.sum())} value(s) outside the grid in entries [{start}, {stop})); "
        "check the index convention in docs/FORMAT.md"
    )


def check_integral(values: np.ndarray, mask: np.ndarray, name: str, what: str, *, path: str, start: int, stop: int) -> None:
    """Raise an InputError naming the branch, file and entry of the first value in ``values`` that is not a whole number.

    For indices stored as floating-point numbers (the MLAnalyzer jet seeds): a fraction
    means the branch holds something else, so no index is made of it by rounding.

    Args:
        values: float array ``[B, N]`` (padded, finite); mask: bool ``[B, N]`` of the real entries.
        name: branch name for the message; what: what the index counts.

    Examples:
        >>> check_integral(np.array([[3.0, 0.5]]), np.array([[True, False]]), "jetSeed_ieta", "HBHE image row",
        ...                path="x.root", start=0, stop=1)
    """
    bad = mask & (values != np.round(values))
    if not bad.any():
        return
    entry, index = _where(bad, start)
    raise InputError(
        f"expected whole numbers in branch {name!r} ({what}, stored as floats) of {path!r}; found {values[index]} at "
        f"entry {entry} ({int(bad.sum())} value(s) with a fraction in entries [{start}, {stop})); "
        "fix: the branch holds something else than an index: check the producer of the file"
    )
