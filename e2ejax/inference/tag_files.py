"""``tag_files``: stream a file through one or more taggers into an aligned friend tree.

The loop ``read -> split into batches -> seed inputs -> network -> write`` lives here
once; ``e2ejax tag`` runs it with the inputs of the next batch built in a second
thread, ``e2ejax bench`` runs it stage by stage with a :class:`StageTimer`.
"""

from __future__ import annotations

import contextlib
import time
import warnings
from typing import Mapping

import jax
import numpy as np
from tqdm.auto import tqdm

from e2ejax import tasks
from e2ejax.errors import InputError
from e2ejax.inference.tagger import Tagger
from e2ejax.inputs import slot_baselines
from e2ejax.io import (
    PredictionWriter,
    Prefetcher,
    entry_range_stop,
    file_provenance,
    iterate_events,
    label_task,
)
from e2ejax.metrics import auc_standard_error, roc_auc

__all__ = ["tag_files", "score_batches", "truth_task", "TruthTally", "StageTimer", "STAGES", "EVENTS_PER_READ", "PileupWarning",
           "check_pileup"]

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
    (:func:`e2ejax.io.file_provenance`), an MLAnalyzer ntuple its labels by their branch
    (:func:`e2ejax.io.label_task`: ``jetIsQuark`` is qg); another file is attributed only when a
    single tagger task uses that label (``eg_label``: e/gamma; ``jet_label`` serves qg, top and tau).
    """
    provenance = file_provenance(str(file).split(":")[0])
    if provenance.get("sample") is not None:
        task = tasks.sample_task(provenance)
        return task if task is not None and tasks.get(task).seed_group == group else None
    stored = label_task(file)
    if stored is not None:
        return stored if tasks.get(stored).seed_group == group else None
    users = [t for t in tasks.taggers() if tasks.get(t).label_field == f"{group}_label"]
    return users[0] if len(users) == 1 else None


class PileupWarning(UserWarning):
    """A file's pileup differs from the pileup a model was trained at (the scores are outside its training conditions)."""


def check_pileup(taggers: Mapping[str, Tagger], file: str) -> list[str]:
    """Warn (:class:`PileupWarning`) for every tagger trained at another pileup than ``file``'s (the ``pileup``
    of its ``e2ejax simulate`` record); returns the messages. Files or models whose pileup is not
    recorded are not checked."""
    found = file_provenance(str(file).split(":")[0]).get("pileup")
    messages = []
    for tagger in taggers.values():
        trained = getattr(tagger, "training_pileup", None)
        if found is None or trained is None or float(found) in trained:
            continue
        at = " and ".join(f"{mu:g}" for mu in trained)
        messages.append(f"{file} was simulated at pileup {float(found):g}, the model {tagger.name} was trained at pileup {at} "
                        f"(its card): its scores here are outside its training conditions; fix: tag with a model trained "
                        f"at pileup {float(found):g} (e2ejax train on e2ejax simulate --pileup {float(found):g} samples)")
        warnings.warn(PileupWarning(messages[-1]), stacklevel=2)
    return messages


def _events_to_tag(batch, entry_start: int, stop: int | None) -> int | None:
    """The entries ``[entry_start, stop)`` of the tree ``batch`` comes from (None when its size is not known)."""
    if batch.tree_entries is None:
        return None
    end = batch.tree_entries if stop is None else min(stop, batch.tree_entries)
    return max(end - entry_start, 0)


