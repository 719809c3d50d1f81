"""The main job's figures: end-to-end vs model-only throughput, auto vs ONNX Runtime alone, RSS vs input size.

Run: ``python benchmarks/tagging.py [--model qg] [--backend auto] [--scale 10]``.

1. Model-only: the tagger's network on the inputs of the real seeds of the first 2000
   events, prepared beforehand (seeds/s), fed whole batches and fed the tagger's parts of
   at most ``max_rows`` seeds; the faster of the two is the reference. End-to-end:
   ``tag_files`` on the shipped sample repeated ``--repeat`` times (default 20, so the
   per-file costs are amortised as on production files: read, seeds, frames, network,
   friend-tree write). Both on ``--backend``, timed in interleaved rounds.
2. On CPU, ``auto`` (ONNX Runtime inside the Tagger) vs a bare ``onnxruntime`` session
   on the same frames with the same thread count.
3. ``e2ejax tag`` in fresh processes on the sample and on the sample repeated
   ``--scale`` times: peak RSS (the child's own ``VmHWM``) and wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time, table  # noqa: E402

from e2ejax import tasks  # noqa: E402


def _tab(headers, rows) -> str:
    return table([dict(zip(headers, r)) for r in rows], headers)


def _best_rate(fn, n_items, *, repeat=3):
    return n_items / best_time(fn, repeat=repeat)


#: events whose network inputs are prepared for the model-only timing
MODEL_EVENTS = 2000


def model_vs_end_to_end(name: str, backend: str, sample: Path, batch_size: int, workdir: Path, *, rounds: int = 5) -> dict:
    from e2ejax.io import iterate_events
    from e2ejax.inference import Tagger, tag_files

    tagger = Tagger.from_pretrained(name, backend=backend)
    prepared, parts, n_model = [], [], 0
    # network inputs held in memory for the first MODEL_EVENTS events only (top: 0.5 MB per seed)
    for events in iterate_events(str(sample), step_size=batch_size, max_events=MODEL_EVENTS):
        chunks, rows, _, _, _ = tagger.seed_inputs(events)  # the real seeds' inputs, in the tagger's parts
        parts += [x for x, _ in chunks]
        prepared.append(tuple(np.concatenate([np.asarray(x[i])[:n] for x, n in chunks]) for i in range(len(chunks[0][0]))))
        n_model += rows.size
    out = workdir / "scores.root"
    n_seeds = tag_files({name: tagger}, str(sample), str(out), batch_size=batch_size, progress=False)["seeds"]
    # the network alone, fed whole batches or the tagger's parts of at most max_rows (the faster is
    # the reference), and the whole job; this machine's speed drifts by 10-20% over minutes, so
    # the three are timed in interleaved rounds and each keeps its best
    timed = {"whole": (lambda: [tagger.network(x) for x in prepared], n_model),
             "parts": (lambda: [tagger.network(x) for x in parts], n_model),
             "e2e": (lambda: tag_files({name: tagger}, str(sample), str(out), batch_size=batch_size, progress=False), n_seeds)}
    rate = dict.fromkeys(timed, 0.0)
    for _ in range(rounds):
        for key, (fn, n) in timed.items():
            rate[key] = max(rate[key], _best_rate(fn, n, repeat=1))
    whole_rate, parts_rate, e2e_rate = rate["whole"], rate["parts"], rate["e2e"]
    return {"seeds": n_seeds, "model_seeds": n_model, "model_only": max(whole_rate, parts_rate), "whole_batches": whole_rate,
            "parts": parts_rate, "end_to_end": e2e_rate, "prepared": prepared, "tagger": tagger}


def auto_vs_bare_ort(name: str, prepared, n_seeds: int) -> dict:
    from e2ejax.inference import onnx_session
    from e2ejax.store import resolve_checkpoint
    from e2ejax.inference import Tagger

    tagger = Tagger.from_pretrained(name, backend="auto", threads=1)
    session = onnx_session(str(resolve_checkpoint(name) / "model.onnx"), threads=1)
    names = [s.name for s in tagger.model.input_spec]
    host = [tuple(np.asarray(a) for a in x) for x in prepared]
    # same session kind and thread count: interleave rounds so a busy moment hits both alike
    bare = auto = 0.0
    for _ in range(5):
        bare = max(bare, _best_rate(lambda: [session.run(None, dict(zip(names, x))) for x in host], n_seeds, repeat=2))
        auto = max(auto, _best_rate(lambda: [tagger.network(x) for x in prepared], n_seeds, repeat=2))
    return {"auto": auto, "bare_ort": bare, "auto_backend": tagger.backend}


def repeated_file(sample: Path, scale: int, path: Path) -> int:
    from e2ejax.io import iterate_events, write_events

    batches = list(iterate_events(str(sample), step_size=500))
    # baskets of 1000 events, as e2ejax simulate writes them (one 10x-sample basket per branch
    # would make the reader decompress it whole for every chunk)
    return write_events(str(path), (b for _ in range(scale) for b in batches), flush_entries=1000)


# the child prints its own high-water mark: VmHWM belongs to the process's address space
# since exec, while ru_maxrss also counts the parent's pages at fork time
_TAG_AND_REPORT = (
    "import sys\n"
    "from e2ejax.cli import main\n"
    "rc = main(sys.argv[1:])\n"
    "hwm = [l.split()[1] for l in open('/proc/self/status') if l.startswith('VmHWM:')][0]\n"
    "print('VmHWM_kB', hwm)\n"
    "sys.exit(rc)\n"
)


def tag_process(files, name: str, backend: str, batch_size: int, workdir: Path) -> dict:
    """Run ``e2ejax tag`` in a fresh process; its peak RSS (MB, VmHWM) and wall time."""
    cmd = [sys.executable, "-c", _TAG_AND_REPORT, "tag", *map(str, files), "--model", name, "--backend", backend,
           "--batch-size", str(batch_size), "-q", "-o", str(workdir / "rss_scores.root")]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(proc.stderr)
    lines = proc.stdout.strip().splitlines()
    hwm = [int(line.split()[1]) for line in lines if line.startswith("VmHWM_kB")][0]
    return {"peak_rss_mb": hwm / 1024, "wall_s": wall}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="qg", help="shipped model name (default qg)")
    parser.add_argument("--backend", default="auto", choices=["auto", "xla", "onnxruntime"])
    parser.add_argument("--batch-size", type=int, default=64, help="events per batch")
    parser.add_argument("--repeat", type=int, default=20, help="the sample repeated this many times for the throughputs (default 20: 8000-20000 events)")
    parser.add_argument("--scale", type=int, default=10, help="input growth for the RSS check")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    from e2ejax.store import shipped_models

    sample = tasks.get(shipped_models()[args.model]).sample_path
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        source = sample
        if args.repeat > 1:  # a longer file: the per-file costs (open, first batch, rename) are amortised
            source = workdir / f"x{args.repeat}_{sample.name}"
            repeated_file(sample, args.repeat, source)
        r = model_vs_end_to_end(args.model, args.backend, source, args.batch_size, workdir)
        best = r["model_only"]
        rows = [[f"model only, whole {args.batch_size}-event batches", f"{r['whole_batches']:.0f}", f"{r['whole_batches'] / best:.2f}"],
                [f"model only, parts of <= {r['tagger'].max_rows} seeds", f"{r['parts']:.0f}", f"{r['parts'] / best:.2f}"],
                ["end to end (tag_files)", f"{r['end_to_end']:.0f}", f"{r['end_to_end'] / best:.2f}"]]
        print(f"{args.model}: {r['seeds']} seeds in {sample.name}" + (f" x{args.repeat}" if args.repeat > 1 else ""))
        print(_tab([f"seeds/s ({r['tagger'].backend})", "rate", "ratio to the faster model only"], rows))
        results["end_to_end_over_model_only"] = r["end_to_end"] / r["model_only"]
        results.update({k: r[k] for k in ("model_only", "whole_batches", "parts", "end_to_end", "seeds")})
        a = auto_vs_bare_ort(args.model, r["prepared"], r["model_seeds"])
        print(_tab(["network on the same frames", "seeds/s", "ratio to bare ORT"],
                    [[f"Tagger auto ({a['auto_backend']})", f"{a['auto']:.0f}", f"{a['auto'] / a['bare_ort']:.2f}"],
                     ["bare onnxruntime session", f"{a['bare_ort']:.0f}", "1.00"]]))
        results["auto_over_bare_ort"] = a["auto"] / a["bare_ort"]
        big = workdir / f"x{args.scale}.root"
        n_big = repeated_file(sample, args.scale, big)
        small_run = tag_process([sample], args.model, args.backend, args.batch_size, workdir)
        big_run = tag_process([big], args.model, args.backend, args.batch_size, workdir)
        print(_tab(["e2ejax tag (fresh process)", "events", "peak RSS MB", "wall s"],
                    [["sample", "1x", f"{small_run['peak_rss_mb']:.0f}", f"{small_run['wall_s']:.1f}"],
                     [f"sample x{args.scale}", str(n_big), f"{big_run['peak_rss_mb']:.0f}", f"{big_run['wall_s']:.1f}"]]))
        results["rss_ratio"] = big_run["peak_rss_mb"] / small_run["peak_rss_mb"]
        results.update(rss_small_mb=small_run["peak_rss_mb"], rss_big_mb=big_run["peak_rss_mb"])
        print(f"peak RSS ratio x{args.scale} input: {results['rss_ratio']:.2f}")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
