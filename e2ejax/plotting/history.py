"""Loss histories of training runs: from ``history.json`` of a run directory or the model card of a checkpoint."""

from __future__ import annotations

import json
import math
import os
from pathlib import Path
from typing import NamedTuple

import numpy as np

from e2ejax.errors import InputError
from e2ejax.store import Checkpointer, resolve_checkpoint, shipped_models

__all__ = ["LossHistory", "load_history"]

_HISTORY_FILE = "history.json"


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
        if str(source) not in shipped_models():
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
