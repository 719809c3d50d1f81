"""e2ejax ParticleNet vs weaver-core's ``weaver.nn.model.ParticleNet.ParticleNet``: weights, logits, speed.

Run: ``pip install torch==2.13.0 weaver-core`` then ``python benchmarks/weaver_particlenet.py``
(add ``--timing`` for the inference timings). For the full and the Lite configuration it

1. builds weaver's ParticleNet (``num_classes=1``) and the e2ejax one (same configuration);
2. prints both parameter counts: trainable parameters (torch ``parameters()`` vs
   ``nnx.Param``) and BatchNorm running statistics (torch ``running_mean`` +
   ``running_var`` buffers vs ``nnx.BatchStat``; torch's ``num_batches_tracked``
   counters are not counted); they must be equal;
3. copies weaver's state dict into the e2ejax module (:func:`load_weaver_state`), first
   giving weaver random weights, BatchNorm parameters and running statistics
   (:func:`randomise`) so that they all matter, and checks the first block's
   neighbour sets against weaver's ``knn`` (real particles with at least ``k``
   real partners);
4. runs both in eval mode on the same jets (batch 8, P 64, 2 to 64 real particles,
   zero-padded at the end; weaver gets ``[N, C, P]``, e2ejax ``[N, P, C]``) and prints
   the largest absolute logit difference; exits 1 above ``--tolerance`` (1e-4).

``--timing`` (batch 128): torch eager (``inference_mode``) vs ``jax.jit``, interleaved
repeats, best kept, both on ``--threads`` cores (the process is pinned with
``sched_setaffinity``; ``torch.set_num_threads``; for one thread XLA's multi-threaded
Eigen is off with one intra-op thread, ``XLA_FLAGS`` being read when JAX starts).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _weaver import StateDict, put  # noqa: E402

ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def weaver_kwargs(config) -> dict:
    """weaver ``ParticleNet`` keyword arguments of an e2ejax :class:`ParticleNetConfig`."""
    return {
        "input_dims": config.n_features,
        "num_classes": config.n_outputs,
        "conv_params": [(k, tuple(ch)) for k, ch in config.conv_params],
        "fc_params": [tuple(p) for p in config.fc_params],
        "use_fusion": config.use_fusion,
        "use_fts_bn": config.use_fts_bn,
        "use_counts": config.use_counts,
    }


def count_e2ejax(model) -> tuple[int, int]:
    """(trainable parameters, BatchNorm running statistics) of an e2ejax module."""
    import jax
    from flax import nnx

    def size(state):
        return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(state))

    return size(nnx.state(model, nnx.Param)), size(nnx.state(model, nnx.BatchStat))


def count_weaver(net) -> tuple[int, int]:
    """(trainable parameters, ``running_mean`` + ``running_var`` elements) of a torch module."""
    params = sum(p.numel() for p in net.parameters() if p.requires_grad)
    stats = sum(b.numel() for name, b in net.named_buffers() if name.endswith(("running_mean", "running_var")))
    return params, stats


def load_weaver_state(model, state_dict) -> None:
    """Copy a weaver ``ParticleNet`` state dict into the e2ejax ``ParticleNet`` ``model`` in place.

    Convolution kernels ``[out, in, 1(, 1)]`` and Linear weights ``[out, in]`` become
    ``[in, out]`` kernels; BatchNorm ``weight / bias / running_mean / running_var``
    become ``scale / bias / mean / var``. Raises ``KeyError`` on a missing tensor
    and ``ValueError`` when a tensor is left unused or a shape does not fit.
    """
    sd = StateDict(state_dict)
    take = sd.take

    def kernel(linear, key):
        w = take(key)
        put(linear.kernel, w.reshape(w.shape[0], w.shape[1]).T)

    def batch_norm(bn, prefix):
        put(bn.scale, take(prefix + ".weight"))
        put(bn.bias, take(prefix + ".bias"))
        put(bn.mean, take(prefix + ".running_mean"))
        put(bn.var, take(prefix + ".running_var"))

    if model.bn_fts is not None:
        batch_norm(model.bn_fts, "bn_fts")
    for i, block in enumerate(model.edge_convs):
        for j, (conv, bn) in enumerate(zip(block.convs, block.bns)):
            kernel(conv, f"edge_convs.{i}.convs.{j}.weight")
            batch_norm(bn, f"edge_convs.{i}.bns.{j}")
        if block.sc is not None:
            kernel(block.sc, f"edge_convs.{i}.sc.weight")
            batch_norm(block.sc_bn, f"edge_convs.{i}.sc_bn")
    if model.fusion is not None:
        kernel(model.fusion, "fusion_block.0.weight")
        batch_norm(model.fusion_bn, "fusion_block.1")
    for i, fc in enumerate(list(model.fcs) + [model.out]):
        key = f"fc.{i}.0" if i < len(model.fcs) else f"fc.{i}"
        kernel(fc, key + ".weight")
        put(fc.bias, take(key + ".bias"))
    sd.done()


def randomise(net, rng) -> None:
    """He-normal weights (activations keep their scale through the ReLUs, so the logits vary
    from jet to jet instead of being the last bias), random biases, and random BatchNorm
    weights, biases and running statistics, so that the comparison exercises all of them."""
    import torch

    def fill(tensor, values):
        tensor.copy_(torch.from_numpy(values.astype(np.float32)))

    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Linear)):
                fan_in = int(np.prod(m.weight.shape[1:]))
                fill(m.weight, rng.normal(0, np.sqrt(2.0 / fan_in), tuple(m.weight.shape)))
                if m.bias is not None:
                    fill(m.bias, rng.normal(0, 0.1, tuple(m.bias.shape)))
            elif isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                n = m.num_features
                fill(m.weight, rng.uniform(0.5, 1.5, n))
                fill(m.bias, rng.normal(0, 0.2, n))
                fill(m.running_mean, rng.normal(0, 0.3, n))
                fill(m.running_var, rng.uniform(0.5, 2.0, n))


def make_jets(batch, n_particles, n_features, rng, *, min_real=2):
    """Zero-padded jets, e2ejax layout: points ``[B, P, 2]``, features ``[B, P, F]``, mask ``[B, P]``.

    The first jet is full, the second has ``min_real`` particles (fewer than ``k``),
    the others a random count.
    """
    n_real = rng.integers(min_real, n_particles + 1, batch)
    n_real[0], n_real[1 % batch] = n_particles, min_real
    mask = (np.arange(n_particles)[None, :] < n_real[:, None]).astype(np.float32)
    points = rng.normal(0, 0.4, (batch, n_particles, 2)).astype(np.float32) * mask[..., None]
    features = rng.normal(0, 1.0, (batch, n_particles, n_features)).astype(np.float32) * mask[..., None]
    return points, features, mask


def to_weaver_layout(points, features, mask):
    """e2ejax ``[N, P, C]`` arrays -> weaver's torch ``[N, C, P]`` tensors (mask ``[N, 1, P]``)."""
    import torch

    return (
        torch.from_numpy(np.ascontiguousarray(points.transpose(0, 2, 1))),
        torch.from_numpy(np.ascontiguousarray(features.transpose(0, 2, 1))),
        torch.from_numpy(np.ascontiguousarray(mask[:, None, :])),
    )


