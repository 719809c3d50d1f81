"""Models named on the command line: their task and their score-branch names, read from the cards
without loading any model (so that inputs are checked before the slow part)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

from e2ejax import tasks
from e2ejax.errors import InputError

__all__ = ["task_of", "model_name", "score_names"]


def _card(spec: str) -> dict | None:
    """The ``card`` section of a checkpoint directory's ``model_card.json`` (None: no readable card)."""
    path = Path(spec) / "model_card.json"
    if not path.is_file():
        return None
    try:
        card = json.loads(path.read_text()).get("card")
    except (OSError, ValueError, AttributeError):
        return None  # the checkpoint loader reports a damaged card
    return card if isinstance(card, dict) else None


def task_of(spec: str) -> str | None:
    """The task of a shipped model name or of a checkpoint directory's card, without loading it (None if unknown)."""
    if not Path(spec).is_dir():
        return tasks.shipped_models().get(spec)
    task = (_card(spec) or {}).get("task")
    return task if isinstance(task, str) else None


def model_name(spec: str) -> str:
    """The name of a model for its score branch: a shipped name as given; for a checkpoint directory
    its training run (the last component of the card's config ``output``, else the directory,
    or the directory above a ``checkpoints`` one), with characters outside ``[A-Za-z0-9_]`` as ``_``.

    Examples:
        >>> model_name("egamma")
        'egamma'
    """
    directory = Path(spec)
    if directory.is_dir():
        config = (_card(spec) or {}).get("config")
        output = config.get("output") if isinstance(config, dict) else None
        if isinstance(output, str) and Path(output).name:
            name = Path(output).name
        else:
            resolved = directory.resolve()
            name = (resolved.parent if resolved.name == "checkpoints" else resolved).name
    else:
        name = spec
    return re.sub(r"[^A-Za-z0-9_]", "_", name) or "model"


def score_names(specs) -> dict[str, str]:
    """Score name -> model spec, one distinct name per model (:func:`model_name`; a clash gets ``_2``, ``_3``, ...).

    Raises:
        InputError: the same model given twice.

    Examples:
        >>> score_names(["qg", "top"])
        {'qg': 'qg', 'top': 'top'}
    """
    names, seen = {}, {}
    for spec in specs:
        key = os.path.realpath(spec) if Path(spec).is_dir() else spec
        if key in seen:
            raise InputError(f"--model: expected each model once; found {seen[key]!r} and {spec!r}, the same model; "
                             "fix: give it once")
        seen[key] = spec
        base = name = model_name(spec)
        i = 2
        while name in names or name == "valid":  # <group>_valid is the seed mask branch
            name, i = f"{base}_{i}", i + 1
        names[name] = spec
    return names
