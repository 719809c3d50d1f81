"""Many-file tagging: `e2ejax tag -o DIR` in one process vs on a local Dask cluster of 1 and 2 workers.

Run: ``pip install '.[dask]'`` then ``python benchmarks/distributed.py [--files 16] [--repeats 2]
[--chunk-events 4096]`` on an otherwise idle machine with at least 2 cores (smoke run: ``--quick``,
2 files, 1 repeat).

Inputs: ``--files`` byte copies of the shipped sample of ``--model`` (``e2ejax/data/sim_qg.root``,
1000 events each) in a temporary directory. Copies are fine for throughput: every file costs
the same work per event as a distinct one would; their reads come from the page cache (as on
a warm local disk, not from a network store).

Runs, each a fresh ``python -m e2ejax tag FILES -o DIR --model M -q --force --chunk-events N``
process into a fresh directory, timed by the wall clock from start to exit (Python start,
JAX import, cluster start and model loading included, as a user sees it):

* ``in-process``: no ``--workers`` (one process, chunks one after the other);
* ``workers 1`` and ``workers 2``: ``--workers 1`` / ``--workers 2`` (a Dask LocalCluster of
  spawned worker processes, one core each).

One warm-up run of each kind on one file comes first, so that JAX's persistent compilation
cache holds the programs of the driver's XLA flags and of the workers' (they differ, see
``e2ejax.cluster.WORKER_ENV``); then ``--repeats`` rounds run the three kinds in a rotating
order and each kind keeps its best round. Peak memory: each process's ``VmHWM`` (Linux), read
every 0.1 s from ``/proc`` for the driver and every process below it; worker processes are the
ones started by ``multiprocessing``'s spawn. The manifest gives the seconds each file's chunks
took on their worker (``worker_seconds``).

Also measured: the Dask scheduler's cost per task (a LocalCluster of 2 workers running
trivial tasks), the manifest's rewrite time at 10^3 and 10^4 entries (rewritten after
every file while that takes under 5% of the driver's time), and from these a projection of a 10^4-file run on more workers (labelled as such).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

# this file shares its name with Dask's ``distributed`` package: its folder (which Python puts
# first on the path of a script) stays off the path, else ``import distributed`` finds this file
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or os.curdir) != _HERE]
sys.path.insert(0, _HERE)
from _timing import table

sys.path.remove(_HERE)

MODES = {"in-process": [], "workers 1": ["--workers", "1"], "workers 2": ["--workers", "2"]}
#: the run line the CLI prints for a directory run
RUN_LINE = re.compile(r"(\d+) tagged, (\d+) already done, (\d+) failed of (\d+) inputs; (\d+) events in ([\d.]+) s")


def _hwm_kb(pid: int) -> int | None:
    """A process's peak resident memory (kB, ``VmHWM``), None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class MemoryWatch:
    """The peak memory of a process and of every process below it, polled every ``interval`` s."""

    def __init__(self, pid: int, interval: float = 0.1):
        import psutil

        self._psutil, self._root, self._interval = psutil, psutil.Process(pid), interval
        self.peak: dict[int, int] = {}  # pid -> peak kB
        self.cpu: dict[int, float] = {}  # pid -> CPU seconds (user + system) at the last poll
        self.kind: dict[int, str] = {}  # pid -> driver / worker / other
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _classify(self, proc) -> str:
        if proc.pid == self._root.pid:
            return "driver"
        try:
            line = " ".join(proc.cmdline())
        except self._psutil.Error:
            return "other"
        return "worker" if "spawn_main" in line and "resource_tracker" not in line else "other"

    def _poll(self) -> None:
        try:
            procs = [self._root, *self._root.children(recursive=True)]
        except self._psutil.Error:
            return
        for proc in procs:
            if proc.pid not in self.kind:
                self.kind[proc.pid] = self._classify(proc)
            kb = _hwm_kb(proc.pid)
            if kb is None:
                try:
                    kb = proc.memory_info().rss // 1024
                except self._psutil.Error:
                    continue
            self.peak[proc.pid] = max(self.peak.get(proc.pid, 0), kb)
            try:
                times = proc.cpu_times()
                self.cpu[proc.pid] = times.user + times.system
            except self._psutil.Error:
                pass

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poll()
            self._stop.wait(self._interval)

    def stop(self) -> dict:
        self._stop.set()
        self._thread.join()

        def mb(kind):
            return [self.peak[p] / 1024 for p in self.peak if self.kind.get(p) == kind]

        def cpu(kind):
            return sum(self.cpu.get(p, 0.0) for p in self.peak if self.kind.get(p) == kind)

        return {"driver_mb": max(mb("driver"), default=float("nan")), "worker_mb": sorted(mb("worker"), reverse=True),
                "driver_cpu_s": cpu("driver"), "worker_cpu_s": cpu("worker")}


