"""ROC and loss curves in the CMS style of mplhep (extra ``plot``).

Two kinds of figure, each from the files e2ejax writes:

* loss curves (:func:`load_history`, :func:`loss_figure`): the per-epoch
  ``train_loss`` / ``val_loss`` of a run, from the ``history.json`` of an
  ``e2ejax train`` run directory or from the ``history`` entry of a checkpoint's
  model card;
* ROC curves (:func:`load_roc_inputs`, :func:`roc_curves`, :func:`roc_figure`):
  the scores of a friend file written by ``e2ejax tag`` (one score branch per
  model, one value per seed slot) against the truth labels (``jet_label`` or
  ``eg_label``, -1 = unknown) of the input file it was tagged from. The curves
  and AUCs are those of :func:`e2ejax.metrics.roc_curve` / :func:`e2ejax.metrics.roc_auc`.

Figures are plain :class:`matplotlib.figure.Figure` objects on the Agg canvas
(pyplot and a display are never used) built inside mplhep's CMS style;
:func:`save_figure` writes one under a temporary name and renames it when complete.

Example::

    from e2ejax import plotting
    h = plotting.load_history("runs/egamma")            # or a checkpoint directory
    plotting.save_figure(plotting.loss_figure([h]), "loss.png")
    inputs = plotting.load_roc_inputs(["sim_egamma_scores.root"], "sim_egamma.root")
    curves = plotting.roc_curves(inputs)
    plotting.save_figure(plotting.roc_figure(curves, group=inputs.group), "roc.png")
"""

from __future__ import annotations

import contextlib
import json
import math
import os
from pathlib import Path
from typing import NamedTuple, Sequence

import numpy as np

from e2ejax.errors import InputError, require

__all__ = [
    "LossHistory",
    "RocInputs",
    "RocCurve",
    "load_history",
    "load_roc_inputs",
    "roc_curves",
    "loss_figure",
    "roc_figure",
    "save_figure",
    "check_output",
    "CLASS_NAMES",
]

#: seed group -> (name of label 0, name of label 1) where the meaning of the labels is fixed.
CLASS_NAMES = {"eg": ("photon", "electron")}

_HISTORY_FILE = "history.json"
_GROUPS = ("eg", "jet")
_EVENT_BRANCHES = ("event", "eventId")
_DENSE_LABEL = {"jet": "jetLabel"}  # truth label branch of the dense (CMS ntuple) layout


# -- loss histories ----------------------------------------------------------------------


class LossHistory(NamedTuple):
    """Per-epoch losses of one training run; arrays ``[E]`` float64 (NaN where a value is missing)."""

    label: str  # legend entry
    source: str  # the file or directory read
    epoch: np.ndarray
    step: np.ndarray  # NaN when the history has no steps
    train_loss: np.ndarray
    val_loss: np.ndarray  # all NaN when the run had no validation set


def _read_json(path: Path):
    try:
        return json.loads(path.read_text())
    except OSError as exc:
        raise InputError(f"expected a readable JSON file at {str(path)!r}; reading it failed ({exc.strerror}); check the path") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"expected JSON in {str(path)!r}; found invalid JSON ({exc.msg} at line {exc.lineno}); "
            "write it again with 'e2ejax train' or fix the file"
        ) from None


def _history_from_json(obj, path: Path) -> list:
    """The history list inside a history.json, a step card or a model_card.json summary."""
    if isinstance(obj, list):
        return obj
    if isinstance(obj, dict):
        if "history" in obj:
            return obj["history"]
        if isinstance(obj.get("card"), dict) and "history" in obj["card"]:
            return obj["card"]["history"]
    kind = type(obj).__name__ if not isinstance(obj, dict) else f"an object with keys {sorted(obj)[:8]}"
    raise InputError(
        f"expected a training history in {str(path)!r} (a list of epochs as in history.json, or a model card with "
        f"a 'history' entry); found {kind}; pass the run directory of 'e2ejax train' or its checkpoint directory"
    )


