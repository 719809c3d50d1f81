"""Physics sanity figures of the simulated samples (not a test; prints a table).

For the qg sample: mean constituent multiplicity and girth of quark and gluon jets
and their ratios; for egamma: photon conversion rate and electron-track match rate;
for every sample: the ROC AUC of a one-variable baseline (± its Hanley-McNeil standard error). With ``--throughput N``
it also measures generation speed per core: ``N`` events per sample on one worker,
after a warm-up run, so start-up costs are excluded.

Usage:
    python benchmarks/sim_sanity.py [--data e2ejax/data] [--throughput 200]
"""

from __future__ import annotations

import argparse
import os
import pathlib
import tempfile
import time

import awkward as ak
import numpy as np
import uproot
from sklearn.metrics import roc_auc_score

from e2ejax import geometry
from e2ejax.metrics import auc_standard_error
from e2ejax.sim.material import conversion_probability

DATA = pathlib.Path(__file__).resolve().parents[1] / "e2ejax" / "data"
FILES = {s: f"sim_{s}.root" for s in ("qg", "egamma", "top", "tau")}


def _read(path):
    with uproot.open(path) as f:
        return f["Events"].arrays(library="ak")


def _dphi(a, b):
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def jet_table(ev) -> dict:
    """Per-jet flat numpy arrays: label, pt, mass, multiplicity, charged multiplicity, girth."""
    flat = lambda x: ak.to_numpy(ak.flatten(x))  # noqa: E731
    njet = ak.to_numpy(ev.njet)
    offsets = np.r_[0, np.cumsum(njet)[:-1]]
    pf_event = np.repeat(np.arange(len(ev)), ak.to_numpy(ev.npf))
    pf_jet = flat(ev.pf_jet)
    inside = pf_jet >= 0
    owner = (offsets[pf_event] + pf_jet)[inside]
    jet_pt, jet_eta, jet_phi = flat(ev.jet_pt), flat(ev.jet_eta), flat(ev.jet_phi)
    pt, eta, phi, kind = (flat(x)[inside] for x in (ev.pf_pt, ev.pf_eta, ev.pf_phi, ev.pf_type))
    dr = np.hypot(eta - jet_eta[owner], _dphi(phi, jet_phi[owner]))
    count = lambda w=None: np.bincount(owner, weights=w, minlength=len(jet_pt))  # noqa: E731
    return {
        "label": flat(ev.jet_label),
        "pt": jet_pt,
        "mass": flat(ev.jet_mass),
        "n": count(),
        "n_charged": count((kind <= 2).astype(float)),
        "girth": count(pt * dr) / jet_pt,
    }


def auc(signal, background) -> str:
    """ROC AUC of a score (larger = more signal-like) with its Hanley-McNeil standard error, as ``"A ± E"``."""
    y = np.r_[np.ones(len(signal)), np.zeros(len(background))]
    a = float(roc_auc_score(y, np.r_[signal, background]))
    return f"{a:.3f} ± {auc_standard_error(a, len(signal), len(background)):.3f}"


def qg_figures(ev):
    t = jet_table(ev)
    q, g = t["label"] == 0, t["label"] == 1
    out = {"jets quark / gluon / unknown": f"{q.sum()} / {g.sum()} / {(t['label'] == -1).sum()}"}
    for key in ("n", "n_charged", "girth"):
        mq, mg = t[key][q].mean(), t[key][g].mean()
        out[f"mean {key}: quark / gluon (ratio g/q)"] = f"{mq:.3f} / {mg:.3f} ({mg / mq:.2f})"
        out[f"AUC gluon vs quark, {key}"] = auc(t[key][g], t[key][q])
    return out


def _ecal_window(ev, i, row, col, half_rows, half_cols):
    img = np.zeros((2 * half_rows + 1, 2 * half_cols + 1))
    r, c = geometry.eb_index_to_cell(np.asarray(ev.eb_ieta[i]), np.asarray(ev.eb_iphi[i]))
    dr, dc = r + geometry.EB_ROW_OFFSET - row, (c - col + 180) % 360 - 180
    inside = (np.abs(dr) <= half_rows) & (np.abs(dc) <= half_cols)
    np.add.at(img, (dr[inside] + half_rows, dc[inside] + half_cols), np.asarray(ev.eb_energy[i])[inside])
    return img


