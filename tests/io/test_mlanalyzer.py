"""MLAnalyzer RecHitAnalyzer ntuples read as the producers write them (docs/FORMAT.md, "MLAnalyzer ntuples").

The files are written here with uproot in the producers' layout: folder ``fevt``, tree
``RHTree``, their branch names, each image a jagged float32 branch of exactly the image's
length (uproot's stand-in for ``vector<float>``), float seeds, ``jetIsQuark`` float,
``eventId`` uint64. The references are NumPy loops over the producers' own index rules
(rchudasa/MLAnalyzer 4bf821c3885c2eba58c8714c62cf61b67a23ecd5, RecHitAnalyzer/plugins).
"""

from __future__ import annotations

import json
import subprocess
import sys

import awkward as ak
import numpy as np
import pytest
import uproot

from e2ejax import geometry, tasks
from e2ejax.cli import main
from e2ejax.errors import InputError
from e2ejax.io import Source, check_files, count_entries, iterate_events, label_task

ECAL, HBHE = (280, 360), (56, 72)
MLANALYZER = {"producer": "mlanalyzer", "track_impact": "mean", "image_units": "GeV"}

# MLAnalyzer's EE- and HBHE eta bin edges as its header lists them (rchudasa/MLAnalyzer
# RecHitAnalyzer/interface/RecHitAnalyzer.h at 4bf821c, lines 439-447 and 460-464)
EEM_EDGES = [-3.0, -2.93, -2.86, -2.79, -2.72, -2.65, -2.62, -2.59, -2.56, -2.53, -2.5, -2.4644, -2.4288, -2.3932,
             -2.3576, -2.322, -2.292, -2.262, -2.232, -2.202, -2.172, -2.1462, -2.1204, -2.0946, -2.0688, -2.043, -2.0204,
             -1.9978, -1.9752, -1.9526, -1.93, -1.91, -1.89, -1.87, -1.85, -1.83, -1.812, -1.794, -1.776, -1.758, -1.74,
             -1.7226, -1.7052, -1.6878, -1.6704, -1.653, -1.6356, -1.6182, -1.6008, -1.5834, -1.566, -1.5486, -1.5312,
             -1.5138, -1.4964, -1.479]
HBHE_EDGES = [-3.000, -2.650, -2.500, -2.322, -2.172, -2.043, -1.930, -1.830, -1.740, -1.653, -1.566, -1.479, -1.392,
              -1.305, -1.218, -1.131, -1.044, -0.957, -0.870, -0.783, -0.695, -0.609, -0.522, -0.435, -0.348, -0.261,
              -0.174, -0.087, 0.000, 0.087, 0.174, 0.261, 0.348, 0.435, 0.522, 0.609, 0.695, 0.783, 0.870, 0.957, 1.044,
              1.131, 1.218, 1.305, 1.392, 1.479, 1.566, 1.653, 1.740, 1.830, 1.930, 2.043, 2.172, 2.322, 2.500, 2.650,
              3.000]


def jagged(rows) -> ak.Array:
    """Per-event value lists as a jagged float32 array (a ``vector<float>`` branch)."""
    rows = [np.asarray(r, np.float32).ravel() for r in rows]
    return ak.unflatten(np.concatenate(rows) if rows else np.zeros(0, np.float32), [len(r) for r in rows])


def write_rhtree(path, columns: dict, *, tree: str = "fevt/RHTree") -> str:
    """Write ``columns`` (branch -> numpy ``[E, ...]`` image stack, list of per-event lists, or flat numpy array of
    scalars) as an MLAnalyzer tree, next to a histogram as TFileService writes them."""
    out = {}
    for name, value in columns.items():
        if isinstance(value, np.ndarray) and value.ndim == 1:
            out[name] = value
        else:
            out[name] = jagged(list(value))
    with uproot.recreate(path) as f:
        f.mktree(tree, {k: (v.type.content if isinstance(v, ak.Array) else v.dtype) for k, v in out.items()})
        f[tree].extend(out)
        f[f"{tree.rsplit('/', 1)[0]}/h_sel" if "/" in tree else "h_sel"] = np.histogram([0.5, 1.5], bins=2, range=(0, 2))
    return str(path)


def sparse_image(rng, n, shape, fraction=0.01):
    return np.where(rng.random((n, *shape)) < fraction, rng.uniform(0.1, 50, (n, *shape)), 0).astype(np.float32)


