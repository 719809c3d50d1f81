"""``e2ejax bench [FILES...] [--model NAMES] [-n N] [--entries START:STOP]``: per-stage timing and peak memory of tagging.

Each file (default: the shipped sample of the model's task) is tagged twice with :func:`e2ejax.inference.tag_files`, the loop ``e2ejax tag``
runs: a first pass compiles every batch shape (its wall time, less the second pass's,
is what a first run spends on compilation and first calls), then a timed pass without
the reading thread accounts each stage with its outputs ready (:class:`~e2ejax.inference.StageTimer`):
read (ROOT -> padded numpy), inputs (``Tagger.seed_inputs``: seeds, frames summed
straight from the hits and, for the GNN, points), net (``Tagger.score_seeds``: the
backend's network calls), write (friend tree). The last line compares the stages run
one after another with the network alone on the same backend (``e2ejax tag`` builds the
inputs in a second thread, overlapped with the network).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

from e2ejax import tasks
from e2ejax.commands._options import add_event_range, event_range, positive
from e2ejax.errors import InputError
from e2ejax.model_names import score_names, task_of


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("files", nargs="*", help="E2E ROOT files, as for e2ejax tag (default: the shipped sample of the model's task)")
    parser.add_argument("--model", default="egamma", help="comma-separated shipped names or checkpoint directories (default egamma)")
    parser.add_argument("--backend", default="auto", help="auto, xla or onnxruntime")
    parser.add_argument("--batch-size", type=int, default=64, help="events per batch (default 64)")
    add_event_range(parser)
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (default 1)")


def bench_model(name: str, file: str, tagger, *, batch_size: int, entries: tuple[int, int | None] = (0, None),
                max_events: int | None = None) -> dict:
    """Both passes of the module docstring for one model on one file: stage seconds of the timed pass,
    both wall times, peak RSS."""
    from e2ejax.inference import StageTimer, tag_files

    keywords = dict(batch_size=batch_size, max_events=max_events, entry_start=entries[0], entry_stop=entries[1],
                    progress=False, prefetch=0)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "scores.root")
        t0 = time.perf_counter()
        tag_files({name: tagger}, file, out, **keywords)
        first = time.perf_counter() - t0
        timer = StageTimer()
        t0 = time.perf_counter()
        summary = tag_files({name: tagger}, file, out, timer=timer, **keywords)
        wall = time.perf_counter() - t0
    return {"model": name, "backend": tagger.backend, "file": file, "events": summary["events"], "seeds": summary["seeds"],
            "times": timer.seconds, "wall": wall, "first_wall": first,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _runs(args):
    """``(name, file, tagger, setup)`` for every model and file, every input checked before any model is
    loaded; ``setup``: the seconds spent before the first batch, ``{"imports", "model"}`` (the imports of
    the inference and io packages, the model's loading: card, parameters and their checksums, ONNX session)."""
    t0 = time.perf_counter()
    from e2ejax.inference import Tagger
    from e2ejax.io import check_files

    imports = time.perf_counter() - t0

    specs = [m.strip() for m in args.model.split(",") if m.strip()]
    if not specs:
        raise InputError("--model: expected at least one model name or checkpoint directory")
    names = score_names(specs)
    for name, spec in names.items():
        task = task_of(spec)
        for f in args.files:
            check_files(f, require=tasks.get(task).hit_groups if task in tasks.taggers() else ())
    for name, spec in names.items():
        t0 = time.perf_counter()
        tagger = Tagger.from_pretrained(spec, backend=args.backend, threads=args.threads)
        setup = {"imports": imports, "model": time.perf_counter() - t0}
        for f in args.files or [str(tasks.get(tagger.task).sample_path)]:
            yield name, f, tagger, setup
            imports, setup = 0.0, {"imports": 0.0, "model": 0.0}  # paid once


def run(args) -> int:
    positive("--batch-size", args.batch_size)
    positive("--threads", args.threads)
    entries = event_range(args)
    for name, file, tagger, setup in _runs(args):
        r = bench_model(name, file, tagger, batch_size=args.batch_size, entries=entries, max_events=args.max_events)
        total = sum(r["times"].values())
        print(f"\n{Path(r['file']).name}: model {r['model']} on {r['backend']}, {r['events']} events, {r['seeds']} seeds, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB")
        print(f"{'stage':8s} {'seconds':>8s} {'share':>6s} {'events/s':>9s}")
        for stage, sec in r["times"].items():
            print(f"{stage:8s} {sec:8.3f} {100 * sec / max(total, 1e-12):5.1f}% {r['events'] / max(sec, 1e-12):9.0f}")
        print(f"{'total':8s} {total:8.3f} 100.0% {r['events'] / max(total, 1e-12):9.0f}")
        print(f"before the first batch: imports {setup['imports']:.3f} s, model loading {setup['model']:.3f} s")
        print(f"timed pass {r['wall']:.3f} s (stages {total:.3f} s, the rest: the loop's own bookkeeping); "
              f"first pass {r['first_wall']:.3f} s, of which about {max(r['first_wall'] - r['wall'], 0.0):.3f} s "
              "compiling and first calls")
        net = r["times"]["net"]
        print(f"stages in sequence / network-only throughput: {net / max(total, 1e-12):.2f} "
              f"({r['seeds'] / max(total, 1e-12):.0f} vs {r['seeds'] / max(net, 1e-12):.0f} seeds/s; "
              "e2ejax tag overlaps read and inputs with the network: benchmarks/tagging.py)")
    return 0