def egamma_figures(ev):
    label = ak.to_numpy(ak.flatten(ev.eg_label))
    conv = ak.to_numpy(ak.flatten(ev.eg_converted))
    rows = ak.to_numpy(ak.flatten(ev.eg_seed_row))
    cols = ak.to_numpy(ak.flatten(ev.eg_seed_col))
    eg_pt = ak.to_numpy(ak.flatten(ev.eg_pt))
    width, matched = [], []
    for i, (row, col, pt) in enumerate(zip(rows, cols, eg_pt)):
        img = _ecal_window(ev, i, row, col, 2, 10)
        w = img.sum(axis=0)
        k = np.arange(-10, 11)
        mean = (w * k).sum() / max(w.sum(), 1e-9)
        width.append(np.sqrt(max((w * (k - mean) ** 2).sum() / max(w.sum(), 1e-9), 0.0)))
        eta_c, phi_c = geometry.cell_centre(row, col, "ECAL")
        trk_eta, trk_phi, trk_pt = (np.asarray(x[i]) for x in (ev.trk_eta, ev.trk_phi, ev.trk_pt))
        close = np.hypot(trk_eta - eta_c, _dphi(trk_phi, phi_c)) < 0.05
        matched.append(bool(np.any(close & (trk_pt > 0.2 * pt))))
    width, matched = np.array(width), np.array(matched)
    e, g = label == 1, label == 0
    eta = ak.to_numpy(ak.flatten(ev.eg_eta))
    expected = conversion_probability(eta[g]).mean()
    unconverted = g & (conv == 0)
    return {
        "candidates electron / photon": f"{e.sum()} / {g.sum()}",
        "photon conversion rate (expected from the material)": f"{conv[g].mean():.3f} ({expected:.3f})",
        "electron-track match rate (dR < 0.05, pT > 0.2 pT_e)": f"{matched[e].mean():.3f}",
        "photon with such a track (conversions)": f"{matched[g].mean():.3f}",
        "mean phi width (crystals) electron / photon": f"{width[e].mean():.2f} / {width[g].mean():.2f}",
        "AUC electron vs photon, phi width": auc(width[e], width[g]),
        "AUC electron vs unconverted photon, phi width": auc(width[e], width[unconverted]),
        "AUC electron vs photon, matched track": auc(matched[e].astype(float), matched[g].astype(float)),
    }


def tagging_figures(ev, name):
    t = jet_table(ev)
    s, b = t["label"] == 1, t["label"] == 0
    out = {"jets signal / background / unknown": f"{s.sum()} / {b.sum()} / {(t['label'] == -1).sum()}"}
    out["mean mass signal / background"] = f"{t['mass'][s].mean():.1f} / {t['mass'][b].mean():.1f}"
    if name == "top":
        out["AUC top vs QCD, jet mass"] = auc(t["mass"][s], t["mass"][b])
        window = np.abs(t["mass"] - 172.5)
        out["AUC top vs QCD, -|m - 172.5|"] = auc(-window[s], -window[b])
    else:
        out["AUC tau vs QCD, -jet mass"] = auc(-t["mass"][s], -t["mass"][b])
        out["mean charged multiplicity signal / background"] = (
            f"{t['n_charged'][s].mean():.2f} / {t['n_charged'][b].mean():.2f}")
        out["AUC tau vs QCD, -charged multiplicity"] = auc(-t["n_charged"][s], -t["n_charged"][b])
        out["AUC tau vs QCD, -girth"] = auc(-t["girth"][s], -t["girth"][b])
    return out


def throughput(events: int) -> dict:
    """Events per second on one worker, excluding start-up (difference of two runs)."""
    from e2ejax.sim import simulate

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sample in FILES:
            times = []
            for n in (events // 4, events + events // 4):
                start = time.perf_counter()
                simulate(sample, events=n, seed=99, output=os.path.join(tmp, f"{sample}.root"), progress=False)
                times.append(time.perf_counter() - start)
            out[f"{sample}: events/s per core"] = f"{events / (times[1] - times[0]):.1f}"
    return out


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(DATA), help="directory with sim_{qg,egamma,top,tau}.root")
    parser.add_argument("--throughput", type=int, default=0, metavar="N", help="also time N events per sample")
    args = parser.parse_args(argv)
    sections = {
        "qg": qg_figures,
        "egamma": egamma_figures,
        "top": lambda ev: tagging_figures(ev, "top"),
        "tau": lambda ev: tagging_figures(ev, "tau"),
    }
    for sample, fn in sections.items():
        path = pathlib.Path(args.data) / FILES[sample]
        if not path.exists():
            print(f"[{sample}] {path} missing")
            continue
        ev = _read(path)
        print(f"[{sample}] {len(ev)} events from {path.name}")
        for key, value in fn(ev).items():
            print(f"  {key:58s} {value}")
    if args.throughput:
        print("[throughput]")
        for key, value in throughput(args.throughput).items():
            print(f"  {key:58s} {value}")


if __name__ == "__main__":
    main()