def _card_history(directory: Path, step) -> list:
    from e2ejax.checkpoint import Checkpointer

    card = Checkpointer(directory).card(step=step)
    if "history" not in card:
        raise InputError(
            f"expected a 'history' entry in the model card of step {card.get('step')} in {str(directory)!r}; "
            f"found keys {sorted(card)}; this checkpoint was not saved by 'e2ejax train' "
            "(plot the history.json of its run directory instead)"
        )
    return card["history"]


def _find_history(source: Path) -> tuple[list, str]:
    """(history list, default label) for a run directory, checkpoint directory, step directory or JSON file."""
    if source.is_file():
        label = source.parent.name if source.name in (_HISTORY_FILE, "model_card.json") else source.stem
        return _history_from_json(_read_json(source), source), label or source.stem
    if (source / _HISTORY_FILE).is_file():  # run directory of `e2ejax train`
        return _history_from_json(_read_json(source / _HISTORY_FILE), source / _HISTORY_FILE), source.name
    if (source / "checkpoints").is_dir() and not (source / "model_card.json").exists():
        return _card_history(source / "checkpoints", "latest"), source.name
    if source.name.isdigit() and (source / "card").is_dir():  # one step of a checkpoint directory
        return _card_history(source.parent, int(source.name)), f"{source.parent.name} step {source.name}"
    has_steps = any(p.name.isdigit() for p in source.iterdir() if p.is_dir())
    if (source / "model_card.json").is_file() or has_steps:
        return _card_history(source, "latest"), source.name
    raise InputError(
        f"expected a training run directory (with {_HISTORY_FILE}) or a checkpoint directory (with model_card.json and "
        f"step folders) at {str(source)!r}; found neither; pass the 'output' directory of 'e2ejax train' or its checkpoints/"
    )


def _column(history: list, key: str, where: str, *, required: bool) -> np.ndarray:
    values = []
    for i, entry in enumerate(history):
        value = entry.get(key)
        if value is None and key not in entry and required:
            epoch = entry.get("epoch", i + 1)
            raise InputError(
                f"expected {key!r} in every epoch of the history in {where}; epoch {epoch} has only {sorted(entry)}"
                + ("; the run had no validation set: add data.validation to the config, or plot with --train-only"
                   if key == "val_loss" else "; write the history again with 'e2ejax train'")
            )
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise InputError(f"expected a number for {key!r} at epoch {entry.get('epoch', i + 1)} in {where}; found {value!r}")
        values.append(math.nan if value is None else float(value))
    return np.asarray(values, dtype=np.float64)


def load_history(source, *, label: str | None = None, require_val: bool = True) -> LossHistory:
    """Read the per-epoch losses of a training run.

    Args:
        source: a run directory of ``e2ejax train`` (its ``history.json`` is read),
            a checkpoint directory (the history in the model card of the latest
            step), one step folder of a checkpoint directory, a ``history.json`` /
            ``model_card.json`` file, or a shipped model name (``egamma`` ...).
        label: legend entry (default: the run or checkpoint directory name).
        require_val: raise when an epoch has no ``val_loss`` (keyword-only).

    Returns:
        A :class:`LossHistory`; a ``null`` loss (non-finite when saved) reads as NaN.

    Raises:
        InputError: missing path, unreadable or invalid JSON, a card without
            history, an empty history, epochs without ``train_loss`` (or
            ``val_loss`` when ``require_val``).

    Examples:
        >>> import json, tempfile, os
        >>> run = tempfile.mkdtemp()
        >>> _ = open(os.path.join(run, "history.json"), "w").write(json.dumps(
        ...     [{"epoch": 1, "step": 10, "train_loss": 0.7, "val_loss": 0.69},
        ...      {"epoch": 2, "step": 20, "train_loss": 0.6, "val_loss": 0.65}]))
        >>> h = load_history(run, label="vgg")
        >>> h.label, h.epoch.tolist(), h.val_loss.tolist()
        ('vgg', [1.0, 2.0], [0.69, 0.65])
    """
    path = Path(os.fspath(source)).expanduser()
    if not path.exists():
        from e2ejax.models import SHIPPED, resolve_checkpoint

        if str(source) not in SHIPPED:
            where = path.parent if str(path.parent) not in ("", ".") else Path(".")
            raise InputError(
                f"expected a training run directory, checkpoint directory or history JSON at {str(source)!r}; found no such path"
                f"{'' if where.is_dir() else ' (its parent directory does not exist either)'}; check the path"
            )
        path = resolve_checkpoint(str(source))
    history, default_label = _find_history(path)
    where = repr(str(path))
    if not isinstance(history, list) or not history or not all(isinstance(e, dict) for e in history):
        found = "an empty list" if history == [] else type(history).__name__
        raise InputError(
            f"expected a history with at least one epoch (a list of {{epoch, train_loss, val_loss, step}}) in {where}; "
            f"found {found}; train for at least one epoch first"
        )
    epoch = np.asarray([e.get("epoch", i + 1) for i, e in enumerate(history)], dtype=np.float64)
    return LossHistory(
        label=label or default_label,
        source=str(path),
        epoch=epoch,
        step=_column(history, "step", where, required=False),
        train_loss=_column(history, "train_loss", where, required=True),
        val_loss=_column(history, "val_loss", where, required=require_val),
    )


