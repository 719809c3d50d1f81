"""``tag_files``: stream a file through one or more taggers into an aligned friend tree.

The loop ``read -> split into batches -> seed inputs -> network -> write`` lives here
once; ``e2ejax tag`` runs it with the inputs of the next batch built in a second
thread, ``e2ejax bench`` runs it stage by stage with a :class:`StageTimer`.
"""

from __future__ import annotations

import contextlib
import time
from typing import Mapping

import jax
import numpy as np
from tqdm.auto import tqdm

from e2ejax import tasks
from e2ejax.errors import InputError
from e2ejax.inference.tagger import Tagger
from e2ejax.io import PredictionWriter, Prefetcher, entry_range_stop, file_provenance, iterate_events
from e2ejax.metrics import auc_standard_error, roc_auc

__all__ = ["tag_files", "truth_task", "StageTimer", "STAGES", "EVENTS_PER_READ"]

#: events read from ROOT per call by :func:`tag_files` (batches are cut from these chunks; uproot's cost per call is high)
EVENTS_PER_READ = 256

#: the stages :class:`StageTimer` accounts for
STAGES = ("read", "inputs", "net", "write")


class StageTimer:
    """Seconds spent in each stage of :func:`tag_files` (run without prefetching so stages do not overlap).

    Each stage is timed with its outputs ready (JAX arrays are waited for).

    Examples:
        >>> timer = StageTimer()
        >>> with timer("read"):
        ...     pass
        >>> sorted(timer.seconds) == sorted(STAGES) and timer.seconds["read"] >= 0
        True
    """

    def __init__(self):
        self.seconds = dict.fromkeys(STAGES, 0.0)

    @contextlib.contextmanager
    def __call__(self, stage: str):
        t0 = time.perf_counter()
        yield
        self.seconds[stage] += time.perf_counter() - t0


def _ready(tree):
    """``tree`` with every JAX array in it computed (for timing)."""
    return jax.block_until_ready(tree)


def truth_task(file: str, group: str) -> str | None:
    """The task whose truth labels ``<group>_label`` of ``file`` are, or None when it cannot be told.

    A file written by ``e2ejax simulate`` names its sample in its provenance record
    (:func:`e2ejax.io.file_provenance`); a file without one is attributed only when a
    single tagger task uses that label (``eg_label``: e/gamma; ``jet_label`` serves qg, top and tau).
    """
    provenance = file_provenance(str(file).split(":")[0])
    if provenance.get("sample") is not None:
        task = tasks.sample_task(provenance)
        return task if task is not None and tasks.get(task).seed_group == group else None
    users = [t for t in tasks.taggers() if tasks.get(t).label_field == f"{group}_label"]
    return users[0] if len(users) == 1 else None


def _events_to_tag(batch, entry_start: int, stop: int | None) -> int | None:
    """The entries ``[entry_start, stop)`` of the tree ``batch`` comes from (None when its size is not known)."""
    if batch.tree_entries is None:
        return None
    end = batch.tree_entries if stop is None else min(stop, batch.tree_entries)
    return max(end - entry_start, 0)


