"""Read back ``e2ejax tag`` friend trees: scores of scored seeds matched with the truth of the tagged input."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import NamedTuple, Sequence

import awkward as ak
import numpy as np

from e2ejax.errors import InputError
from e2ejax.io._friend import FRIEND_TREE
from e2ejax.io._open import DEFAULT_TREE, open_tree, resolve

__all__ = ["RocInputs", "load_roc_inputs"]

_GROUPS = ("eg", "jet")
_EVENT_BRANCHES = ("event", "eventId")
_DENSE_LABEL = {"jet": "jetLabel"}  # truth label branch of the dense (CMS ntuple) layout


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
    entry: np.ndarray  # int64 [N]: entry of the input each seed belongs to
    slot: np.ndarray  # int64 [N]: its seed slot in that entry


def _open(spec, default_tree: str, what: str):
    """The tree of ``file.root`` or ``file.root:tree`` and the file's path (InputErrors from e2ejax.io)."""
    spec = os.fspath(spec)
    if os.path.isdir(spec):
        raise InputError(f"expected {what} (a ROOT file) at {spec!r}; found a directory; pass the file itself")
    sources = resolve([spec], tree=default_tree)
    if len(sources) != 1:
        raise InputError(f"expected one file for {what}; {os.fspath(spec)!r} matches {len(sources)}; name the file")
    return open_tree(sources[0]), sources[0].path


def _read_friend(spec) -> tuple[str, np.ndarray, object, dict, str]:
    """(group, event ids [E], valid jagged, {model: scores jagged}, path) of a friend ROOT file."""
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
    entry = np.repeat(np.arange(n_entries, dtype=np.int64), ak.to_numpy(ak.sum(slot, axis=1)))[known]
    position = ak.to_numpy(ak.flatten(ak.local_index(labels)[slot])).astype(np.int64)[known]
    return RocInputs(y, scores, group, n_entries, n_unknown, entry, position)
