"""Reading sparse and dense files, writing them back, friend trees aligned with their input."""

from __future__ import annotations

import os
import warnings

import awkward as ak
import numpy as np
import pytest
import uproot

from e2ejax.errors import InputError, MissingDependencyError
from e2ejax.inputs import dense_batches, sparse_to_dense
from e2ejax.io import (
    GROUPS,
    HitOverflowWarning,
    PredictionWriter,
    bucket,
    iterate_events,
    resolve,
    unpad,
    write_dense,
    write_events,
)

from .conftest import write_sparse


def _collect(batches):
    """Concatenate the jagged content of sparse batches: {branch: list of per-event lists}."""
    out = {}
    for b in batches:
        out.setdefault("event", []).extend(b["event"].tolist())
        for g, fields in GROUPS.items():
            if f"{g}_mask" in b:
                for f in fields:
                    out.setdefault(f"{g}_{f}", []).extend(unpad(b[f"{g}_{f}"], b[f"{g}_mask"]).tolist())
    return out


def test_read_matches_written(sparse_file):
    path, events = sparse_file
    batches = list(iterate_events(path, step_size=4))
    assert [(b.entry_start, b.entry_stop) for b in batches] == [(0, 4), (4, 8), (8, 12), (12, 13)]
    for b in batches:
        assert b.layout == "sparse" and b.file == path and b.tree == "Events" and b.size == len(b["event"])
        assert b.tree_entries == 13 and all(p.tree_entries == 13 for p in b.split(3))
        for g in GROUPS:
            n = b[f"{g}_mask"].shape[1]
            assert n == bucket(n) and n >= 16
            assert b[f"{g}_mask"].dtype == bool and b[f"n{g}"].dtype == np.int32
            for f in GROUPS[g]:
                assert b[f"{g}_{f}"].dtype == (np.int32 if f in ("ieta", "iphi", "charge", "layer", "type", "jet",
                                                                   "label", "converted", "seed_row", "seed_col")
                                                else np.float32)
            assert np.all(np.where(b[f"{g}_mask"], 0, b[f"{g}_{GROUPS[g][0]}"]) == 0)
    got = _collect(batches)
    assert got["event"] == events["event"].tolist()
    for g, fields in GROUPS.items():
        for f in fields:
            np.testing.assert_array_equal(ak.flatten(ak.Array(got[f"{g}_{f}"])), ak.flatten(events[g][f]))


def test_round_trip_read_write_read(sparse_file, tmp_path):
    path, _ = sparse_file
    out = str(tmp_path / "copy.root")
    assert write_events(out, iterate_events(path, step_size=5)) == 13
    first = _collect(iterate_events(path))
    second = _collect(iterate_events(out, step_size=3))
    assert first == second
    assert [p for p in os.listdir(tmp_path) if p.endswith(".tmp")] == []


def test_groups_and_max_events_and_tree_spec(tmp_path):
    path = str(tmp_path / "a.root")
    write_sparse(path, 10, seed=1, tree="Hits")
    batches = list(iterate_events([f"{path}:Hits"], groups=("eb", "jet"), max_events=7, step_size=3))
    assert sum(b.size for b in batches) == 7
    assert {k.split("_")[0] for k in batches[0] if k.endswith("_mask")} == {"eb", "jet"}


def test_globs_keep_files_apart(tmp_path):
    for i in range(3):
        write_sparse(str(tmp_path / f"f{i}.root"), 5 + i, seed=i)
    assert [s.path for s in resolve(str(tmp_path / "f*.root"))] == [str(tmp_path / f"f{i}.root") for i in range(3)]
    batches = list(iterate_events(str(tmp_path / "f*.root"), step_size="1 MB"))
    assert [(os.path.basename(b.file), b.size) for b in batches] == [("f0.root", 5), ("f1.root", 6), ("f2.root", 7)]


def test_overflow_is_reported(tmp_path):
    path = str(tmp_path / "busy.root")
    write_sparse(path, 4, seed=2, counts={"eb": 40})
    with pytest.warns(HitOverflowWarning, match="160 eb hits beyond max_hits"):
        (b,) = list(iterate_events(path, max_hits={"eb": 0}))
    assert b.overflow == {"eb": 160} and b["eb_mask"].shape[1] == 0 and b["neb"].tolist() == [40] * 4
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (b,) = list(iterate_events(path, max_hits={"eb": 32}, groups=("hbhe",)))