def run_tag(files, outdir: Path, model: str, chunk_events: int, extra: list[str]) -> dict:
    """One ``e2ejax tag -o DIR`` process: wall time, the CLI's own run time, peak memory, manifest sums."""
    cmd = [sys.executable, "-m", "e2ejax", "tag", *map(str, files), "-o", str(outdir), "--model", model, "-q", "--force",
           "--chunk-events", str(chunk_events), *extra]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watch = MemoryWatch(proc.pid)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    memory = watch.stop()
    match = RUN_LINE.search(out)
    if proc.returncode != 0 or match is None:
        raise SystemExit(f"{' '.join(cmd)}\nexit {proc.returncode}\n{out[-2000:]}\n{err[-4000:]}")
    tagged, _, failed, _, events, seconds = (float(g) for g in match.groups())
    files_rec = json.loads((outdir / "e2ejax-manifest.json").read_text())["files"]
    per_chunk = [f["worker_seconds"] / f["chunks"] for f in files_rec.values() if f["status"] == "done"]
    return {"wall_s": wall, "run_s": seconds, "events": int(events), "files": int(tagged), "failed": int(failed),
            "chunks": sum(f["chunks"] for f in files_rec.values() if f["status"] == "done"),
            "worker_s": sum(f["worker_seconds"] for f in files_rec.values() if f["status"] == "done"),
            "chunk_s": per_chunk, **memory}


def _noop(x):
    return x


def scheduler_cost(n_tasks: int) -> dict:
    """The Dask scheduler's wall time per task: a LocalCluster of 2 workers (as ``--workers 2``
    starts it) mapping ``n_tasks`` trivial tasks, and one task at a time (round trip)."""
    from e2ejax.cluster import dask_client

    t0 = time.perf_counter()
    with dask_client(workers=2, quiet=True) as client:
        client.wait_for_workers(2)
        start_s = time.perf_counter() - t0
        client.gather(client.map(_noop, range(20), pure=False))  # the function shipped, connections made
        t0 = time.perf_counter()
        client.gather(client.map(_noop, range(n_tasks), pure=False))
        mapped = (time.perf_counter() - t0) / n_tasks
        t0 = time.perf_counter()
        for i in range(20):
            client.submit(_noop, i, pure=False).result()
        round_trip = (time.perf_counter() - t0) / 20
    return {"cluster_start_s": start_s, "per_task_s": mapped, "round_trip_s": round_trip}


