"""MLPF inference time against the number of particle-flow elements: jit XLA and ONNX Runtime.

Run: ``python benchmarks/mlpf_scaling.py`` (N = 100, 300, 1000, 3000, 10000 elements, batch 1,
the default :class:`e2ejax.nets._mlpf.MLPFConfig`), ``--sizes 100 1000`` for others,
``--repeats`` interleaved rounds (default 5, best kept).

Both backends run the whole network (all 11 output channels per element):

* ``xla``: ``jax.jit`` of :func:`e2ejax.nets.make_apply`'s ``apply``, after a warm-up call per N
  (compilation not timed);
* ``ort``: one ONNX file from :func:`e2ejax.inference.export.to_onnx` (a symbolic batch and
  element axis: the same file serves every N), in ONNX Runtime with one intra-op thread
  (:func:`e2ejax.inference.export.onnx_session`), after a warm-up call per N. The export's
  ``scores`` are the network's whole output: the model is wrapped so that ``[..., 0]`` of the
  export keeps every channel. Its largest difference from XLA is printed per N, with the
  share of elements whose outputs differ by more than 1e-4: float32 rounding differs between
  the backends, and where it moves an element across an LSH bucket or bin boundary the graph
  changes, and with it the outputs downstream (in the same XLA program a 1e-6 relative
  perturbation of the inputs does the same: at N = 10000 it changed 0 to 40 % of the elements'
  outputs by more than 1e-4 over four events; at N <= 3000, none).

Threads: the process is pinned to one core (``sched_setaffinity``), XLA's multi-threaded Eigen
is off with one intra-op thread (``XLA_FLAGS``, set before JAX is imported). Rounds are
interleaved (N after N, backend after backend) so that the load of other processes hits all
alike. The scaling exponent is the slope of a least-squares fit of log t against log N, over
all sizes and over N >= 1000; the table also shows the local slope between neighbouring sizes,
where a quadratic step would show as ~2. The elements are random tracks and clusters (the
binned kNN costs the same whatever they hold).
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))
from _timing import table  # noqa: E402

ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def make_elements(n, rng):
    """One event of ``n`` random elements: ``([1, n, 15], [1, n])``, the layout's features."""
    from e2ejax.nets._mlpf_layout import ELEMENT_FEATURES, FEATURE_INDEX as i

    x = np.zeros((1, n, len(ELEMENT_FEATURES)), np.float32)
    kind = rng.integers(1, 4, n)
    eta, phi, log_e = rng.uniform(-2.5, 2.5, n), rng.uniform(-math.pi, math.pi, n), rng.uniform(-0.5, 4.0, n)
    x[0, :, i["type"]] = kind
    x[0, :, i["eta"]], x[0, :, i["sin_phi"]], x[0, :, i["cos_phi"]] = eta, np.sin(phi), np.cos(phi)
    x[0, :, i["log_energy"]], x[0, :, i["log_pt"]] = log_e, log_e - np.log(np.cosh(eta))
    track = kind == 1
    x[0, :, i["charge"]] = np.where(track, rng.choice([-1.0, 1.0], n), 0.0)
    x[0, :, i["d0"]] = np.where(track, rng.normal(0, 0.05, n), 0.0)
    x[0, :, i["dz"]] = np.where(track, rng.normal(0, 0.5, n), 0.0)
    x[0, :, i["eta_ecal"]] = np.where(track, eta, 0.0)
    x[0, :, i["sin_phi_ecal"]], x[0, :, i["cos_phi_ecal"]] = np.where(track, np.sin(phi), 0.0), np.where(track, np.cos(phi), 0.0)
    x[0, :, i["sigma_eta"]] = np.where(track, 0.0, rng.uniform(0.01, 0.1, n))
    x[0, :, i["sigma_phi"]] = np.where(track, 0.0, rng.uniform(0.01, 0.1, n))
    x[0, :, i["n_hits"]] = np.where(track, 0.0, rng.integers(1, 30, n))
    return x, np.ones((1, n), np.float32)


