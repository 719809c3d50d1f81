"""The figures (extra ``plot``): loss curves, ROC curves, saving.

Plain :class:`matplotlib.figure.Figure` objects on the Agg canvas (pyplot and a display are
never used) built inside mplhep's CMS style; :func:`save_figure` writes one under a
temporary name and renames it when complete.
"""

from __future__ import annotations

import contextlib
import math
import os
from typing import Sequence

import numpy as np

from e2ejax import tasks
from e2ejax.errors import InputError, require
from e2ejax.io import atomic_path
from e2ejax.plotting.history import LossHistory
from e2ejax.plotting.roc import RocCurve

__all__ = ["loss_figure", "roc_figure", "save_figure", "check_output", "roc_classes", "EXPERIMENT_LABEL"]

#: the label of every figure: the samples are e2ejax's private fast simulation, not CMS results
EXPERIMENT_LABEL = ("e2ejax", "Simulation Private Work")


def roc_classes(task: str | None = None, group: str | None = None) -> tuple[str, str]:
    """``(name of label 0, name of label 1)`` for ROC axes: the task's classes where it is known.

    Args:
        task: a tagger task of :mod:`e2ejax.tasks` (such as the ``sample`` of the truth file's
            provenance), or None.
        group: the seed group scored (``"eg"``, ``"jet"``); a group that only one tagger
            scores names its task when ``task`` is None.

    Returns:
        The registry's ``Task.classes``, or ``("background", "signal")`` when the task is unknown.

    Examples:
        >>> roc_classes("qg"), roc_classes(group="eg"), roc_classes(group="jet")
        (('quark', 'gluon'), ('photon', 'electron'), ('background', 'signal'))
    """
    if task in tasks.taggers():
        return tasks.get(task).classes
    scoring = [t for t in tasks.taggers() if tasks.get(t).seed_group == group]
    return tasks.get(scoring[0]).classes if len(scoring) == 1 else ("background", "signal")


def _title(name: str) -> str:
    return name[:1].upper() + name[1:]


# -- figures -----------------------------------------------------------------------------


def _libs():
    matplotlib = require("matplotlib", "plot")
    hep = require("mplhep", "plot")
    return matplotlib, hep


@contextlib.contextmanager
def _cms_style():
    matplotlib, hep = _libs()
    with matplotlib.style.context(hep.style.CMS):
        yield hep


