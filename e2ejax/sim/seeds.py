"""Seed finding for a chunk of simulated events with :mod:`e2ejax.ops` (jet and e/gamma seeds)."""

from __future__ import annotations

import functools

import numpy as np

from e2ejax.io import bucket

__all__ = ["add_seeds"]


def _pad(records, key, size, dtype, fill=0):
    out = np.full((bucket(len(records), minimum=1), size), fill, dtype)
    for i, r in enumerate(records):
        v = np.asarray(r[key])
        out[i, : len(v)] = v
    return out


def _mask(records, key, size):
    out = np.zeros((bucket(len(records), minimum=1), size), bool)
    for i, r in enumerate(records):
        out[i, : len(r[key])] = True
    return out


def _size(records, key):
    return bucket(max([len(r[key]) for r in records] + [1]), minimum=1)


@functools.cache
def _compiled():
    """Jitted seed finders on the same images as the reader (:mod:`e2ejax.inputs.images`), built on
    first use: the simulation's worker processes start without JAX (never fork a process that
    imported it) and only the writing process imports it."""
    import jax

    from e2ejax import inputs, ops

    def jets(events, axes, axes_mask):
        return ops.jet_seeds(inputs.hcal_towers(events), axes, axes_mask, window=7)[0]

    def egamma(events, centres, centres_mask):
        return ops.egamma_seeds(inputs.ecal_image(events), centres, centres_mask, window=5)[0]

    return jax.jit(jets), jax.jit(egamma)


def _jet_seeds(records):
    n_hits, n_jets = _size(records, "hbhe_energy"), _size(records, "jet_pt")
    axes = np.stack([_pad(records, "_jet_axis_row", n_jets, np.int32),
                     _pad(records, "_jet_axis_col", n_jets, np.int32)], -1)
    events = {
        "hbhe_ieta": _pad(records, "hbhe_ieta", n_hits, np.int32, 1),
        "hbhe_iphi": _pad(records, "hbhe_iphi", n_hits, np.int32, 1),
        "hbhe_energy": _pad(records, "hbhe_energy", n_hits, np.float32),
        "hbhe_mask": _mask(records, "hbhe_energy", n_hits),
    }
    seeds = _compiled()[0](events, axes, _mask(records, "jet_pt", n_jets))
    return np.asarray(seeds)


def _egamma_seeds(records):
    n_eb, n_ee, n_eg = _size(records, "eb_energy"), _size(records, "ee_energy"), _size(records, "eg_pt")
    centres = np.stack([_pad(records, "_eg_centre_row", n_eg, np.int32),
                        _pad(records, "_eg_centre_col", n_eg, np.int32)], -1)
    events = {
        "eb_ieta": _pad(records, "eb_ieta", n_eb, np.int32, 1),
        "eb_iphi": _pad(records, "eb_iphi", n_eb, np.int32, 1),
        "eb_energy": _pad(records, "eb_energy", n_eb, np.float32),
        "eb_mask": _mask(records, "eb_energy", n_eb),
        **{k: _pad(records, k, n_ee, np.float32) for k in ("ee_eta", "ee_phi", "ee_energy")},
        "ee_mask": _mask(records, "ee_energy", n_ee),
    }
    seeds = _compiled()[1](events, centres, _mask(records, "eg_pt", n_eg))
    return np.asarray(seeds)


def add_seeds(records: list[dict]) -> None:
    """Fill ``jet_seed_row/col`` and ``eg_seed_row/col`` of each event record in place.

    Jet seeds come from :func:`e2ejax.ops.jet_seeds` on the HBHE tower image around
    each jet axis (7 x 7 towers); e/gamma seeds from :func:`e2ejax.ops.egamma_seeds`
    (5 x 5 crystals) around the impact point of the generated e/gamma on ECAL.
    Padding (batch, hits, seeds) goes to powers of two to bound recompilations.

    Args:
        records: event dicts from :func:`e2ejax.sim.samples.make_event`.
    """
    has_jets = any(len(r["jet_pt"]) for r in records)
    has_eg = any(len(r["eg_pt"]) for r in records)
    jet = _jet_seeds(records) if has_jets else None
    eg = _egamma_seeds(records) if has_eg else None
    for i, r in enumerate(records):
        nj, ne = len(r["jet_pt"]), len(r["eg_pt"])
        r["jet_seed_row"] = (jet[i, :nj, 0] if nj else np.zeros(0)).astype(np.int32)
        r["jet_seed_col"] = (jet[i, :nj, 1] if nj else np.zeros(0)).astype(np.int32)
        r["eg_seed_row"] = (eg[i, :ne, 0] if ne else np.zeros(0)).astype(np.int32)
        r["eg_seed_col"] = (eg[i, :ne, 1] if ne else np.zeros(0)).astype(np.int32)
