"""Tag many files, in this process or on a Dask cluster: one friend file per input, a manifest,
resume, and failures that stop only their own file.

The driver (this process) plans, schedules and writes; the workers count entries and tag
chunks (:mod:`e2ejax.cluster.worker`). A file's chunks come back in any order and are written
in entry order, atomically, once all are there; then the manifest is rewritten. Work is
scheduled file by file (earlier files first), so outputs appear as the run goes and a killed
run loses at most the files in flight.

Without a client the same chunks run here one after the other, so the outputs are
bit-identical whichever way the run goes.
"""

from __future__ import annotations

import collections
import time
from pathlib import Path

from tqdm.auto import tqdm

from e2ejax import tasks
from e2ejax.cluster.chunks import DEFAULT_CHUNK_EVENTS, plan_chunks
from e2ejax.cluster.inputs import expand_inputs, is_url, output_names
from e2ejax.cluster.manifest import MANIFEST_NAME, Manifest, sha256_file
from e2ejax.cluster.worker import file_entries, tag_chunk
from e2ejax.errors import E2EJaxError, InputError
from e2ejax.inference import EVENTS_PER_READ, TruthTally
from e2ejax.io import PredictionWriter, check_output, entry_range_stop, exclusive_lock
from e2ejax.model_names import score_names, task_of
from e2ejax.store import resolve_checkpoint

__all__ = ["tag", "model_records", "prepare_outdir"]


def model_records(specs) -> dict[str, dict]:
    """Score name -> ``{"spec", "task", "card_sha256"}`` of each model (names of :func:`e2ejax.model_names.score_names`).

    Raises:
        InputError: an unknown model, a card without a tagger task, or models of two seed groups.
    """
    records = {}
    for name, spec in score_names(specs).items():
        directory = resolve_checkpoint(spec)
        task = task_of(str(directory)) if directory.is_dir() else None
        if task not in tasks.taggers():
            raise InputError(f"--model: expected a tagger ({', '.join(tasks.taggers())}); found {spec!r} with task {task!r}; "
                             "fix: pass a shipped tagger name or a checkpoint directory written by e2ejax train")
        card = directory / "model_card.json"
        records[name] = {"spec": spec, "task": task, "card_sha256": sha256_file(card) if card.is_file() else None}
    groups = {tasks.get(r["task"]).seed_group for r in records.values()}
    if len(groups) != 1:
        raise InputError(f"--model: expected models of one seed kind (all jet or all e/gamma); found tasks "
                         f"{[r['task'] for r in records.values()]}; fix: tag jets and e/gamma candidates in two runs")
    return records


def prepare_outdir(outdir) -> Path:
    """The output directory: an existing one, or a new one in an existing parent (never a tree of them).

    Raises:
        InputError: a file at ``outdir``, or a missing parent directory.
    """
    path = Path(outdir)
    if path.is_dir():
        return path
    if path.exists():
        raise InputError(f"-o/--output: expected a directory for the outputs of several inputs; found the file {str(path)!r}; "
                         "fix: choose a directory name")
    if not path.resolve().parent.is_dir():
        raise InputError(f"-o/--output: expected an existing parent directory for {str(path)!r}; found none; "
                         f"fix: mkdir -p {path} (e2ejax creates only the last level)")
    path.mkdir()
    return path


class _InProcess:
    """Run submitted work here, in submission order."""

    def __init__(self):
        self._queue: collections.deque = collections.deque()

    def submit(self, tag, fn, *args, priority: int = 0, **kwargs) -> None:
        self._queue.append((tag, fn, args, kwargs))

    def results(self):
        while self._queue:
            tag, fn, args, kwargs = self._queue.popleft()
            try:
                value = fn(*args, **kwargs)
            except Exception as exc:  # recorded for its file, as on a cluster
                yield tag, None, exc
            else:
                yield tag, value, None

    def cancel(self, spec=None) -> None:
        """Drop the work not started yet: all, or that of the input ``spec``."""
        self._queue = collections.deque(w for w in self._queue if spec is not None and w[0][1] != spec)


class _OnDask:
    """Run submitted work on a ``distributed.Client``; results as they complete."""

    def __init__(self, client):
        import distributed

        self._client = client
        self._done = distributed.as_completed()
        self._futures: dict = {}

    def submit(self, tag, fn, *args, priority: int = 0, **kwargs) -> None:
        future = self._client.submit(fn, *args, pure=False, priority=priority, **kwargs)
        self._futures[future.key] = (tag, future)
        self._done.add(future)

    def results(self):
        for future in self._done:
            tag, _ = self._futures.pop(future.key)
            try:
                value = future.result()
            except Exception as exc:  # the task's own error, or the worker dying on every try
                yield tag, None, exc
            else:
                yield tag, value, None
            future.release()

    def cancel(self, spec=None) -> None:
        """Cancel the work not finished yet: all, or that of the input ``spec``."""
        keys = [k for k, (tag, _) in self._futures.items() if spec is None or tag[1] == spec]
        self._client.cancel([self._futures.pop(k)[1] for k in keys])


