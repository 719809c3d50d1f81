"""``e2ejax bench [--model NAMES] [FILE]``: per-stage timing and peak memory of tagging.

Stages, each the very call ``e2ejax tag`` makes: read (ROOT -> padded numpy),
inputs (``Tagger.seed_inputs``: seeds, frames summed straight from the hits and, for
the GNN, points, one jitted program per part of the seeds), net (``Tagger.score_seeds``:
the backend's network calls), write (friend tree). Every new batch shape is warmed up
(compiled) outside the timed region and each stage is timed with its outputs ready;
the table gives seconds, share of the total and events/s, and the last line compares
the stages run one after another with the network alone on the same backend
(``e2ejax tag`` builds the inputs in a second thread, overlapped with the network).
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from e2ejax.commands.tag import DATA, SHIPPED_SAMPLE
from e2ejax.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", nargs="?", help="E2E ROOT file (default: the shipped sample of the model's task)")
    parser.add_argument("--model", default="egamma", help="comma-separated shipped names or checkpoint directories")
    parser.add_argument("--backend", default="auto", help="auto, xla or onnxruntime")
    parser.add_argument("--batch-size", type=int, default=64, help="events per batch (default 64)")


STAGES = ("read", "inputs", "net", "write")


def _block(x):
    import jax

    jax.tree.map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, x)
    return x


def bench_model(name: str, file: str | None, *, backend: str, batch_size: int) -> dict:
    from e2ejax.features import trim_seed_slots
    from e2ejax.io import PredictionWriter, iterate_events
    from e2ejax.pipeline import READ_EVENTS, REQUIRED_GROUPS, Tagger

    tagger = Tagger.from_pretrained(name, backend=backend)
    file = file or str(DATA / SHIPPED_SAMPLE[tagger.task])
    times = dict.fromkeys(STAGES, 0.0)
    n_events = n_seeds = 0
    warm = set()
    with tempfile.TemporaryDirectory() as tmp:
        writer = PredictionWriter(os.path.join(tmp, "scores.root"), group=tagger.group)
        t_all = time.perf_counter()
        t = time.perf_counter()
        chunks = iterate_events(file, step_size=max(batch_size, READ_EVENTS), groups=REQUIRED_GROUPS[tagger.task],
                                optional=("ee",))
        for chunk in chunks:  # read as e2ejax tag reads: READ_EVENTS at a time, cut into batches
            times["read"] += time.perf_counter() - t
            for batch in chunk.split(batch_size):
                # the programs compile per shape: warm each new shape up outside the timed region
                shape_key = _shape_key(trim_seed_slots(dict(batch.items()), tagger.group), tagger)
                if shape_key not in warm:
                    tagger.score_seeds(_block(tagger.seed_inputs(batch)))
                    warm.add(shape_key)
                t = time.perf_counter(); prepared = _block(tagger.seed_inputs(batch)); times["inputs"] += time.perf_counter() - t
                t = time.perf_counter(); result = tagger.score_seeds(prepared); times["net"] += time.perf_counter() - t
                t = time.perf_counter()
                writer.write({name: result.scores}, mask=result.mask, batch=batch)
                times["write"] += time.perf_counter() - t
                n_events += len(result.mask)
                n_seeds += int(result.mask.sum())
            t = time.perf_counter()
        writer.close()
        wall = time.perf_counter() - t_all
    return {"model": name, "backend": tagger.backend, "file": file, "events": n_events, "seeds": n_seeds,
            "times": times, "wall": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


def _shape_key(events, tagger) -> tuple:
    """What decides which programs a batch runs: its array shapes and the padded sizes of its parts."""
    from e2ejax.pipeline import pad_rows

    rows = np.flatnonzero(np.asarray(events[f"{tagger.group}_mask"]))
    return tuple(sorted((k, np.shape(v)) for k, v in events.items())) + tuple(len(pad_rows(p)) for p in tagger.row_parts(rows))


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
        net = r["times"]["net"]
        print(f"stages in sequence / network-only throughput: {net / max(total, 1e-12):.2f} "
              f"({r['seeds'] / max(total, 1e-12):.0f} vs {r['seeds'] / max(net, 1e-12):.0f} seeds/s; "
              "e2ejax tag overlaps read and inputs with the network: benchmarks/tagging.py)")
    return 0