def check_knn(model, net, points, mask) -> int:
    """First-block neighbour sets differing between e2ejax and weaver's ``knn`` (real particles
    with at least ``k`` real partners)."""
    import torch
    from weaver.nn.model.ParticleNet import knn as weaver_knn

    from e2ejax.nets._particlenet import knn_neighbours

    k = model.config.conv_params[0][0]
    real = mask > 0.5
    ours = np.asarray(knn_neighbours(points, real, k=k)[0])
    shifted = np.where(real[..., None], points, np.float32(1e9)).transpose(0, 2, 1)  # weaver's coordinate shift
    with torch.no_grad():
        theirs = weaver_knn(torch.from_numpy(np.ascontiguousarray(shifted)), k).numpy()
    rows = real & (real.sum(axis=1, keepdims=True) > k)
    # sets, not orders: the mean over neighbours ignores the order, which near-ties may swap
    return int(np.sum(np.any(np.sort(ours, axis=-1) != np.sort(theirs, axis=-1), axis=-1) & rows))


def build_pair(config, seed):
    """(e2ejax model, weaver net) with weaver's (randomised) weights copied into e2ejax; both in eval mode."""
    import torch
    from flax import nnx
    from weaver.nn.model.ParticleNet import ParticleNet as WeaverParticleNet

    from e2ejax.nets._particlenet import ParticleNet

    torch.manual_seed(seed)
    net = WeaverParticleNet(**weaver_kwargs(config))
    randomise(net, np.random.default_rng(seed))
    net.eval()
    model = ParticleNet(config, rngs=nnx.Rngs(seed))
    counts = (count_e2ejax(model), count_weaver(net))
    load_weaver_state(model, net.state_dict())
    model.eval()
    return model, net, counts


