"""The task's one-variable baselines, computed from the tagged input for the ROC figure.

:func:`e2ejax.inputs.baseline_scores` gives the oriented baseline of every seed slot of a
batch (jets from their particle-flow constituents, e/gamma from the ECAL frame); here
they are read for the scored, labelled seeds of a :class:`~e2ejax.io.RocInputs`, so
that they line up with the model scores candidate by candidate.
"""

from __future__ import annotations

import numpy as np

from e2ejax import tasks
from e2ejax.errors import InputError
from e2ejax.inference import EVENTS_PER_READ
from e2ejax.inputs import slot_baselines
from e2ejax.io import iterate_events
from e2ejax.metrics import roc_auc

__all__ = ["input_baselines", "better_orientation"]


def input_baselines(truth, task: str, names, entry: np.ndarray, slot: np.ndarray) -> dict[str, np.ndarray]:
    """Baselines of ``task`` for the seeds at (``entry``, ``slot``) of the input file ``truth``.

    Args:
        truth: the tagged input (``file.root`` or ``file.root:tree``).
        task: a tagger task with baselines (:attr:`e2ejax.tasks.Task.baselines`).
        names: baseline names of that task, in the order wanted.
        entry: int ``[N]`` entry of each seed (:attr:`RocInputs.entry`), non-decreasing.
        slot: int ``[N]`` seed slot of each seed (:attr:`RocInputs.slot`).

    Returns:
        name -> float64 ``[N]``, larger = more signal-like (the registry's orientation).

    Raises:
        InputError: a name that is not a baseline of ``task``; a file without the
            groups the baselines need.
    """
    t = tasks.get(task)
    unknown = [n for n in names if n not in t.baselines]
    if unknown:
        raise InputError(f"--baseline: expected baselines of task {task} {list(t.baselines)} or branches of the input; "
                         f"found {unknown}; pick one of those")
    groups = t.hit_groups if t.seed_group == "eg" else ("jet", "pf")
    entry, slot = np.asarray(entry, np.int64), np.asarray(slot, np.int64)
    out = {n: np.full(entry.shape, np.nan) for n in names}
    start = 0
    for events in iterate_events(truth, groups=groups, require=groups, optional=("ee",), step_size=EVENTS_PER_READ,
                                 max_events=int(entry.max()) + 1):
        n = len(events[t.mask_field])
        here = (entry >= start) & (entry < start + n)
        if here.any():
            values = slot_baselines(events, task)
            for name in names:
                out[name][here] = values[name][entry[here] - start, slot[here]]
        start += n
    return out


def better_orientation(labels, baselines: dict) -> dict[str, np.ndarray]:
    """Each baseline in its better orientation, as the held-out evaluation credits it.

    A baseline whose AUC is below 0.5 is negated and renamed (``girth`` <-> ``-girth``), so
    that its curve and AUC are those of ``max(AUC, 1 - AUC)``.

    Args:
        labels: int ``[N]`` 0/1.
        baselines: name -> float64 ``[N]``.

    Returns:
        name -> float64 ``[N]``, in the order given.

    Examples:
        >>> better_orientation(np.array([0, 1]), {"girth": np.array([2.0, 1.0])})
        {'-girth': array([-2., -1.])}
    """
    out = {}
    for name, values in baselines.items():
        if roc_auc(labels, values) < 0.5:
            name, values = (name[1:] if name.startswith("-") else f"-{name}"), -values
        out[name] = values
    return out