def _new_figure(size):
    """An empty constrained-layout figure on the Agg canvas (InputError for a bad size)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w, h = size
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise InputError(f"expected a positive figure size (width, height) in inches; found {size!r}")
    fig = Figure(figsize=(w, h), layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def _new_axes(size):
    fig = _new_figure(size)
    return fig, fig.add_subplot()


def _label(hep, ax, rlabel: str | None) -> None:
    exp, text = EXPERIMENT_LABEL
    hep.label.exp_label(exp=exp, text=text, data=True, rlabel=rlabel or "", loc=0, ax=ax)


def loss_figure(histories: Sequence[LossHistory], *, x: str = "epoch", log: bool = False, train_only: bool = False,
                size=(10.0, 10.0), rlabel: str | None = None):
    """Training (dashed) and validation (solid) loss against epoch or step, one colour per run.

    The line data are the history values: for run ``i``, ``ax.lines`` holds its train
    curve and then (unless ``train_only``) its validation curve; the best validation
    epoch is marked with a star (a scatter collection, not a line).

    Args:
        histories: from :func:`load_history`.
        x: ``"epoch"`` or ``"step"`` (keyword-only).
        log: logarithmic loss axis.
        train_only: draw the training loss only.
        size: figure size in inches.
        rlabel: text at the top right (default none).

    Returns:
        A matplotlib ``Figure`` (Agg canvas).

    Raises:
        InputError: no history, an unknown ``x``, ``x="step"`` for a history without steps,
            validation requested for a history without ``val_loss``.
    """
    if not histories:
        raise InputError("expected at least one training history to plot; found none")
    if x not in ("epoch", "step"):
        raise InputError(f"expected x 'epoch' or 'step'; found {x!r}")
    for h in histories:
        if x == "step" and np.isnan(h.step).any():
            raise InputError(f"expected a 'step' in every epoch of the history in {h.source!r}; some are missing; plot against epoch instead")
        if not train_only and np.isnan(h.val_loss).all():
            raise InputError(
                f"expected val_loss values in the history in {h.source!r}; found none (the run had no validation set); "
                "plot with --train-only or train with data.validation"
            )
    with _cms_style() as hep:
        fig, ax = _new_axes(size)
        for i, h in enumerate(histories):
            xs = h.epoch if x == "epoch" else h.step
            colour = f"C{i % 10}"
            ax.plot(xs, h.train_loss, ls="--", color=colour, label=f"{h.label} train")
            if not train_only:
                ax.plot(xs, h.val_loss, ls="-", color=colour, label=f"{h.label} validation")
                if np.isfinite(h.val_loss).any():
                    best = int(np.nanargmin(h.val_loss))
                    ax.scatter([xs[best]], [h.val_loss[best]], marker="*", s=250, color=colour, zorder=3)
        ax.set_xlabel("Epoch" if x == "epoch" else "Optimiser step")
        ax.set_ylabel("Loss")
        if log:
            ax.set_yscale("log")
        if x == "epoch":
            from matplotlib.ticker import MaxNLocator

            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="upper right")
        _label(hep, ax, rlabel)
    return fig


def roc_figure(curves: Sequence[RocCurve], *, classes: tuple[str, str] = ("background", "signal"), rejection: bool = False,
               size=(10.0, 10.0), rlabel: str | None = None):
    """ROC curves of several scores against the same labels, AUC in the legend.

    Default axes: label-0 efficiency (``fpr``) on x, label-1 efficiency (``tpr``) on y,
    with the diagonal of a random classifier; ``ax.lines[i]`` holds ``(fpr, tpr)`` of
    ``curves[i]`` exactly. With ``rejection=True``: label-1 efficiency on x and label-0
    rejection ``1 / fpr`` on a log y axis (points with ``fpr = 0`` left out). A curve with a
    bootstrap band (:class:`~e2ejax.plotting.roc.RocBand`) gets it shaded in its colour,
    ``ax.collections[i]`` in curve order, and its AUC with the band's standard deviation.

    Args:
        curves: from :func:`roc_curves`.
        classes: ``(label 0, label 1)`` names for the axes (:func:`roc_classes`), keyword-only.
        rejection: draw the rejection form (keyword-only).
        size: figure size in inches.
        rlabel: text at the top right (default none).

    Returns:
        A matplotlib ``Figure`` (Agg canvas).
    """
    if not curves:
        raise InputError("expected at least one ROC curve to plot; found none")
    bkg, sig = (_title(c) for c in classes)
    with _cms_style() as hep:
        fig, ax = _new_axes(size)
        for i, c in enumerate(curves):
            colour = f"C{i % 10}"
            auc = f"{c.auc:.4f}" if c.band is None else f"{c.auc:.3f} \u00b1 {c.band.auc_std:.3f}"
            style = {"color": colour, "label": f"{c.name} (AUC = {auc})"}
            if rejection:
                keep = c.fpr > 0
                ax.plot(c.tpr[keep], 1.0 / c.fpr[keep], **style)
            else:
                ax.plot(c.fpr, c.tpr, **style)
            if c.band is not None:
                _draw_band(ax, c.band, colour, rejection=rejection)
        if rejection:
            ax.set_yscale("log")
            ax.set_xlabel(f"{sig} efficiency")
            ax.set_ylabel(f"{bkg} rejection")
            ax.set_xlim(0, 1)
        else:
            ax.plot([0, 1], [0, 1], ls=":", color="grey", label="Random (AUC = 0.5)")
            ax.set_xlabel(f"{bkg} efficiency")
            ax.set_ylabel(f"{sig} efficiency")
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.05)
        ax.legend(loc="lower right" if not rejection else "upper right")
        _label(hep, ax, rlabel)
    return fig


def _draw_band(ax, band, colour: str, *, rejection: bool) -> None:
    """Shade a bootstrap band: between its fpr bounds at each tpr, or between the rejections ``1 / fpr``."""
    if rejection:
        keep = band.fpr_low > 0
        ax.fill_between(band.tpr[keep], 1.0 / band.fpr_high[keep], 1.0 / band.fpr_low[keep], color=colour, alpha=0.25, lw=0)
    else:
        ax.fill_betweenx(band.tpr, band.fpr_low, band.fpr_high, color=colour, alpha=0.25, lw=0)


def _format_of(path: str) -> str:
    from matplotlib.backend_bases import FigureCanvasBase

    ext = os.path.splitext(path)[1].lower().lstrip(".")
    supported = FigureCanvasBase.get_supported_filetypes()
    if ext not in supported:
        raise InputError(
            f"expected an output file name ending in an image format ({', '.join(f'.{e}' for e in ('png', 'pdf', 'svg'))} ...); "
            f"found {os.path.basename(path)!r}; name the output e.g. plot.png"
        )
    return ext


def save_figure(fig, path, *, dpi: float = 100.0) -> str:
    """Write ``fig`` to ``path`` (format from the extension) under a temporary name, then rename.

    A PNG is ``size * dpi`` pixels (the figure is not cropped). On any error nothing
    appears at ``path``.

    Returns:
        ``path`` as a string.

    Raises:
        InputError: an extension matplotlib cannot write, a non-positive dpi, a directory at ``path``.
    """
    path = os.fspath(path)
    fmt = check_output(path)
    if not (dpi > 0 and math.isfinite(dpi)):
        raise InputError(f"expected a positive dpi; found {dpi!r}")
    with _cms_style(), atomic_path(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=dpi)
    return path


def check_output(path) -> str:
    """The image format of an output path (from its extension); InputError if it cannot be written."""
    _libs()
    path = os.fspath(path)
    if os.path.isdir(path):
        raise InputError(f"expected an output file name; found a directory at {path!r}; pass e.g. {os.path.join(path, 'plot.png')!r}")
    return _format_of(path)
