import jax
import jax.numpy as jnp
import numpy as np
import pytest

from e2ejax import geometry as g


def test_edge_arrays():
    assert g.HBHE_ETA_EDGES.shape == (57,)
    assert g.EB_ETA_EDGES.shape == (171,)
    assert g.ECAL_ETA_EDGES.shape == (281,)
    for edges in (g.HBHE_ETA_EDGES, g.EB_ETA_EDGES, g.ECAL_ETA_EDGES):
        assert np.all(np.diff(edges) > 0)
        np.testing.assert_allclose(edges, -edges[::-1], atol=1e-12)
    np.testing.assert_allclose(g.EB_ETA_EDGES[[0, -1]], [-1.479, 1.479], atol=1e-9)
    # stitched rows: EE- 0-54, EB 55-224, EE+ 225-279
    np.testing.assert_allclose(g.ECAL_ETA_EDGES[55:226], g.EB_ETA_EDGES)
    np.testing.assert_allclose(g.ECAL_ETA_EDGES[[0, 280]], [-3.0, 3.0])
    # five pseudo-crystal rows per HCAL tower in the endcap, equal slices
    np.testing.assert_allclose(g.ECAL_ETA_EDGES[225:281:5], g.HBHE_ETA_EDGES[45:])
    np.testing.assert_allclose(g.ECAL_ETA_EDGES[225:231], np.linspace(1.479, 1.566, 6))
    # each HBHE tower spans five stitched rows; in the barrel the crystal edges
    # (multiples of 5 x 0.0174) differ from the CMS tower edges by <= 0.001 (0.696 vs 0.695)
    np.testing.assert_allclose(g.ECAL_ETA_EDGES[::5], g.HBHE_ETA_EDGES, atol=1.01e-3)


@pytest.mark.parametrize(
    "ieta,iphi,row,col",
    [(-85, 1, 0, 170), (-1, 360, 84, 169), (1, 1, 85, 170), (85, 360, 169, 169), (1, 190, 85, 359), (1, 191, 85, 0),
     (0, 1, -1, 170), (86, 361, -1, -1)],
)
def test_eb_index_boundaries(ieta, iphi, row, col):
    r, c = g.eb_index_to_cell(np.array(ieta), np.array(iphi))
    assert (int(r), int(c)) == (row, col)
    if row >= 0 and col >= 0:
        assert [int(v) for v in g.eb_cell_to_index(r, c)] == [ieta, iphi]


@pytest.mark.parametrize(
    "ieta,iphi,row,col",
    [(-29, 1, 0, 36), (-28, 1, 0, 36), (-1, 72, 27, 35), (1, 1, 28, 36), (28, 72, 55, 35), (29, 5, 55, 40), (1, 37, 28, 0),
     (30, 1, -1, 36), (0, 0, -1, -1)],
)
def test_hbhe_index_boundaries(ieta, iphi, row, col):
    assert [int(v) for v in g.hbhe_index_to_cell(ieta, iphi)] == [row, col]
    if row >= 0 and col >= 0 and abs(ieta) != 29:
        assert [int(v) for v in g.hbhe_cell_to_index(row, col)] == [ieta, iphi]


def test_index_phi_origins_are_cmssw():
    """CMS EB crystal iphi i covers phi [(i - 11), (i - 10)) degrees; HCAL tower iphi i covers [5 (i - 1), 5 i) degrees."""
    iphi = np.arange(1, 361)
    _, col = g.eb_index_to_cell(np.full(360, 1), iphi)
    _, phi = g.cell_centre(np.full(360, 140), col, "ECAL")
    np.testing.assert_allclose(np.rad2deg(np.asarray(phi)), np.where(iphi - 10.5 >= 180, iphi - 10.5 - 360, iphi - 10.5), atol=1e-4)
    iphi = np.arange(1, 73)
    _, col = g.hbhe_index_to_cell(np.full(72, 1), iphi)
    _, phi = g.cell_centre(np.full(72, 28), col, "HBHE")
    centre = 5 * iphi - 2.5
    np.testing.assert_allclose(np.rad2deg(np.asarray(phi)), np.where(centre >= 180, centre - 360, centre), atol=1e-4)
    # tower iphi 1 spans the crystals iphi 11..15 ([0, 5) degrees): ECAL and HCAL columns line up
    _, tower = g.hbhe_index_to_cell(1, 1)
    _, crystals = g.eb_index_to_cell(np.ones(5, int), np.arange(11, 16))
    np.testing.assert_array_equal(np.asarray(crystals), 5 * int(tower) + np.arange(5))