class TruthTally:
    """The labels of the scored seeds and their scores per tagger, for AUCs against the file's own truth.

    Seeds count when they are real (the mask) and labelled (``<group>_label >= 0``). Tallies of
    several chunks or files are combined with :meth:`combine`; :meth:`summary` computes the AUCs
    once, for the taggers of the truth's task only.

    Args:
        taggers: score name -> :class:`~e2ejax.inference.Tagger`.
        group: the seed group (``"jet"`` or ``"eg"``).
        baselines: also keep the one-variable baselines (:func:`e2ejax.inputs.slot_baselines`) of
            each tagger's task, when the batches hold the groups they need.
    """

    def __init__(self, taggers: Mapping[str, Tagger], group: str, *, baselines: bool = False):
        self.group = group
        self.tasks = {name: t.task for name, t in taggers.items()}
        self.labels: list[np.ndarray] = []
        self.scores: dict[str, list[np.ndarray]] = {name: [] for name in taggers}
        self.baselines: dict[str, dict[str, list[np.ndarray]]] = {}
        self._baselines = baselines

    @property
    def labelled(self) -> bool:
        """True when some batch held labels."""
        return bool(self.labels)

    def add(self, batch, results: Mapping) -> None:
        """Count the labelled real seeds of one batch (``results``: name -> TagResult)."""
        if f"{self.group}_label" not in batch:
            return
        first = next(iter(results.values()))
        labels = np.asarray(batch[f"{self.group}_label"])[:, : first.mask.shape[1]]
        keep = first.mask & (labels >= 0)
        self.labels.append(labels[keep])
        for name, r in results.items():
            self.scores[name].append(r.scores[keep])
        for task in set(self.tasks.values()) if self._baselines else ():
            values = slot_baselines(batch, task)
            for name, v in (values or {}).items():
                self.baselines.setdefault(task, {}).setdefault(name, []).append(v[:, : keep.shape[1]][keep])

    @classmethod
    def combine(cls, tallies) -> "TruthTally":
        """A new tally holding the seeds of ``tallies`` (of the same taggers), in order; they are left unchanged."""
        tallies = list(tallies)
        out = cls.__new__(cls)
        out.group, out.tasks, out._baselines = tallies[0].group, tallies[0].tasks, tallies[0]._baselines
        out.labels = [v for t in tallies for v in t.labels]
        out.scores = {name: [v for t in tallies for v in t.scores[name]] for name in out.tasks}
        out.baselines = {}
        for t in tallies:
            for task, named in t.baselines.items():
                for name, values in named.items():
                    out.baselines.setdefault(task, {}).setdefault(name, []).extend(values)
        return out

    def summary(self, truth: str | None) -> dict:
        """``truth`` and, for the taggers of that task when both classes are present, ``auc`` and its
        Hanley-McNeil ``auc_error`` per tagger, ``n_signal``, ``n_background`` and, when kept,
        ``baseline_auc`` / ``baseline_auc_error`` per baseline of the task (oriented as the registry says)."""
        out = {"truth": truth}
        matching = [name for name, task in self.tasks.items() if task == truth]
        labels = np.concatenate(self.labels) if self.labels else np.zeros(0)
        if not matching or len(np.unique(labels)) != 2:
            return out
        n_signal = int((labels == 1).sum())
        n_background = len(labels) - n_signal
        out.update(n_signal=n_signal, n_background=n_background)
        out["auc"] = {name: roc_auc(labels, np.concatenate(self.scores[name])) for name in matching}
        out["auc_error"] = {name: auc_standard_error(a, n_signal, n_background) for name, a in out["auc"].items()}
        kept = self.baselines.get(truth, {})
        if kept and all(sum(map(len, v)) == len(labels) for v in kept.values()):
            out["baseline_auc"] = {name: roc_auc(labels, np.concatenate(v)) for name, v in kept.items()}
            out["baseline_auc_error"] = {name: auc_standard_error(a, n_signal, n_background)
                                         for name, a in out["baseline_auc"].items()}
        return out


def score_batches(taggers: Mapping[str, Tagger], files, *, batch_size: int = 64, entry_start: int = 0,
                  entry_stop: int | None = None, prefetch: int = 1, timer: StageTimer | None = None, groups=(),
                  track_projection: str | None = None):
    """Yield ``(batch, results)`` for the consecutive batches of the entries ``[entry_start, entry_stop)``
    of one input: the :class:`~e2ejax.io.EventBatch` and score name -> :class:`~e2ejax.inference.TagResult`.

    The loop of :func:`tag_files` without its output: batches are cut from reads of
    :data:`EVENTS_PER_READ` entries (or ``batch_size`` when larger) counted from
    ``entry_start``, so two runs starting at the same entry see the same batches and give
    bit-identical scores. ``groups`` are read besides the taggers' own when the file has them
    (e.g. ``("pf",)`` for the jet baselines). Other arguments as :func:`tag_files`.
    """
    stage = timer if timer is not None else (lambda _: contextlib.nullcontext())
    done = _ready if timer is not None else (lambda tree: tree)
    require = sorted({g for t in taggers.values() for g in t.hit_groups})
    # only the groups the taggers use (half the reading time of every group on the shipped samples)
    events = iterate_events(files, step_size=max(batch_size, EVENTS_PER_READ), entry_start=entry_start, entry_stop=entry_stop,
                            groups=sorted(set(require) | set(groups)), require=require, optional=("ee", *groups),
                            track_projection=track_projection)

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
            yield batch, results


def tag_files(taggers: Mapping[str, Tagger], files, output, *, batch_size: int = 64, max_events=None, entry_start: int = 0,
              entry_stop: int | None = None, overwrite: bool = False, progress: bool = True,
              prefetch: int = 1, timer: StageTimer | None = None, track_projection: str | None = None) -> dict:
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
        track_projection: the track images read from an MLAnalyzer ntuple, by branch suffix
            (:func:`e2ejax.io.iterate_events`; None: ``"_atECALfixIP"``).

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
    check_pileup(taggers, files)
    n_events = n_seeds = n_in_acceptance = 0
    tally = TruthTally(taggers, group)
    t0 = time.perf_counter()
    bar = tqdm(desc="tag", unit="ev", disable=not progress)
    stop = entry_range_stop(entry_start, entry_stop, max_events)
    writer = PredictionWriter(output, group=group, entry_start=entry_start, entry_stop=stop, overwrite=overwrite)
    with writer, contextlib.closing(score_batches(taggers, files, batch_size=batch_size, entry_start=entry_start,
                                                  entry_stop=stop, prefetch=prefetch, timer=timer,
                                                  track_projection=track_projection)) as scored:
        for batch, results in scored:
            first = next(iter(results.values()))
            with stage("write"):
                writer.write({name: r.scores for name, r in results.items()}, mask=first.mask, batch=batch)
            n_events += len(first.mask)
            n_seeds += int(first.mask.sum())
            n_in_acceptance += int(first.in_acceptance.sum())
            tally.add(batch, results)
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
        "replaced": writer.replaced,
    }
    summary.update(tally.summary(truth_task(files, group) if tally.labelled else None))
    return summary