def _message(exc: BaseException, item=None) -> str:
    """One line for a failed file."""
    if type(exc).__name__ == "KilledWorker":
        where = f" entries [{item.entry_start}, {item.entry_stop})" if item is not None else ""
        return (f"a worker died each time it ran{where} (Dask's allowed-failures reached); "
                "it may need more memory: see docs/DISTRIBUTED.md")
    text = " ".join(str(exc).split())
    return text if isinstance(exc, E2EJaxError) else f"{type(exc).__name__}: {text}"


def _remove_stale_temporaries(output: str) -> None:
    """Remove the temporary files a killed run left for ``output`` (``.NAME.*.tmp``, see :func:`e2ejax.io.atomic_path`);
    called with the directory's lock held, so no other run is writing them."""
    for stale in Path(output).parent.glob(f".{Path(output).name}.*.tmp"):
        stale.unlink(missing_ok=True)


def _write_output(output: str, group: str, results: list[dict], overwrite: bool) -> None:
    """Write the chunks of one file, in entry order, through one :class:`~e2ejax.io.PredictionWriter`."""
    results = sorted(results, key=lambda r: r["item"].entry_start)
    start, n = results[0]["item"].entry_start, sum(r["events"] for r in results)
    with PredictionWriter(output, group=group, entry_start=start, n_entries=n, overwrite=overwrite) as writer:
        for result in results:
            for entry_start, event, mask, scores in result["records"]:
                writer.write(scores, mask=mask, event=event, entry_start=entry_start)


def _file_summary(results: list[dict], entries: int) -> dict:
    """The manifest record of one tagged file: counts, and the AUC of the models of its truth's task."""
    tally = TruthTally.combine(r["tally"] for r in results)
    seeds = sum(r["seeds"] for r in results)
    out = {"entries": entries, "events": sum(r["events"] for r in results), "seeds": seeds,
           "in_acceptance": sum(r["in_acceptance"] for r in results) / max(seeds, 1),
           "chunks": len(results), "worker_seconds": round(sum(r["seconds"] for r in results), 3),
           "worker_peak_rss_mb": round(max(r["peak_rss"] for r in results) / 2**20, 1)}
    auc = tally.summary(results[0]["truth"])
    if "auc" in auc:
        out["auc"] = {k: round(v, 6) for k, v in auc["auc"].items()}
        out["auc_error"] = {k: round(v, 6) for k, v in auc["auc_error"].items()}
    return out