# -- ROC inputs --------------------------------------------------------------------------


class RocInputs(NamedTuple):
    """Labels and scores of the scored seeds with a known label, aligned entry by entry.

    ``labels`` is int ``[N]`` (0/1); every array of ``scores`` is float64 ``[N]`` (models
    first, in branch order, then baselines).
    """

    labels: np.ndarray
    scores: dict
    group: str  # "eg" or "jet"
    n_entries: int  # events read
    n_unknown: int  # scored seeds skipped because their label is -1


def _open(spec, default_tree: str, what: str):
    """The tree of ``file.root`` or ``file.root:tree`` and the file's path (InputErrors from e2ejax.io)."""
    from e2ejax.io import resolve
    from e2ejax.io._open import open_tree

    spec = os.fspath(spec)
    if os.path.isdir(spec):
        raise InputError(f"expected {what} (a ROOT file) at {spec!r}; found a directory; pass the file itself")
    sources = resolve([spec], tree=default_tree)
    if len(sources) != 1:
        raise InputError(f"expected one file for {what}; {os.fspath(spec)!r} matches {len(sources)}; name the file")
    return open_tree(sources[0]), sources[0].path


def _read_friend(spec) -> tuple[str, np.ndarray, object, dict, str]:
    """(group, event ids [E], valid jagged, {model: scores jagged}, path) of a friend ROOT file."""
    import awkward as ak

    from e2ejax.io import FRIEND_TREE

    tree, path = _open(spec, FRIEND_TREE, "a scores file written by 'e2ejax tag'")
    keys = list(tree.keys())
    groups = [g for g in _GROUPS if f"{g}_valid" in keys]
    if not groups:
        raise InputError(
            f"expected a friend tree written by 'e2ejax tag' with branches 'eg_valid' or 'jet_valid' and one "
            f"'<group>_<model>' score branch per model in {path!r}; found branches {keys[:10]}; "
            "tag the input with 'e2ejax tag' and pass its output"
        )
    group = groups[0]
    names = [k[len(group) + 1:] for k in keys if k.startswith(f"{group}_") and k != f"{group}_valid"]
    if not names:
        raise InputError(
            f"expected at least one score branch '{group}_<model>' beside '{group}_valid' in {path!r}; found branches {keys}; "
            "the file holds no model scores: tag the input again"
        )
    arrays = tree.arrays([f"{group}_valid"] + [f"{group}_{n}" for n in names] + (["event"] if "event" in keys else []))
    event = ak.to_numpy(arrays["event"]).astype(np.int64) if "event" in keys else None
    return group, event, arrays[f"{group}_valid"], {n: arrays[f"{group}_{n}"] for n in names}, path


