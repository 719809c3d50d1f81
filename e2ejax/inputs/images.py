"""Events (padded hit arrays) -> stitched detector images, channels-last, differentiable in the energies.

``events`` is a mapping of padded arrays named as in docs/FORMAT.md, each hit
group with a bool ``<group>_mask`` (what :mod:`e2ejax.io` yields):

* ``eb_ieta``, ``eb_iphi`` int32 ``[B, Neb]``, ``eb_energy`` float32, ``eb_mask`` bool;
* ``ee_eta``, ``ee_phi``, ``ee_energy`` float32 ``[B, Nee]``, ``ee_mask``;
* ``hbhe_ieta``, ``hbhe_iphi`` int32 ``[B, Nh]``, ``hbhe_energy``, ``hbhe_mask``;
* ``trk_eta``, ``trk_phi``, ``trk_pt``, ``trk_d0``, ``trk_dz`` float32 ``[B, Nt]``, ``trk_mask``;
* ``bpix_layer`` int32 ``[B, Np]``, ``bpix_eta``, ``bpix_phi`` float32, ``bpix_mask``;
* ``jet_eta``, ``jet_phi`` float32 ``[B, S]``, ``jet_mask``; ``eg_eta``, ``eg_phi``, ``eg_mask``.

Channels of :func:`event_images` (stitched 280 x 360 grid, channels-last):
``track_pt``, ``track_d0``, ``track_dz`` (pT sum, pT-weighted or plain mean d0 / dz per cell),
``ecal`` (EB + binned EE), ``hcal`` (HBHE upsampled x5, energy-conserving),
``bpix1``..``bpix3`` (hit counts per layer).
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp

from e2ejax import geometry
from e2ejax.errors import InputError, need_fields
from e2ejax.ops import endcap_hits_to_image, hbhe_towers, hits_to_image, stitch_ecal, track_image, upsample

__all__ = ["CHANNELS", "check_channels", "hcal_towers", "ecal_image", "event_images", "ecal_hits"]

CHANNELS = ("track_pt", "track_d0", "track_dz", "ecal", "hcal", "bpix1", "bpix2", "bpix3")


def check_channels(channels) -> None:
    """InputError unless every name of ``channels`` is one of :data:`CHANNELS`."""
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise InputError(f"unknown image channel(s) {unknown}; expected names from {list(CHANNELS)}")


def hcal_towers(events: Mapping) -> jax.Array:
    """HBHE tower image float32 ``[B, 56, 72]``."""
    need_fields(events, ("hbhe_ieta", "hbhe_iphi", "hbhe_energy", "hbhe_mask"))
    return hbhe_towers(events["hbhe_ieta"], events["hbhe_iphi"], events["hbhe_energy"], events["hbhe_mask"])


def ecal_image(events: Mapping) -> jax.Array:
    """Stitched ECAL energy float32 ``[B, 280, 360]`` (EB hits + EE hits binned onto the pseudo-crystal rows)."""
    need_fields(events, ("eb_ieta", "eb_iphi", "eb_energy", "eb_mask"))
    row, col = geometry.eb_index_to_cell(jnp.asarray(events["eb_ieta"]), jnp.asarray(events["eb_iphi"]))
    eb = hits_to_image(row, col, events["eb_energy"], events["eb_mask"], shape=geometry.EB.shape)
    if "ee_energy" in events:
        args = (events["ee_eta"], events["ee_phi"], events["ee_energy"], events["ee_mask"])
        ee_minus = endcap_hits_to_image(*args, side="minus")
        ee_plus = endcap_hits_to_image(*args, side="plus")
    else:
        ee_minus = ee_plus = jnp.zeros((eb.shape[0], geometry.EE_ROWS, 360), eb.dtype)
    return stitch_ecal(ee_minus, eb, ee_plus)


def event_images(events: Mapping, *, channels: tuple[str, ...], towers: jax.Array | None = None,
                 track_impact: str = "pt_weighted") -> jax.Array:
    """Stitched detector images float32 ``[B, 280, 360, len(channels)]`` in the order asked.

    ``towers``: the HBHE tower image of the events when the caller already has it
    (:func:`hcal_towers`), so it is not built twice. ``track_impact``: the d0 / dz per
    cell, ``"pt_weighted"`` or ``"mean"`` (:func:`e2ejax.ops.track_image`).

    Raises:
        InputError: on an unknown channel or a missing event field.
    """
    check_channels(channels)
    out = {}
    if any(c.startswith("track") for c in channels):
        need_fields(events, ("trk_eta", "trk_phi", "trk_pt", "trk_d0", "trk_dz", "trk_mask"))
        trk = track_image(events["trk_eta"], events["trk_phi"], events["trk_pt"], events["trk_d0"], events["trk_dz"], events["trk_mask"],
                          impact=track_impact)
        out.update(track_pt=trk[..., 0], track_d0=trk[..., 1], track_dz=trk[..., 2])
    if "ecal" in channels:
        out["ecal"] = ecal_image(events)
    if "hcal" in channels:
        towers = hcal_towers(events) if towers is None else towers
        out["hcal"] = upsample(towers[..., None])[..., 0]
    if any(c.startswith("bpix") for c in channels):
        need_fields(events, ("bpix_layer", "bpix_eta", "bpix_phi", "bpix_mask"))
        row, col = geometry.eta_phi_to_cell(jnp.asarray(events["bpix_eta"]), jnp.asarray(events["bpix_phi"]))
        ones = jnp.ones(jnp.shape(events["bpix_eta"]), jnp.float32)
        for layer in (1, 2, 3):
            m = events["bpix_mask"] & (jnp.asarray(events["bpix_layer"]) == layer)
            out[f"bpix{layer}"] = hits_to_image(row, col, ones, m, shape=geometry.ECAL.shape)
    return jnp.stack([out[c] for c in channels], axis=-1)


def ecal_hits(events: Mapping):
    """EB and EE hits as stitched-grid ``(rows, cols, energy, mask)`` ``[B, Neb + Nee]`` (as :func:`ecal_image` bins them)."""
    need_fields(events, ("eb_ieta", "eb_iphi", "eb_energy", "eb_mask"))
    row, col = geometry.eb_index_to_cell(jnp.asarray(events["eb_ieta"]), jnp.asarray(events["eb_iphi"]))
    on_eb = (row >= 0) & (row < geometry.EB.shape[0])
    parts = [(jnp.where(on_eb, row + geometry.EE_ROWS, -1), col, jnp.asarray(events["eb_energy"]), jnp.asarray(events["eb_mask"]))]
    if "ee_energy" in events:
        row, col = geometry.eta_phi_to_cell(jnp.asarray(events["ee_eta"]), jnp.asarray(events["ee_phi"]), geometry.ECAL)
        on_ee = (row < geometry.EE_ROWS) | (row >= geometry.EEP_ROW_OFFSET)  # barrel rows belong to EB
        parts.append((jnp.where(on_ee, row, -1), col, jnp.asarray(events["ee_energy"]), jnp.asarray(events["ee_mask"])))
    return tuple(jnp.concatenate(p, axis=1) for p in zip(*parts))