def test_index_round_trip_all_cells():
    rows, cols = np.meshgrid(np.arange(170), np.arange(360), indexing="ij")
    ieta, iphi = g.eb_cell_to_index(rows, cols)
    assert not np.any(ieta == 0)
    back = g.eb_index_to_cell(ieta, iphi)
    np.testing.assert_array_equal(back[0], rows)
    np.testing.assert_array_equal(back[1], cols)
    rows, cols = np.meshgrid(np.arange(56), np.arange(72), indexing="ij")
    back = g.hbhe_index_to_cell(*g.hbhe_cell_to_index(rows, cols))
    np.testing.assert_array_equal(back[0], rows)
    np.testing.assert_array_equal(back[1], cols)


@pytest.mark.parametrize("grid", ["EB", "ECAL", "HBHE"])
def test_eta_to_row_matches_loop_and_boundaries(grid, rng):
    edges = g.GRIDS[grid].eta_edges
    # offsets of 1e-5 survive the float32 cast of the jitted path
    eta = np.concatenate([rng.uniform(-3.2, 3.2, 500), edges[:-1] + 1e-5, edges[1:] - 1e-5, [edges[-1] + 1e-5, edges[0] - 1e-5]])
    expected = []
    for e in eta:
        row = -1
        for i in range(len(edges) - 1):
            if edges[i] <= e < edges[i + 1]:
                row = i
        expected.append(row)
    np.testing.assert_array_equal(g.eta_to_row(eta, grid), expected)
    np.testing.assert_array_equal(np.asarray(jax.jit(lambda x: g.eta_to_row(x, grid))(jnp.asarray(eta))), expected)


def test_phi_to_col_wraps_and_centres_round_trip():
    n = 360
    phi = -np.pi + (np.arange(n) + 0.5) * 2 * np.pi / n
    np.testing.assert_array_equal(g.phi_to_col(phi), np.arange(n))
    np.testing.assert_array_equal(g.phi_to_col(phi + 2 * np.pi), np.arange(n))
    np.testing.assert_array_equal(g.phi_to_col(phi - 4 * np.pi, "ECAL"), np.arange(n))
    assert int(g.phi_to_col(np.pi - 1e-9)) == 359
    assert int(g.phi_to_col(np.pi + 1e-9)) == 0
    eta, phi2 = g.cell_centre(np.arange(280), np.zeros(280, int))
    np.testing.assert_array_equal(g.eta_to_row(eta), np.arange(280))
    np.testing.assert_array_equal(g.phi_to_col(phi2, "HBHE"), 0)


def test_hbhe_tower_covers_five_by_five_crystals():
    for row in (0, 10, 11, 28, 44, 45, 55):
        eta, _ = g.cell_centre(row, 0, "HBHE")
        crow = g.eta_to_row(eta, "ECAL")
        assert crow // 5 == row
    assert [int(v) for v in g.tower_to_crystal_centre(55, 71)] == [277, 357]


def test_wide_tower_split_conserves_energy():
    ieta = np.array([20, -21, 28, 29, 5])
    iphi = np.array([3, 71, 1, 35, 72])
    e = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    rows, cols, vals = g.hbhe_wide_tower_split(ieta, iphi, e)
    assert vals.sum() == pytest.approx(e.sum())
    np.testing.assert_array_equal(cols[:5], [38, 34, 36, 70, 35])
    np.testing.assert_array_equal(cols[5:], [38, 35, 37, 71, 35])
    np.testing.assert_allclose(vals, [1.0, 1.0, 1.5, 2.0, 5.0, 0.0, 1.0, 1.5, 2.0, 0.0])
    assert rows[3] == 55  # ieta 29 merged into 28


def test_bad_grid_name():
    with pytest.raises(ValueError, match="expected a grid name in"):
        g.eta_to_row(0.0, "HF")