def _read_truth(spec, group: str, baselines: Sequence[str]):
    """(event ids [E] (entry numbers without an event branch), labels jagged, {baseline: jagged}, path) of the input."""
    import awkward as ak

    from e2ejax.io import DEFAULT_TREE

    tree, path = _open(spec, DEFAULT_TREE, "the input file that was tagged")
    keys = list(tree.keys())
    label_branch = next((b for b in (f"{group}_label", _DENSE_LABEL.get(group)) if b and b in keys), None)
    if label_branch is None:
        raise InputError(
            f"expected truth labels '{group}_label' (the scores are of '{group}' seeds) in {path!r}; "
            f"not among its {len(keys)} branches; pass with --truth the input file that was tagged (see docs/FORMAT.md)"
        )
    missing = [b for b in baselines if b not in keys]
    if missing:
        import difflib

        close = difflib.get_close_matches(missing[0], keys, n=3)
        raise InputError(
            f"expected baseline branch {missing[0]!r} in {path!r}; not found{f' (closest: {close})' if close else ''}; "
            f"pick a per-{group} branch of the input such as {[k for k in keys if k.startswith(group + '_')][:6]}"
        )
    event_branch = next((b for b in _EVENT_BRANCHES if b in keys), None)
    arrays = tree.arrays([label_branch] + list(dict.fromkeys(baselines)) + ([event_branch] if event_branch else []))
    event = ak.to_numpy(arrays[event_branch]).astype(np.int64) if event_branch else np.arange(tree.num_entries, dtype=np.int64)
    labels = arrays[label_branch]
    extra = {}
    for b in baselines:
        values = arrays[b]
        if values.ndim != 2 or not np.array_equal(ak.to_numpy(ak.num(values)), ak.to_numpy(ak.num(labels))):
            raise InputError(
                f"expected baseline {b!r} with one value per {group} candidate (as {label_branch!r}) in {path!r}; "
                f"found type {values.type}; pick a branch of the '{group}' group"
            )
        extra[b] = values
    return event, labels, extra, path


