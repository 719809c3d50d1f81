"""Event and frame displays: the stitched detector images of one event with its seeds and
frames, and one candidate's frame with its saliency (extra ``plot``)."""

from __future__ import annotations

from typing import Mapping

import numpy as np

from e2ejax import geometry, tasks
from e2ejax.errors import InputError
from e2ejax.inputs import event_images, seed_frames
from e2ejax.io import iterate_events
from e2ejax.ops import frame_offset
from e2ejax.plotting.figures import EXPERIMENT_LABEL, _cms_style, _new_figure
from e2ejax.plotting.saliency import FrameSaliency

__all__ = ["read_entry", "event_figure", "frame_figure", "EVENT_CHANNELS", "SALIENCY_FLOOR"]

#: the panels of an event display, one stitched 280 x 360 image each
EVENT_CHANNELS = ("ecal", "hcal", "track_pt")
_PANEL_TITLES = {"ecal": "ECAL energy [GeV]", "hcal": "HCAL energy [GeV] (towers x5)", "track_pt": "Track pT [GeV]"}


def read_entry(path, entry: int, *, groups) -> dict:
    """Entry ``entry`` of an E2E ROOT file as a padded batch of one event (numpy arrays ``[1, ...]``).

    Raises:
        InputError: a negative entry, or one past the end of the file (the message gives the count).
    """
    if isinstance(entry, bool) or not isinstance(entry, int) or entry < 0:
        raise InputError(f"--entry: expected an entry number >= 0; found {entry!r}")
    read = dict(groups=groups, require=groups, optional=("ee",), step_size=1, max_events=1)
    batch = next(iter(iterate_events(path, entry_start=entry, **read)), None)
    if batch is None:  # past the end: the first entry tells how many there are
        first = next(iter(iterate_events(path, **read)), None)
        seen = first.tree_entries if first is not None else 0
        raise InputError(f"--entry: expected an entry below the {seen} entries of {str(path)!r}; found {entry}; pick one in 0-{max(seen - 1, 0)}")
    return {k: np.asarray(v) for k, v in batch.items()}


#: saliency below this fraction of the frame's largest is left transparent
SALIENCY_FLOOR = 0.05


def _figure_label(fig, rlabel: str | None) -> None:
    """The experiment label at the top left of a multi-panel figure and ``rlabel`` at the top right."""
    exp, text = EXPERIMENT_LABEL
    fig.suptitle(f"$\\bf{{{exp}}}$ $\\it{{{text.replace(' ', '~')}}}$", x=0.01, ha="left")
    if rlabel:
        fig.text(0.99, 0.99, rlabel, ha="right", va="top", fontsize="small")


def _log_norm(image: np.ndarray):
    """A log colour scale over the positive pixels of ``image`` (None when it has none)."""
    from matplotlib.colors import LogNorm

    positive = image[image > 0]
    return LogNorm(vmin=max(float(positive.min()), 1e-3), vmax=float(positive.max())) if positive.size else None


def _frame_box(ax, row: int, col: int, size: int, colour: str, n_cols: int) -> None:
    """A frame's outline in image cells (eta clipped to the image, phi wrapping around)."""
    from matplotlib.patches import Rectangle

    top, left = row - frame_offset(size), col - frame_offset(size)
    for shift in (-n_cols, 0, n_cols):
        if left + shift < n_cols and left + shift + size > 0:
            ax.add_patch(Rectangle((left + shift - 0.5, top - 0.5), size, size, fill=False, ec=colour, lw=1.5))


