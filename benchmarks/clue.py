"""CLUE clustering: e2ejax.ops.clue (jitted) vs the NumPy loop reference vs scikit-learn's DBSCAN.

Run: ``python benchmarks/clue.py`` (N = 10^3, 10^4, 10^5; the NumPy reference up to 10^4),
``--quick`` for N = 10^3, 3 10^3, 10^4 with the reference up to 3 10^3.

Every method gets the same points at a fixed density, so the cost of a linear method grows like
N: one event of (eta, phi) points, phi wrapping at +-pi, eta over a band whose width grows with
N; half the points in Gaussian blobs of 20 (sigma 2 dc), half uniform; exponential energies.
CLUE runs with dc = 0.02, rhoc = 2, deltac = dc, deltao = 2 dc (CMSSW's outlierDeltaFactor 2)
and the smallest multiple of 8 for tile_capacity that holds the fullest tile (printed).

* ``jax``: the op under ``jax.jit``, after a warm-up call (compilation not timed).
* ``numpy ref``: ``clue_reference`` of tests/ops/test_clue.py, a per-point Python loop over
  NumPy rows of all N distances, O(N^2): only up to ``--reference-max``. Its outputs are checked
  against the op's (integer outputs exactly, rho to float32 rounding).
* ``dbscan``: ``sklearn.cluster.DBSCAN(eps=dc, min_samples=2, algorithm="auto")`` with the
  energies as ``sample_weight`` (a core point has >= 2 GeV within dc): the compiled density
  clustering a user would otherwise pick. It has no periodic coordinate (phi is taken as is) and
  other rules, so only its time is comparable, not its clusters.

CLUEstering itself (CMS's implementation, whose rules the op follows) is not the oracle: its
PyPI package (2.11.0) is a source distribution whose CMake build fetches alpaka 2.1.0 from
github.com with FetchContent (and needs Boost.Atomic), and github.com cannot be reached here; the
2.11.0 kernels also predate the deterministic tie-breaks of its master branch that the op and
the reference follow.

Threads: the process is pinned to ``--threads`` cores (default 1) with ``sched_setaffinity``;
for one thread XLA's multi-threaded Eigen is off with one intra-op thread, and DBSCAN gets
``n_jobs=--threads``. Repeats are interleaved (method after method, round after round) and the
best of each is kept. The scaling exponent is the slope of a least-squares fit of log t vs log N.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))
from _timing import table  # noqa: E402

ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
DC, RHOC = 0.02, 2.0
PARAMS = dict(dc=DC, rhoc=RHOC, deltac=DC, deltao=2 * DC, phi_axis=1)
DENSITY = 2000.0  # points per unit of eta x phi: ~2.5 points per disc of radius dc on average


def make_points(n, rng):
    width = n / (DENSITY * 2 * np.pi)
    x = np.stack([rng.uniform(-width / 2, width / 2, n), rng.uniform(-np.pi, np.pi, n)], -1)
    n_blob = n // 2
    centres = x[rng.choice(n, max(1, n_blob // 20), replace=False)]
    x[:n_blob] = centres[rng.integers(0, len(centres), n_blob)] + rng.normal(0, 2 * DC, (n_blob, 2))
    x[:, 1] = np.mod(x[:, 1] + np.pi, 2 * np.pi) - np.pi
    weights = rng.exponential(1.0, n)
    return x.astype(np.float32), weights.astype(np.float32)


def _best(fn, best, key):
    t0 = time.perf_counter()
    out = fn()
    best[key] = min(best.get(key, np.inf), time.perf_counter() - t0)
    return out


def bench(n, repeats, reference_max, threads, rng):
    import jax
    from sklearn.cluster import DBSCAN

    from e2ejax.ops import clue
    from tests.ops.test_clue import clue_reference

    x, w = make_points(n, rng)
    mask = np.ones(n, bool)
    capacity = 8 * -(-_tile_points(x) // 8)
    fn = jax.jit(lambda a, b, c: clue(a, b, c, tile_capacity=capacity, **PARAMS))
    args = [jax.device_put(a) for a in (x, w, mask)]
    result = jax.block_until_ready(fn(*args))  # warm-up: compilation
    assert not bool(result.overflow), (n, capacity, int(result.max_tile_points))
    db = DBSCAN(eps=DC, min_samples=2, algorithm="auto", n_jobs=threads)
    timed = {"jax": lambda: jax.block_until_ready(fn(*args)), "dbscan": lambda: db.fit(x, sample_weight=w)}
    if n <= reference_max:
        timed["numpy ref"] = lambda: clue_reference(x, w, mask, **PARAMS)
    best, outputs = {}, {}
    for _ in range(repeats):
        for key, f in timed.items():
            outputs[key] = _best(f, best, key)
    agree = "n/a"
    if "numpy ref" in outputs:
        ref = outputs["numpy ref"]
        np.testing.assert_allclose(np.asarray(result.rho), ref[0], rtol=1e-5)
        same = [np.array_equal(np.asarray(f), r) for f, r in zip(result[2:5], ref[2:5])]
        agree = "yes" if all(same) else f"NO ({same})"
    row = {
        "N": n,
        "tile cap": capacity,
        "clusters": int(result.n_clusters),
        "dbscan clusters": int(outputs["dbscan"].labels_.max() + 1),
        "jax ms": f"{best['jax'] * 1e3:.2f}",
        "dbscan ms": f"{best['dbscan'] * 1e3:.2f}",
        "numpy ref ms": f"{best['numpy ref'] * 1e3:.0f}" if "numpy ref" in best else "-",
        "dbscan/jax": f"{best['dbscan'] / best['jax']:.1f}",
        "ref/jax": f"{best['numpy ref'] / best['jax']:.0f}" if "numpy ref" in best else "-",
        "ref agrees": agree,
    }
    return row, best


def _tile_points(x):
    """The fullest CLUE tile of ``x`` (side and phi tiling as the op's), counted with NumPy."""
    side = (1 + 2**-6) * max(PARAMS["dc"], PARAMS["deltac"], PARAMS["deltao"])
    n_phi = int(2 * np.pi // side)
    eta = np.floor((x[:, 0] - x[:, 0].min()) / side).astype(np.int64)
    phi = np.clip(np.floor((x[:, 1] + np.float32(np.pi)) / (np.float32(2 * np.pi) / n_phi)), 0, n_phi - 1)
    return int(np.unique(eta * n_phi + phi.astype(np.int64), return_counts=True)[1].max())


def slope(ns, ts):
    ns, ts = np.asarray(ns, float), np.asarray(ts, float)
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0]) if len(ns) > 1 else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="N = 1e3, 3e3, 1e4; reference up to 3e3; 3 repeats")
    parser.add_argument("--sizes", type=int, nargs="+", help="point counts (default 1e3 1e4 1e5)")
    parser.add_argument("--reference-max", type=int, help="largest N for the NumPy reference (default 1e4)")
    parser.add_argument("--repeats", type=int, help="interleaved rounds (default 5)")
    parser.add_argument("--threads", type=int, default=1, help="cores for every method (default 1)")
    args = parser.parse_args(argv)
    sizes = args.sizes or ([1000, 3000, 10000] if args.quick else [1000, 10000, 100000])
    reference_max = args.reference_max or (3000 if args.quick else 10000)
    repeats = args.repeats or (3 if args.quick else 5)

    cores = sorted(os.sched_getaffinity(0))[: args.threads]
    os.sched_setaffinity(0, cores)
    if args.threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + ONE_THREAD_XLA).strip()
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[var] = str(args.threads)
    import jax  # after XLA_FLAGS
    import sklearn

    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, scikit-learn {sklearn.__version__}, "
          f"{args.threads} thread(s) on cores {cores}; {repeats} interleaved rounds, best kept")
    print(f"CLUE {PARAMS}; {DENSITY:.0f} points per unit eta x phi")
    rng = np.random.default_rng(0)
    rows, times = [], []
    for n in sizes:
        row, best = bench(n, repeats, reference_max, args.threads, rng)
        rows.append(row)
        times.append((n, best))
        print(f"  N = {n}: jax {row['jax ms']} ms, dbscan {row['dbscan ms']} ms, numpy ref {row['numpy ref ms']} ms",
              flush=True)
    print()
    print(table(rows, list(rows[0])))
    print("\nscaling exponent (slope of log t vs log N):")
    for key in ("jax", "dbscan", "numpy ref"):
        pts = [(n, b[key]) for n, b in times if key in b]
        if pts:
            print(f"  {key:10s} {slope(*zip(*pts)):.2f}  over N = {[n for n, _ in pts]}")


if __name__ == "__main__":
    main()