def load_roc_inputs(score_files, truth, *, models: Sequence[str] | None = None, baselines: Sequence[str] = ()) -> RocInputs:
    """Scores of ``e2ejax tag`` friend files matched with the truth labels of the tagged input.

    A seed enters when the tagger scored it (``<group>_valid``) and its label is 0 or 1
    (label -1, unknown, is skipped). Every scores file must be aligned with ``truth``
    entry by entry: same number of entries and, where both files have them, the same
    event ids.

    Args:
        score_files: one or more friend ROOT files (``file.root`` or ``file.root:tree``)
            tagged from ``truth``. With several files, score names are prefixed with the file stem.
        truth: the input ROOT file (``file.root`` or ``file.root:tree``) holding
            ``eg_label`` or ``jet_label`` (``jetLabel`` in the dense layout).
        models: score names to keep (default all), keyword-only.
        baselines: one-variable baselines, branches of the truth file with one value
            per candidate; higher is taken as more signal-like, or lower for a name
            ending in ``:low`` (e.g. ``"jet_mass"``, ``"eg_pt:low"``) (keyword-only).

    Returns:
        :class:`RocInputs`.

    Raises:
        InputError: missing files or trees, a scores file without score branches, a
            truth file without labels, misaligned files, unknown model or baseline names,
            seeds with no known label.
    """
    import awkward as ak

    files = [score_files] if isinstance(score_files, (str, os.PathLike)) else list(score_files)
    if not files:
        raise InputError("expected at least one scores file written by 'e2ejax tag'; found none")
    friends = [_read_friend(f) for f in files]
    groups = {f[0] for f in friends}
    if len(groups) > 1:
        raise InputError(
            f"expected scores of one seed kind; found {', '.join(f'{f[4]!r}: {f[0]}' for f in friends)}; plot jets and e/gamma separately"
        )
    group = friends[0][0]
    parsed = []
    for b in baselines:
        name, low = (b[:-4], True) if b.endswith(":low") else (b, False)
        parsed.append((b, name, low))
    t_event, labels, base_values, t_path = _read_truth(truth, group, [p[1] for p in parsed])
    n_entries = len(labels)
    label_counts = ak.to_numpy(ak.num(labels))
    scores: dict[str, np.ndarray] = {}
    keep_first = None
    n_unknown = 0
    for f_group, f_event, valid, named, f_path in friends:
        if len(valid) != n_entries:
            raise InputError(
                f"expected the scores in {f_path!r} to align with {t_path!r} entry by entry ({n_entries} entries); "
                f"found {len(valid)} entries; pass with --truth the file that was tagged into {f_path!r}"
            )
        if f_event is not None and not np.array_equal(f_event, t_event):
            first = int(np.argmax(f_event != t_event))
            raise InputError(
                f"expected the same event ids in {f_path!r} and {t_path!r} (entry by entry); found event {int(f_event[first])} "
                f"against {int(t_event[first])} at entry {first}; pass with --truth the file that was tagged into {f_path!r}"
            )
        counts = ak.to_numpy(ak.num(valid))
        if (counts > label_counts).any():
            first = int(np.argmax(counts > label_counts))
            raise InputError(
                f"expected at most as many scored seeds per entry in {f_path!r} as {group} candidates in {t_path!r}; "
                f"found {int(counts[first])} against {int(label_counts[first])} at entry {first}; the files do not belong together"
            )
        slot = ak.local_index(labels) < counts  # the seed slots present in the friend file
        lab = ak.to_numpy(ak.flatten(labels[slot])).astype(np.int64)
        ok = ak.to_numpy(ak.flatten(valid)).astype(bool)
        known = ok & (lab >= 0)
        if keep_first is None:
            keep_first = (slot, known)
            n_unknown = int((ok & (lab < 0)).sum())
        elif not np.array_equal(known, keep_first[1]) or not ak.all(slot == keep_first[0]):
            raise InputError(
                f"expected every scores file to score the same seeds of {t_path!r}; {f_path!r} differs from {friends[0][4]!r}; "
                "tag the same input with the same seed settings"
            )
        prefix = f"{Path(f_path).stem}:" if len(friends) > 1 else ""
        for name, values in named.items():
            scores[prefix + name] = ak.to_numpy(ak.flatten(values)).astype(np.float64)[known]
    slot, known = keep_first
    y = ak.to_numpy(ak.flatten(labels[slot])).astype(np.int64)[known]
    if y.size == 0:
        raise InputError(
            f"expected scored {group} candidates with a known label (0 or 1) in {t_path!r}; found none "
            f"({n_unknown} with label -1); a ROC curve needs labelled candidates"
        )
    bad = np.setdiff1d(np.unique(y), [0, 1])
    if bad.size:
        raise InputError(
            f"expected labels 0, 1 or -1 (unknown) in {t_path!r}; found {bad[:6].tolist()}; a ROC curve needs a binary label"
        )
    if models:
        unknown = [m for m in models if m not in scores]
        if unknown:
            raise InputError(f"--model: expected names among {sorted(scores)}; found {unknown}; drop or fix them")
        scores = {m: scores[m] for m in models}
    for spec, name, low in parsed:
        values = ak.to_numpy(ak.flatten(base_values[name][slot])).astype(np.float64)[known]
        scores[spec] = -values if low else values
    return RocInputs(y, scores, group, n_entries, n_unknown)


class RocCurve(NamedTuple):
    """One ROC curve: ``fpr``, ``tpr``, ``thresholds`` exactly as :func:`e2ejax.metrics.roc_curve`."""

    name: str
    fpr: np.ndarray
    tpr: np.ndarray
    thresholds: np.ndarray
    auc: float  # e2ejax.metrics.roc_auc
    n_signal: int
    n_background: int


