"""Benchmark of e2ejax.io: flat memory when streaming a 10x larger file, and read + image throughput.

Run: ``python benchmarks/io.py`` (``--quick`` for smaller files). Files are generated
synthetically in a temporary directory (sparse layout of docs/FORMAT.md, CMS-like hit counts).
Peak RSS is measured in a fresh subprocess per file, so one run does not inherit another's heap.
Prints ratio tables; absolute figures only mean something on a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import table  # noqa: E402

#: mean hits per event and group (Poisson), roughly a busy jet event after zero suppression.
MEAN_HITS = {"eb": 600, "ee": 300, "hbhe": 250, "trk": 120, "bpix": 400, "pf": 150, "jet": 4, "eg": 1}


def _values(rng, group, field, n):
    if field in ("ieta",):
        top = 85 if group == "eb" else 28
        return (rng.integers(1, top + 1, n) * rng.choice([-1, 1], n)).astype(np.int32)
    if field == "iphi":
        return rng.integers(1, 361 if group == "eb" else 73, n).astype(np.int32)
    if field in ("seed_row", "seed_col"):
        return (rng.integers(0, 56 if field == "seed_row" else 72, n) * 5 + 2).astype(np.int32)
    if field == "layer":
        return rng.integers(1, 4, n).astype(np.int32)
    if field in ("charge", "type", "jet", "label", "converted"):
        return rng.integers(0, 2, n).astype(np.int32)
    if field == "eta":
        return rng.uniform(-2.9, 2.9, n).astype(np.float32)
    if field == "phi":
        return rng.uniform(-np.pi, np.pi, n).astype(np.float32)
    return np.round(rng.exponential(5.0, n), 2).astype(np.float32)


def write_synthetic(path: str, n_events: int, *, seed: int = 0, chunk: int = 1000) -> None:
    """Write ``n_events`` random sparse-layout events to ``path`` in chunks (bounded memory)."""
    import awkward as ak
    import uproot

    from e2ejax.io import GROUPS

    rng = np.random.default_rng(seed)
    with uproot.recreate(path, compression=uproot.LZ4(1)) as f:
        tree = None
        for start in range(0, n_events, chunk):
            n = min(chunk, n_events - start)
            arrays = {"event": np.arange(start, start + n, dtype=np.int64)}
            for g, fields in GROUPS.items():
                counts = rng.poisson(MEAN_HITS[g], n)
                total = int(counts.sum())
                arrays[g] = ak.zip({fl: ak.unflatten(_values(rng, g, fl, total), counts) for fl in fields})
            if tree is None:
                tree = f.mktree("Events", {k: (v.dtype if isinstance(v, np.ndarray) else v.type.content)
                                           for k, v in arrays.items()})
            tree.extend(arrays)


def child(path: str, step: str, release: bool, images: bool) -> dict:
    """Stream ``path`` and report events, seconds and peak RSS (run in a fresh process)."""
    from e2ejax.inputs import sparse_to_dense
    from e2ejax.io import iterate_events

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    step_size = int(step) if step.isdigit() else step
    n, t0 = 0, time.perf_counter()
    for batch in iterate_events(path, step_size=step_size, release_memory=release):
        if images:
            sparse_to_dense(batch, keys=("ecal", "hbhe", "track_pt"))
        n += batch.size
        del batch
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"events": n, "seconds": seconds, "peak_mb": peak / 1024, "base_mb": base / 1024}


def run_child(path, step, *, release=True, images=False, env=None) -> dict:
    cmd = [sys.executable, __file__, "--child", path, "--step", str(step)]
    cmd += [] if release else ["--no-release"]
    cmd += ["--images"] if images else []
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env={**os.environ, **(env or {})})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="1x = 500 events instead of 2000")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--step", default="16 MB", help="uproot step_size: bytes ('16 MB') or entries")
    parser.add_argument("--no-release", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--images", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.step, not args.no_release, args.images)))
        return
    n1 = 500 if args.quick else 2000
    with tempfile.TemporaryDirectory() as tmp:
        small, large = os.path.join(tmp, "x1.root"), os.path.join(tmp, "x10.root")
        t0 = time.perf_counter()
        write_synthetic(small, n1, seed=1)
        write_synthetic(large, 10 * n1, seed=2)
        sizes = {p: os.path.getsize(p) / 2**20 for p in (small, large)}
        print(f"wrote {n1} and {10 * n1} events ({sizes[small]:.0f} MB, {sizes[large]:.0f} MB) "
              f"in {time.perf_counter() - t0:.0f} s\n")

        rows = []
        settings = (("4 MB", "malloc_trim", dict(release=True)),
                    (args.step, "malloc_trim", dict(release=True)),
                    (args.step, "none", dict(release=False)),
                    (args.step, "MALLOC_ARENA_MAX=2", dict(release=False, env={"MALLOC_ARENA_MAX": "2"})))
        for step, how, kw in settings:
            r1, r10 = run_child(small, step, **kw), run_child(large, step, **kw)
            label = f"step {step}, {how}"
            rows.append({"setting": label, "1x peak MB": f"{r1['peak_mb']:.0f}", "10x peak MB": f"{r10['peak_mb']:.0f}",
                         "10x / 1x": f"{r10['peak_mb'] / r1['peak_mb']:.2f}",
                         "after-import MB": f"{r1['base_mb']:.0f}"})
        print("peak RSS streaming the whole file (fresh process each)")
        print(table(rows, ["setting", "1x peak MB", "10x peak MB", "10x / 1x", "after-import MB"]))

        rows = []
        read = run_child(large, args.step)
        rows.append({"work": "read -> padded numpy", "events/s": f"{read['events'] / read['seconds']:.0f}", "ratio": "1.00"})
        for step in ("256", "1024"):
            img = run_child(large, step, images=True)
            rate = img["events"] / img["seconds"]
            rows.append({"work": f"read + images (ECAL, HBHE, track pT; {step}-event batches, jit incl.)",
                         "events/s": f"{rate:.0f}", "ratio": f"{rate / (read['events'] / read['seconds']):.2f}"})
        print(f"\nthroughput on the 10x file ({10 * n1} events, CPU)")
        print(table(rows, ["work", "events/s", "ratio"]))


if __name__ == "__main__":
    main()
