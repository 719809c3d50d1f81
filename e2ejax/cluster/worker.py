"""What runs on a worker: count a file's entries, tag one chunk. Plain functions of plain
arguments, so that Dask can ship them (``client.submit(tag_chunk, item, models)``) and a
user's own graph can call them (``client.map``).

Each worker process loads its taggers once and keeps them for every later chunk of the same
models (:func:`taggers_for`); the first chunk on a worker pays for the model loading and the
compilation (read from the persistent compilation cache when the driver turned it on).
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np

from e2ejax import tasks
from e2ejax.cluster.chunks import WorkItem
from e2ejax.errors import InputError
from e2ejax.inference import Tagger, TruthTally, score_batches, truth_task
from e2ejax.io import count_entries

__all__ = ["file_entries", "tag_chunk", "taggers_for", "peak_rss_bytes", "BASELINE_GROUPS"]

#: groups read besides the taggers' own for the one-variable baselines (jets: their constituents)
BASELINE_GROUPS = {"jet": ("pf",), "eg": ()}

_TAGGERS: dict = {}
_LOCK = threading.Lock()


def taggers_for(models, *, backend: str = "auto", threads: int = 1, accept_units: bool = False) -> dict[str, Tagger]:
    """Score name -> :class:`~e2ejax.inference.Tagger` for ``models`` (``((name, spec), ...)``), loaded once
    per process and kept for the next calls with the same arguments (the last set only)."""
    key = (tuple(map(tuple, models)), backend, int(threads), bool(accept_units))
    with _LOCK:
        if key not in _TAGGERS:
            _TAGGERS.clear()
            _TAGGERS[key] = {name: Tagger.from_pretrained(spec, backend=backend, threads=threads, accept_units=accept_units)
                             for name, spec in key[0]}
        return _TAGGERS[key]


def file_entries(file: str, tasks_used, track_projection: str | None = None) -> int:
    """The entries of ``file`` after checking it holds every group the tasks read (InputError otherwise)."""
    return count_entries(file, require=tasks.hit_groups(tasks_used), optional=("ee",), track_projection=track_projection)


def peak_rss_bytes() -> int:
    """This process's peak resident memory (bytes)."""
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def tag_chunk(item: WorkItem, models, *, batch_size: int = 64, backend: str = "auto", threads: int = 1,
              prefetch: int = 1, track_projection: str | None = None, accept_units: bool = False) -> dict:
    """Tag the entries of one :class:`~e2ejax.cluster.WorkItem` with ``models`` (``((name, spec), ...)``).

    ``track_projection`` and ``accept_units`` as for :func:`e2ejax.inference.tag_files` and
    :class:`~e2ejax.inference.Tagger`.

    Returns:
        ``item``; ``records``: per batch ``(entry_start, event, mask, scores)`` in entry order
        (``scores``: name -> float32 ``[B, S]``), ready for :class:`~e2ejax.io.PredictionWriter`;
        ``events``, ``seeds``, ``in_acceptance`` (seeds), ``tally`` (a
        :class:`~e2ejax.inference.TruthTally` with the baselines), ``truth`` (the file's task),
        ``seconds``, ``pid`` and ``peak_rss`` of the worker.

    Raises:
        InputError: an unreadable chunk (its file and entries are named).
    """
    t0 = time.perf_counter()
    taggers = taggers_for(models, backend=backend, threads=threads, accept_units=accept_units)
    group = tasks.get(next(iter(taggers.values())).task).seed_group
    tally = TruthTally(taggers, group, baselines=True)
    records, seeds, in_acceptance = [], 0, 0
    for batch, results in score_batches(taggers, item.file, batch_size=batch_size, entry_start=item.entry_start,
                                        entry_stop=item.entry_stop, prefetch=prefetch, groups=BASELINE_GROUPS[group],
                                        track_projection=track_projection):
        first = next(iter(results.values()))
        records.append((batch.entry_start, np.asarray(batch["event"]), first.mask, {n: r.scores for n, r in results.items()}))
        seeds += int(first.mask.sum())
        in_acceptance += int(first.in_acceptance.sum())
        tally.add(batch, results)
    events = sum(len(r[1]) for r in records)
    if events != item.events:
        raise InputError(f"expected {item.events} entries in {item.file!r} [{item.entry_start}, {item.entry_stop}); "
                         f"read {events}; the file changed or is damaged: write it again")
    return {"item": item, "records": records, "events": events, "seeds": seeds, "in_acceptance": in_acceptance,
            "tally": tally, "truth": truth_task(item.file, group) if tally.labelled else None,
            "seconds": time.perf_counter() - t0, "pid": os.getpid(), "peak_rss": peak_rss_bytes()}
