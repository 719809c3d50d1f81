"""Value policies of the reader (NaN / inf, grid indices, negative energies), empty events, wrong shapes."""

from __future__ import annotations

import re

import awkward as ak
import numpy as np
import pytest
import uproot
from flax import nnx

from e2ejax import nets, ops
from e2ejax.errors import InputError
from e2ejax.inputs import event_images
from e2ejax.io import iterate_events
from e2ejax.inference import Tagger, tag_files
from tests.reliability.conftest import egamma_events, replace_field, write_tree


@pytest.fixture(scope="module")
def tagger():
    return Tagger(nets.build("vgg", {"features": [4], "hidden": 8}, rngs=nnx.Rngs(0)), task="egamma", backend="xla")


def _entry_of(events, group, flat_index):
    counts = np.asarray(ak.num(events[group][events[group].fields[0]], axis=1))
    return int(np.searchsorted(np.cumsum(counts), flat_index, side="right"))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("group, field", [("eb", "energy"), ("hbhe", "energy"), ("trk", "pt")])
def test_non_finite_values_name_branch_and_entry(tmp_path, bad, group, field):
    events = egamma_events(30, seed=2)
    where = int(ak.sum(ak.num(events[group], axis=1)[:17]))  # first hit of entry 17 (or later if it has none)
    events = replace_field(events, group, field, lambda v: np.where(np.arange(len(v)) == where, bad, v).astype(np.float32))
    path = write_tree(tmp_path / "bad.root", events)
    with pytest.raises(InputError) as info:
        list(iterate_events(str(path), step_size=8))
    message = str(info.value)
    assert f"'{group}_{field}'" in message and "bad.root" in message and str(bad) in message
    assert f"at entry {_entry_of(events, group, where)} " in message and "1 non-finite value(s)" in message


@pytest.mark.parametrize("field, value, allowed", [
    ("eb_ieta", 86, "[-85, 85] without 0"), ("eb_ieta", 0, "[-85, 85] without 0"), ("eb_iphi", 0, "[1, 360]"),
    ("hbhe_ieta", -30, "[-29, 29] without 0"), ("hbhe_iphi", 73, "[1, 72]"), ("bpix_layer", 4, "[1, 3]"),
    ("eg_seed_row", 280, "[0, 279]"), ("eg_seed_col", -1, "[0, 359]"),
])
def test_indices_outside_the_grid(tmp_path, field, value, allowed):
    group, name = field.split("_", 1)
    events = replace_field(egamma_events(10, seed=3), group, name, lambda v: np.where(np.arange(len(v)) == 4, value, v).astype(np.int32))
    path = write_tree(tmp_path / "grid.root", events)
    with pytest.raises(InputError, match=rf"expected '{field}' .* in {re.escape(allowed)}.*grid.root.*found {value} at entry {_entry_of(events, group, 4)} "):
        list(iterate_events(str(path)))


def test_dense_layout_values_are_checked(tmp_path):
    ecal = np.zeros((3, 280 * 360), np.float32)
    ecal[2, 5] = np.nan
    path = tmp_path / "dense.root"
    with uproot.recreate(path) as f:
        f["Events"] = {"event": np.arange(3, dtype=np.int64), "ECAL_energy": ecal}  # uproot writes an RNTuple here
    with pytest.raises(InputError, match=r"expected a TTree 'Events' in .*dense.root'; found a ROOT::RNTuple"):
        list(iterate_events(str(path)))
    types = {"event": np.int64, "ECAL_energy": np.dtype((np.float32, (280 * 360,)))}
    with uproot.recreate(path) as f:
        f.mktree("Events", types)
        f["Events"].extend({"event": np.arange(3, dtype=np.int64), "ECAL_energy": ecal})
    with pytest.raises(InputError, match=r"finite values in branch 'ECAL_energy' of .*dense.root'; found nan at entry 2 "):
        list(iterate_events(str(path)))
    with uproot.recreate(path) as f:
        f.mktree("Events", {**types, "jetSeed_ieta": "var * int32", "jetSeed_iphi": "var * int32"},
                 counter_name=lambda n: "njet")
        f["Events"].extend({"event": np.arange(3, dtype=np.int64), "ECAL_energy": np.zeros((3, 280 * 360), np.float32),
                            "jetSeed_ieta": ak.Array([[3], [56], []]), "jetSeed_iphi": ak.Array([[1], [2], []])})
    with pytest.raises(InputError, match=r"expected 'jetSeed_ieta' .* in \[0, 55\] .*found 56 at entry 1 "):
        list(iterate_events(str(path)))