def tag_files(taggers: Mapping[str, Tagger], files, output, *, batch_size: int = 64, max_events=None, entry_start: int = 0,
              entry_stop: int | None = None, overwrite: bool = False, progress: bool = True,
              prefetch: int = 1, timer: StageTimer | None = None) -> dict:
    """Tag every event of ``files`` (one input file) with one or more taggers of the same seed group,
    writing a friend tree aligned entry by entry with the input.

    Args:
        taggers: score name -> :class:`~e2ejax.inference.Tagger` (all jet taggers, or all e/gamma).
        files: one ROOT file (``path`` or ``path:tree``).
        output: ``.root`` (or ``.parquet``) path; written under a temporary name and renamed.
        batch_size: events per batch (files are read :data:`EVENTS_PER_READ` events at a time).
        max_events: tag at most this many entries, from ``entry_start``.
        entry_start, entry_stop: tag the input entries ``[entry_start, entry_stop)`` only (None:
            to the end); output entry ``i`` is then input entry ``entry_start + i``.
        overwrite: replace an existing ``output`` that is not an e2ejax prediction file.
        prefetch: batches read and turned into network inputs ahead, in a background
            thread, while the network scores the current one (0: no thread). ONNX Runtime
            runs on ``threads`` cores; the reading and the JAX ops use the others. One
            ahead keeps a 1-thread network busy; each more holds another batch of frames
            (top: about 50 MB) for no speed (measured on 2 cores).
        timer: a :class:`StageTimer` to account the time of each stage (needs ``prefetch=0``).

    Returns:
        Summary: ``events``, ``seeds``, ``in_acceptance`` fraction, ``seconds``, ``events_per_s``,
        ``seeds_per_s``, ``replaced`` (an earlier prediction file was at ``output``), ``truth``
        (:func:`truth_task` of the input, or None) and, for the taggers of that task where the
        input holds both classes, ``auc`` and its Hanley-McNeil ``auc_error`` per tagger, with
        the ``n_signal`` and ``n_background`` seeds they count.

    Raises:
        InputError: no entry in the range asked for, or an input the taggers cannot read.
        OutputError: another process is writing ``output``.
    """
    if timer is not None and prefetch:
        raise InputError(f"expected prefetch=0 with a stage timer (stages in a second thread overlap); found prefetch={prefetch}")
    groups = {tasks.get(t.task).seed_group for t in taggers.values()}
    if len(groups) != 1:
        raise InputError(f"expected taggers of one seed kind (all jet or all e/gamma), found tasks {[t.task for t in taggers.values()]}")
    group = groups.pop()
    stage = timer if timer is not None else (lambda _: contextlib.nullcontext())
    done = _ready if timer is not None else (lambda tree: tree)
    label_name = f"{group}_label"
    n_events = n_seeds = n_in_acceptance = 0
    scores_all = {name: [] for name in taggers}
    labels_all = []
    t0 = time.perf_counter()
    bar = tqdm(desc="tag", unit="ev", disable=not progress)
    stop = entry_range_stop(entry_start, entry_stop, max_events)
    writer = PredictionWriter(output, group=group, entry_start=entry_start, entry_stop=stop, overwrite=overwrite)
    with writer:
        require = sorted({g for t in taggers.values() for g in tasks.get(t.task).hit_groups})
        # only the groups the taggers use (half the reading time of every group on the shipped samples)
        events = iterate_events(files, step_size=max(batch_size, EVENTS_PER_READ), entry_start=entry_start, entry_stop=stop,
                                groups=require, optional=("ee",))

        def prepared():
            chunks = iter(events)
            while True:
                with stage("read"):
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                for batch in chunk.split(batch_size):
                    try:
                        with stage("inputs"):
                            inputs = done({name: tagger.seed_inputs(batch) for name, tagger in taggers.items()})
                    except InputError as exc:
                        raise InputError(f"{batch.file!r} entries [{batch.entry_start}, {batch.entry_stop}): {exc}") from None
                    yield batch, inputs

        ahead = contextlib.closing(Prefetcher(prepared, size=prefetch) if prefetch > 0 else prepared())
        with ahead as batches:  # a failure here stops the reading thread too
            for batch, inputs in batches:
                with stage("net"):
                    results = {name: taggers[name].score_seeds(x) for name, x in inputs.items()}
                first = next(iter(results.values()))
                with stage("write"):
                    writer.write({name: r.scores for name, r in results.items()}, mask=first.mask, batch=batch)
                n_events += len(first.mask)
                n_seeds += int(first.mask.sum())
                n_in_acceptance += int(first.in_acceptance.sum())
                if label_name in batch:
                    labels = np.asarray(batch[label_name])[:, : first.mask.shape[1]]
                    keep = first.mask & (labels >= 0)
                    labels_all.append(labels[keep])
                    for name, r in results.items():
                        scores_all[name].append(r.scores[keep])
                if bar.total is None:  # the count is known once the tree is open: the bar gets its total and ETA
                    bar.total = _events_to_tag(batch, entry_start, stop)
                    bar.refresh()
                bar.update(len(first.mask))
        if n_events == 0:
            raise InputError(f"expected entries to tag in {files!r}; found none in entries [{entry_start}, "
                             f"{'end' if stop is None else stop}); fix: choose a range inside the file")
    bar.close()
    seconds = time.perf_counter() - t0
    summary = {
        "events": n_events, "seeds": n_seeds, "in_acceptance": n_in_acceptance / max(n_seeds, 1), "seconds": seconds,
        "events_per_s": n_events / max(seconds, 1e-9), "seeds_per_s": n_seeds / max(seconds, 1e-9),
        "replaced": writer.replaced, "truth": truth_task(files, group) if labels_all else None,
    }
    matching = [name for name, t in taggers.items() if t.task == summary["truth"]]
    labels = np.concatenate(labels_all) if labels_all else np.zeros(0)
    if matching and len(np.unique(labels)) == 2:
        n_signal = int((labels == 1).sum())
        summary.update(n_signal=n_signal, n_background=len(labels) - n_signal)
        summary["auc"] = {name: roc_auc(labels, np.concatenate(scores_all[name])) for name in matching}
        summary["auc_error"] = {name: auc_standard_error(a, n_signal, len(labels) - n_signal) for name, a in summary["auc"].items()}
    return summary
