"""Pythia8 event generation: process settings, final-state tables and generator truth.

Pythia is imported lazily (:func:`e2ejax.errors.require`) so that the rest of
e2ejax works without the ``sim`` extra.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from e2ejax.errors import require
from e2ejax.sim.particles import Particles

__all__ = ["COMMON_SETTINGS", "PROCESSES", "Truth", "make_pythia", "reseed", "next_event", "final_state",
           "hard_partons", "hadronic_tops", "hadronic_taus"]

#: Settings shared by every process: 13 TeV pp, quiet, CMS-like decays (particles with
#: c tau > 10 mm, e.g. K0S and Lambda, are left to the detector).
COMMON_SETTINGS = (
    "Beams:eCM = 13000.",
    "Next:numberCount = 0",
    "Next:numberShowEvent = 0",
    "Next:numberShowInfo = 0",
    "Next:numberShowProcess = 0",
    "Print:quiet = on",
    "ParticleDecays:limitTau0 = on",
    "ParticleDecays:tau0Max = 10.",
    "Random:setSeed = on",
)

#: Process name -> Pythia settings.
PROCESSES = {
    "qcd_qg": ("HardQCD:all = on", "PhaseSpace:pTHatMin = 80.", "PhaseSpace:pTHatMax = 220."),
    "ttbar": ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on", "PhaseSpace:pTHatMin = 400.",
              "24:onMode = off", "24:onIfAny = 1 2 3 4 5"),
    "qcd_top": ("HardQCD:all = on", "PhaseSpace:pTHatMin = 400."),
    "ztautau": ("WeakSingleBoson:ffbar2gmZ = on", "23:onMode = off", "23:onIfAny = 15",
                "PhaseSpace:mHatMin = 60."),
    "qcd_tau": ("HardQCD:all = on", "PhaseSpace:pTHatMin = 20."),
    "minbias": ("SoftQCD:nonDiffractive = on",),
}


class Truth(NamedTuple):
    """Generator-level objects used for labels; each a float64 ``[K, 3]`` array of (pt, eta, phi).

    Attributes:
        partons: outgoing partons of the hard 2 -> 2 process.
        parton_ids: int ``[K]`` PDG ids of ``partons``.
        tops: hadronically decaying top quarks.
        top_quarks: float64 ``[K_top, 3, 3]``: (pt, eta, phi) of the b and the two W daughters.
        taus: visible part of hadronically decaying taus.
    """

    partons: np.ndarray
    parton_ids: np.ndarray
    tops: np.ndarray
    top_quarks: np.ndarray
    taus: np.ndarray


def make_pythia(process: str, *, seed: int):
    """An initialised ``pythia8mc.Pythia`` for ``process`` (a key of :data:`PROCESSES`)."""
    pythia8mc = require("pythia8mc", "sim")
    pythia = pythia8mc.Pythia("", False)
    for line in COMMON_SETTINGS + PROCESSES[process] + (f"Random:seed = {int(seed)}",):
        if not pythia.readString(line):
            raise RuntimeError(f"Pythia rejected the setting {line!r}")
    if not pythia.init():
        raise RuntimeError(f"Pythia failed to initialise process {process!r}")
    return pythia


def reseed(pythia, seed: int) -> None:
    """Restart Pythia's random generator; the following events depend only on ``seed``."""
    pythia.rndm.init(int(seed))


def next_event(pythia) -> None:
    """Generate the next event, retrying on (rare) Pythia failures."""
    for _ in range(100):
        if pythia.next():
            return
    raise RuntimeError("Pythia failed to generate an event 100 times in a row")


def final_state(event, *, vertex_z: float, hard: bool) -> Particles:
    """Final-state particles of a Pythia event record, vertices in cm shifted by ``vertex_z``."""
    rows = [
        (q.id(), q.charge(), q.px(), q.py(), q.pz(), q.e(), q.xProd(), q.yProd(), q.zProd())
        for q in event
        if q.isFinal()
    ]
    a = np.array(rows, np.float64).reshape(-1, 9)
    return Particles.from_columns(
        a[:, 0].astype(np.int32), a[:, 2], a[:, 3], a[:, 4], a[:, 5],
        a[:, 6] * 0.1, a[:, 7] * 0.1, a[:, 8] * 0.1 + vertex_z, hard=hard, charge=a[:, 1],
    )


def _kin(q):
    return (q.pT(), q.eta() if q.pT() > 0 else 0.0, q.phi())


def hard_partons(pythia):
    """Outgoing partons of the hard process: ``(kinematics [K, 3], ids [K])``."""
    proc = pythia.process
    out = [(_kin(proc[i]), proc[i].id()) for i in range(proc.size()) if proc[i].status() == 23]
    kin = np.array([k for k, _ in out], np.float64).reshape(-1, 3)
    return kin, np.array([i for _, i in out], np.int64)


def _last_copy(event, i):
    return event[i].iBotCopyId()


def hadronic_tops(event):
    """Top quarks whose W decays to quarks: ``(tops [K, 3], quarks [K, 3, 3])`` (b, q, q')."""
    tops, quarks = [], []
    for i in range(event.size()):
        q = event[i]
        if q.idAbs() != 6 or _last_copy(event, i) != i:
            continue
        daughters = [event[d] for d in q.daughterList()]
        b = [d for d in daughters if d.idAbs() == 5]
        w = [d for d in daughters if d.idAbs() == 24]
        if not b or not w:
            continue
        w_last = event[_last_copy(event, w[0].index())]
        wq = [event[d] for d in w_last.daughterList() if 1 <= event[d].idAbs() <= 5]
        if len(wq) != 2:
            continue
        tops.append(_kin(q))
        quarks.append([_kin(b[0]), _kin(wq[0]), _kin(wq[1])])
    return np.array(tops, np.float64).reshape(-1, 3), np.array(quarks, np.float64).reshape(-1, 3, 3)


def hadronic_taus(event):
    """Visible (pt, eta, phi) of taus decaying to hadrons (no e or mu among the daughters): ``[K, 3]``."""
    out = []
    for i in range(event.size()):
        q = event[i]
        if q.idAbs() != 15 or _last_copy(event, i) != i:
            continue
        daughters = [event[d] for d in q.daughterList()]
        if any(d.idAbs() in (11, 13) for d in daughters):
            continue
        vis = [d for d in daughters if d.idAbs() not in (12, 14, 16)]
        px, py, pz = (sum(f(d) for d in vis) for f in (lambda d: d.px(), lambda d: d.py(), lambda d: d.pz()))
        pt = float(np.hypot(px, py))
        if pt <= 0:
            continue
        out.append((pt, float(np.arcsinh(pz / pt)), float(np.arctan2(py, px))))
    return np.array(out, np.float64).reshape(-1, 3)
