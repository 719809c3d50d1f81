"""The same model on the same frames under JAX/XLA, ONNX Runtime and TF: jets/s, RSS, file sizes.

Run: ``python benchmarks/inference.py [--model resnet15|vgg|gnn] [--batches 1 16 256]``.
Each (backend, batch) runs in a fresh process so its peak RSS is its own ("RSS
growth" is the resident memory added after the imports: model, runtime session and
buffers); the table prints jets/s and the ratio to XLA on the same batch size. The
machine's speed drifts over minutes, so the backends of a batch size are timed in
``--rounds`` interleaved rounds (their order reversed every other round), each keeping
its best rate. Quickest: ``--batches 16 --seconds 0.5 --rounds 1``.
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

sys.path.insert(0, os.path.dirname(__file__))
from _timing import table  # noqa: E402

WORKER = r"""
import json, resource, sys, time
import numpy as np
backend, model_name, batch, workdir, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
from flax import nnx
from e2ejax import nets
from e2ejax.inference import OUTPUT_NAME, onnx_session, random_inputs
def rss_mb():
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("VmRSS")) / 1024
base_rss = rss_mb()
model = nets.build(model_name, {}, rngs=nnx.Rngs(0))
x = random_inputs(model, batch, seed=batch)
names = [s.name for s in model.input_spec]
if backend == "xla":
    import jax
    from e2ejax.nets import make_predict
    predict, params = make_predict(model)
    fn = jax.jit(predict)
    run = lambda: fn(params, *x).block_until_ready()
elif backend.startswith("onnxruntime"):
    session = onnx_session(f"{workdir}/model.onnx", threads=int(backend.split("-")[1]))
    feeds = dict(zip(names, x))
    run = lambda: session.run([OUTPUT_NAME], feeds)
else:
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    serve = tf.saved_model.load(f"{workdir}/savedmodel").signatures["serving_default"]
    feeds = {n: tf.constant(a) for n, a in zip(names, x)}
    run = lambda: serve(**feeds)[OUTPUT_NAME].numpy()
run()
n, t0 = 0, time.perf_counter()
while time.perf_counter() - t0 < seconds or n < 3:
    run(); n += 1
dt = (time.perf_counter() - t0) / n
print(json.dumps({"jets_per_s": batch / dt, "ms_per_batch": dt * 1e3, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "rss_growth_mb": rss_mb() - base_rss}))
"""


def _measure(backend: str, model: str, batch: int, workdir: str, seconds: float) -> dict | None:
    """One fresh-process measurement (the WORKER's JSON plus ``wall_s``), or None after printing its error."""
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", WORKER, backend, model, str(batch), workdir, str(seconds)],
                         capture_output=True, text=True, env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3"))
    if out.returncode != 0:
        print(out.stderr[-2000:])
        return None
    return dict(json.loads(out.stdout.strip().splitlines()[-1]), wall_s=time.perf_counter() - t0)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="resnet15", choices=["resnet15", "vgg", "gnn"])
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 16, 256])
    parser.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds over the backends (default 3)")
    args = parser.parse_args(argv)
    from flax import nnx

    from e2ejax import nets
    from e2ejax.inference import to_onnx, to_saved_model

    backends = ["xla", "onnxruntime-1", "onnxruntime-2"]
    with tempfile.TemporaryDirectory() as workdir:
        model = nets.build(args.model, {}, rngs=nnx.Rngs(0))
        to_onnx(model, Path(workdir) / "model.onnx")
        sizes = {"onnx": (Path(workdir) / "model.onnx").stat().st_size}
        try:
            to_saved_model(model, Path(workdir) / "savedmodel")
            sizes["savedmodel"] = sum(p.stat().st_size for p in (Path(workdir) / "savedmodel").rglob("*") if p.is_file())
            backends.append("tensorflow-1")
        except Exception as exc:  # noqa: BLE001 - the table says why TF is missing
            print(f"TF SavedModel skipped: {exc}")
        rows = []
        for batch in args.batches:
            best = {}
            for r in range(args.rounds):
                for backend in backends if r % 2 == 0 else backends[::-1]:
                    res = _measure(backend, args.model, batch, workdir, args.seconds)
                    if res is not None and res["jets_per_s"] > best.get(backend, {"jets_per_s": 0.0})["jets_per_s"]:
                        best[backend] = res
            base = best.get("xla", {}).get("jets_per_s")
            for backend in (b for b in backends if b in best):
                res = best[backend]
                rows.append({
                    "batch": batch,
                    "backend": backend,
                    "jets/s": f"{res['jets_per_s']:.0f}",
                    "ms/batch": f"{res['ms_per_batch']:.2f}",
                    "x XLA": f"{res['jets_per_s'] / base:.2f}" if base else "",
                    "peak RSS MB": f"{res['peak_rss_mb']:.0f}",
                    "RSS growth MB": f"{res['rss_growth_mb']:.0f}",
                    "wall s": f"{res['wall_s']:.1f}",
                })
    print(f"\nmodel {args.model}; files: " + ", ".join(f"{k} {v / 1e6:.2f} MB" for k, v in sizes.items()))
    print(table(rows, list(rows[0])))


if __name__ == "__main__":
    main()