def slope(ns, ts):
    ns, ts = np.asarray(ns, float), np.asarray(ts, float)
    return float(np.polyfit(np.log(ns), np.log(ts), 1)[0]) if len(ns) > 1 else float("nan")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 300, 1000, 3000, 10000], help="element counts")
    parser.add_argument("--repeats", type=int, default=5, help="interleaved rounds (best kept)")
    args = parser.parse_args(argv)

    core = sorted(os.sched_getaffinity(0))[-1:]
    os.sched_setaffinity(0, core)
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + ONE_THREAD_XLA).strip()
    import jax  # after XLA_FLAGS
    import onnxruntime
    from flax import nnx

    from e2ejax.inference.export import onnx_session, to_onnx
    from e2ejax.nets import make_apply
    from e2ejax.nets._mlpf import MLPF, MLPFConfig

    class AllOutputs(nnx.Module):
        """The network with its whole output as the export's ``scores`` (``[..., 0]`` of ``[B, N, 11, 1]``)."""

        def __init__(self, net):
            self.net = net

        @property
        def input_spec(self):
            return self.net.input_spec

        def __call__(self, elements, mask):
            return self.net(elements, mask)[..., None]

    config = MLPFConfig()
    model = MLPF(config, rngs=nnx.Rngs(0))
    apply, params = make_apply(model)
    n_params = sum(int(np.prod(p.shape)) for p in jax.tree.leaves(params))
    xla = jax.jit(apply)
    with tempfile.TemporaryDirectory() as tmp:
        session = onnx_session(to_onnx(AllOutputs(model), os.path.join(tmp, "mlpf.onnx"), objective="regression"), threads=1)
    print(f"jax {jax.__version__}, onnxruntime {onnxruntime.__version__}; one thread on core {core}; "
          f"{args.repeats} interleaved rounds, best kept")
    print(f"MLPF {config}: {n_params} parameters")

    rng = np.random.default_rng(0)
    events = {n: make_elements(n, rng) for n in args.sizes}
    runs = {
        "xla": lambda x, m: jax.block_until_ready(xla(params, x, m)),
        "ort": lambda x, m: session.run(None, {"elements": x, "mask": m})[0],
    }
    diffs = {}
    for n, (x, m) in events.items():  # warm-up: compile each N, and check that the backends agree
        outs = {name: np.asarray(run(x, m)) for name, run in runs.items()}
        per_element = np.max(np.abs(outs["ort"] - outs["xla"]), axis=-1)
        diffs[n] = (float(per_element.max()), float(np.mean(per_element > 1e-4)))
    best = {(n, name): float("inf") for n in events for name in runs}
    for _ in range(args.repeats):
        for n, (x, m) in events.items():
            for name, run in runs.items():
                t0 = time.perf_counter()
                run(x, m)
                best[n, name] = min(best[n, name], time.perf_counter() - t0)

    rows = []
    ns = list(events)
    for j, n in enumerate(ns):
        row = {"N": n}
        for name in runs:
            row[f"{name} ms"] = f"{1e3 * best[n, name]:.2f}"
            row[f"{name} us/element"] = f"{1e6 * best[n, name] / n:.1f}"
            if j:
                row[f"{name} local slope"] = f"{slope(ns[j - 1 : j + 1], [best[k, name] for k in ns[j - 1 : j + 1]]):.2f}"
        row["ort / xla"] = f"{best[n, 'ort'] / best[n, 'xla']:.2f}"
        row["max |ort - xla|"] = f"{diffs[n][0]:.1e}"
        row["elements > 1e-4"] = f"{100 * diffs[n][1]:.1f} %"
        rows.append(row)
    print()
    print(table(rows, list(rows[-1])))
    print("\nscaling exponent (slope of log t vs log N):")
    for name in runs:
        large = [n for n in ns if n >= 1000]
        print(f"  {name}: {slope(ns, [best[n, name] for n in ns]):.2f} over N = {ns}; "
              f"{slope(large, [best[n, name] for n in large]):.2f} over N = {large}")


if __name__ == "__main__":
    main()
