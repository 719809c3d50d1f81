"""``e2ejax bench [--model NAMES] [FILE]``: per-stage timing and peak memory of tagging.

The file is tagged twice with :func:`e2ejax.inference.tag_files`, the loop ``e2ejax tag``
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
from e2ejax.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="E2E ROOT file (default: the shipped sample of the model's task)")
    parser.add_argument("--model", default="egamma", help="comma-separated shipped names or checkpoint directories")
    parser.add_argument("--backend", default="auto", help="auto, xla or onnxruntime")
    parser.add_argument("--batch-size", type=int, default=64, help="events per batch (default 64)")


def bench_model(name: str, file: str | None, *, backend: str, batch_size: int) -> dict:
    """Both passes of the module docstring for one model: stage seconds of the timed pass, both wall times, peak RSS."""
    from e2ejax.inference import StageTimer, Tagger, tag_files

    tagger = Tagger.from_pretrained(name, backend=backend)
    file = file or str(tasks.get(tagger.task).sample_path)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "scores.root")
        t0 = time.perf_counter()
        tag_files({name: tagger}, file, out, batch_size=batch_size, progress=False, prefetch=0)
        first = time.perf_counter() - t0
        timer = StageTimer()
        t0 = time.perf_counter()
        summary = tag_files({name: tagger}, file, out, batch_size=batch_size, progress=False, prefetch=0, timer=timer)
        wall = time.perf_counter() - t0
    return {"model": name, "backend": tagger.backend, "file": file, "events": summary["events"], "seeds": summary["seeds"],
            "times": timer.seconds, "wall": wall, "first_wall": first,
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def run(args) -> int:
    if args.batch_size < 1:
        raise InputError(f"--batch-size: expected a positive integer, found {args.batch_size}")
    for name in [m.strip() for m in args.model.split(",") if m.strip()]:
        r = bench_model(name, args.file, backend=args.backend, batch_size=args.batch_size)
        total = sum(r["times"].values())
        print(f"\n{Path(r['file']).name}: model {r['model']} on {r['backend']}, {r['events']} events, {r['seeds']} seeds, "
              f"peak RSS {r['peak_rss_mb']:.0f} MB")
        print(f"{'stage':8s} {'seconds':>8s} {'share':>6s} {'events/s':>9s}")
        for stage, sec in r["times"].items():
            print(f"{stage:8s} {sec:8.3f} {100 * sec / max(total, 1e-12):5.1f}% {r['events'] / max(sec, 1e-12):9.0f}")
        print(f"{'total':8s} {total:8.3f} 100.0% {r['events'] / max(total, 1e-12):9.0f}")
        print(f"timed pass {r['wall']:.3f} s (stages {total:.3f} s, the rest: the loop's own bookkeeping); "
              f"first pass {r['first_wall']:.3f} s, of which about {max(r['first_wall'] - r['wall'], 0.0):.3f} s "
              "compiling and first calls")
        net = r["times"]["net"]
        print(f"stages in sequence / network-only throughput: {net / max(total, 1e-12):.2f} "
              f"({r['seeds'] / max(total, 1e-12):.0f} vs {r['seeds'] / max(net, 1e-12):.0f} seeds/s; "
              "e2ejax tag overlaps read and inputs with the network: benchmarks/tagging.py)")
    return 0
