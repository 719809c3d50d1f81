"""Premixed pileup: the minimum-bias library, the overlay, reproducibility and the CLI's errors.

A library of 20 interactions is made once; the premixed files hold a few qg events. The
overlay is checked against a NumPy loop that re-implements the documented z shift.
"""

from __future__ import annotations

import concurrent.futures
import json
import multiprocessing
import os
import pathlib
import re

import awkward as ak
import numpy as np
import pytest
import uproot

from e2ejax import geometry
from e2ejax.cli import main
from e2ejax.io._write_events import PILEUP_LIBRARY_GROUPS, PILEUP_LIBRARY_TREE, read_pileup_library
from e2ejax.sim import premix, run
from e2ejax.sim.config import DetectorConfig
from e2ejax.sim.pileup_library import library_chunk, simulate_library

FORMAT = pathlib.Path(__file__).resolve().parents[2] / "docs" / "FORMAT.md"
CFG = DetectorConfig()
NO_NOISE = CFG._replace(eb_noise=0.0, ee_noise=0.0, hcal_noise=0.0)
NO_READOUT = NO_NOISE._replace(ecal_zs_sigmas=0.0, hcal_threshold=0.0)
LIBRARY_SEED, LIBRARY_ENTRIES = 3, 20
MU, EVENTS, SEED = 4.0, 4, 11
pytestmark = pytest.mark.filterwarnings("ignore::e2ejax.sim.run.PileupReuseWarning")


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    path = tmp_path_factory.mktemp("premix") / "library.root"
    simulate_library(events=LIBRARY_ENTRIES, seed=LIBRARY_SEED, output=str(path), progress=False)
    return path


def _simulate(path, library=None, *, mu=MU, seed=SEED, cfg=CFG, events=EVENTS, sample="qg", executor=None):
    run.simulate(sample, events=events, seed=seed, output=str(path), pileup=mu, cfg=cfg, progress=False,
                 pileup_library=None if library is None else str(library), executor=executor)
    with uproot.open(path) as f:
        return f["Events"].arrays(library="ak"), json.loads(str(f["e2ejax_info"]))


def _same(a, b):
    return a.fields == b.fields and all(ak.array_equal(a[k], b[k]) for k in a.fields)


def _entry(lib, group, k):
    lo, hi = lib.offsets[group][k], lib.offsets[group][k + 1]
    return {name: lib.columns[f"{group}_{name}"][lo:hi] for name, _ in PILEUP_LIBRARY_GROUPS[group]}


def test_library_round_trip(library):
    lib = read_pileup_library(str(library))
    assert lib.entries == LIBRARY_ENTRIES and lib.info["kind"] == "pileup_library"
    assert lib.info["entries"] == LIBRARY_ENTRIES and lib.info["seed"] == LIBRARY_SEED
    assert lib.info["detector"]["field"] == CFG.field
    records = library_chunk((LIBRARY_SEED, CFG, 0, LIBRARY_ENTRIES))  # the same chunk, recomputed here
    for group, fields in PILEUP_LIBRARY_GROUPS.items():
        for name, dtype in fields:
            stored = lib.columns[f"{group}_{name}"]
            assert stored.dtype == dtype
            np.testing.assert_array_equal(stored, np.concatenate([np.asarray(r[f"{group}_{name}"], dtype)
                                                                  for r in records]))
    assert np.all(lib.columns["ecal_energy"] > 0) and np.all(lib.columns["hcal_energy"] > 0)
    assert lib.columns["ecal_row"].max() < 280 and lib.columns["hcal_row"].max() < 56
    # below the zero-suppression thresholds: the library is stored before the readout
    assert np.mean(lib.columns["ecal_energy"] < CFG.ecal_zs_sigmas * CFG.eb_noise) > 0.3
    with uproot.open(library) as f:
        branches = set(f[PILEUP_LIBRARY_TREE].keys())
    documented = _documented(FORMAT.read_text().split("## Premixed pileup library", 1)[1].split("\n## ", 1)[0])
    assert branches == documented, branches ^ documented


def _documented(section):
    names = set()
    for line in section.splitlines():
        if line.startswith("| `"):
            names.update(re.findall(r"`([a-z0-9_]+)`", line.split("|")[1]))
    return names


