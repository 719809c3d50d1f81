"""CMS calorimeter grids and index maps used by the E2E images.

Three grids are defined, all indexed ``(row, col)`` = (eta direction, phi direction):

* ``EB``: the ECAL barrel, 170 x 360 crystals. CMS crystal indices
  ``ieta`` in ``[-85, -1] U [1, 85]`` and ``iphi`` in ``[1, 360]`` map to
  ``row = (ieta - 1 if ieta > 0 else ieta) + 85`` and
  ``col = (iphi - 1 + 170) mod 360``: CMS's crystal iphi 1 covers phi in
  ``[-10, -9)`` degrees, which is column 170 of the e2ejax grid.
  Crystals are 0.0174 wide in eta and 2 pi / 360 in phi.
* ``ECAL``: the stitched ECAL image, 280 x 360, ``|eta| < 3``. Rows 0-54 are
  EE-, 55-224 are EB, 225-279 are EE+. Each endcap side has 55 pseudo-crystal
  rows: each of the 11 HCAL towers between ``|eta|`` 1.479 and 3.0 is split
  into five equal eta slices.
* ``HBHE``: the HCAL barrel + endcap towers, 56 x 72. HCAL ``ieta`` in
  ``[-28, -1] U [1, 28]`` (ieta 29 merged into 28) and ``iphi`` in ``[1, 72]``
  map to ``row = (ieta - 1 if ieta > 0 else ieta) + 28`` and
  ``col = (iphi - 1 + 36) mod 72``: CMS's tower iphi 1 covers phi in ``[0, 5)``
  degrees, column 36 of the e2ejax grid.
  One tower covers 5 x 5 cells of the ECAL grid: tower ``(r, c)`` spans ECAL
  rows ``5r .. 5r+4`` and columns ``5c .. 5c+4``.

Phi convention (e2ejax): column ``c`` of a grid with ``n`` columns covers
``phi`` in ``[-pi + c * 2 pi / n, -pi + (c + 1) * 2 pi / n)``; phi wraps. The CMS
index labels keep CMSSW's own phi origins (:data:`EB_IPHI_OFFSET`,
:data:`HBHE_IPHI_OFFSET`), so a crystal or tower index means the same place as in
CMSSW, and ECAL and HCAL columns line up (tower column ``c`` spans crystal
columns ``5c .. 5c+4``). The MLAnalyzer images start their columns at -10
degrees instead (see docs/FORMAT.md).

Every function here accepts NumPy arrays (and returns NumPy arrays) or JAX
arrays, including tracers under ``jax.jit``/``jax.vmap`` (and returns JAX arrays).
Cells outside a grid are reported as ``-1``.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "Grid",
    "EB",
    "ECAL",
    "HBHE",
    "GRIDS",
    "EB_IPHI_OFFSET",
    "HBHE_IPHI_OFFSET",
    "IPHI_ORIGIN",
    "EB_CRYSTAL_SIZE",
    "HBHE_ETA_EDGES",
    "ECAL_ETA_EDGES",
    "EB_ETA_EDGES",
    "EE_ROWS",
    "EB_ROW_OFFSET",
    "EEP_ROW_OFFSET",
    "TOWER_SIZE",
    "eb_index_to_cell",
    "eb_cell_to_index",
    "hbhe_index_to_cell",
    "hbhe_cell_to_index",
    "eta_to_row",
    "phi_to_col",
    "eta_phi_to_cell",
    "cell_centre",
    "tower_to_crystal_centre",
    "hbhe_wide_tower_split",
]

EB_CRYSTAL_SIZE = 0.0174
TOWER_SIZE = 5
EE_ROWS = 55
EB_ROW_OFFSET = EE_ROWS  # first EB row in the stitched ECAL image
EEP_ROW_OFFSET = EE_ROWS + 170  # first EE+ row in the stitched ECAL image

_HBHE_POSITIVE_EDGES = np.array(
    [0.0, 0.087, 0.174, 0.261, 0.348, 0.435, 0.522, 0.609, 0.695, 0.783, 0.870,
     0.957, 1.044, 1.131, 1.218, 1.305, 1.392, 1.479, 1.566, 1.653, 1.740, 1.830,
     1.930, 2.043, 2.172, 2.322, 2.500, 2.650, 3.000]
)
#: HBHE tower eta edges, 57 values from -3.0 to 3.0 (float64).
HBHE_ETA_EDGES = np.concatenate([-_HBHE_POSITIVE_EDGES[:0:-1], _HBHE_POSITIVE_EDGES])

#: EB crystal eta edges, 171 values from -1.479 to 1.479 (float64).
EB_ETA_EDGES = np.arange(-85, 86) * EB_CRYSTAL_SIZE


def _endcap_positive_edges() -> np.ndarray:
    towers = _HBHE_POSITIVE_EDGES[17:]  # 1.479 .. 3.0, 12 edges, 11 towers
    slices = [np.linspace(lo, hi, TOWER_SIZE + 1)[:-1] for lo, hi in zip(towers[:-1], towers[1:])]
    return np.concatenate(slices + [towers[-1:]])  # 56 edges


_EE_EDGES = _endcap_positive_edges()
#: Stitched ECAL eta edges, 281 values from -3.0 to 3.0 (float64).
ECAL_ETA_EDGES = np.concatenate([-_EE_EDGES[:0:-1], EB_ETA_EDGES, _EE_EDGES[1:]])


class Grid(NamedTuple):
    """An (eta, phi) grid.

    Attributes:
        name: ``"EB"``, ``"ECAL"`` or ``"HBHE"``.
        shape: ``(n_rows, n_cols)``.
        eta_edges: float64 ``[n_rows + 1]`` increasing eta bin edges.
    """

    name: str
    shape: tuple[int, int]
    eta_edges: np.ndarray


EB = Grid("EB", (170, 360), EB_ETA_EDGES)
ECAL = Grid("ECAL", (280, 360), ECAL_ETA_EDGES)
HBHE = Grid("HBHE", (56, 72), HBHE_ETA_EDGES)
GRIDS = {g.name: g for g in (EB, ECAL, HBHE)}


def _xp(*arrays):
    return jnp if any(isinstance(a, jax.Array) for a in arrays) else np


def _grid(grid: Grid | str) -> Grid:
    if isinstance(grid, Grid):
        return grid
    try:
        return GRIDS[str(grid).upper()]
    except KeyError:
        raise ValueError(f"expected a grid name in {sorted(GRIDS)}, got {grid!r}") from None


def _signed_index_to_row(ieta, half):
    xp = _xp(ieta)
    ieta = xp.asarray(ieta)
    row = xp.where(ieta > 0, ieta - 1, ieta) + half
    valid = (ieta != 0) & (ieta >= -half) & (ieta <= half)
    return xp.where(valid, row, -1).astype(np.int32)


def _row_to_signed_index(row, half):
    xp = _xp(row)
    row = xp.asarray(row)
    ieta = xp.where(row >= half, row - half + 1, row - half)
    valid = (row >= 0) & (row < 2 * half)
    return xp.where(valid, ieta, 0).astype(np.int32)


#: e2ejax column of CMS EB crystal iphi 1 (phi -10 degrees) and of CMS HCAL tower iphi 1 (phi 0)
EB_IPHI_OFFSET = 170
HBHE_IPHI_OFFSET = 36
#: the name of these index labels, recorded in every simulated file (``e2ejax_info`` key ``iphi_origin``)
IPHI_ORIGIN = "cmssw"


def _iphi_to_col(iphi, n, offset):
    xp = _xp(iphi)
    iphi = xp.asarray(iphi)
    return xp.where((iphi >= 1) & (iphi <= n), (iphi - 1 + offset) % n, -1).astype(np.int32)


def _col_to_iphi(col, n, offset):
    xp = _xp(col)
    col = xp.asarray(col)
    return xp.where((col >= 0) & (col < n), (col - offset) % n + 1, 0).astype(np.int32)


def eb_index_to_cell(ieta, iphi):
    """Map EB crystal indices to EB image cells.

    Args:
        ieta: int ``[...]`` in ``[-85, -1] U [1, 85]``.
        iphi: int ``[...]`` in ``[1, 360]``.

    Returns:
        ``(row, col)``: int32 ``[...]`` each; ``-1`` where the index is invalid.

    Examples:
        >>> [int(v) for v in eb_index_to_cell(-85, 1)], [int(v) for v in eb_index_to_cell(1, 190)]
        ([0, 170], [85, 359])
    """
    return _signed_index_to_row(ieta, 85), _iphi_to_col(iphi, 360, EB_IPHI_OFFSET)


def eb_cell_to_index(row, col):
    """Inverse of :func:`eb_index_to_cell`: int32 ``(ieta, iphi)``, 0 where invalid.

    Examples:
        >>> [int(v) for v in eb_cell_to_index(84, 170)], [int(v) for v in eb_cell_to_index(85, 0)]
        ([-1, 1], [1, 191])
    """
    return _row_to_signed_index(row, 85), _col_to_iphi(col, 360, EB_IPHI_OFFSET)


def hbhe_index_to_cell(ieta, iphi):
    """Map HCAL tower indices to HBHE image cells; HCAL ieta +-29 is merged into +-28.

    Args:
        ieta: int ``[...]`` in ``[-29, -1] U [1, 29]``.
        iphi: int ``[...]`` in ``[1, 72]``.

    Returns:
        ``(row, col)``: int32 ``[...]`` each; ``-1`` where the index is invalid.

    Examples:
        >>> [int(v) for v in hbhe_index_to_cell(29, 36)], [int(v) for v in hbhe_index_to_cell(-1, 1)]
        ([55, 71], [27, 36])
    """
    xp = _xp(ieta)
    ieta = xp.asarray(ieta)
    merged = xp.clip(ieta, -28, 28)
    row = _signed_index_to_row(merged, 28)
    row = xp.where(xp.abs(ieta) <= 29, row, -1).astype(np.int32)
    return row, _iphi_to_col(iphi, 72, HBHE_IPHI_OFFSET)


def hbhe_cell_to_index(row, col):
    """Inverse of :func:`hbhe_index_to_cell` (never returns ieta 29): int32 ``(ieta, iphi)``.

    Examples:
        >>> [int(v) for v in hbhe_cell_to_index(28, 36)], [int(v) for v in hbhe_cell_to_index(28, 0)]
        ([1, 1], [1, 37])
    """
    return _row_to_signed_index(row, 28), _col_to_iphi(col, 72, HBHE_IPHI_OFFSET)


def eta_to_row(eta, grid: Grid | str = "ECAL"):
    """Row of a grid containing each pseudorapidity; ``-1`` outside the grid.

    Bins are closed on the left: ``eta == edges[i]`` falls in row ``i``; the
    last edge itself is outside.

    Args:
        eta: float ``[...]``.
        grid: a :class:`Grid` or its name.

    Returns:
        int32 ``[...]``.

    Examples:
        >>> int(eta_to_row(0.0, "EB")), int(eta_to_row(-3.0, "ECAL")), int(eta_to_row(3.0, "ECAL"))
        (85, 0, -1)
    """
    g = _grid(grid)
    xp = _xp(eta)
    eta = xp.asarray(eta)
    edges = xp.asarray(g.eta_edges, dtype=eta.dtype if eta.dtype.kind == "f" else np.float64)
    row = xp.searchsorted(edges, eta, side="right") - 1
    inside = (row >= 0) & (row < g.shape[0])
    return xp.where(inside, row, -1).astype(np.int32)


def phi_to_col(phi, grid: Grid | str = "ECAL"):
    """Column of a grid containing each azimuth (any real phi; wraps modulo 2 pi).

    Args:
        phi: float ``[...]`` in radians.
        grid: a :class:`Grid` or its name.

    Returns:
        int32 ``[...]`` in ``[0, n_cols)``.

    Examples:
        >>> int(phi_to_col(-np.pi, "ECAL")), int(phi_to_col(np.pi - 1e-6, "HBHE"))
        (0, 71)
    """
    g = _grid(grid)
    xp = _xp(phi)
    n = g.shape[1]
    col = xp.floor((xp.asarray(phi) + np.pi) / (2 * np.pi) * n).astype(np.int32)
    return xp.mod(col, n).astype(np.int32)


def eta_phi_to_cell(eta, phi, grid: Grid | str = "ECAL"):
    """``(row, col)`` int32 cells for ``(eta, phi)``; row is ``-1`` outside the grid in eta.

    Examples:
        >>> [int(v) for v in eta_phi_to_cell(0.01, 0.0, "HBHE")]
        [28, 36]
    """
    return eta_to_row(eta, grid), phi_to_col(phi, grid)


def cell_centre(row, col, grid: Grid | str = "ECAL"):
    """Centre ``(eta, phi)`` (float64 for NumPy input) of grid cells.

    Examples:
        >>> [round(float(v), 4) for v in cell_centre(85, 180, "EB")]
        [0.0087, 0.0087]
    """
    g = _grid(grid)
    xp = _xp(row, col)
    edges = xp.asarray(g.eta_edges)
    row = xp.clip(xp.asarray(row), 0, g.shape[0] - 1)
    eta = 0.5 * (edges[row] + edges[row + 1])
    phi = -np.pi + (xp.asarray(col) + 0.5) * (2 * np.pi / g.shape[1])
    return eta, phi


def tower_to_crystal_centre(row, col):
    """ECAL-grid cell at the centre of HBHE tower ``(row, col)``: ``(5 row + 2, 5 col + 2)``.

    Examples:
        >>> [int(v) for v in tower_to_crystal_centre(0, 71)]
        [2, 357]
    """
    xp = _xp(row, col)
    return (xp.asarray(row) * TOWER_SIZE + 2).astype(np.int32), (
        xp.asarray(col) * TOWER_SIZE + 2
    ).astype(np.int32)


def hbhe_wide_tower_split(ieta, iphi, energy):
    """Split CMS towers with ``|ieta| > 20`` (10 degrees wide, odd iphi) over two 5-degree bins.

    In CMS the HBHE towers with ``|ieta| > 20`` cover two iphi values and are
    labelled by the odd one. Each such tower's energy is shared 50/50 between
    its column and the next (the columns of ``iphi`` and ``iphi + 1``); narrow
    towers are unchanged.

    Args:
        ieta: int ``[N]`` HCAL ieta.
        iphi: int ``[N]`` HCAL iphi in ``[1, 72]``.
        energy: float ``[N]``.

    Returns:
        ``(row, col, energy)`` each ``[2 N]``: the first ``N`` entries carry the
        tower (or its first half), the last ``N`` the second half (energy 0 and
        a copy of the first cell for narrow towers). Invalid indices give ``-1``.

    Examples:
        >>> r, c, e = hbhe_wide_tower_split(np.array([21]), np.array([1]), np.array([4.0]))
        >>> c.tolist(), e.tolist()
        ([36, 37], [2.0, 2.0])
    """
    xp = _xp(ieta, iphi, energy)
    energy = xp.asarray(energy)
    row, col = hbhe_index_to_cell(ieta, iphi)
    wide = xp.abs(xp.asarray(ieta)) > 20
    half = xp.where(wide, 0.5 * energy, energy)
    second = xp.where(wide, 0.5 * energy, xp.zeros_like(energy))
    col2 = xp.where(wide & (col >= 0), (col + 1) % 72, col).astype(np.int32)
    return (
        xp.concatenate([row, row]),
        xp.concatenate([col, col2]),
        xp.concatenate([half, second]),
    )