def test_dense_and_sparse_give_the_same_images(sparse_file, tmp_path):
    path, _ = sparse_file
    dense_path = str(tmp_path / "dense.root")
    assert write_dense(dense_path, dense_batches(iterate_events(path, step_size=5))) == 13
    with uproot.open(dense_path) as f:
        tree = f["Events"]
        assert tree["ECAL_energy"].typename == "float[100800]" and tree["HBHE_energy"].typename == "float[4032]"
        assert "jetSeed_ieta" in tree and "njet" in tree
    sparse = list(iterate_events(path, step_size=4))
    dense = list(iterate_events(dense_path, step_size=4))
    assert [b.layout for b in dense] == ["dense"] * 4
    for s, d in zip(sparse, dense):
        np.testing.assert_array_equal(s["event"], d["event"])
        expected = sparse_to_dense(s)
        for key, image in expected.items():
            assert d[key].dtype == np.float32 and d[key].shape == image.shape
            np.testing.assert_array_equal(d[key], image)
        n = d["jet_mask"].shape[1]
        m = s["jet_mask"][:, :n]
        np.testing.assert_array_equal(d["jet_mask"], m)
        np.testing.assert_array_equal(np.where(m, d["jet_seed_row"], 0), np.where(m, s["jet_seed_row"][:, :n], 0))
        np.testing.assert_array_equal(np.where(m, d["jet_seed_col"], 0), np.where(m, s["jet_seed_col"][:, :n], 0))