def parity(name, config, args) -> bool:
    """Print counts, kNN check and logit difference for one configuration; True when within tolerance."""
    import torch

    model, net, ((p_jax, s_jax), (p_torch, s_torch)) = build_pair(config, args.seed)
    print(f"[{name}] trainable parameters: e2ejax {p_jax:,}  weaver {p_torch:,}; "
          f"BatchNorm running stats (mean + var): e2ejax {s_jax:,}  weaver {s_torch:,}")
    rng = np.random.default_rng(args.seed + 1)
    points, features, mask = make_jets(args.batch, args.particles, config.n_features, rng)
    bad_knn = check_knn(model, net, points, mask)
    with torch.inference_mode():
        ref = net(*to_weaver_layout(points, features, mask)).numpy()
    out = np.asarray(model(points, features, mask))
    diff = float(np.max(np.abs(out - ref)))
    ok = p_jax == p_torch and s_jax == s_torch and bad_knn == 0 and diff <= args.tolerance
    print(f"[{name}] first-block neighbour sets differing from weaver: {bad_knn}; "
          f"logits max |e2ejax - weaver| = {diff:.3g} (weaver logits: std {np.std(ref):.3g} over jets, "
          f"max |logit| {np.max(np.abs(ref)):.3g}; "
          f"tolerance {args.tolerance:g}) -> {'OK' if ok else 'FAIL'}")
    return ok


def timing(name, config, args) -> None:
    """Interleaved inference timings, torch eager vs jax.jit, batch ``args.timing_batch``."""
    import jax
    import torch

    from e2ejax.nets import make_apply

    model, net, _ = build_pair(config, args.seed)
    points, features, mask = make_jets(args.timing_batch, args.particles, config.n_features, np.random.default_rng(args.seed + 2))
    torch_inputs = to_weaver_layout(points, features, mask)
    apply, params = make_apply(model)
    jitted = jax.jit(apply)
    jax_inputs = [jax.device_put(x) for x in (points, features, mask)]

    def run_torch():
        with torch.inference_mode():
            net(*torch_inputs)

    def run_jax():
        jitted(params, *jax_inputs).block_until_ready()

    for fn in (run_torch, run_jax):  # warm-up: compilation, weaver's trimmer warm-up steps
        for _ in range(6):
            fn()
    best = {"torch": float("inf"), "jax": float("inf")}
    for _ in range(args.repeats):
        for key, fn in (("torch", run_torch), ("jax", run_jax)):
            t0 = time.perf_counter()
            fn()
            best[key] = min(best[key], time.perf_counter() - t0)
    print(f"[{name}] inference, batch {args.timing_batch}, P {args.particles}, {args.threads} thread(s), "
          f"best of {args.repeats}: torch eager {best['torch'] * 1e3:.1f} ms, jax.jit {best['jax'] * 1e3:.1f} ms, "
          f"torch / jax = {best['torch'] / best['jax']:.2f}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--particles", type=int, default=64)
    parser.add_argument("--tolerance", type=float, default=1e-4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--timing", action="store_true", help="also time inference (torch eager vs jax.jit)")
    parser.add_argument("--timing-batch", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=10)
    parser.add_argument("--threads", type=int, default=1, help="cores for both frameworks (default 1)")
    args = parser.parse_args(argv)

    cores = sorted(os.sched_getaffinity(0))[: args.threads]
    os.sched_setaffinity(0, set(cores))
    if args.threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + ONE_THREAD_XLA).strip()
    import jax  # noqa: F401  (after XLA_FLAGS)
    import torch

    torch.set_num_threads(args.threads)
    from e2ejax.nets._particlenet import ParticleNetConfig, ParticleNetLiteConfig

    configs = {"ParticleNet": ParticleNetConfig(), "ParticleNet-Lite": ParticleNetLiteConfig()}
    ok = all([parity(name, config, args) for name, config in configs.items()])  # a list: every configuration is reported
    if args.timing:
        for name, config in configs.items():
            timing(name, config, args)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
