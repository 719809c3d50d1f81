"""Tiny sparse-layout ROOT files (docs/FORMAT.md) written by the tests themselves."""

from __future__ import annotations

import awkward as ak
import numpy as np
import pytest
import uproot

from e2ejax.io import GROUPS


def _signed(rng, n, top):
    return (rng.integers(1, top + 1, n) * rng.choice([-1, 1], n)).astype(np.int32)


def _group_values(rng, group, n):
    u = lambda lo, hi: rng.uniform(lo, hi, n).astype(np.float32)  # noqa: E731
    phi = u(-np.pi, np.pi)
    if group == "eb":
        return {"ieta": _signed(rng, n, 85), "iphi": rng.integers(1, 361, n).astype(np.int32), "energy": u(0.1, 50)}
    if group == "ee":
        return {"eta": u(1.5, 2.95) * rng.choice([-1, 1], n).astype(np.float32), "phi": phi, "energy": u(0.1, 50)}
    if group == "hbhe":
        ieta = _signed(rng, n, 29)
        iphi = rng.integers(1, 73, n).astype(np.int32)
        iphi = np.where(np.abs(ieta) > 20, iphi - (iphi + 1) % 2, iphi).astype(np.int32)
        return {"ieta": ieta, "iphi": iphi, "energy": u(0.1, 80)}
    if group == "trk":
        return {"pt": u(0.5, 100), "eta": u(-2.9, 2.9), "phi": phi, "d0": u(-0.2, 0.2), "dz": u(-5, 5),
                "charge": rng.choice([-1, 1], n).astype(np.int32)}
    if group == "bpix":
        return {"layer": rng.integers(1, 4, n).astype(np.int32), "eta": u(-2.5, 2.5), "phi": phi}
    if group == "pf":
        ptype = rng.integers(0, 5, n).astype(np.int32)
        charged = ptype <= 2
        return {"pt": u(0.5, 100), "eta": u(-2.5, 2.5), "phi": phi, "type": ptype,
                "jet": rng.integers(-1, 3, n).astype(np.int32),
                "charge": np.where(charged, rng.choice([-1, 1], n), 0).astype(np.int32),
                "d0": np.where(charged, u(-0.2, 0.2), 0).astype(np.float32), "dz": np.where(charged, u(-5, 5), 0).astype(np.float32)}
    seeds = {"seed_row": (rng.integers(0, 56, n) * 5 + 2).astype(np.int32),
             "seed_col": (rng.integers(0, 72, n) * 5 + 2).astype(np.int32)}
    if group == "jet":
        return {"pt": u(35, 500), "eta": u(-2.4, 2.4), "phi": phi, "mass": u(1, 200), "pt_true": u(30, 500),
                "label": rng.integers(0, 2, n).astype(np.int32), **seeds}
    return {"pt": u(10, 100), "eta": u(-1.4, 1.4), "phi": phi, "label": rng.integers(0, 2, n).astype(np.int32),
            "converted": rng.integers(0, 2, n).astype(np.int32), **seeds}


#: largest random hit count per group in the fixtures.
MAX_COUNTS = {"eb": 40, "ee": 20, "hbhe": 30, "trk": 25, "bpix": 30, "pf": 20, "jet": 4, "eg": 2}


def make_events(n_events: int, *, seed: int = 0, counts=None) -> dict:
    """Random events: ``{"event": int64 [E], group: jagged record array}`` following docs/FORMAT.md."""
    rng = np.random.default_rng(seed)
    counts = counts or {}
    out = {"event": (seed * 10**7 + np.arange(n_events)).astype(np.int64)}
    for g, fields in GROUPS.items():
        n = counts.get(g)
        n = rng.integers(0, MAX_COUNTS[g] + 1, n_events) if n is None else np.broadcast_to(n, (n_events,))
        values = _group_values(rng, g, int(np.sum(n)))
        out[g] = ak.zip({f: ak.unflatten(values[f], n) for f in fields})
    return out


def write_sparse(path, n_events: int, *, seed: int = 0, tree: str = "Events", counts=None, chunk: int = 1000) -> dict:
    """Write a sparse-layout file of random events; returns the arrays written."""
    events = make_events(n_events, seed=seed, counts=counts)
    with uproot.recreate(path, compression=uproot.LZ4(1)) as f:
        types = {k: (v.dtype if isinstance(v, np.ndarray) else v.type.content) for k, v in events.items()}
        t = f.mktree(tree, types)
        for start in range(0, n_events, chunk):
            t.extend({k: v[start:start + chunk] for k, v in events.items()})
        f["e2ejax_info"] = '{"sample": "test"}'
    return events


@pytest.fixture
def sparse_file(tmp_path):
    path = str(tmp_path / "events.root")
    events = write_sparse(path, 13, seed=3)
    return path, events