def roc_curves(labels, scores: dict | None = None) -> list[RocCurve]:
    """ROC curve and AUC of every score against the same labels.

    Args:
        labels: int ``[N]`` 0/1, or a :class:`RocInputs` (then ``scores`` is taken from it).
        scores: name -> float ``[N]``, higher = more signal-like.

    Returns:
        One :class:`RocCurve` per score, in the order given.

    Raises:
        InputError: as :func:`e2ejax.metrics.roc_curve`, prefixed with the score's name.

    Examples:
        >>> c = roc_curves(np.array([0, 0, 1, 1]), {"m": np.array([0.1, 0.4, 0.35, 0.8])})[0]
        >>> c.auc, c.tpr.tolist()
        (0.75, [0.0, 0.5, 0.5, 1.0, 1.0])
    """
    from e2ejax.metrics import roc_auc, roc_curve

    if isinstance(labels, RocInputs):
        labels, scores = labels.labels, labels.scores
    labels = np.asarray(labels)
    out = []
    for name, s in (scores or {}).items():
        try:
            fpr, tpr, thr = roc_curve(labels, s)
            auc = roc_auc(labels, s)
        except InputError as exc:
            raise InputError(f"ROC of {name!r}: {exc}") from None
        n_sig = int((labels == 1).sum())
        out.append(RocCurve(name, fpr, tpr, thr, auc, n_sig, int(labels.shape[0]) - n_sig))
    return out


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


def _new_axes(size):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    w, h = size
    if not (w > 0 and h > 0 and math.isfinite(w) and math.isfinite(h)):
        raise InputError(f"expected a positive figure size (width, height) in inches; found {size!r}")
    fig = Figure(figsize=(w, h), layout="constrained")
    FigureCanvasAgg(fig)
    return fig, fig.add_subplot()


def _label(hep, ax, rlabel: str | None) -> None:
    hep.cms.label(ax=ax, data=False, rlabel=rlabel or "", loc=0)


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


def roc_figure(curves: Sequence[RocCurve], *, group: str | None = None, rejection: bool = False,
               size=(10.0, 10.0), rlabel: str | None = None):
    """ROC curves of several scores against the same labels, AUC in the legend.

    Default axes: background efficiency (``fpr``) on x, signal efficiency (``tpr``) on y,
    with the diagonal of a random classifier; ``ax.lines[i]`` holds ``(fpr, tpr)`` of
    ``curves[i]`` exactly. With ``rejection=True``: signal efficiency on x and background
    rejection ``1 / fpr`` on a log y axis (points with ``fpr = 0`` left out).

    Args:
        curves: from :func:`roc_curves`.
        group: ``"eg"`` or ``"jet"``, names the classes on the axes (``eg``: electron = 1,
            photon = 0); otherwise "signal (label 1)" / "background (label 0)".
        rejection: draw the rejection form (keyword-only).
        size: figure size in inches.
        rlabel: text at the top right (default none).

    Returns:
        A matplotlib ``Figure`` (Agg canvas).
    """
    if not curves:
        raise InputError("expected at least one ROC curve to plot; found none")
    bkg, sig = CLASS_NAMES.get(group, ("background", "signal"))
    sig_name = f"{sig.capitalize()} efficiency" if group in CLASS_NAMES else "Signal efficiency (label 1)"
    bkg_name = f"{bkg.capitalize()}" if group in CLASS_NAMES else "Background (label 0)"
    with _cms_style() as hep:
        fig, ax = _new_axes(size)
        for i, c in enumerate(curves):
            style = {"color": f"C{i % 10}", "label": f"{c.name} (AUC = {c.auc:.4f})"}
            if rejection:
                keep = c.fpr > 0
                ax.plot(c.tpr[keep], 1.0 / c.fpr[keep], **style)
            else:
                ax.plot(c.fpr, c.tpr, **style)
        if rejection:
            ax.set_yscale("log")
            ax.set_xlabel(sig_name)
            ax.set_ylabel(f"{bkg_name} rejection" if group in CLASS_NAMES else "Background rejection (label 0)")
            ax.set_xlim(0, 1)
        else:
            ax.plot([0, 1], [0, 1], ls=":", color="grey", label="Random (AUC = 0.5)")
            ax.set_xlabel(f"{bkg_name} efficiency" if group in CLASS_NAMES else "Background efficiency (label 0)")
            ax.set_ylabel(sig_name)
            ax.set_xlim(0, 1)
            ax.set_ylim(0, 1.05)
        ax.legend(loc="lower right" if not rejection else "upper right")
        _label(hep, ax, rlabel)
    return fig


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
    from e2ejax.io import atomic_path

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