def rhtree_columns(n=3, *, seed=0, projections=("_atECALfixIP",)) -> dict:
    """An event of each kind of branch the RecHitAnalyzer writes for jet-level q/g ntuples (docs/FORMAT.md)."""
    rng = np.random.default_rng(seed)
    cols = {"eventId": np.arange(100, 100 + n, dtype=np.uint64), "runId": np.ones(n, np.uint32),
            "lumiId": np.full(n, 7, np.uint32), "ECAL_energy": sparse_image(rng, n, ECAL),
            "HBHE_energy": sparse_image(rng, n, HBHE, 0.05), "EB_energy": sparse_image(rng, n, (170, 360))}
    for s in projections:
        pt = sparse_image(rng, n, ECAL)
        cols.update({f"ECAL_tracksPt{s}": pt, f"ECAL_tracksQPt{s}": pt, f"ECAL_tracks{s}": (pt > 0).astype(np.float32),
                     f"ECAL_tracksD0{s}": np.where(pt > 0, rng.normal(0, 0.01, pt.shape), 0).astype(np.float32),
                     f"ECAL_tracksDz{s}": np.where(pt > 0, rng.normal(0, 0.1, pt.shape), 0).astype(np.float32)})
    for layer in (1, 2, 3, 4):
        cols[f"BPIX_layer{layer}_ECAL_atPV"] = (sparse_image(rng, n, ECAL) > 0).astype(np.float32)
    jets = [[(20, 5), (33, 70)], [(12, 0)], [(43, 71), (30, 36), (25, 1)]][:n]
    cols["jetSeed_ieta"] = [[float(r) for r, _ in j] for j in jets]
    cols["jetSeed_iphi"] = [[float(c) for _, c in j] for j in jets]
    cols["jetPt"] = [[50.0 + 10 * i for i in range(len(j))] for j in jets]
    cols["jetM"] = [[8.0 + i for i in range(len(j))] for j in jets]
    cols["jetIsQuark"] = [[float(i % 2 == 0) for i in range(len(j))] for j in jets]
    return cols


def rolled(image: np.ndarray, shift: int) -> np.ndarray:
    """NumPy loop: each MLAnalyzer column ``c`` moved to ``(c + shift) % n``."""
    out = np.zeros_like(image)
    n = image.shape[-1]
    for b, r, c in np.argwhere(image != 0):
        out[b, r, (c + shift) % n] = image[b, r, c]
    return out


def only(path, **kwargs):
    (batch,) = list(iterate_events(path, step_size=100, **kwargs))
    return batch


def test_the_tree_is_found_in_its_folder_without_naming_it(tmp_path):
    path = write_rhtree(tmp_path / "ntuple.root", rhtree_columns())
    assert check_files(path) == [Source(path, "fevt/RHTree", True)]
    assert count_entries(path) == 3
    b = only(path)
    assert (b.tree, b.layout, b.conventions) == ("fevt/RHTree", "dense", MLANALYZER)
    assert b["event"].dtype == np.int64 and b["event"].tolist() == [100, 101, 102]
    assert only(f"{path}:fevt/RHTree").tree == "fevt/RHTree"
    with pytest.raises(InputError, match=r"expected a tree 'Events' in .*ntuple.root'; found trees \['fevt/RHTree'\]"):
        list(iterate_events(f"{path}:Events"))  # a tree the user names is not replaced

    two = str(tmp_path / "two.root")
    write_rhtree(two, rhtree_columns())
    with uproot.update(two) as f:
        f.mktree("recHitAnalyzer/RHTree", {"ECAL_energy": "var * float32"})
        f["recHitAnalyzer/RHTree"].extend({"ECAL_energy": jagged([np.zeros(280 * 360)])})
    with pytest.raises(InputError, match=r"found trees \['fevt/RHTree', 'recHitAnalyzer/RHTree'\], 2 of them "
                                         r"\(\['fevt/RHTree', 'recHitAnalyzer/RHTree'\]\) hold E2E branches; fix: pass"):
        check_files(two)
    none = write_rhtree(tmp_path / "none.root", {"x": [[1.0]]}, tree="fevt/Other")
    with pytest.raises(InputError, match=r"found trees \['fevt/Other'\], none of them holds E2E branches"):
        list(iterate_events(none))


