"""``e2ejax tag [FILES...] [-o OUT.root] [--model NAMES] [-n N] [--entries START:STOP] [--overwrite]``.

With no files it tags the shipped sample of each model's task with the shipped
models. One friend file is written per input file, aligned entry by entry (with
``--entries`` or ``--max-events``: output entry ``i`` is input entry ``START + i``),
under a temporary name renamed when complete, while no other run may write it. Each
model's scores go to the branch ``<group>_<name>``, its name from :func:`e2ejax.model_names.score_names`.
ML4SCI frame files (``.h5``, ``.hdf5``, ``.parquet``) get one entry per row, one seed each (docs/ML4SCI.md).
"""

from __future__ import annotations

import argparse
import glob
import os
from pathlib import Path

from e2ejax import tasks
from e2ejax.cluster.chunks import DEFAULT_CHUNK_EVENTS
from e2ejax.commands._options import (
    add_event_range,
    add_scheduler,
    event_range,
    positive,
    warnings_as_lines,
)
from e2ejax.errors import InputError
from e2ejax.model_names import score_names, task_of

__all__ = ["add_arguments", "run"]


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", help="E2E ROOT files, or ML4SCI frame files (.h5, .hdf5, .parquet; docs/ML4SCI.md) "
                        "(default: the shipped sample of the model's task)")
    parser.add_argument("-o", "--output", help="output file (.root or .parquet) of one input, or a directory (an existing "
                        "one, or a name without extension): one <input>_scores.root per input there and a manifest, "
                        "resumable (default <input>_scores.root in the working directory)")
    parser.add_argument("--model", default="egamma", help="comma-separated shipped names or checkpoint directories (default egamma)")
    parser.add_argument("--backend", default="auto", help="auto (ONNX Runtime on CPU, XLA on GPU), xla or onnxruntime")
    parser.add_argument("--batch-size", type=int, default=64, help="events per batch (default 64; files are read 256 events at a time)")
    add_event_range(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output that is not an e2ejax prediction file (earlier predictions are always replaced)")
    parser.add_argument("--accept-units", action="store_true",
                        help="tag stored images whose image_units differ from the model's (e.g. ML4SCI frames with a model "
                        "trained on GeV images) when you know they agree; other conventions are still checked")
    parser.add_argument("--format", metavar="NAME", default=None,
                        help="the format of ML4SCI frame files: qg_hdf5, qg_parquet, top_parquet or egamma_hdf5 "
                        "(default: detected from the datasets or columns the file holds)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")
    parser.add_argument("--track-projection", metavar="SUFFIX", default=None,
                        help="track images read from MLAnalyzer ntuples, by branch suffix: '', _atECAL, _atHCAL, "
                        "_atECALfixIP or _atECALfixIPfromPV (default _atECALfixIP: tracks at the ECAL surface, "
                        "d0/dz from the primary vertex, as e2ejax's; docs/FORMAT.md)")
    parser.add_argument("--workers", type=int, default=None, metavar="N",
                        help="tag on a local Dask cluster of N worker processes (one core each; needs -o DIR and the dask extra)")
    add_scheduler(parser)
    parser.add_argument("--chunk-events", type=int, default=DEFAULT_CHUNK_EVENTS, metavar="N",
                        help=f"entries per work unit with -o DIR (default {DEFAULT_CHUNK_EVENTS})")
    parser.add_argument("--force", action="store_true", help="with -o DIR: redo inputs the manifest records as done")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _outputs(files, args) -> list[str]:
    """The output of each input (``-o`` or ``<stem>_scores.root``), each checked by :func:`e2ejax.io.check_output`."""
    from e2ejax.io import check_output

    if args.output and len(files) > 1:
        raise InputError(f"-o/--output: expected a directory for {len(files)} inputs; found the file name {args.output!r}; "
                         "fix: pass -o DIR (one <input>_scores.root per input there) or drop -o")
    outs = []
    for f in files:
        path = f.split(":")[0]
        out = args.output or f"{Path(path).stem}_scores.root"
        if os.path.abspath(out) in map(os.path.abspath, outs):
            raise InputError(f"expected one output per input; found two inputs writing {out!r}; fix: tag them one at a time with -o")
        check_output(out, overwrite=args.overwrite, source=f)
        outs.append(out)
    return outs


def _model_line(branch: str, spec: str, task: str, summary: dict, name: str) -> str:
    """``  <branch>  model <spec> (<task title>): AUC a ± e (...)`` or why there is no AUC."""
    line = f"  {branch:14s} model {spec} ({tasks.get(task).title}): "
    if name in summary.get("auc", {}):
        background, signal = tasks.get(task).classes
        return line + (f"AUC {summary['auc'][name]:.3f} ± {summary['auc_error'][name]:.3f} "
                       f"({summary['n_signal']} {signal} / {summary['n_background']} {background})")
    truth = summary.get("truth")
    if truth == task:
        return line + "no AUC: the file's truth holds one class only"
    held = f"the file holds {tasks.get(truth).title} labels" if truth else "the file does not say which task its labels are"
    return line + f"no truth for this task ({held})"


def _missing_input(files) -> None:
    """Report a missing plain input path before uproot and awkward are imported (a second), as check_files would."""
    for path in files:
        if ":" not in path and not glob.has_magic(path) and not os.path.exists(path):
            where = os.path.dirname(os.path.abspath(path))
            raise InputError(f"expected a ROOT file at {path!r}; found no such file"
                             f"{'' if os.path.isdir(where) else ' (the directory does not exist either)'}; check the path")


def _shipped_sample(task: str | None) -> list[str]:
    """The shipped sample of a tagger task as the inputs when none are given (none for another task:
    the model check then says what is wrong)."""
    return [str(tasks.get(task).sample_path)] if task in tasks.taggers() else []


def _directory_mode(args) -> bool:
    """True when the outputs go to a directory (with a manifest): ``-o`` names a directory (an existing one
    or a name without extension), or a cluster is asked for."""
    out = args.output
    as_directory = out is not None and (os.path.isdir(out) or not os.path.splitext(out.rstrip("/"))[1] or out.endswith("/"))
    if (args.workers is not None or args.scheduler is not None) and not as_directory:
        raise InputError(f"--workers/--scheduler: expected -o DIR (a directory for one output per input and the manifest); "
                         f"found {'no -o' if out is None else f'-o {out}'}; fix: add e.g. -o scores/")
    if args.workers is not None and args.scheduler is not None:
        raise InputError("expected one of --workers N (start a local Dask cluster) or --scheduler ADDRESS; found both; fix: drop one")
    if not as_directory and (args.force or args.chunk_events != DEFAULT_CHUNK_EVENTS):
        raise InputError("--force/--chunk-events: expected -o DIR (they act on a directory run); fix: add e.g. -o scores/")
    return as_directory


def _run_directory(args, start: int, stop: int | None) -> int:
    """``-o DIR``: every input into DIR, here or on a Dask cluster (:func:`e2ejax.cluster.tag`)."""
    import contextlib
    import sys

    from e2ejax.cluster import dask_client, tag

    if args.workers is not None:
        positive("--workers", args.workers)
    positive("--chunk-events", args.chunk_events)
    files = args.files or _shipped_sample(task_of(args.model.split(",")[0].strip()))
    client = (dask_client(workers=args.workers, scheduler=args.scheduler, quiet=args.quiet)
              if args.workers is not None or args.scheduler is not None else contextlib.nullcontext())
    with client as c:
        manifest = tag(c, files, args.model, args.output, chunk_events=args.chunk_events, batch_size=args.batch_size,
                       backend=args.backend, threads=args.threads, entry_start=start, entry_stop=stop,
                       max_events=args.max_events, force=args.force, overwrite=args.overwrite,
                       suffix=".root", progress=not args.quiet, track_projection=args.track_projection,
                       accept_units=args.accept_units,
                       log=lambda line: print(f"e2ejax tag: {line}", file=sys.stderr))
    run = manifest["run"]
    inputs = len(run["tagged"]) + len(run["skipped"]) + len(run["failed"])
    print(f"{args.output}: {len(run['tagged'])} tagged, {len(run['skipped'])} already done, {len(run['failed'])} failed "
          f"of {inputs} inputs; {run['events']} events in {run['seconds']:.1f} s "
          f"({run['events_per_s']:.0f} events/s); manifest {os.path.join(args.output, 'e2ejax-manifest.json')}")
    for truth, s in run["summary"].items():
        background, signal = tasks.get(truth).classes
        line = ", ".join(f"{name} {a:.3f} ± {s['auc_error'][name]:.3f}" for name, a in s["auc"].items())
        base = ", ".join(f"{name} {a:.3f} ± {s['baseline_auc_error'][name]:.3f}" for name, a in s.get("baseline_auc", {}).items())
        print(f"  {tasks.get(truth).title}: AUC {line} ({s['n_signal']} {signal} / {s['n_background']} {background}, "
              f"files tagged in this run){f'; baselines {base}' if base else ''}")
    return 1 if run["failed"] else 0


def _run_frame_files(args, start: int, stop: int | None) -> int:
    """ML4SCI frame files: every row scored by the models' networks (:func:`e2ejax.inference.tag_frame_files`)."""
    import sys

    from e2ejax.io import is_frame_file

    others = [f for f in args.files if not is_frame_file(f)]
    if others:
        raise InputError(f"expected frame files (.h5, .hdf5, .parquet) only or ROOT files only; found both, e.g. {others[0]!r}; "
                         "fix: tag them in separate runs")
    if _directory_mode(args):
        raise InputError("-o DIR/--workers/--scheduler: expected ROOT inputs; found ML4SCI frame files; "
                         "fix: tag each frame file with -o FILE.root")
    if args.track_projection is not None:
        raise InputError("--track-projection: expected MLAnalyzer ROOT ntuples; found ML4SCI frame files (their track "
                         "images are stored); fix: drop --track-projection")
    positive("--batch-size", args.batch_size)
    positive("--threads", args.threads)
    names = score_names([m.strip() for m in args.model.split(",") if m.strip()])
    outs = _outputs(args.files, args)

    from e2ejax.inference import Tagger, tag_frame_files

    taggers = {n: Tagger.from_pretrained(s, backend=args.backend, threads=args.threads, accept_units=args.accept_units)
               for n, s in names.items()}
    first = next(iter(taggers.values()))
    for f, out in zip(args.files, outs):
        s = tag_frame_files(taggers, f, out, format_name=args.format, batch_size=args.batch_size, max_events=args.max_events,
                            entry_start=start, entry_stop=stop, overwrite=args.overwrite, progress=not args.quiet,
                            accept_units=args.accept_units, say=lambda line: print(f"e2ejax tag: {line}", file=sys.stderr))
        where = f"{f} rows [{start}, {start + s['events']})" if args.entries or args.max_events else f
        print(f"{where}: {s['events']} frames ({s['format']}), {s['events_per_s']:.0f} frames/s on {first.backend} -> {out}")
        for name, tagger in taggers.items():
            print(_model_line(f"{tasks.get(tagger.task).seed_group}_{name}", names[name], tagger.task, s, name))
        if s["replaced"]:
            print(f"replaced an earlier e2ejax prediction file at {out}")
    return 0


def run(args) -> int:
    _missing_input([f for f in args.files if "://" not in f and not f.endswith(".txt")])
    start, stop = event_range(args)
    from e2ejax.io import is_frame_file

    if any(is_frame_file(f) for f in args.files):
        return _run_frame_files(args, start, stop)
    if args.format is not None:
        raise InputError(f"--format: expected ML4SCI frame files (.h5, .hdf5, .parquet); found {args.files or 'no files'}; "
                         "fix: drop --format for ROOT inputs")
    if _directory_mode(args):
        return _run_directory(args, start, stop)
    from e2ejax.io import check_files

    positive("--batch-size", args.batch_size)
    positive("--threads", args.threads)
    specs = [m.strip() for m in args.model.split(",") if m.strip()]
    if not specs:
        raise InputError("--model: expected at least one model name or checkpoint directory")
    names = score_names(specs)
    known = {n: task_of(s) for n, s in names.items()}
    require = tasks.hit_groups(t for t in known.values() if t in tasks.taggers())
    for f in args.files:  # cheap checks of every input and output before the models are loaded
        check_files(f, require=require, track_projection=args.track_projection)
    files = list(args.files) or _shipped_sample(next(iter(known.values())))
    outs = _outputs(files, args)

    from e2ejax.inference import Tagger, tag_files

    taggers = {n: Tagger.from_pretrained(s, backend=args.backend, threads=args.threads, accept_units=args.accept_units) for n, s in names.items()}
    if not files:
        files = [str(tasks.get(next(iter(taggers.values())).task).sample_path)]
        outs = _outputs(files, args)
    group = tasks.get(next(iter(taggers.values())).task).seed_group
    from e2ejax.inference import PileupWarning

    for f, out in zip(files, outs):
        with warnings_as_lines("tag", (PileupWarning,)):
            s = tag_files(taggers, f, out, batch_size=args.batch_size, max_events=args.max_events, entry_start=start,
                          entry_stop=stop, overwrite=args.overwrite, progress=not args.quiet, track_projection=args.track_projection)
        where = f"{f} entries [{start}, {start + s['events']})" if args.entries or args.max_events else f
        print(f"{where}: {s['events']} events, {s['seeds']} seeds, {100 * s['in_acceptance']:.1f}% in acceptance, "
              f"{s['events_per_s']:.0f} events/s ({s['seeds_per_s']:.0f} seeds/s) on {next(iter(taggers.values())).backend} -> {out}")
        for name, tagger in taggers.items():
            print(_model_line(f"{group}_{name}", names[name], tagger.task, s, name))
        if s["replaced"]:
            print(f"replaced an earlier e2ejax prediction file at {out}")
    return 0
