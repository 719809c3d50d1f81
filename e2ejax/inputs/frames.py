"""Seeds and frames of each task, summed straight from the hits (jit-able, differentiable in the energies).

The event fields are those of :mod:`e2ejax.inputs.images`. Jet tasks seed on the
hottest HBHE tower near each jet axis and cut 125 x 125 frames; e/gamma seeds on the
hottest crystal near each candidate and cuts 32 x 32 ECAL frames. Channels, frame
sizes and seed groups come from the task registry (:mod:`e2ejax.tasks`).
"""

from __future__ import annotations

from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from e2ejax import geometry, tasks
from e2ejax.conventions import check_track_impact
from e2ejax.errors import InputError, need_fields
from e2ejax.inputs.images import check_channels, ecal_hits, hcal_towers
from e2ejax.ops import (
    extract_frames,
    frame_to_points,
    frames_in_acceptance,
    hits_to_frames,
    hits_window_argmax,
    jet_seeds,
    safe_divide,
    upsample,
    upsampled_frames,
)

__all__ = ["DENSE_KEYS", "is_dense", "dense_jet_inputs", "event_frames", "jet_axes", "egamma_centres", "jet_inputs", "jet_inputs_at",
           "egamma_frames", "egamma_seed_cells", "egamma_inputs", "seed_frames", "gnn_points", "trim_seed_slots"]


def event_frames(events: Mapping, seeds: jax.Array, *, channels: tuple[str, ...], size: int,
                 towers: jax.Array | None = None, track_impact: str = "pt_weighted"):
    """Frames of :func:`event_images` cut around ``seeds``, summed straight from the hits.

    Equal (up to float summation order) to
    ``extract_frames(event_images(events, channels=channels), seeds, height=size, width=size)``
    without building the ``[B, 280, 360, C]`` images: the hits of every summed channel
    go through one :func:`e2ejax.ops.hits_to_frames` scatter (tracks as pT, pT d0 and
    pT dz sums, divided by the pT sum per pixel afterwards; with ``track_impact="mean"``
    d0, dz and track-count sums), and ``hcal`` is cut from the upsampled towers
    (:func:`e2ejax.ops.upsampled_frames`).

    Returns:
        ``(frames [B, S, size, size, len(channels)], in_acceptance bool [B, S])``.
    """
    check_channels(channels)
    groups, columns = [], []  # hit groups (rows, cols, mask, {column name: values}) and the summed columns
    if any(c.startswith("track") for c in channels):
        need_fields(events, ("trk_eta", "trk_phi", "trk_pt", "trk_d0", "trk_dz", "trk_mask"))
        pt = jnp.asarray(events["trk_pt"])
        row, col = geometry.eta_phi_to_cell(jnp.asarray(events["trk_eta"]), jnp.asarray(events["trk_phi"]), geometry.ECAL)
        weight = pt if check_track_impact(track_impact) == "pt_weighted" else jnp.ones_like(pt)
        sums = {"track_pt": pt}
        sums.update({f"track_{v}": weight * jnp.asarray(events[f"trk_{v}"]) for v in ("d0", "dz") if f"track_{v}" in channels})
        if track_impact == "mean" and {"track_d0", "track_dz"} & set(channels):
            sums["track_count"] = weight
        groups.append((row, col, jnp.asarray(events["trk_mask"]), sums))
    if "ecal" in channels:
        row, col, energy, mask = ecal_hits(events)
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
        norm = planes.pop("track_count", planes.get("track_pt"))
        for v in ("track_d0", "track_dz"):
            if v in planes:
                planes[v] = safe_divide(planes[v], norm)
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


def jet_inputs(events: Mapping, *, task: str = "qg", track_impact: str = "pt_weighted"):
    """Jet frames for a jet task: seeds from the jet axes, 125 x 125 frames (``track_impact``
    as :func:`event_frames`).

    Returns:
        ``(frames [B, S, 125, 125, C], seeds int32 [B, S, 2], jet_mask bool [B, S], in_acceptance bool [B, S])``.
    """
    channels, size, towers, seeds, mask = _jet_seeds(events, task)
    frames, in_acceptance = event_frames(events, seeds, channels=channels, size=size, towers=towers, track_impact=track_impact)
    return frames, seeds, mask, in_acceptance


#: hit groups :func:`event_frames` sums (HBHE enters through the towers)
_FRAME_GROUPS = ("trk_", "eb_", "ee_", "bpix_")