def test_dense_images_are_the_ops_images(sparse_file):
    path, events = sparse_file
    (b,) = list(iterate_events(path, step_size=100, groups=("eb", "hbhe")))
    images = sparse_to_dense(b)
    assert set(images) == {"ecal", "hbhe"}
    # every hit in its pixel, by the index arithmetic of docs/FORMAT.md: EB rows below the 55 EE- rows,
    # HCAL ieta 29 merged into 28, towers with |ieta| > 20 shared 50/50 with the next iphi; CMSSW's phi
    # origins: crystal iphi 1 at -10 degrees (column 170), tower iphi 1 at 0 degrees (column 36)
    eb = np.zeros((13, 170, 360))
    hbhe = np.zeros((13, 56, 72))
    for i in range(13):
        for ieta, iphi, e in zip(*(ak.to_numpy(events["eb"][f][i]) for f in ("ieta", "iphi", "energy"))):
            eb[i, ieta + 85 - (ieta > 0), (iphi - 1 + 170) % 360] += e
        for ieta, iphi, e in zip(*(ak.to_numpy(events["hbhe"][f][i]) for f in ("ieta", "iphi", "energy"))):
            row = int(np.clip(ieta, -28, 28)) + 28 - (ieta > 0)
            col = (iphi - 1 + 36) % 72
            if abs(ieta) > 20:
                hbhe[i, row, col] += e / 2
                hbhe[i, row, (col + 1) % 72] += e / 2
            else:
                hbhe[i, row, col] += e
    assert (eb > 0).sum() > 100 and (hbhe[:, [0, 55]] > 0).any()  # ieta 29 towers present
    np.testing.assert_allclose(images["ecal"][:, 55:225], eb, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(images["hbhe"], hbhe, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("flush_entries", [1, 7, 100_000])  # an extend per batch, across batches, once at close
def test_friend_tree_aligned_with_input(sparse_file, tmp_path, flush_entries):
    path, events = sparse_file
    out = str(tmp_path / "scores.root")
    with PredictionWriter(out, group="jet", flush_entries=flush_entries) as w:
        for b in iterate_events(path, step_size=5, groups=("jet",)):
            assert b.tree_entries == 13
            scores = b["jet_pt"] / 1000.0
            w.write({"score": scores}, mask=b["jet_mask"], batch=b)
    with uproot.open(path) as fin, uproot.open(out) as fout:
        tin, tout = fin["Events"], fout["Predictions"]
        assert tout.num_entries == tin.num_entries
        np.testing.assert_array_equal(tout["event"].array(library="np"), tin["event"].array(library="np"))
        np.testing.assert_array_equal(tout["njet"].array(library="np"), tin["njet"].array(library="np"))
        got = tout["jet_score"].array()
        np.testing.assert_allclose(ak.flatten(got), ak.flatten(tin["jet_pt"].array()) / 1000.0, rtol=1e-6)
        assert ak.all(ak.flatten(tout["jet_valid"].array()))


def test_friend_tree_refuses_misalignment(sparse_file, tmp_path):
    path, _ = sparse_file
    out = str(tmp_path / "scores.root")
    batches = list(iterate_events(path, step_size=5, groups=("jet",)))
    with pytest.raises(InputError, match="expected the batch starting at input entry 5"):
        with PredictionWriter(out) as w:
            w.write({"score": batches[0]["jet_pt"]}, mask=batches[0]["jet_mask"], batch=batches[0])
            w.write({"score": batches[2]["jet_pt"]}, mask=batches[2]["jet_mask"], batch=batches[2])
    with pytest.raises(InputError, match="predictions for all 13 input entries; found 5"):
        with PredictionWriter(out) as w:
            w.write({"score": batches[0]["jet_pt"]}, mask=batches[0]["jet_mask"], batch=batches[0])
    with pytest.raises(RuntimeError):
        with PredictionWriter(out, n_entries=2) as w:
            raise RuntimeError("model failed")
    assert os.listdir(tmp_path) == ["events.root"]


def test_parquet_without_the_extra_is_refused(tmp_path, monkeypatch):
    """pyarrow absent (an import of it fails): one message naming the extra, nothing written."""
    import sys

    monkeypatch.setitem(sys.modules, "pyarrow", None)  # ``import pyarrow`` now raises ImportError
    with pytest.raises(MissingDependencyError, match=r"optional package 'pyarrow' .*pip install 'e2ejax\[parquet\]'"):
        PredictionWriter(str(tmp_path / "scores.parquet"))
    assert os.listdir(tmp_path) == []


def test_parquet_predictions(tmp_path):
    pytest.importorskip("pyarrow", reason="parquet output needs the 'parquet' extra")
    out = str(tmp_path / "scores.parquet")
    with PredictionWriter(out, n_entries=1) as w:
        w.write({"score": np.ones((1, 2), np.float32)}, mask=np.ones((1, 2), bool), event=[3], entry_start=0)
    assert ak.from_parquet(out)["event"].tolist() == [3]


def test_dense_vectors_as_cmssw_writes_them(tmp_path):
    path = str(tmp_path / "cmssw.root")
    with uproot.recreate(path) as f:
        f.mktree("Events", {"eventId": np.int64, "ECAL_energy": ak.Array([[np.float32(0)]]).type.content,
                            "jetSeed_ieta": ak.Array([[np.int32(0)]]).type.content,
                            "jetSeed_iphi": ak.Array([[np.int32(0)]]).type.content})
        flat = np.random.default_rng(0).uniform(0, 1, 2 * 100800).astype(np.float32)
        f["Events"].extend({"eventId": np.array([100, 101]), "ECAL_energy": ak.unflatten(flat, [100800, 100800]),
                            "jetSeed_ieta": ak.Array([[np.int32(3)], []]), "jetSeed_iphi": ak.Array([[np.int32(70)], []])})
    (b,) = list(iterate_events(path))
    assert b.layout == "dense" and b["event"].tolist() == [100, 101]
    np.testing.assert_array_equal(b["ecal"], flat.reshape(2, 280, 360))
    assert b["jet_seed_row"][0, 0] == 17 and b["jet_seed_col"][0, 0] == 352 and b["jet_mask"].sum() == 1
    bad = str(tmp_path / "short.root")
    with uproot.recreate(bad) as f:
        f.mktree("Events", {"ECAL_energy": ak.Array([[np.float32(0)]]).type.content})
        f["Events"].extend({"ECAL_energy": ak.Array([np.zeros(100800, np.float32), np.zeros(5, np.float32)])})
    with pytest.raises(InputError, match="expected 100800 values per event in branch 'ECAL_energy'.*found 5"):
        list(iterate_events(bad))
