"""Seed finding for a chunk of simulated events with :mod:`e2ejax.ops` (jet and e/gamma seeds)."""

from __future__ import annotations

import functools

import numpy as np

from e2ejax import geometry

__all__ = ["add_seeds"]


def _bucket(n: int) -> int:
    return 1 << max(int(n) - 1, 0).bit_length()


def _pad(records, key, size, dtype, fill=0):
    out = np.full((_bucket(len(records)), size), fill, dtype)
    for i, r in enumerate(records):
        v = np.asarray(r[key])
        out[i, : len(v)] = v
    return out


def _mask(records, key, size):
    out = np.zeros((_bucket(len(records)), size), bool)
    for i, r in enumerate(records):
        out[i, : len(r[key])] = True
    return out


def _size(records, key):
    return _bucket(max([len(r[key]) for r in records] + [1]))


@functools.cache
def _compiled():
    """Jitted seed finders (built on first use so that importing this module does not import JAX)."""
    import jax

    from e2ejax import ops

    def jets(ieta, iphi, energy, mask, axes, axes_mask):
        hbhe = ops.hbhe_towers(ieta, iphi, energy, mask)
        return ops.jet_seeds(hbhe, axes, axes_mask, window=7)[0]

    def egamma(eb_row, eb_col, eb_energy, eb_mask, ee_eta, ee_phi, ee_energy, ee_mask, centres, centres_mask):
        eb = ops.hits_to_image(eb_row, eb_col, eb_energy, eb_mask, shape=geometry.EB.shape)
        minus = ops.endcap_hits_to_image(ee_eta, ee_phi, ee_energy, ee_mask, side="minus")
        plus = ops.endcap_hits_to_image(ee_eta, ee_phi, ee_energy, ee_mask, side="plus")
        ecal = ops.stitch_ecal(minus, eb, plus)
        return ops.egamma_seeds(ecal, centres, centres_mask, window=5)[0]

    return jax.jit(jets), jax.jit(egamma)


def _jet_seeds(records):
    n_hits, n_jets = _size(records, "hbhe_energy"), _size(records, "jet_pt")
    axes = np.stack([_pad(records, "_jet_axis_row", n_jets, np.int32),
                     _pad(records, "_jet_axis_col", n_jets, np.int32)], -1)
    seeds = _compiled()[0](
        _pad(records, "hbhe_ieta", n_hits, np.int32, 1),
        _pad(records, "hbhe_iphi", n_hits, np.int32, 1),
        _pad(records, "hbhe_energy", n_hits, np.float32),
        _mask(records, "hbhe_energy", n_hits),
        axes,
        _mask(records, "jet_pt", n_jets),
    )
    return np.asarray(seeds)


def _egamma_seeds(records):
    n_eb, n_ee, n_eg = _size(records, "eb_energy"), _size(records, "ee_energy"), _size(records, "eg_pt")
    row, col = geometry.eb_index_to_cell(_pad(records, "eb_ieta", n_eb, np.int32, 1),
                                         _pad(records, "eb_iphi", n_eb, np.int32, 1))
    centres = np.stack([_pad(records, "_eg_centre_row", n_eg, np.int32),
                        _pad(records, "_eg_centre_col", n_eg, np.int32)], -1)
    seeds = _compiled()[1](
        row, col, _pad(records, "eb_energy", n_eb, np.float32), _mask(records, "eb_energy", n_eb),
        *(_pad(records, k, n_ee, np.float32) for k in ("ee_eta", "ee_phi", "ee_energy")),
        _mask(records, "ee_energy", n_ee),
        centres, _mask(records, "eg_pt", n_eg),
    )
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
