"""Dense per-event detector images from a sparse batch (the content of a dense E2E ntuple)."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping

import jax
import numpy as np

from e2ejax.errors import InputError
from e2ejax.inputs.images import event_images, hcal_towers

__all__ = ["sparse_to_dense", "dense_batches", "DENSE_CHANNELS"]

#: dense image key -> sparse groups it is built from.
DENSE_CHANNELS: dict[str, tuple[str, ...]] = {
    "ecal": ("eb",),
    "hbhe": ("hbhe",),
    "track_pt": ("trk",),
    "track_d0": ("trk",),
    "track_dz": ("trk",),
    "bpix1": ("bpix",),
    "bpix2": ("bpix",),
    "bpix3": ("bpix",),
}


@functools.partial(jax.jit, static_argnames=("channels", "towers"))
def _images(arrays, *, channels, towers):
    out = {}
    if channels:
        stacked = event_images(arrays, channels=channels)
        out = {c: stacked[..., i] for i, c in enumerate(channels)}
    if towers:
        out["hbhe"] = hcal_towers(arrays)
    return out


def sparse_to_dense(batch: Mapping, *, keys=None) -> dict[str, np.ndarray]:
    """Build the dense images of a sparse batch, as a dense E2E ntuple stores them.

    Channel definitions are those of :func:`e2ejax.inputs.event_images` (built with
    :mod:`e2ejax.ops`); ``hbhe`` is the tower image before upsampling.

    Args:
        batch: a sparse :class:`~e2ejax.io.EventBatch` or mapping of its arrays.
        keys: images to build (default: every key of :data:`DENSE_CHANNELS` whose groups are present).

    Returns:
        ``{"ecal", "track_pt", "track_d0", "track_dz", "bpix1", "bpix2", "bpix3": float32 [B, 280, 360],
        "hbhe": float32 [B, 56, 72]}`` (those asked for).

    Raises:
        InputError: when a requested image needs a group the batch lacks.
    """
    present = {k.rsplit("_mask", 1)[0] for k in batch if k.endswith("_mask")}
    if keys is None:
        keys = [k for k, groups in DENSE_CHANNELS.items() if set(groups) <= present]
    missing = [k for k in keys if k not in DENSE_CHANNELS or not set(DENSE_CHANNELS[k]) <= present]
    if missing:
        raise InputError(
            f"expected sparse groups for images {missing} (needs {[DENSE_CHANNELS.get(k) for k in missing]}); "
            f"found groups {sorted(present)}; read the file with those groups"
        )
    needed = {"eb", "ee", "hbhe", "trk", "bpix"} & present
    arrays = {k: v for k, v in batch.items() if k.split("_", 1)[0] in needed}
    channels = tuple(k for k in keys if k != "hbhe")
    out = _images(arrays, channels=channels, towers="hbhe" in keys)
    return {k: np.asarray(out[k], np.float32) for k in keys}


def dense_batches(batches: Iterable[Mapping]) -> Iterator[dict]:
    """Sparse batches with their dense images added (:func:`sparse_to_dense`), ready for
    :func:`e2ejax.io.write_dense`."""
    for batch in batches:
        yield {**dict(batch.items()), **sparse_to_dense(batch)}