def test_images_are_the_source_images_in_e2ejax_phi_origin(tmp_path):
    cols = rhtree_columns()
    b = only(write_rhtree(tmp_path / "ntuple.root", cols))
    for key, branch, shift in [("ecal", "ECAL_energy", 170), ("hbhe", "HBHE_energy", 34), ("track_pt", "ECAL_tracksPt_atECALfixIP", 170),
                               ("track_d0", "ECAL_tracksD0_atECALfixIP", 170), ("track_dz", "ECAL_tracksDz_atECALfixIP", 170),
                               ("bpix1", "BPIX_layer1_ECAL_atPV", 170), ("bpix3", "BPIX_layer3_ECAL_atPV", 170)]:
        assert (cols[branch] != 0).sum() > 30
        np.testing.assert_array_equal(b[key], rolled(cols[branch], shift), err_msg=key)
    assert "bpix4" not in b and "eb_energy" not in b  # e2ejax has three pixel layers; EB_energy is inside ECAL_energy
    assert b["ecal"].dtype == np.float32 and b["hbhe"].shape == (3, *HBHE)


def test_a_hit_lands_at_its_eta_and_phi(tmp_path):
    """MLAnalyzer ECAL column c covers phi [(c - 10), (c - 9)) degrees, HBHE column c [(5c - 10), (5c - 5)):
    the e2ejax cell of a hit has its centre there, in the eta bin of its MLAnalyzer row."""
    cells = [(3, 0), (54, 359), (60, 10), (200, 189), (230, 171), (279, 5)]
    towers = [(0, 0), (11, 71), (28, 2), (55, 40)]
    ecal = np.zeros((1, *ECAL), np.float32)
    hbhe = np.zeros((1, *HBHE), np.float32)
    for i, (r, c) in enumerate(cells):
        ecal[0, r, c] = i + 1.0
    for i, (r, c) in enumerate(towers):
        hbhe[0, r, c] = i + 1.0
    b = only(write_rhtree(tmp_path / "hits.root", {"ECAL_energy": ecal, "HBHE_energy": hbhe, "ECAL_tracksPt_atECALfixIP": ecal}))
    eem, eep = np.array(EEM_EDGES), -np.array(EEM_EDGES[::-1])
    for image, spots, grid, width, origin in [(b["ecal"], cells, "ECAL", 1.0, -10.0), (b["hbhe"], towers, "HBHE", 5.0, -10.0)]:
        for i, (r, c) in enumerate(spots):
            (found,) = np.argwhere(image[0] == i + 1.0)
            assert found[0] == r  # rows (eta) agree
            eta, phi = geometry.cell_centre(found[0], found[1], grid)
            expected = np.deg2rad(origin + width * (c + 0.5))
            assert np.isclose(np.angle(np.exp(1j * (phi - expected))), 0.0, atol=1e-9), (grid, r, c)
            if grid == "HBHE":
                assert HBHE_EDGES[r] < eta < HBHE_EDGES[r + 1]
            elif r < 55:
                assert eem[r] < eta < eem[r + 1]
            elif r >= 225:
                assert eep[r - 225] < eta < eep[r - 224]
    np.testing.assert_allclose(geometry.ECAL_ETA_EDGES[:56], EEM_EDGES, atol=1e-9)
    np.testing.assert_allclose(geometry.HBHE_ETA_EDGES, HBHE_EDGES, atol=1e-9)


def test_cms_indices_land_where_e2ejax_geometry_puts_them(tmp_path):
    """The producers' index rules (EB crystal: row ieta' + 140, column iphi - 1; HCAL tower: row ieta' + 28,
    column (iphi + 1) % 72, ieta' = ieta - 1 above 0) against e2ejax's CMS index maps."""
    crystals = [(-85, 1), (-1, 190), (1, 360), (85, 171)]
    hcal = [(-28, 1), (-1, 71), (1, 72), (16, 35)]
    ecal = np.zeros((1, *ECAL), np.float32)
    hbhe = np.zeros((1, *HBHE), np.float32)
    for i, (ieta, iphi) in enumerate(crystals):
        ecal[0, (ieta - 1 if ieta > 0 else ieta) + 85 + 55, iphi - 1] = i + 1.0
    for i, (ieta, iphi) in enumerate(hcal):
        hbhe[0, (ieta - 1 if ieta > 0 else ieta) + 28, (iphi + 1) % 72] = i + 1.0
    b = only(write_rhtree(tmp_path / "cms.root", {"ECAL_energy": ecal, "HBHE_energy": hbhe, "ECAL_tracksPt_atECALfixIP": ecal}))
    for i, (ieta, iphi) in enumerate(crystals):
        row, col = geometry.eb_index_to_cell(ieta, iphi)
        assert b["ecal"][0, geometry.EB_ROW_OFFSET + row, col] == i + 1.0
    for i, (ieta, iphi) in enumerate(hcal):
        assert b["hbhe"][0][geometry.hbhe_index_to_cell(ieta, iphi)] == i + 1.0


