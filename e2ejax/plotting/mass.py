"""Background mass sculpting of jet taggers (extra ``plot``): the jet mass of the scored seeds, and the figure.

A cut on a tagger score at a fixed signal efficiency keeps background jets whose mass
distribution can differ from the one before the cut (the score *sculpts* the mass, as a
top tagger that learned the jet mass turns the falling QCD spectrum into a peak at the
top mass). :func:`e2ejax.metrics.mass_sculpting` measures it by the Jensen-Shannon
divergence of the two shapes; :func:`mass_figure` draws them, one after-cut curve per score.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from e2ejax.errors import InputError
from e2ejax.inference import EVENTS_PER_READ
from e2ejax.io import iterate_events
from e2ejax.metrics import MassSculpting
from e2ejax.plotting.figures import _cms_style, _label, _new_axes, _title

__all__ = ["input_jet_mass", "mass_figure"]


def input_jet_mass(path, entry: np.ndarray, slot: np.ndarray) -> np.ndarray:
    """The jet mass of the seeds at (``entry``, ``slot``) of the input file ``path``.

    Args:
        path: the tagged input (``file.root`` or ``file.root:tree``), with jet masses: the
            ``jet_mass`` branch of the sparse layout, or ``jetM`` / ``jet_M`` of an MLAnalyzer ntuple.
        entry: int ``[N]`` entry of each seed (:attr:`e2ejax.io.RocInputs.entry`).
        slot: int ``[N]`` seed slot of each seed in its entry (:attr:`e2ejax.io.RocInputs.slot`).

    Returns:
        float64 ``[N]`` jet masses in GeV, aligned with ``entry``.

    Raises:
        InputError: a file without jets or without jet masses (e2ejax's dense layout has
            none), or seeds beyond the jets of their entry.
    """
    entry, slot = np.asarray(entry, np.int64), np.asarray(slot, np.int64)
    out = np.full(entry.shape, np.nan)
    if entry.size == 0:
        return out
    start = 0
    for events in iterate_events(path, groups=("jet",), step_size=EVENTS_PER_READ, max_events=int(entry.max()) + 1):
        if "jet_mass" not in events:
            raise InputError(f"expected jet masses in {events.file!r} (branch 'jet_mass' of the sparse layout, or 'jetM' / "
                             f"'jet_M' of an MLAnalyzer ntuple); found none among its {events.layout} arrays "
                             f"{sorted(k for k in events if k.startswith('jet_'))}; pass an input file with jet masses")
        n = len(events["jet_mass"])
        here = (entry >= start) & (entry < start + n)
        if here.any():
            masses, mask = events["jet_mass"], events["jet_mask"]
            e, s = entry[here] - start, slot[here]
            bad = (s >= masses.shape[1]) | ~mask[e, np.minimum(s, masses.shape[1] - 1)]
            if bad.any():
                first = int(np.argmax(bad))
                raise InputError(f"expected a jet at entry {int(entry[here][first])} slot {int(s[first])} of {events.file!r}; "
                                 "found none; pass with --input the file that was tagged")
            out[here] = masses[e, s]
        start += n
    return out


def mass_figure(results: Mapping[str, MassSculpting], *, signal: np.ndarray | None = None,
                signal_efficiency: float | None = None, classes: tuple[str, str] = ("background", "signal"), size=(10.0, 10.0), rlabel: str | None = None):
    """Background jet mass before and after each score's cut, normalised, with JSD and efficiency in the legend.

    Every distribution is normalised to unit sum over the bins (the fraction of the class's
    jets inside the mass range per bin). Drawn as ``ax.patches`` (step patches) in this
    order: the background before the cut (grey, filled), the signal before the cut (black,
    dashed; when ``signal`` is given), then the background after the cut of each score of
    ``results`` in order (colours C0, C1, ...; a score that keeps no background inside the
    range is listed in the legend with nothing drawn).

    Args:
        results: score name -> :func:`e2ejax.metrics.mass_sculpting` of that score, all at
            the same signal efficiency and on the same bins and background.
        signal: float ``[K]`` signal mass histogram before the cut in the same bins, or None.
        signal_efficiency: the requested efficiency of the cuts, for the legend's title
            (default the achieved one of the first result).
        classes: ``(label 0, label 1)`` names (:func:`~e2ejax.plotting.roc_classes`), keyword-only.
        size: figure size in inches.
        rlabel: text at the top right (default none).

    Returns:
        A matplotlib ``Figure`` (Agg canvas).

    Raises:
        InputError: no result, results on different bins, a signal histogram of another
            length or without entries.
    """
    if not results:
        raise InputError("expected at least one score's mass sculpting to plot; found none")
    items = list(results.items())
    edges = items[0][1].edges
    for name, r in items[1:]:
        if not np.array_equal(r.edges, edges):
            raise InputError(f"expected every score on the same mass bins; {name!r} differs from {items[0][0]!r}")
    bkg, sig = (_title(c) for c in classes)
    widths = np.diff(edges)
    per = f" / {widths[0]:g} GeV" if np.allclose(widths, widths[0]) else " per bin"

    def shape(h):
        h = np.asarray(h, np.float64)
        return h / h.sum()

    with _cms_style() as hep:
        fig, ax = _new_axes(size)
        ax.stairs(shape(items[0][1].background_before), edges, fill=True, color="0.8", label=f"{bkg}, before the cut")
        if signal is not None:
            signal = np.asarray(signal, np.float64)
            if signal.shape != widths.shape or not signal.sum() > 0:
                raise InputError(f"expected a signal histogram of {widths.size} bins with entries; found shape {signal.shape}, "
                                 f"sum {float(signal.sum()) if signal.size else 0.0:g}")
            ax.stairs(shape(signal), edges, color="black", ls="--", lw=2, label=f"{sig}, before the cut")
        efficiency = items[0][1].signal_efficiency if signal_efficiency is None else signal_efficiency
        for i, (name, r) in enumerate(items):
            floor = "" if np.isnan(r.jsd_random) else f" (random {r.jsd_random:.3f})"
            text = f"{name}: $\\varepsilon_B$ = {r.background_efficiency:.3g}, JSD = {r.jsd:.3f}{floor}"
            if r.background_after.sum() > 0:
                ax.stairs(shape(r.background_after), edges, color=f"C{i % 10}", lw=2, label=text)
            else:
                ax.plot([], [], color=f"C{i % 10}", lw=2, label=f"{name}: no {classes[0]} jet left in range")
        ax.set_xlabel("Jet mass [GeV]")
        ax.set_ylabel(f"Fraction of jets{per}")
        ax.set_xlim(edges[0], edges[-1])
        top = max(float(np.max(p.get_data().values)) for p in ax.patches)
        ax.set_ylim(0, 2.2 * top)
        ax.legend(loc="upper right", fontsize="x-small",
                  title=f"{bkg} after the cut at {classes[1]} efficiency {100 * efficiency:.3g}%", title_fontsize="x-small")
        _label(hep, ax, rlabel)
    return fig
