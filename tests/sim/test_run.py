"""End-to-end: determinism across worker counts, schema against docs/FORMAT.md, metadata."""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import multiprocessing
import pathlib
import re

import awkward as ak
import numpy as np
import pytest
import uproot

from e2ejax.io import branch_names
from e2ejax.sim import run

FORMAT = pathlib.Path(__file__).resolve().parents[2] / "docs" / "FORMAT.md"


def _arrays(path):
    with uproot.open(path) as f:
        return f["Events"].arrays(library="ak")


def _same(a, b):
    return a.fields == b.fields and all(ak.array_equal(a[k], b[k]) for k in a.fields)


def _simulate(path, *, seed, workers, sample="qg", events=12, pileup=0.0):
    """Simulate in this process (``workers=1``) or with a spawn process pool of ``workers`` as the executor."""
    saved = run.CHUNK_EVENTS
    run.CHUNK_EVENTS = 4
    pool = (concurrent.futures.ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
            if workers > 1 else contextlib.nullcontext())
    try:
        with pool as executor:
            run.simulate(sample, events=events, seed=seed, output=str(path), executor=executor, pileup=pileup,
                         progress=False)
    finally:
        run.CHUNK_EVENTS = saved


def test_same_seed_same_content_whatever_the_workers(qg_file, tmp_path):
    _simulate(tmp_path / "two.root", seed=7, workers=2)
    assert _same(_arrays(qg_file), _arrays(tmp_path / "two.root"))


def test_pileup_is_reproducible_and_adds_activity(tmp_path):
    _simulate(tmp_path / "a.root", seed=3, workers=1, sample="tau", events=6, pileup=3.0)
    _simulate(tmp_path / "b.root", seed=3, workers=2, sample="tau", events=6, pileup=3.0)
    _simulate(tmp_path / "c.root", seed=3, workers=1, sample="tau", events=6)
    a, b, c = (_arrays(tmp_path / f"{k}.root") for k in "abc")
    assert _same(a, b)
    assert ak.sum(a.npf) > ak.sum(c.npf) and ak.sum(a.ntrk) > ak.sum(c.ntrk)
    assert float(ak.max(abs(a.trk_dz))) > 1.0  # pileup vertices are centimetres away (sigma_z 3.5 cm)


def test_other_seed_other_content(qg_file, tmp_path):
    _simulate(tmp_path / "other.root", seed=8, workers=1)
    assert not _same(_arrays(qg_file), _arrays(tmp_path / "other.root"))


def _documented_branches():
    text = FORMAT.read_text()
    table = text.split("## Sparse hit layout", 1)[1].split("Groups share counters", 1)
    names = set()
    for line in table[0].splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([a-z0-9_]+)`", line.split("|")[1]))
    counters = re.findall(r"`(n[a-z]+)`", table[1].split("\n", 1)[0])
    return names | set(counters)


def test_schema_matches_format_md(qg_file):
    documented = _documented_branches()
    with uproot.open(qg_file) as f:
        tree = f["Events"]
        assert set(tree.keys()) == documented == set(branch_names())
        types = tree.typenames()
        info = json.loads(str(f["e2ejax_info"]))
    assert types["event"] == "int64_t"
    for name, typename in types.items():
        if name == "event":
            continue
        if name.startswith("n") and "_" not in name:
            assert typename == "int32_t", name
        else:
            expected = "int32_t[]" if name.split("_", 1)[1] in _INT_FIELDS else "float[]"
            assert typename == expected, name
    assert {"sample", "seed", "e2ejax_version", "command", "detector"} <= set(info)
    assert info["sample"] == "qg" and info["seed"] == 7


_INT_FIELDS = {"ieta", "iphi", "charge", "layer", "type", "jet", "label", "converted", "seed_row", "seed_col"}


def test_content_ranges(qg_file):
    a = _arrays(qg_file)
    assert len(a) == 12
    np.testing.assert_array_equal(ak.to_numpy(a.event), 7 * 10**7 + np.arange(12))
    ieta = ak.ravel(a.eb_ieta)
    assert ak.all((abs(ieta) >= 1) & (abs(ieta) <= 85)) and ak.all((a.eb_iphi >= 1) & (a.eb_iphi <= 360))
    ee = abs(ak.ravel(a.ee_eta))
    assert ak.all((ee > 1.479) & (ee < 3.0))
    wide = abs(a.hbhe_ieta) > 20
    assert ak.all(a.hbhe_iphi[wide] % 2 == 1) and ak.all((abs(a.hbhe_ieta) >= 1) & (abs(a.hbhe_ieta) <= 28))
    assert ak.all(a.bpix_layer >= 1) and ak.all(a.bpix_layer <= 3)
    assert ak.all(abs(a.trk_charge) == 1)
    assert ak.all((a.jet_pt >= 70) & (a.jet_pt < 200) & (abs(a.jet_eta) < 2.4))
    assert ak.all((a.jet_label >= -1) & (a.jet_label <= 1))
    assert ak.sum(a.njet) > 0
    # seeds: tower centres (5 r + 2, 5 c + 2) within 3 towers of the jet axis
    assert ak.all(a.jet_seed_row % 5 == 2) and ak.all(a.jet_seed_col % 5 == 2)
    assert ak.all((a.jet_seed_row >= 0) & (a.jet_seed_row < 280))
    # every pf_jet index points at a stored jet
    assert ak.all(a.pf_jet < a.njet) and ak.all(a.pf_jet >= -1)


def test_egamma_candidates_and_seeds(tmp_path):
    _simulate(tmp_path / "eg.root", seed=3, workers=1, sample="egamma", events=6)
    a = _arrays(tmp_path / "eg.root")
    assert ak.all(a.neg == 1)
    assert ak.all((a.eg_pt >= 10) & (a.eg_pt <= 100) & (abs(a.eg_eta) < 1.44))
    assert ak.all((a.eg_seed_row >= 55) & (a.eg_seed_row < 225))
    assert ak.all(a.eg_converted[a.eg_label == 1] == 0)
    # the seed crystal is a hit of the event with energy above 1 GeV
    for ev in a:
        row, col = int(ev.eg_seed_row[0]), int(ev.eg_seed_col[0])
        ieta = row - 55 - 85
        ieta = ieta + 1 if ieta >= 0 else ieta
        hit = (np.asarray(ev.eb_ieta) == ieta) & (np.asarray(ev.eb_iphi) == (col - 170) % 360 + 1)  # iphi 1 at column 170
        assert hit.sum() == 1 and float(np.asarray(ev.eb_energy)[hit][0]) > 1.0


@pytest.mark.parametrize("sample", ["top", "tau"])
def test_signal_and_background_samples(tmp_path, sample):
    _simulate(tmp_path / f"{sample}.root", seed=2, workers=1, sample=sample, events=6)
    a = _arrays(tmp_path / f"{sample}.root")
    odd = (ak.to_numpy(a.event) % 2) == 1  # odd event numbers are QCD, even ones signal
    qcd = a.jet_label[odd]
    assert ak.all((qcd == 0) | ((qcd == -1) & (a.jet_pt_true[odd] == 0)))  # 0 unless no hard-scatter gen jet
    assert ak.all((a.jet_label[~odd] == 1) | (a.jet_label[~odd] == -1))
    assert ak.sum(a.njet) > 0