def test_same_seed_same_file_other_seed_differs(library, tmp_path, monkeypatch):
    monkeypatch.setattr(run, "CHUNK_EVENTS", 2)  # two chunks: one per worker process below
    a, info_a = _simulate(tmp_path / "a.root", library)
    with concurrent.futures.ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
        b, info_b = _simulate(tmp_path / "b.root", library, executor=pool)
    c, _ = _simulate(tmp_path / "c.root", library, seed=SEED + 1)
    assert _same(a, b) and info_a == info_b
    assert not _same(a, c)
    record = info_a["pileup_library"]
    assert record["path"] == str(library) and record["entries"] == LIBRARY_ENTRIES and len(record["sha256"]) == 64
    assert info_a["pileup"] == MU and "minbias" not in info_a["processes"]
    doc = FORMAT.read_text().split("## Sparse hit layout", 1)[1].split("\n## ", 1)[0]
    assert {"npileup", "pileup_entry", "pileup_z"} <= _documented(doc)


def test_number_of_interactions_follows_the_poisson_mean(library, tmp_path):
    with pytest.warns(run.PileupReuseWarning, match="reused about 10.0 times"):
        ev, _ = _simulate(tmp_path / "p.root", library, mu=5.0, events=40)
    n = ak.to_numpy(ev.npileup)
    assert abs(n.mean() - 5.0) < 4 * np.sqrt(5.0 / len(n)), n.mean()
    assert n.var() > 0
    entries = ak.to_numpy(ak.flatten(ev.pileup_entry))
    assert entries.min() >= 0 and entries.max() < LIBRARY_ENTRIES
    z = ak.to_numpy(ak.flatten(ev.pileup_z))
    assert abs(z.std() / CFG.beamspot_sigma_z - 1) < 4 / np.sqrt(2 * len(z))
    rng = np.random.default_rng(0)
    counts = [len(premix.draw_pileup(rng, 30.0, 100, sigma_z=3.5)[0]) for _ in range(2000)]
    assert abs(np.mean(counts) - 30.0) < 4 * np.sqrt(30.0 / 2000) and abs(np.var(counts) / 30.0 - 1) < 0.15


def test_pileup_tracks_have_dz_shifted_by_their_vertex(library, tmp_path):
    lib = read_pileup_library(str(library))
    hard, _ = _simulate(tmp_path / "hard.root", mu=0.0)
    mixed, _ = _simulate(tmp_path / "mixed.root", library)
    for i in range(EVENTS):
        n_hard = len(hard.trk_dz[i])
        np.testing.assert_array_equal(mixed.trk_dz[i][:n_hard], hard.trk_dz[i])  # the hard scatter is untouched
        entries, zs = ak.to_numpy(mixed.pileup_entry[i]), ak.to_numpy(mixed.pileup_z[i])
        stored = [_entry(lib, "trk", k) for k in entries]
        dz_lib = np.concatenate([s["dz"] for s in stored] + [np.zeros(0)])
        z_of = np.concatenate([np.full(len(s["dz"]), z) for s, z in zip(stored, zs)] + [np.zeros(0)])
        shift = ak.to_numpy(mixed.trk_dz[i][n_hard:]) - dz_lib - z_of  # = -z of the primary vertex, for all
        assert len(shift) == len(dz_lib) > 0
        assert np.ptp(shift) < 2e-3 * (1 + np.abs(shift).max()), shift
    # the same through the overlay, with a known primary vertex
    a, b = np.argsort(np.diff(lib.offsets["trk"]))[-2:]  # the two entries with most tracks
    out = premix.overlay(lib, np.array([a, b]), np.array([4.0, -6.0]), vertex_z=1.5, cfg=CFG)
    expected = np.concatenate([_entry(lib, "trk", a)["dz"] + 2.5, _entry(lib, "trk", b)["dz"] - 7.5])
    assert len(expected) > 0
    np.testing.assert_allclose(out.tracks.dz, expected, atol=1e-5)
    np.testing.assert_array_equal(out.tracks.d0, np.concatenate([_entry(lib, "trk", k)["d0"] for k in (a, b)]))


def _shifted_row(eta_centre, z, *, barrel, radius, end_z, edges):
    s = np.sinh(eta_centre)
    s = s + z / radius if barrel else s * end_z / (end_z - np.sign(s) * z)
    row = np.searchsorted(edges, np.arcsinh(s), side="right") - 1
    return row if 0 <= row < len(edges) - 1 else None