def tag(client, files, model, outdir, *, chunk_events: int = DEFAULT_CHUNK_EVENTS, batch_size: int = 64,
        backend: str = "auto", threads: int = 1, entry_start: int = 0, entry_stop: int | None = None,
        max_events: int | None = None, force: bool = False, overwrite: bool = False, suffix: str = ".root",
        prefetch: int | None = None, progress: bool = True, log=None, track_projection: str | None = None,
        accept_units: bool = False) -> dict:
    """Tag every input with one or more models into ``outdir``: one friend file per input and a manifest.

    Args:
        client: a ``distributed.Client`` (work on its cluster), or None (work in this process).
        files: paths, globs, ``.txt`` files listing inputs, ``root://`` URLs (:func:`~e2ejax.cluster.expand_inputs`).
        model: a shipped name or checkpoint directory, a comma-separated string of them, or a list.
        outdir: the output directory (created if its parent exists); outputs are named by
            :func:`~e2ejax.cluster.output_names`, the manifest is ``outdir/e2ejax-manifest.json``.
        chunk_events: entries per work unit (rounded up to a multiple of 256).
        batch_size, backend, threads: as ``e2ejax tag`` (``threads``: ONNX Runtime threads per worker).
        entry_start, entry_stop, max_events: tag this entry range of every file.
        force: redo files the manifest records as done.
        overwrite: replace existing outputs that are not e2ejax prediction files.
        suffix: ``.root`` or ``.parquet`` outputs.
        track_projection: the track images read from MLAnalyzer ntuples (:func:`e2ejax.io.iterate_events`);
            recorded per file in the manifest (a file done with another is redone).
        accept_units: score stored images whose ``image_units`` differ from the models'.
        prefetch: batches prepared ahead in a second thread per chunk (default: 1 in this
            process, 0 on a cluster, where every worker has one core).
        progress: one progress bar (events, files, rate, ETA) on stderr.
        log: called with one line per notice (a failed file, skipped files); None: silent.

    Returns:
        The manifest (as written, see :class:`~e2ejax.cluster.Manifest`) with ``run``: this run's
        ``tagged``, ``skipped`` and ``failed`` inputs, ``events``, ``seconds`` and, per truth task
        found, the AUC of the models of that task over the files tagged in this run with the
        task's one-variable baselines beside them (``summary``).

    Raises:
        InputError / OutputError: bad arguments, outputs, or another run writing into ``outdir``;
        raised before any work. A failing input is recorded instead, and the others go on.
    """
    log = log or (lambda line: None)
    specs = [m.strip() for m in model.split(",")] if isinstance(model, str) else [str(m) for m in model]
    specs = [s for s in specs if s]
    if not specs:
        raise InputError("--model: expected at least one model name or checkpoint directory")
    models = model_records(specs)
    group = tasks.get(next(iter(models.values()))["task"]).seed_group
    inputs = expand_inputs(files)
    if not inputs:
        raise InputError("expected at least one input file; found none; pass files, globs or a .txt list")
    directory = prepare_outdir(outdir)
    outputs = output_names(inputs, directory, suffix=suffix)
    stop = entry_range_stop(entry_start, entry_stop, max_events)
    entry_range = (int(entry_start), stop)
    # workers get the checkpoint directory itself (absolute), whatever their working directory
    pairs = tuple((name, str(resolve_checkpoint(r["spec"]))) for name, r in models.items())
    options = {"batch_size": batch_size, "backend": backend, "chunk_events": chunk_events}
    reading = {} if track_projection is None else {"track_projection": track_projection}
    runner = _InProcess() if client is None else _OnDask(client)
    prefetch = (1 if client is None else 0) if prefetch is None else prefetch
    t0 = time.perf_counter()
    with exclusive_lock(directory / MANIFEST_NAME, what="run writing into"):
        manifest = Manifest(directory, models=models, options=options, reading=reading)
        todo = [s for s in inputs if force or not manifest.complete(s, outputs[s], entry_range)]
        skipped = [s for s in inputs if s not in todo]
        for spec in todo:
            check_output(outputs[spec], overwrite=overwrite, source=None if is_url(spec) else spec)
            _remove_stale_temporaries(outputs[spec])
        if skipped:
            log(f"skipped {len(skipped)} of {len(inputs)} inputs already done with these models (in {manifest.path}; --force redoes them)")
        task_list = sorted({r["task"] for r in models.values()})
        order = {spec: i for i, spec in enumerate(todo)}
        for spec in todo:
            runner.submit(("entries", spec, None), file_entries, spec, task_list, track_projection, priority=-order[spec])
        pending: dict[str, dict] = {}
        entries_of: dict[str, int] = {}
        tagged, failed, events = [], {}, 0
        tallies: dict = {}
        bar = tqdm(total=0, desc="tag", unit="ev", disable=not progress or not todo)
        bar.set_postfix_str(f"files 0/{len(todo)}")
        try:
            def fail(spec, message):
                failed[spec] = message
                pending.pop(spec, None)
                runner.cancel(spec)
                manifest.failed(spec, outputs[spec], entry_range, message)
                log(f"failed: {spec}: {message}")
                bar.set_postfix_str(f"files {len(tagged) + len(failed)}/{len(todo)}")

            for (kind, spec, item), value, error in runner.results():
                if spec in failed:
                    continue
                if error is not None:
                    fail(spec, _message(error, item))
                elif kind == "entries":
                    entries_of[spec] = value
                    try:
                        items = plan_chunks(spec, value, chunk_events=chunk_events, read_events=max(batch_size, EVENTS_PER_READ),
                                            entry_start=entry_range[0], entry_stop=stop)
                    except InputError as exc:
                        fail(spec, _message(exc))
                        continue
                    pending[spec] = dict.fromkeys(items)
                    bar.total += sum(i.events for i in items)
                    bar.refresh()
                    for i in items:
                        runner.submit(("chunk", spec, i), tag_chunk, i, pairs, batch_size=batch_size, backend=backend,
                                      threads=threads, prefetch=prefetch, track_projection=track_projection,
                                      accept_units=accept_units, priority=-order[spec])
                else:
                    pending[spec][item] = value
                    bar.update(value["events"])
                    if all(v is not None for v in pending[spec].values()):
                        results = list(pending.pop(spec).values())
                        _write_output(outputs[spec], group, results, overwrite)
                        manifest.done(spec, outputs[spec], entry_range, _file_summary(results, entries_of[spec]))
                        for r in results:
                            tallies.setdefault(r["truth"], []).append((order[spec], r["item"].entry_start, r["tally"]))
                        tagged.append(spec)
                        events += sum(r["events"] for r in results)
                        bar.set_postfix_str(f"files {len(tagged) + len(failed)}/{len(todo)}")
        except BaseException:
            runner.cancel()
            raise
        finally:
            bar.close()
            manifest.flush()
    seconds = time.perf_counter() - t0
    summary = {}
    for truth, parts in tallies.items():
        found = TruthTally.combine(t for *_, t in sorted(parts, key=lambda p: p[:2])).summary(truth)
        if "auc" in found:
            summary[truth] = found
    position = {spec: i for i, spec in enumerate(inputs)}
    run = {"tagged": sorted(tagged, key=position.get), "skipped": skipped,
           "failed": dict(sorted(failed.items(), key=lambda kv: position[kv[0]])), "events": events, "seconds": seconds,
           "events_per_s": events / max(seconds, 1e-9), "summary": summary}
    return {**manifest.to_dict(), "run": run}