def jet_inputs_at(events: Mapping, rows: jax.Array, *, task: str = "qg", track_impact: str = "pt_weighted"):
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
    frames, _ = event_frames(picked, at, channels=channels, size=size, towers=jnp.take(towers, event, axis=0),
                             track_impact=track_impact)
    return frames[:, 0], seeds, mask, frames_in_acceptance(seeds, height=size, rows=geometry.ECAL.shape[0])


def jet_seed_cells(events: Mapping, *, task: str = "qg"):
    """The jet seeds alone, as :func:`jet_inputs` finds them, without building any frame (for
    the particle taggers, which score the same jets as the image taggers).

    Returns:
        ``(seeds int32 [B, S, 2], jet_mask bool [B, S], in_acceptance bool [B, S])``.
    """
    _, size, _, seeds, mask = _jet_seeds(events, task)
    return seeds, mask, frames_in_acceptance(seeds, height=size, rows=geometry.ECAL.shape[0])


def _jet_task(task: str) -> tasks.Task:
    """The registry entry of a jet image task (InputError for any other task)."""
    t = tasks.get(task)
    if t.seed_group != "jet" or not t.channels:
        jet_tasks = [n for n, v in tasks.TASKS.items() if v.seed_group == "jet" and v.channels]
        raise InputError(f"task {task!r} is not a jet task; expected one of {jet_tasks}")
    return t


def _jet_seeds(events: Mapping, task: str):
    t = _jet_task(task)
    towers = hcal_towers(events)
    seeds, mask = jet_seeds(towers, jet_axes(events), jnp.asarray(events["jet_mask"]))
    return t.channels, t.frame_size, towers, seeds, mask


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
    t = tasks.get(task)
    if t.seed_group != "jet" or not t.channels:
        raise InputError(f"dense-layout files carry jet seeds only; task {task!r} needs the sparse layout (docs/FORMAT.md)")
    channels, size = t.channels, t.frame_size
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
    row, col, energy, hits = ecal_hits(events)
    need_fields(events, ("eg_mask",))
    mask = jnp.asarray(events["eg_mask"])
    return hits_window_argmax(row, col, energy, hits, egamma_centres(events), mask, shape=geometry.ECAL.shape, window=5), mask


def egamma_frames(events: Mapping, seeds: jax.Array):
    """32 x 32 ECAL frames ``[B, S, 32, 32, 1]`` around ``seeds`` and their ``in_acceptance``, summed from the hits."""
    row, col, energy, hits = ecal_hits(events)
    return hits_to_frames(row, col, energy[..., None], hits, seeds, shape=geometry.ECAL.shape, height=32, width=32)


def seed_frames(events: Mapping, *, task: str, rows=None, track_impact: str = "pt_weighted"):
    """The frames of a task's seeds: the one input builder that training and inference share.

    Args:
        events: padded sparse events, or a dense-layout batch (:func:`is_dense`, jet tasks).
        task: a tagger task of :mod:`e2ejax.tasks`.
        rows: int ``[R]`` flattened ``B x S`` seed slots whose frames to build (sparse jet
            events build those slots only); None: every slot.
        track_impact: the d0 / dz per pixel built from sparse tracks, ``"pt_weighted"`` or
            ``"mean"`` (:mod:`e2ejax.conventions`); a dense batch's stored images are taken as
            they are (their convention is checked against the model's by the tagger).

    Returns:
        ``(frames [R or B*S, h, w, C], seeds int32 [B, S, 2], mask bool [B, S], in_acceptance bool [B, S])``.
    """
    t = tasks.get(task)
    if t.seed_group == "jet" and not is_dense(events):
        if rows is not None:  # frames of the listed slots only
            return jet_inputs_at(events, rows, task=task, track_impact=track_impact)
        frames, seeds, mask, in_acceptance = jet_inputs(events, task=task, track_impact=track_impact)
    elif is_dense(events):
        frames, seeds, mask, in_acceptance = dense_jet_inputs(events, task=task)
    else:
        frames, seeds, mask, in_acceptance = egamma_inputs(events)
    frames = frames.reshape((-1,) + frames.shape[2:])
    return (frames if rows is None else jnp.take(frames, rows, axis=0)), seeds, mask, in_acceptance


def gnn_points(frames: jax.Array, *, n_points: int):
    """GNN inputs from seed frames ``[R, H, W, C]``: ``points [R, n_points, C+2]`` and
    ``mask [R, n_points]`` float (1.0 real, 0.0 padding), the hottest pixels of
    :func:`e2ejax.ops.frame_to_points`."""
    points, mask = frame_to_points(frames, n_points=n_points)
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