def test_float_seeds_become_int_towers_in_e2ejax_phi(tmp_path):
    cols = rhtree_columns()
    path = write_rhtree(tmp_path / "ntuple.root", cols)
    b = only(path)
    mask = b["jet_mask"]
    assert mask.sum(1).tolist() == [2, 1, 3]
    for key in ("jet_seed_tower_row", "jet_seed_tower_col", "jet_seed_row", "jet_seed_col"):
        assert b[key].dtype == np.int32
    for e, (rows, cols_) in enumerate(zip(cols["jetSeed_ieta"], cols["jetSeed_iphi"])):
        for s, (r, c) in enumerate(zip(rows, cols_)):
            col = (int(c) + 34) % 72
            assert (b["jet_seed_tower_row"][e, s], b["jet_seed_tower_col"][e, s]) == (int(r), col)
            assert (b["jet_seed_row"][e, s], b["jet_seed_col"][e, s]) == (5 * int(r) + 2, 5 * col + 2)
            # the seed tower's centre crystal, rolled as the ECAL image, is the same cell
            assert b["jet_seed_col"][e, s] == (5 * int(c) + 2 + 170) % 360
    np.testing.assert_array_equal(b["jet_pt"][mask], np.concatenate(cols["jetPt"]))
    np.testing.assert_array_equal(b["jet_mass"][mask], np.concatenate(cols["jetM"]))

    for value, match in [(20.5, r"expected whole numbers in branch 'jetSeed_ieta' .*found 20.5 at entry 0 "),
                         (56.0, r"expected 'jetSeed_ieta' .* in \[0, 55\] .*found 56 at entry 0 ")]:
        bad = dict(cols, jetSeed_ieta=[[value, 33.0], [12.0], [43.0, 30.0, 25.0]])
        with pytest.raises(InputError, match=match):
            only(write_rhtree(tmp_path / "bad.root", bad))
    bad = dict(cols, jetSeed_iphi=[[5.0, 72.0], [0.0], [71.0, 36.0, 1.0]])
    with pytest.raises(InputError, match=r"expected 'jetSeed_iphi' .* in \[0, 71\] .*found 72 at entry 0 "):
        only(write_rhtree(tmp_path / "bad.root", bad))
    bad = dict(cols, jetPt=[[50.0], [50.0], [50.0, 60.0, 70.0]])
    with pytest.raises(InputError, match=r"one value per jet seed in branch 'jetPt' .*found 1 values for 2 seeds at entry 0"):
        only(write_rhtree(tmp_path / "bad.root", bad))


def test_an_image_of_another_length_is_refused(tmp_path):
    for branch, size in [("ECAL_energy", 100800), ("HBHE_energy", 4032), ("ECAL_tracksPt_atECALfixIP", 100800)]:
        cols = rhtree_columns()
        cols[branch] = [v.ravel() for v in cols[branch]]
        cols[branch][2] = cols[branch][2][:-1]
        path = write_rhtree(tmp_path / "short.root", cols)
        with pytest.raises(InputError, match=rf"expected {size} values per event in branch '{branch}' of .*short.root'; "
                                             rf"found {size - 1} at entry 2; fix: write the"):
            only(path)