def _reference_overlay(lib, entries, zs, cfg):
    """NumPy loop over the stored cells: ``[280, 360]`` ECAL and ``[56, 72]`` HCAL deposits."""
    ecal, hcal = np.zeros(geometry.ECAL.shape), np.zeros(geometry.HBHE.shape)
    e_edges, h_edges = geometry.ECAL.eta_edges, geometry.HBHE.eta_edges
    wide = lambda row: (28 - row if row < 28 else row - 27) > 20  # noqa: E731  (HBHE row -> |ieta| > 20)
    hb_eta = np.arcsinh(cfg.hcal_barrel_half_length / cfg.hcal_radius)
    for k, z in zip(entries, zs):
        cells = _entry(lib, "ecal", k)
        for row, col, e in zip(cells["row"], cells["col"], cells["energy"]):
            centre = 0.5 * (e_edges[row] + e_edges[row + 1])
            new = _shifted_row(centre, z, barrel=55 <= row < 225, radius=cfg.ecal_radius, end_z=cfg.ecal_endcap_z,
                               edges=e_edges)
            if new is not None:
                ecal[new, col] += e
        cells = _entry(lib, "hcal", k)
        for row, col, e in zip(cells["row"], cells["col"], cells["energy"]):
            centre = 0.5 * (h_edges[row] + h_edges[row + 1])
            new = _shifted_row(centre, z, barrel=abs(centre) < hb_eta, radius=cfg.hcal_radius,
                               end_z=cfg.hcal_endcap_z, edges=h_edges)
            if new is None:
                continue
            if wide(new):
                hcal[new, col - col % 2] += e
            elif wide(row):
                hcal[new, col] += e / 2
                hcal[new, col + 1] += e / 2
            else:
                hcal[new, col] += e
    return ecal, hcal


def _dense(ev, i):
    """ECAL ``[280, 360]`` and HCAL ``[56, 72]`` images of the hits of event ``i``."""
    ecal, hcal = np.zeros(geometry.ECAL.shape), np.zeros(geometry.HBHE.shape)
    r, c = geometry.eb_index_to_cell(ak.to_numpy(ev.eb_ieta[i]), ak.to_numpy(ev.eb_iphi[i]))
    np.add.at(ecal, (r + geometry.EB_ROW_OFFSET, c), ak.to_numpy(ev.eb_energy[i]))
    r, c = geometry.eta_phi_to_cell(ak.to_numpy(ev.ee_eta[i]), ak.to_numpy(ev.ee_phi[i]), "ECAL")
    np.add.at(ecal, (r, c), ak.to_numpy(ev.ee_energy[i]))
    r, c = geometry.hbhe_index_to_cell(ak.to_numpy(ev.hbhe_ieta[i]), ak.to_numpy(ev.hbhe_iphi[i]))
    np.add.at(hcal, (r, c), ak.to_numpy(ev.hbhe_energy[i]))
    return ecal, hcal


def _thresholds(cfg):
    rows = np.arange(geometry.ECAL.shape[0])
    eb = (rows >= geometry.EB_ROW_OFFSET) & (rows < geometry.EEP_ROW_OFFSET)
    return np.where(eb, cfg.ecal_zs_sigmas * cfg.eb_noise, cfg.ecal_zs_sigmas * cfg.ee_noise)[:, None], cfg.hcal_threshold