def test_negative_energies_are_kept(tmp_path, tagger):
    events = replace_field(egamma_events(8, seed=4), "eb", "energy", lambda v: np.where(np.arange(len(v)) % 3 == 0, -v, v))
    path = write_tree(tmp_path / "negative.root", events)
    (batch,) = list(iterate_events(str(path)))
    raw = events["eb"]["energy"]
    assert (np.asarray(ak.flatten(raw)) < 0).sum() > 10
    np.testing.assert_array_equal(batch["eb_energy"][batch["eb_mask"]], np.asarray(ak.flatten(raw)))
    image = np.asarray(event_images(dict(batch), channels=("ecal",)))[..., 0]
    ee = np.asarray(ak.sum(events["ee"]["energy"], axis=1))
    np.testing.assert_allclose(image.sum((1, 2)), np.asarray(ak.sum(raw, axis=1)) + ee, rtol=1e-4, atol=1e-3)
    summary = tag_files({"t": tagger}, str(path), str(tmp_path / "o.root"), progress=False)
    assert summary["events"] == 8 and summary["seeds"] == 16


def test_events_without_hits_and_without_seeds(tmp_path, tagger):
    events = egamma_events(6, seed=5)
    no_hits = {k: (v if k in ("event", "eg") else v[[0, 1, 2, 3, 4, 5]]) for k, v in events.items()}
    for g in ("eb", "ee", "hbhe", "trk", "bpix", "pf"):
        keep = ak.Array([[True] * n if i % 2 else [False] * n for i, n in enumerate(ak.num(no_hits[g], axis=1))])
        no_hits[g] = no_hits[g][keep]  # even entries: no hits at all
    path = write_tree(tmp_path / "nohits.root", no_hits)
    out = tmp_path / "nohits_scores.root"
    summary = tag_files({"t": tagger}, str(path), str(out), progress=False)
    scores = uproot.open(out)["Predictions"].arrays(library="np")
    assert summary["events"] == 6 and summary["seeds"] == 12
    assert all(len(s) == 2 and np.isfinite(s).all() for s in scores["eg_t"])
    assert len({float(s[0]) for s in scores["eg_t"][::2]}) == 1  # empty events: one and the same score

    no_seeds = {**events, "eg": events["eg"][ak.Array([[False, False]] * 6)]}
    path = write_tree(tmp_path / "noseeds.root", no_seeds)
    out = tmp_path / "noseeds_scores.root"
    summary = tag_files({"t": tagger}, str(path), str(out), progress=False)
    pred = uproot.open(out)["Predictions"].arrays(library="np")
    assert summary == {**summary, "events": 6, "seeds": 0} and "auc" not in summary
    np.testing.assert_array_equal(pred["event"], events["event"])
    np.testing.assert_array_equal(pred["neg"], np.zeros(6))


def test_wrong_shapes_through_the_python_api(tagger):
    rng = np.random.default_rng(0)
    good = {"eb_ieta": np.ones((2, 4), np.int32), "eb_iphi": np.ones((2, 4), np.int32),
            "eb_energy": rng.random((2, 4)).astype(np.float32), "eb_mask": np.ones((2, 4), bool),
            "eg_eta": np.zeros((2, 1), np.float32), "eg_phi": np.zeros((2, 1), np.float32), "eg_mask": np.ones((2, 1), bool)}
    assert tagger(good).scores.shape == (2, 1)
    with pytest.raises(InputError, match=r"expected event field 'eb_energy' of shape \[B, N\].*found shape \(8,\)"):
        tagger({**good, "eb_energy": np.ones(8, np.float32)})
    with pytest.raises(InputError, match=r"same number of events B; found \[2, 3\]"):
        tagger({**good, "eg_mask": np.ones((3, 1), bool)})
    with pytest.raises(InputError, match=r"expected event fields .*missing \['eb_mask'\]"):
        tagger({k: v for k, v in good.items() if k != "eb_mask"})
    with pytest.raises(InputError, match=r"network input 'frames' of shape \[N, 32, 32, 1\]; found \(4, 125, 125, 3\)"):
        tagger.network((np.zeros((4, 125, 125, 3), np.float32),))
    with pytest.raises(InputError, match=r"expected 1 network input\(s\) \['frames'\]"):
        tagger.network(np.zeros((4, 32, 32, 1), np.float32))
    with pytest.raises(ValueError, match=r"expected images of shape \[B, H, W, C\], got shape \(280, 360\)"):
        ops.extract_frames(np.zeros((280, 360), np.float32), np.zeros((1, 1, 2), np.int32), height=32, width=32)