def test_track_projection_chooses_the_branches(tmp_path):
    cols = rhtree_columns(projections=("", "_atECALfixIP"))
    path = write_rhtree(tmp_path / "two.root", cols)
    default, at_vertex = only(path), only(path, track_projection="")
    for key, stem in [("track_pt", "ECAL_tracksPt"), ("track_d0", "ECAL_tracksD0"), ("track_dz", "ECAL_tracksDz")]:
        np.testing.assert_array_equal(default[key], rolled(cols[f"{stem}_atECALfixIP"], 170))
        np.testing.assert_array_equal(at_vertex[key], rolled(cols[stem], 170))
    assert not np.array_equal(default["track_pt"], at_vertex["track_pt"])
    with pytest.raises(InputError, match=r"projection '_atHCAL' \(branch 'ECAL_tracksPt_atHCAL'\) in .*two.root'; found "
                                         r"the projections \['', '_atECALfixIP'\]; fix: pick one"):
        check_files(path, track_projection="_atHCAL")
    with pytest.raises(InputError, match=r"expected a track projection .* one of \['', '_atECAL', '_atHCAL', "
                                         r"'_atECALfixIP', '_atECALfixIPfromPV'\]; found 'atECAL'"):
        only(path, track_projection="atECAL")
    only_vertex = write_rhtree(tmp_path / "vertex.root", rhtree_columns(projections=("",)))
    with pytest.raises(InputError, match=r"projection '_atECALfixIP' .* found the projections \[''\]"):
        count_entries(only_vertex)  # the default is not silently swapped for another projection
    sparse = tasks.get("qg").sample_path
    with pytest.raises(InputError, match=r"expected an MLAnalyzer ntuple for track_projection='' .*found sparse layout"):
        check_files(str(sparse), track_projection="")


def test_pixel_images_prefer_the_nominal_interaction_point(tmp_path):
    cols = rhtree_columns()
    seen_from_ip = (sparse_image(np.random.default_rng(9), 3, ECAL) > 0).astype(np.float32)
    b = only(write_rhtree(tmp_path / "both.root", {**cols, "BPIX_layer1_ECAL": seen_from_ip}))
    np.testing.assert_array_equal(b["bpix1"], rolled(seen_from_ip, 170))
    assert "bpix2" not in b  # layers of the other projection are not mixed in


def test_labels_go_through_the_task_registry(tmp_path):
    cols = rhtree_columns()
    path = write_rhtree(tmp_path / "ntuple.root", cols)
    b = only(path)
    classes = tasks.get("qg").classes
    expected = [classes.index("quark") if q == 1.0 else classes.index("gluon") for q in np.concatenate(cols["jetIsQuark"])]
    assert b["jet_label"].dtype == np.int32 and b["jet_label"][b["jet_mask"]].tolist() == expected
    assert sorted(set(expected)) == [0, 1]
    assert label_task(path) == "qg"
    unlabelled = write_rhtree(tmp_path / "top.root", {k: v for k, v in cols.items() if k != "jetIsQuark"})
    assert "jet_label" not in only(unlabelled) and label_task(unlabelled) is None
    assert label_task(str(tmp_path / "missing.root")) is None
    bad = write_rhtree(tmp_path / "bad.root", dict(cols, jetIsQuark=[[1.0, 0.5], [0.0], [1.0, 1.0, 0.0]]))
    with pytest.raises(InputError, match=r"expected 'jetIsQuark' values \[0.0, 1.0\] \(1 quark, 0 gluon\) in .*bad.root'; "
                                         r"found 0.5 at entry 0"):
        only(bad)


@pytest.fixture(scope="module")
def qg_as_mlanalyzer(tmp_path_factory):
    """The first 32 events of the shipped q/g sample (sparse) and the same events as an MLAnalyzer ntuple: its
    images (e2ejax.inputs.sparse_to_dense) moved to MLAnalyzer's phi origin, the sparse path's seed towers
    (the qg tagger's) as float seeds, its labelled jets only."""
    from e2ejax.inference import Tagger
    from e2ejax.inputs import sparse_to_dense

    (batch,) = list(iterate_events(str(tasks.get("qg").sample_path), max_events=32, step_size=32))
    tagger = Tagger.from_pretrained("qg", backend="onnxruntime")
    result = tagger(batch)
    labels = np.asarray(batch["jet_label"])[:, : result.mask.shape[1]]
    keep = result.mask & (labels >= 0)
    images = sparse_to_dense(batch, keys=["ecal", "hbhe", "track_pt"])
    towers = (result.seeds - 2) // 5
    quark = tasks.get("qg").classes.index("quark")
    cols = {"eventId": np.asarray(batch["event"]).astype(np.uint64),
            "ECAL_energy": np.roll(images["ecal"], -170, axis=-1), "HBHE_energy": np.roll(images["hbhe"], -34, axis=-1),
            "ECAL_tracksPt_atECALfixIP": np.roll(images["track_pt"], -170, axis=-1),
            "jetSeed_ieta": [towers[e, keep[e], 0] for e in range(batch.size)],
            "jetSeed_iphi": [(towers[e, keep[e], 1] - 34) % 72 for e in range(batch.size)],
            "jetPt": [batch["jet_pt"][e, : keep.shape[1]][keep[e]] for e in range(batch.size)],
            "jetIsQuark": [(labels[e, keep[e]] == quark).astype(np.float32) for e in range(batch.size)]}
    path = write_rhtree(tmp_path_factory.mktemp("mla") / "qg_mlanalyzer.root", cols)
    return path, tagger, result.scores[keep], labels[keep]