def manifest_save_cost(template: dict, sizes=(1000, 10_000)) -> dict:
    """Seconds of one manifest rewrite holding ``n`` file entries like ``template`` (best of 3)."""
    from e2ejax.cluster import Manifest

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        manifest = Manifest(tmp, models=template["models"], options={})
        for n in sizes:
            manifest.files = {f"/store/user/sample/file_{i:05d}.root": dict(template) for i in range(n)}
            best = float("inf")
            for _ in range(3):
                t0 = time.perf_counter()
                manifest.save()
                best = min(best, time.perf_counter() - t0)
            out[n] = {"seconds": best, "bytes": os.path.getsize(manifest.path)}
    return out


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=16, help="copies of the sample to tag (default 16)")
    parser.add_argument("--repeats", type=int, default=2, help="rounds of the three runs (default 2; each kind keeps its best)")
    parser.add_argument("--chunk-events", type=int, default=None, help="entries per work unit (default: e2ejax's, 4096)")
    parser.add_argument("--model", default="qg", help="shipped model name; its task's shipped sample is copied (default qg)")
    parser.add_argument("--tasks", type=int, default=1000, help="trivial tasks for the scheduler cost (default 1000)")
    parser.add_argument("--project-workers", type=int, nargs="+", default=[2, 16, 64, 256],
                        help="worker counts of the 10^4-file projection (default 2 16 64 256)")
    parser.add_argument("--quick", action="store_true", help="smoke run: 2 files, 1 repeat, 200 trivial tasks")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args(argv)
    if args.quick:
        args.files, args.repeats, args.tasks = 2, 1, 200
    try:
        import distributed  # noqa: F401
        import psutil  # noqa: F401
    except ImportError:
        raise SystemExit("needs the dask extra: pip install '.[dask]'") from None
    from e2ejax import tasks
    from e2ejax.cluster import DEFAULT_CHUNK_EVENTS
    from e2ejax.model_names import task_of

    chunk_events = args.chunk_events or DEFAULT_CHUNK_EVENTS
    sample = tasks.get(task_of(args.model)).sample_path
    cores = len(os.sched_getaffinity(0))
    load = os.getloadavg()[0]
    results: dict = {"files": args.files, "repeats": args.repeats, "chunk_events": chunk_events, "cores": cores,
                     "load_before": load}
    runs: dict[str, list[dict]] = {m: [] for m in MODES}
    with tempfile.TemporaryDirectory(prefix="e2ejax-bench-") as tmp:
        tmp = Path(tmp)
        (tmp / "inputs").mkdir()
        files = []
        for i in range(args.files):
            files.append(tmp / "inputs" / f"{sample.stem}_{i:03d}.root")
            shutil.copyfile(sample, files[-1])
        print(f"{args.files} copies of {sample.name} in {tmp / 'inputs'}; model {args.model}; chunks of {chunk_events} "
              f"entries; {cores} cores (load average {load:.2f} before the runs)", flush=True)
        for mode in ("in-process", "workers 1"):  # fills the compilation cache: driver flags, worker flags
            t0 = time.perf_counter()
            run_tag(files[:1], tmp / f"warmup {mode}", args.model, chunk_events, MODES[mode])
            print(f"warm-up {mode}: {time.perf_counter() - t0:.1f} s", flush=True)
        order = list(MODES)
        for r in range(args.repeats):
            for mode in order[r % 3:] + order[:r % 3]:
                res = run_tag(files, tmp / f"{mode} {r}", args.model, chunk_events, MODES[mode])
                runs[mode].append(res)
                print(f"round {r + 1} {mode}: {res['wall_s']:.1f} s wall, {res['events'] / res['wall_s']:.0f} events/s", flush=True)
        template = json.loads((tmp / f"workers 2 {args.repeats - 1}" / "e2ejax-manifest.json").read_text())
        template = next(iter(template["files"].values()))
    sched = scheduler_cost(args.tasks)
    saves = manifest_save_cost(template)

    best = {m: max(rs, key=lambda r: r["events"] / r["wall_s"]) for m, rs in runs.items()}
    rows = []
    for mode, r in best.items():
        worker_mb = r["worker_mb"]
        rows.append({"run": mode, "events": r["events"], "wall s": f"{r['wall_s']:.1f}",
                     "events/s": f"{r['events'] / r['wall_s']:.0f}", "tag() s": f"{r['run_s']:.1f}",
                     "events/s in tag()": f"{r['events'] / r['run_s']:.0f}", "sum chunk s": f"{r['worker_s']:.1f}",
                     "driver CPU s": f"{r['driver_cpu_s']:.1f}", "workers CPU s": f"{r['worker_cpu_s']:.1f}",
                     "driver MB": f"{r['driver_mb']:.0f}",
                     "worker MB": "-" if not worker_mb else "/".join(f"{m:.0f}" for m in worker_mb)})
    print()
    load_after = os.getloadavg()[0]
    results["load_after"] = load_after
    if load > 0.5 or load_after > 2.5:
        print(f"WARNING: load average {load:.2f} before and {load_after:.2f} after the runs (this benchmark adds up to "
              f"about 2): other work shares the {cores} cores, so these figures understate what the machine can do")
    print(f"best of {args.repeats} round(s); wall: process start to exit; tag(): the run time the CLI prints "
          "(after imports and cluster start); CPU s: user + system seconds of the driver and of all workers "
          "(polled every 0.1 s); MB: peak RSS (VmHWM) of the driver and of each worker process")
    print(table(rows, list(rows[0])))
    rate = {m: r["events"] / r["wall_s"] for m, r in best.items()}
    rate_run = {m: r["events"] / r["run_s"] for m, r in best.items()}
    speedup, speedup_run = rate["workers 2"] / rate["workers 1"], rate_run["workers 2"] / rate_run["workers 1"]
    per_core, per_core_run = rate["workers 2"] / 2 / rate["in-process"], rate_run["workers 2"] / 2 / rate_run["in-process"]
    print()
    print(table([
        {"ratio": "speed-up, 2 workers / 1 worker", "wall": f"{speedup:.2f}", "tag()": f"{speedup_run:.2f}", "goal": ">= 1.7",
         "met (wall)": "yes" if speedup >= 1.7 else "no"},
        {"ratio": "per core: (2 workers / 2) / in-process", "wall": f"{per_core:.2f}", "tag()": f"{per_core_run:.2f}",
         "goal": ">= 0.9", "met (wall)": "yes" if per_core >= 0.9 else "no"},
    ], ["ratio", "wall", "tag()", "goal", "met (wall)"]))

    w2 = best["workers 2"]
    idle = (2 * w2["run_s"] - w2["worker_s"]) / w2["chunks"]
    chunk_s = statistics.median(w2["chunk_s"])
    first_extra = max(w2["chunk_s"]) - chunk_s
    ip = best["in-process"]
    driver_per_file = (ip["run_s"] - ip["worker_s"]) / ip["files"]
    worker_peak = max((m for r in runs["workers 2"] + runs["workers 1"] for m in r["worker_mb"]), default=float("nan"))
    print()
    print(f"scheduler: {sched['per_task_s'] * 1e3:.2f} ms per trivial task ({args.tasks} mapped on 2 workers), "
          f"{sched['round_trip_s'] * 1e3:.1f} ms round trip of one task; LocalCluster of 2 workers up in "
          f"{sched['cluster_start_s']:.1f} s")
    print(f"workers 2: median chunk {chunk_s:.2f} s on its worker ({chunk_events}-entry chunks of {template['entries']}-entry "
          f"files: {w2['chunks'] / w2['files']:.0f} per file); the first chunk of a worker takes {first_extra:.1f} s more "
          "(model loading, cache reads)")
    print(f"workers 2: idle worker time per chunk (2 x tag() s - sum of chunk s) / chunks = {idle:.2f} s "
          "(each worker's imports before its first task, entry counting, scheduler, driver writes and checksums, "
          "the last chunks' tail)")
    print(f"in-process: driver work per file (tag() s - sum of chunk s) / files = {driver_per_file:.3f} s "
          "(entry counting, output write, SHA-256, manifest rewrite)")
    print(f"manifest rewrite: {saves[1000]['seconds'] * 1e3:.0f} ms at 10^3 entries ({saves[1000]['bytes'] / 1e6:.1f} MB), "
          f"{saves[10_000]['seconds'] * 1e3:.0f} ms at 10^4 entries ({saves[10_000]['bytes'] / 1e6:.1f} MB)")
    print(f"peak RSS per worker process: {worker_peak:.0f} MB (max over the worker runs); driver "
          f"{max(r['driver_mb'] for r in runs['workers 2']):.0f} MB with 2 workers, {ip['driver_mb']:.0f} MB in-process")

    # projection: 10^4 files like these; chunks spread over N workers, while the driver and the
    # scheduler handle files and tasks one at a time; the manifest grows by one entry per file
    n_files = 10_000
    chunks = n_files * w2["chunks"] / w2["files"]
    every_file = n_files / 2 * saves[10_000]["seconds"]  # rewrite time grows linearly with the entries
    base = n_files * driver_per_file + (chunks + n_files) * sched["per_task_s"]
    # rewrites are skipped while they would take over 5% of the driver's time (e2ejax.cluster.Manifest)
    manifest_total = min(every_file, 0.05 / 0.95 * base) if base else every_file
    serial = base + manifest_total
    proj = []
    for n in args.project_workers:
        compute = chunks * chunk_s / n + first_extra
        total = sched["cluster_start_s"] + max(compute, serial)
        proj.append({"workers": n, "chunks / worker s": f"{compute:.0f}", "driver + scheduler s": f"{serial:.0f}",
                     "projected h": f"{total / 3600:.2f}", "bound by": "workers" if compute >= serial else "driver",
                     "events/s": f"{n_files * template['entries'] / total:.0f}"})
    print()
    print(f"PROJECTION (not a measurement) for {n_files} files of {template['entries']} entries on N workers of this "
          f"machine's speed: max(chunks x {chunk_s:.2f} s / N + {first_extra:.1f} s, driver + scheduler) + cluster start; "
          f"driver = files x {driver_per_file:.3f} s + (chunks + files) x {sched['per_task_s'] * 1e3:.2f} ms + "
          f"manifest rewrites {manifest_total:.0f} s (every file: 10^4/2 x {saves[10_000]['seconds']:.2f} s = "
          f"{every_file:.0f} s, held to 5% of the driver's time); "
          "reads from a network store and worker start-up on a batch system are not included")
    print(table(proj, list(proj[0])))

    results.update(runs=runs, best={m: {k: v for k, v in r.items() if k != "chunk_s"} for m, r in best.items()},
                   speedup=speedup, speedup_tag=speedup_run, per_core=per_core, per_core_tag=per_core_run,
                   scheduler=sched, manifest_save={str(k): v for k, v in saves.items()}, chunk_s=chunk_s,
                   first_chunk_extra_s=first_extra, idle_per_chunk_s=idle, driver_per_file_s=driver_per_file,
                   worker_peak_mb=worker_peak, projection=proj)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
