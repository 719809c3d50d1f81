"""``e2ejax bench [--model NAMES] [FILE]``: per-stage timing and peak memory of tagging.

Stages: read (ROOT -> padded numpy), seeds, frames (jitted JAX ops; windows and frames
are summed straight from the hits as the tagger does, no detector images), net (the backend's
network call), write (friend tree). Each jitted stage is warmed up on
the first batch and then timed with its outputs ready; the table gives seconds,
share of the total and events/s, and the last line compares the stages run one after
another with the network alone on the same backend (``e2ejax tag`` runs read and
frames in a second thread, overlapped with the network).
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


def _block(x):
    import jax

    jax.tree.map(lambda a: a.block_until_ready() if hasattr(a, "block_until_ready") else a, x)
    return x


def bench_model(name: str, file: str | None, *, backend: str, batch_size: int) -> dict:
    import jax
    import jax.numpy as jnp

    from e2ejax.features import (
        TASKS, egamma_frames, egamma_seed_cells, hcal_towers, jet_axes, jet_inputs_at, trim_seed_slots,
    )
    from e2ejax.io import PredictionWriter, iterate_events
    from e2ejax.ops import jet_seeds
    from e2ejax.pipeline import READ_EVENTS, REQUIRED_GROUPS, Tagger, pad_rows

    tagger = Tagger.from_pretrained(name, backend=backend)
    channels, size, kind = TASKS[tagger.task]
    file = file or str(DATA / SHIPPED_SAMPLE[tagger.task])
    stages = ("read", "seeds", "frames", "net", "write")
    if kind == "egamma":
        seeds_fn = jax.jit(lambda ev: egamma_seed_cells(ev)[0])
        frames_fn = jax.jit(lambda ev, s, rows: jnp.take(egamma_frames(ev, s)[0].reshape(-1, size, size, 1), rows, axis=0))
    else:
        seeds_fn = jax.jit(lambda ev: jet_seeds(hcal_towers(ev), jet_axes(ev), ev["jet_mask"])[0])
        frames_fn = jax.jit(lambda ev, s, rows: jet_inputs_at(ev, rows, task=tagger.task)[0])

    def net_inputs(frames, n_rows):  # frames [R, size, size, C] of the real seeds (then padding rows)
        return _block(tagger.network_inputs(frames, n_rows))

    times = dict.fromkeys(stages, 0.0)
    n_events = n_seeds = 0
    warm = set()
    with tempfile.TemporaryDirectory() as tmp:
        group = tagger.group
        writer = PredictionWriter(os.path.join(tmp, "scores.root"), group=group)
        t_all = time.perf_counter()
        t = time.perf_counter()
        chunks = iterate_events(file, step_size=max(batch_size, READ_EVENTS), groups=REQUIRED_GROUPS[tagger.task],
                                optional=("ee",))
        for chunk in chunks:  # read as e2ejax tag reads: READ_EVENTS at a time, cut into batches
            times["read"] += time.perf_counter() - t
            for batch in chunk.split(batch_size):
                ev = trim_seed_slots({k: np.asarray(v) for k, v in batch.items()}, group)
                mask = ev[f"{group}_mask"]
                if not mask.any():  # nothing to score: the batch is only written
                    writer.write({name: np.zeros(mask.shape, np.float32)}, mask=mask, batch=batch)
                    n_events += len(mask)
                    continue
                real = np.flatnonzero(mask)
                # real seeds only, in the tagger's parts: (padded rows, real count) per call
                parts = [(pad_rows(p), len(p)) for p in tagger.row_parts(real)]
                shape_key = tuple(sorted((k, v.shape) for k, v in ev.items())) + tuple(len(r) for r, _ in parts)
                if shape_key not in warm:  # compile outside the timed region
                    sd = _block(seeds_fn(ev))
                    for rows, n in parts:
                        tagger.network(net_inputs(_block(frames_fn(ev, sd, rows)), n))
                    warm.add(shape_key)
                t = time.perf_counter(); sd = _block(seeds_fn(ev)); times["seeds"] += time.perf_counter() - t
                t = time.perf_counter()
                xs = [(net_inputs(_block(frames_fn(ev, sd, rows)), n), n) for rows, n in parts]
                times["frames"] += time.perf_counter() - t
                t = time.perf_counter()
                scores = np.zeros(mask.shape, np.float32)
                scores.reshape(-1)[real] = np.concatenate([tagger.network(x)[:n] for x, n in xs])
                times["net"] += time.perf_counter() - t
                t = time.perf_counter()
                writer.write({name: scores}, mask=mask, batch=batch)
                times["write"] += time.perf_counter() - t
                n_events += len(mask)
                n_seeds += real.size
            t = time.perf_counter()
        writer.close()
        wall = time.perf_counter() - t_all
    return {"model": name, "backend": tagger.backend, "file": file, "events": n_events, "seeds": n_seeds,
            "times": times, "wall": wall, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}


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
              "e2ejax tag overlaps read and frames with the network: benchmarks/tagging.py)")
    return 0