def test_a_tagged_mlanalyzer_ntuple_scores_as_its_sparse_source(qg_as_mlanalyzer, tmp_path):
    from e2ejax.inference import tag_files

    path, tagger, scores, labels = qg_as_mlanalyzer
    assert len(scores) > 20 and len(set(labels.tolist())) == 2
    summary = tag_files({"qg": tagger}, path, str(tmp_path / "scores.root"), batch_size=16, progress=False)
    written = uproot.open(tmp_path / "scores.root")["Predictions"].arrays(library="np")
    np.testing.assert_allclose(np.concatenate(written["jet_qg"]), scores, rtol=1e-5, atol=1e-7)
    assert summary["seeds"] == len(scores) and summary["truth"] == "qg" and "qg" in summary["auc"]
    assert summary["n_signal"] == int((labels == 1).sum())


def test_the_cli_tags_an_mlanalyzer_ntuple(qg_as_mlanalyzer, tmp_path, capsys):
    path, *_ = qg_as_mlanalyzer
    out = tmp_path / "out.root"
    r = subprocess.run([sys.executable, "-m", "e2ejax", "tag", path, "--model", "qg", "-o", str(out), "-q"],
                       capture_output=True, text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stderr
    assert "AUC" in r.stdout and "quark/gluon" in r.stdout and out.exists()
    assert main(["tag", path, "--model", "qg", "-o", str(tmp_path / "x.root"), "--track-projection", "_atHCAL"]) == 2
    assert "found the projections ['_atECALfixIP']" in capsys.readouterr().err
    # a directory run reads the projection asked for, and records it per file (a rerun with another redoes the file)
    assert main(["tag", path, "--model", "qg", "-o", str(tmp_path / "dir"), "--track-projection", "_atHCAL", "-q"]) == 1
    err = capsys.readouterr().err
    assert "failed:" in err and "found the projections ['_atECALfixIP']" in err
    assert main(["tag", path, "--model", "qg", "-o", str(tmp_path / "dir"), "--track-projection", "_atECALfixIP", "-q"]) == 0
    (entry,) = json.loads((tmp_path / "dir" / "e2ejax-manifest.json").read_text())["files"].values()
    assert entry["status"] == "done" and entry["reading"] == {"track_projection": "_atECALfixIP"}
    written = uproot.open(entry["output"])["Predictions"].arrays(library="np")
    np.testing.assert_array_equal(np.concatenate(written["jet_qg"]), np.concatenate(
        uproot.open(out)["Predictions"].arrays(library="np")["jet_qg"]))


def test_train_on_an_mlanalyzer_ntuple_records_its_conventions(qg_as_mlanalyzer, tmp_path, capsys):
    from e2ejax.inference import Tagger
    from e2ejax.store import load_model

    path, *_ = qg_as_mlanalyzer
    cfg = tmp_path / "mla.yaml"
    cfg.write_text(
        "model: {name: vgg, options: {height: 125, width: 125, channels: 3, features: [4], hidden: 8}}\n"
        f"task: qg\ndata: {{train: [{path}], validation: [{path}]}}\n"
        "optimizer: {name: adam, learning_rate: 1.0e-2}\ntraining: {epochs: 1, batch_size: 8, patience: 5}\n"
        f"output: {tmp_path / 'run'}\n")
    assert main(["train", str(cfg), "-q"]) == 0
    assert "trained vgg on" in capsys.readouterr().out
    _, card, _ = load_model(tmp_path / "run" / "checkpoints")
    assert card["input_conventions"] == {"track_impact": "mean", "image_units": "GeV"}
    tagger = Tagger.from_pretrained(tmp_path / "run" / "checkpoints", backend="xla")
    assert tagger.conventions["track_impact"] == "mean"
    assert main(["tag", path, "--model", str(tmp_path / "run" / "checkpoints"), "-o", str(tmp_path / "s.root"), "-q"]) == 0
    assert "AUC" in capsys.readouterr().out