def event_figure(event: Mapping, *, task: str, size=(18.0, 6.0), rlabel: str | None = None):
    """The ECAL, HCAL and track-pT images of one event with its seeds (crosses) and frames (boxes).

    Panel ``i`` draws channel :data:`EVENT_CHANNELS` ``[i]`` of
    :func:`e2ejax.inputs.event_images` as ``ax.images[0]`` (eta rows down, phi columns
    across). The seeds of ``task`` (:func:`e2ejax.inputs.seed_frames`) are the scatter
    ``ax.collections[0]`` (x = column, y = row); frames in acceptance are outlined in
    green, the others (zero-padded in eta, still scored) in orange.

    Args:
        event: a padded batch of one event (:func:`read_entry`).
        task: the tagger task whose seeds and frames are marked (keyword-only).
        size: figure size in inches.
        rlabel: text at the top right.

    Returns:
        A matplotlib ``Figure`` (Agg canvas).
    """
    t = tasks.get(task)
    images = np.asarray(event_images(event, channels=EVENT_CHANNELS))[0]
    _, seeds, mask, in_acceptance = seed_frames(event, task=task)
    real = np.flatnonzero(np.asarray(mask)[0])
    seeds, in_acceptance = np.asarray(seeds)[0, real], np.asarray(in_acceptance)[0, real]
    with _cms_style():
        fig = _new_figure(size)
        axes = fig.subplots(1, len(EVENT_CHANNELS))
        for ax, (i, channel) in zip(axes, enumerate(EVENT_CHANNELS)):
            image = images[..., i]
            im = ax.imshow(np.where(image > 0, image, np.nan), origin="upper", cmap="viridis", norm=_log_norm(image),
                           interpolation="nearest")
            fig.colorbar(im, ax=ax, label=_PANEL_TITLES[channel])
            ax.scatter(seeds[:, 1], seeds[:, 0], marker="x", s=80, color="red", label=f"{t.seed_group} seeds")
            for (row, col), inside in zip(seeds, in_acceptance):
                _frame_box(ax, int(row), int(col), t.frame_size, "limegreen" if inside else "orange", geometry.ECAL.shape[1])
            ax.set_xlabel("i$\\phi$ column", fontsize="small")
            ax.set_ylabel("i$\\eta$ row", fontsize="small")
            ax.set_xlim(-0.5, geometry.ECAL.shape[1] - 0.5)
            ax.set_ylim(geometry.ECAL.shape[0] - 0.5, -0.5)
        _figure_label(fig, rlabel)
    return fig


def frame_figure(sal: FrameSaliency, *, size=None, rlabel: str | None = None):
    """One candidate's frame, channel by channel, with its saliency overlaid.

    Panel ``i`` shows channel ``i`` of ``sal.frame`` as ``ax.images[0]`` (grey, log scale,
    white where not positive) and ``abs(sal.saliency[..., i])`` as ``ax.images[1]`` (red,
    transparent below :data:`SALIENCY_FLOOR` of the largest over all channels).

    Args:
        sal: from :func:`e2ejax.plotting.frame_saliency`.
        size: figure size in inches (default 5 per channel x 5.5).
        rlabel: text at the top right.

    Returns:
        A matplotlib ``Figure`` (Agg canvas).
    """
    n = len(sal.channels)
    if n == 0:
        raise InputError(f"expected an image task with frame channels; task {sal.task} has none")
    size = size or (5.0 * n, 5.5)
    magnitude = np.abs(sal.saliency)
    top = float(magnitude.max()) or 1.0
    with _cms_style():
        fig = _new_figure(size)
        axes = np.atleast_1d(fig.subplots(1, n))
        for i, (ax, channel) in enumerate(zip(axes, sal.channels)):
            plane = sal.frame[..., i]
            ax.imshow(np.where(plane > 0, plane, np.nan), cmap="Greys", norm=_log_norm(plane), origin="upper",
                      interpolation="nearest")
            overlay = np.where(magnitude[..., i] >= SALIENCY_FLOOR * top, magnitude[..., i], np.nan)
            ax.imshow(overlay, cmap="Reds", alpha=0.6, vmin=0.0, vmax=top, origin="upper", interpolation="nearest")
            ax.set_title(channel, fontsize="small")
            ax.set_xticks([])
            ax.set_yticks([])
        where = "in acceptance" if sal.in_acceptance else "out of acceptance (zero-padded in eta)"
        axes[0].set_xlabel(f"score {sal.score:.3f}, seed (row {sal.seed[0]}, col {sal.seed[1]}), {where}", loc="left",
                           fontsize="small")
        _figure_label(fig, rlabel)
    return fig
