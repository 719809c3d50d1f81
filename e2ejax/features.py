"""Events -> detector images -> the inputs of each tagger (jit-able, differentiable in the energies).

``events`` is a mapping of padded arrays named as in docs/FORMAT.md, each hit
group with a bool ``<group>_mask`` (what :mod:`e2ejax.io` yields):

* ``eb_ieta``, ``eb_iphi`` int32 ``[B, Neb]``, ``eb_energy`` float32, ``eb_mask`` bool;
* ``ee_eta``, ``ee_phi``, ``ee_energy`` float32 ``[B, Nee]``, ``ee_mask``;
* ``hbhe_ieta``, ``hbhe_iphi`` int32 ``[B, Nh]``, ``hbhe_energy``, ``hbhe_mask``;
* ``trk_eta``, ``trk_phi``, ``trk_pt``, ``trk_d0``, ``trk_dz`` float32 ``[B, Nt]``, ``trk_mask``;
* ``bpix_layer`` int32 ``[B, Np]``, ``bpix_eta``, ``bpix_phi`` float32, ``bpix_mask``;
* ``jet_eta``, ``jet_phi`` float32 ``[B, S]``, ``jet_mask``; ``eg_eta``, ``eg_phi``, ``eg_mask``.

Channels of :func:`event_images` (stitched 280 x 360 grid, channels-last):
``track_pt``, ``track_d0``, ``track_dz`` (pT sum, pT-weighted d0 / dz per cell),
``ecal`` (EB + binned EE), ``hcal`` (HBHE upsampled x5, energy-conserving),
``bpix1``..``bpix3`` (hit counts per layer).
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax import geometry
from e2ejax.errors import InputError, need_fields
from e2ejax.ops import (
    endcap_hits_to_image,
    extract_frames,
    frame_to_points,
    frames_in_acceptance,
    hbhe_towers,
    hits_to_frames,
    hits_to_image,
    hits_window_argmax,
    jet_seeds,
    safe_divide,
    stitch_ecal,
    track_image,
    upsample,
    upsampled_frames,
)

__all__ = ["CHANNELS", "TASKS", "DENSE_KEYS", "is_dense", "dense_jet_inputs", "event_images", "event_frames", "ecal_image", "hcal_towers", "jet_axes", "egamma_centres", "jet_inputs", "jet_inputs_at", "egamma_frames", "egamma_seed_cells", "egamma_inputs", "frames_to_points", "trim_seed_slots"]

CHANNELS = ("track_pt", "track_d0", "track_dz", "ecal", "hcal", "bpix1", "bpix2", "bpix3")

#: task -> (channels, frame size, seed kind)
TASKS = {
    "qg": (("track_pt", "ecal", "hcal"), 125, "jet"),
    "top": (("track_pt", "track_d0", "track_dz", "ecal", "hcal", "bpix1", "bpix2", "bpix3"), 125, "jet"),
    "tau": (("track_pt", "track_d0", "track_dz", "ecal", "hcal"), 125, "jet"),
    "egamma": (("ecal",), 32, "egamma"),
}


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


def event_images(events: Mapping, *, channels: tuple[str, ...], towers: jax.Array | None = None) -> jax.Array:
    """Stitched detector images float32 ``[B, 280, 360, len(channels)]`` in the order asked.

    ``towers``: the HBHE tower image of the events when the caller already has it
    (:func:`hcal_towers`), so it is not built twice.

    Raises:
        InputError: on an unknown channel or a missing event field.
    """
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise InputError(f"unknown image channel(s) {unknown}; expected names from {list(CHANNELS)}")
    out = {}
    if any(c.startswith("track") for c in channels):
        need_fields(events, ("trk_eta", "trk_phi", "trk_pt", "trk_d0", "trk_dz", "trk_mask"))
        trk = track_image(events["trk_eta"], events["trk_phi"], events["trk_pt"], events["trk_d0"], events["trk_dz"], events["trk_mask"])
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


def _ecal_hits(events: Mapping):
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


def event_frames(events: Mapping, seeds: jax.Array, *, channels: tuple[str, ...], size: int,
                 towers: jax.Array | None = None):
    """Frames of :func:`event_images` cut around ``seeds``, summed straight from the hits.

    Equal (up to float summation order) to
    ``extract_frames(event_images(events, channels=channels), seeds, height=size, width=size)``
    without building the ``[B, 280, 360, C]`` images: the hits of every summed channel
    go through one :func:`e2ejax.ops.hits_to_frames` scatter (tracks as pT, pT d0 and
    pT dz sums, divided per pixel afterwards), and ``hcal`` is cut from the upsampled
    towers (:func:`e2ejax.ops.upsampled_frames`).

    Returns:
        ``(frames [B, S, size, size, len(channels)], in_acceptance bool [B, S])``.
    """
    unknown = [c for c in channels if c not in CHANNELS]
    if unknown:
        raise InputError(f"unknown image channel(s) {unknown}; expected names from {list(CHANNELS)}")
    groups, columns = [], []  # hit groups (rows, cols, mask, {column name: values}) and the summed columns
    if any(c.startswith("track") for c in channels):
        need_fields(events, ("trk_eta", "trk_phi", "trk_pt", "trk_d0", "trk_dz", "trk_mask"))
        pt = jnp.asarray(events["trk_pt"])
        row, col = geometry.eta_phi_to_cell(jnp.asarray(events["trk_eta"]), jnp.asarray(events["trk_phi"]), geometry.ECAL)
        sums = {"track_pt": pt}
        sums.update({f"track_{v}": pt * jnp.asarray(events[f"trk_{v}"]) for v in ("d0", "dz") if f"track_{v}" in channels})
        groups.append((row, col, jnp.asarray(events["trk_mask"]), sums))
    if "ecal" in channels:
        row, col, energy, mask = _ecal_hits(events)
        groups.append((row, col, mask, {"ecal": energy}))
    if any(c.startswith("bpix") for c in channels):
        need_fields(events, ("bpix_layer", "bpix_eta", "bpix_phi", "bpix_mask"))
        row, col = geometry.eta_phi_to_cell(jnp.asarray(events["bpix_eta"]), jnp.asarray(events["bpix_phi"]))
        layer = jnp.asarray(events["bpix_layer"])
        ones = jnp.ones(layer.shape, jnp.float32)
        sums = {f"bpix{n}": jnp.where(layer == n, ones, 0.0) for n in (1, 2, 3) if f"bpix{n}" in channels}
        groups.append((row, col, jnp.asarray(events["bpix_mask"]), sums))
    for *_, sums in groups:
        columns += list(sums)
    planes = {}
    if columns:
        values = [jnp.stack([sums.get(c, jnp.zeros(jnp.shape(m), jnp.float32)) for c in columns], -1) for _, _, m, sums in groups]
        frames, in_acceptance = hits_to_frames(
            jnp.concatenate([g[0] for g in groups], 1), jnp.concatenate([g[1] for g in groups], 1),
            jnp.concatenate(values, 1).astype(jnp.float32),
            jnp.concatenate([g[2] for g in groups], 1), seeds, shape=geometry.ECAL.shape, height=size, width=size,
        )
        planes = {c: frames[..., i] for i, c in enumerate(columns)}
        for v in ("track_d0", "track_dz"):
            if v in planes:
                planes[v] = safe_divide(planes[v], planes["track_pt"])
    if "hcal" in channels:
        towers = hcal_towers(events) if towers is None else towers
        planes["hcal"] = upsampled_frames(towers[..., None], seeds, height=size, width=size)[..., 0]
        in_acceptance = frames_in_acceptance(seeds, height=size, rows=geometry.ECAL.shape[0])
    return jnp.stack([planes[c] for c in channels], axis=-1), in_acceptance


def jet_axes(events: Mapping) -> jax.Array:
    """HBHE tower ``(row, col)`` int32 ``[B, S, 2]`` of each jet axis (``jet_eta``, ``jet_phi``)."""
    need_fields(events, ("jet_eta", "jet_phi", "jet_mask"))
    return jnp.stack(geometry.eta_phi_to_cell(jnp.asarray(events["jet_eta"]), jnp.asarray(events["jet_phi"]), geometry.HBHE), -1)


def egamma_centres(events: Mapping) -> jax.Array:
    """Stitched-grid cell int32 ``[B, S, 2]`` around which each e/gamma seed is searched.

    ``eg_seed_row`` / ``eg_seed_col`` when the events carry them (the ECAL impact, after
    the bending of electrons), else the cell of ``eg_eta`` / ``eg_phi``.
    """
    if "eg_seed_row" in events and "eg_seed_col" in events:
        return jnp.stack([jnp.asarray(events["eg_seed_row"]), jnp.asarray(events["eg_seed_col"])], -1).astype(jnp.int32)
    need_fields(events, ("eg_eta", "eg_phi", "eg_mask"))
    return jnp.stack(geometry.eta_phi_to_cell(jnp.asarray(events["eg_eta"]), jnp.asarray(events["eg_phi"]), geometry.ECAL), -1)


def jet_inputs(events: Mapping, *, task: str = "qg"):
    """Jet frames for a jet task: seeds from the jet axes, 125 x 125 frames.

    Returns:
        ``(frames [B, S, 125, 125, C], seeds int32 [B, S, 2], jet_mask bool [B, S], in_acceptance bool [B, S])``.
    """
    channels, size, towers, seeds, mask = _jet_seeds(events, task)
    frames, in_acceptance = event_frames(events, seeds, channels=channels, size=size, towers=towers)
    return frames, seeds, mask, in_acceptance


#: hit groups :func:`event_frames` sums (HBHE enters through the towers)
_FRAME_GROUPS = ("trk_", "eb_", "ee_", "bpix_")


def jet_inputs_at(events: Mapping, rows: jax.Array, *, task: str = "qg"):
    """:func:`jet_inputs` for some seed slots only: the frames of the flattened slots ``rows``.

    ``rows`` int ``[R]`` index the ``B x S`` seed slots in row-major order (the real
    jets, typically: ``np.flatnonzero(jet_mask)``, padded to a fixed size by
    repeating one of them). Padded slots cost no frame work: each row's event
    hits are gathered and summed into its frame alone.

    Returns:
        ``(frames [R, 125, 125, C], seeds int32 [B, S, 2], jet_mask bool [B, S], in_acceptance bool [B, S])``;
        ``frames[i]`` equals ``jet_inputs(events)[0].reshape(B * S, ...)[rows[i]]``.
    """
    channels, size, towers, seeds, mask = _jet_seeds(events, task)
    rows = jnp.asarray(rows, jnp.int32)
    event = rows // mask.shape[1]
    picked = {k: jnp.take(jnp.asarray(v), event, axis=0) for k, v in events.items() if k.startswith(_FRAME_GROUPS)}
    at = jnp.take(seeds.reshape(-1, 2), rows, axis=0)[:, None]
    frames, _ = event_frames(picked, at, channels=channels, size=size, towers=jnp.take(towers, event, axis=0))
    return frames[:, 0], seeds, mask, frames_in_acceptance(seeds, height=size, rows=geometry.ECAL.shape[0])


def _jet_seeds(events: Mapping, task: str):
    channels, size, kind = TASKS[task]
    if kind != "jet":
        raise InputError(f"task {task!r} is not a jet task; expected one of {[t for t, v in TASKS.items() if v[2] == 'jet']}")
    towers = hcal_towers(events)
    seeds, mask = jet_seeds(towers, jet_axes(events), jnp.asarray(events["jet_mask"]))
    return channels, size, towers, seeds, mask


#: image channel -> batch key of the dense layout (docs/FORMAT.md); ``hcal`` is upsampled from ``hbhe``
DENSE_KEYS = {"track_pt": "track_pt", "track_d0": "track_d0", "track_dz": "track_dz", "ecal": "ecal",
              "hcal": "hbhe", "bpix1": "bpix1", "bpix2": "bpix2", "bpix3": "bpix3"}


def is_dense(events: Mapping) -> bool:
    """True for batches of the dense image layout (``ecal`` ``[B, 280, 360]``), false for sparse hits."""
    return "ecal" in events and "eb_energy" not in events


def dense_jet_inputs(events: Mapping, *, task: str = "qg"):
    """Jet frames from a dense-layout batch: the stored images and the stored jet seeds.

    ``events`` holds the images of docs/FORMAT.md (``ecal``, ``hbhe``, ``track_pt`` ... as
    ``[B, 280, 360]``, ``hbhe`` ``[B, 56, 72]``) and ``jet_seed_row``, ``jet_seed_col``,
    ``jet_mask`` ``[B, S]``. Same returns as :func:`jet_inputs`; frames equal those of the
    sparse layout of the same events.
    """
    channels, size, kind = TASKS[task]
    if kind != "jet":
        raise InputError(f"dense-layout files carry jet seeds only; task {task!r} needs the sparse layout (docs/FORMAT.md)")
    missing = [DENSE_KEYS[c] for c in channels if DENSE_KEYS[c] not in events]
    missing += [k for k in ("jet_seed_row", "jet_seed_col", "jet_mask") if k not in events]
    if missing:
        raise InputError(f"task {task!r} on a dense-layout file expected images/seeds {missing}; found {sorted(events)}; "
                         "write the file with all images (e2ejax.io.write_dense) or use the sparse layout")
    planes = []
    for c in channels:
        x = jnp.asarray(events[DENSE_KEYS[c]], jnp.float32)
        planes.append(upsample(x[..., None])[..., 0] if c == "hcal" else x)
    images = jnp.stack(planes, axis=-1)
    seeds = jnp.stack([jnp.asarray(events["jet_seed_row"]), jnp.asarray(events["jet_seed_col"])], -1).astype(jnp.int32)
    mask = jnp.asarray(events["jet_mask"], bool)
    frames, in_acceptance = extract_frames(images, seeds, height=size, width=size)
    return frames, seeds, mask, in_acceptance


def egamma_inputs(events: Mapping):
    """e/gamma frames: seed = the hottest crystal in a 5 x 5 window around the candidate, 32 x 32 ECAL frames.

    The candidate positions are those of :func:`egamma_centres`. Windows and frames are
    summed straight from the ECAL hits (:func:`e2ejax.ops.hits_window_argmax`,
    :func:`e2ejax.ops.hits_to_frames`): equal to searching and cutting the stitched ECAL
    image of :func:`event_images` without building it.

    Returns:
        ``(frames [B, S, 32, 32, 1], seeds int32 [B, S, 2], eg_mask bool [B, S], in_acceptance bool [B, S])``.
    """
    seeds, mask = egamma_seed_cells(events)
    frames, in_acceptance = egamma_frames(events, seeds)
    return frames, seeds, mask, in_acceptance


def egamma_seed_cells(events: Mapping):
    """e/gamma seeds ``int32 [B, S, 2]`` (the hottest crystal in a 5 x 5 window around each
    candidate, summed from the ECAL hits) and ``eg_mask``."""
    row, col, energy, hits = _ecal_hits(events)
    need_fields(events, ("eg_mask",))
    mask = jnp.asarray(events["eg_mask"])
    return hits_window_argmax(row, col, energy, hits, egamma_centres(events), mask, shape=geometry.ECAL.shape, window=5), mask


def egamma_frames(events: Mapping, seeds: jax.Array):
    """32 x 32 ECAL frames ``[B, S, 32, 32, 1]`` around ``seeds`` and their ``in_acceptance``, summed from the hits."""
    row, col, energy, hits = _ecal_hits(events)
    return hits_to_frames(row, col, energy[..., None], hits, seeds, shape=geometry.ECAL.shape, height=32, width=32)


def frames_to_points(frames: jax.Array, *, n_points: int):
    """Flatten ``[B, S, H, W, C]`` frames into GNN inputs ``points [B*S, n_points, C+2]``, ``mask [B*S, n_points]`` float."""
    B, S = frames.shape[:2]
    points, mask = frame_to_points(frames.reshape((B * S,) + frames.shape[2:]), n_points=n_points)
    return points, mask.astype(points.dtype)


def trim_seed_slots(events: Mapping, group: str) -> dict:
    """Drop trailing padded seed slots: ``<group>_*`` arrays ``[B, S]`` are cut to the smallest
    power of two that holds every event's real seeds (real seeds come first in each row).

    Readers pad seed groups like hit groups (16 slots or more); cutting them before
    the frames are built saves the frame and network work of empty slots, while the
    power-of-two size keeps the number of compiled shapes small.

    Examples:
        >>> import numpy as np
        >>> ev = {"jet_mask": np.array([[True, False, False, False], [True, True, False, False]]),
        ...       "jet_eta": np.zeros((2, 4)), "eb_energy": np.zeros((2, 8))}
        >>> {k: v.shape for k, v in trim_seed_slots(ev, "jet").items()}
        {'jet_mask': (2, 2), 'jet_eta': (2, 2), 'eb_energy': (2, 8)}
    """
    if f"{group}_mask" not in events:  # no such seeds: nothing to cut (the input builders say what is missing)
        return dict(events)
    mask = np.asarray(events[f"{group}_mask"])
    most = int(mask.sum(axis=1).max()) if mask.size else 0
    size = 1 << max(most - 1, 0).bit_length()
    prefix = f"{group}_"
    return {
        k: (np.asarray(v)[:, :size] if k.startswith(prefix) and np.ndim(v) == 2 and np.shape(v)[1] == mask.shape[1] else v)
        for k, v in events.items()
    }