def test_deposits_are_summed_before_one_readout(library, tmp_path):
    lib = read_pileup_library(str(library))
    hard, _ = _simulate(tmp_path / "hard.root", mu=0.0, cfg=NO_READOUT)  # every hard deposit, no noise
    quiet, _ = _simulate(tmp_path / "quiet.root", library, cfg=NO_NOISE)  # no noise: ECAL threshold 0, HCAL 0.8 GeV
    noisy, _ = _simulate(tmp_path / "noisy.root", library)  # default readout
    ecal_thr, hcal_thr = _thresholds(NO_NOISE)
    assert hcal_thr > 0
    residuals, noise_only = [], []
    for i in range(EVENTS):
        entries, zs = ak.to_numpy(quiet.pileup_entry[i]), ak.to_numpy(quiet.pileup_z[i])
        np.testing.assert_array_equal(entries, ak.to_numpy(noisy.pileup_entry[i]))
        ref_e, ref_h = _reference_overlay(lib, entries, zs, CFG)
        hard_e, hard_h = _dense(hard, i)
        for total, thr, got in ((hard_e + ref_e, ecal_thr, _dense(quiet, i)[0]),
                                (hard_h + ref_h, hcal_thr, _dense(quiet, i)[1])):
            clear = np.abs(total - thr) > 1e-3 * np.maximum(thr, 1e-3)  # away from the threshold (rounded floats)
            expected = np.where(total > thr, total, 0.0)
            np.testing.assert_allclose(got[clear], expected[clear], rtol=5e-4, atol=1e-6)
        got_e = _dense(noisy, i)[0]
        total = hard_e + ref_e
        eb = np.zeros_like(total, bool)
        eb[geometry.EB_ROW_OFFSET:geometry.EEP_ROW_OFFSET] = True
        big = eb & (total > 1.0)
        residuals.append((got_e - total)[big])
        noise_only.append(int(np.sum((got_e > 0) & (total == 0))))
    residuals = np.concatenate(residuals)
    # one noise draw per cell: the spread is the crystal noise, not sqrt(1 + n_pileup) times it
    assert abs(residuals.std() / CFG.eb_noise - 1) < 0.25, residuals.std()
    # cells without any deposit fire at the Gaussian tail rate of one noise draw (a few per event)
    assert np.mean(noise_only) < 20, noise_only


def test_mu_zero_with_a_library_is_the_file_without_one(library, tmp_path, capsys):
    base = ["simulate", "qg", "--events", "3", "--seed", "5", "--pileup", "0", "-q"]
    assert main(base + ["-o", str(tmp_path / "plain.root")]) == 0
    assert main(base + ["--pileup-library", str(library), "-o", str(tmp_path / "lib.root")]) == 0
    with uproot.open(tmp_path / "plain.root") as f, uproot.open(tmp_path / "lib.root") as g:
        a, b = f["Events"].arrays(library="ak"), g["Events"].arrays(library="ak")
        info_a, info_b = json.loads(str(f["e2ejax_info"])), json.loads(str(g["e2ejax_info"]))
    assert _same(a, b) and "npileup" not in b.fields
    assert info_a.pop("command").replace("plain.root", "lib.root") == info_b.pop("command")
    assert info_a == info_b


@pytest.fixture(scope="module")
def other_detector_library(tmp_path_factory):
    path = tmp_path_factory.mktemp("other") / "other.root"
    simulate_library(events=3, seed=1, output=str(path), cfg=CFG._replace(field=3.0), progress=False)
    return path


@pytest.mark.parametrize("case, expected", [
    ("missing", "found no file at"),
    ("directory", "found a directory at"),
    ("text", "found a file that cannot be read as one"),
    ("events", "found an e2ejax event file (sample 'qg')"),
    ("other_detector", "found {path!r} made with other settings: field (library 3.0, here 3.8)"),
])
def test_bad_library_errors(case, expected, tmp_path, capsys, library, other_detector_library):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    paths = {"missing": inputs / "none.root", "directory": inputs, "text": inputs / "notes.root",
             "events": inputs / "events.root", "other_detector": other_detector_library}
    (inputs / "notes.root").write_text("not a ROOT file\n")
    if case == "events":
        run.simulate("qg", events=1, seed=1, output=str(paths["events"]), progress=False)
    out = tmp_path / "out"
    out.mkdir()
    argv = ["simulate", "qg", "--events", "2", "--pileup", "5", "--pileup-library", str(paths[case]), "-q",
            "-o", str(out / "x.root")]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("e2ejax simulate: error: pileup library: expected")
    assert expected.format(path=str(paths[case])) in err and "fix:" in err, err
    assert os.listdir(out) == []


def test_library_command_line(tmp_path, capsys):
    out = tmp_path / "lib.root"
    assert main(["simulate", "minbias", "--events", "3", "--seed", "2", "-q", "-o", str(out)]) == 0
    assert "wrote 3 minimum-bias interactions (a pileup library)" in capsys.readouterr().out
    lib = read_pileup_library(str(out))
    assert lib.entries == 3 and lib.info["command"].startswith("e2ejax simulate minbias --events 3 --seed 2")
    assert main(["simulate", "minbias", "--events", "3", "--pileup", "2", "-o", str(tmp_path / "y.root")]) == 2
    assert "--pileup: expected 0 for minbias" in capsys.readouterr().err
    assert os.listdir(tmp_path) == ["lib.root"]
