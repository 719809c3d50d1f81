"""ParT parity with weaver-core: the same weights, the same jets, the same logits.

Run: ``pip install torch==2.13.0 weaver-core`` then ``python benchmarks/weaver_part.py``
(add ``--timing`` for inference speed). For weaver's default ``ParticleTransformer``
(``num_classes=1``) and :data:`e2ejax.nets._part.PART_SMALL`, the script

* builds both networks and prints their parameter counts (trainable parameters; the
  BatchNorm running statistics, buffers in PyTorch and ``BatchStat`` in NNX, counted apart;
  PyTorch's ``num_batches_tracked`` counters are not statistics and are left out);
* perturbs every weaver parameter and running statistic (at initialisation LayerNorm, the
  residual scales and the statistics are ones and zeros, which would hide a mix-up), copies
  the state dict into the e2ejax module (:func:`load_weaver_state`) and runs both in eval
  mode on the same zero-padded jets (batch 8, 64 particles: weaver takes ``x [N, C, P]``,
  ``v [N, 4, P]``, ``mask [N, 1, P]``; e2ejax channels-last), four-vectors on a 1/8 GeV grid;
* prints the largest absolute difference of the logits and exits with status 1 above 1e-4
  (or when the counts differ). It also prints, unchecked, the difference for four-vectors off
  the grid: there ln m^2 of a particle with itself, ``ln(E^2 - |p|^2)`` of a near-massless
  pair, is float32 rounding noise, which XLA's fused multiply-adds round differently from
  PyTorch's separate operations (in float64 the two networks agree to 1e-14).

``--timing``: inference at batch 128, PyTorch eager (``inference_mode``) vs ``jax.jit``,
repeats interleaved, both on ``--threads`` threads (PyTorch ``set_num_threads``; XLA pinned to
that many cores, one intra-op thread for 1). The jets have P/4 to P real particles; weaver's
eval-mode pair embedding runs on the real lower-triangle pairs only (a quarter of all pairs
here), e2ejax's on all ``P^2`` pairs (static shapes); ``--full-jets``: no padding.
PyTorch and weaver are needed here only.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _weaver import StateDict, put  # noqa: E402

TOLERANCE = 1e-4
ONE_THREAD_XLA = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"


def make_jets(batch, n_particles, n_features, rng, *, exact_masses=True, full=False):
    """Zero-padded jets: features ``[B, P, F]``, four-vectors ``[B, P, 4]``, mask ``[B, P]`` (real first),
    from ``P / 4`` to ``P`` real particles, or all ``P`` with ``full``.

    With ``exact_masses`` the four-vector components are multiples of 1/8 GeV below 64 GeV, so
    that every ``E^2 - |p|^2`` of the pair feature ln m^2 is exact in float32 (see the module
    docstring of :mod:`e2ejax.nets._part`); otherwise they are plain float32 values.
    """
    n_real = rng.integers(n_particles if full else n_particles // 4, n_particles + 1, batch)
    mask = (np.arange(n_particles)[None, :] < n_real[:, None]).astype(np.float32)
    pt = np.minimum(rng.exponential(5.0, (batch, n_particles)) + 0.5, 20.0)
    eta = np.clip(rng.normal(0.0, 0.4, (batch, n_particles)), -1.0, 1.0)
    phi = rng.normal(0.0, 0.4, (batch, n_particles))
    m = rng.uniform(0.0, 0.5, (batch, n_particles))
    px, py, pz = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)
    if exact_masses:
        px, py, pz = (np.round(a * 8) / 8 for a in (px, py, pz))
        energy = np.ceil(np.sqrt(px**2 + py**2 + pz**2 + m**2) * 8) / 8
    else:
        energy = np.sqrt(px**2 + py**2 + pz**2 + m**2)
    vectors = np.stack([px, py, pz, energy], axis=-1).astype(np.float32) * mask[..., None]
    features = rng.normal(size=(batch, n_particles, n_features)).astype(np.float32) * mask[..., None]
    return features, vectors, mask


def weaver_model(config):
    """weaver's ``ParticleTransformer`` with the sizes of an e2ejax ``ParTConfig`` (weaver defaults otherwise)."""
    from weaver.nn.model.ParticleTransformer import ParticleTransformer

    c = config
    return ParticleTransformer(
        c.n_features, num_classes=c.n_outputs, pair_input_dim=c.n_pair_features, embed_dims=list(c.embed_dims),
        pair_embed_dims=list(c.pair_embed_dims), num_heads=c.num_heads, num_layers=c.num_layers,
        num_cls_layers=c.num_cls_layers, fc_params=list(c.fc_params), remove_self_pair=c.remove_self_pair,
        use_pre_activation_pair=c.use_pre_activation_pair,
    )


def perturb(torch_model, seed=0):
    """Random, well-conditioned values in every parameter and BatchNorm running statistic."""
    import torch

    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in torch_model.named_parameters():
            p.add_(0.1 * torch.randn(p.shape, generator=g))
        for name, b in torch_model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.5 * torch.randn(b.shape, generator=g))
            elif name.endswith("running_var"):
                b.copy_(torch.rand(b.shape, generator=g) * 1.5 + 0.5)


def load_weaver_state(model, state_dict):
    """Copy a weaver ``ParticleTransformer`` state dict into an e2ejax :class:`ParT` (same config).

    Linear weights ``[out, in]`` become kernels ``[in, out]``; the 1x1 ``Conv1d`` weights of the
    pair embedding ``[out, in, 1]`` kernels ``[in, out]``; weaver's packed ``in_proj``
    (query, key, value rows) is the packed ``in_proj`` kernel (columns in the same order);
    BatchNorm ``weight, bias, running_mean, running_var`` -> ``scale, bias, mean, var``;
    LayerNorm ``weight, bias`` -> ``scale, bias``; ``c_attn``, ``w_resid`` and ``cls_token`` as they are.
    Every key but ``num_batches_tracked`` must be used exactly once.
    """
    sd = StateDict(state_dict)
    take = sd.take

    def linear(module, prefix):
        put(module.kernel, take(prefix + ".weight").reshape(module.kernel[...].shape[::-1]).T)
        put(module.bias, take(prefix + ".bias"))

    def norm(module, prefix, batch=False):
        put(module.scale, take(prefix + ".weight"))
        put(module.bias, take(prefix + ".bias"))
        if batch:
            put(module.mean, take(prefix + ".running_mean"))
            put(module.var, take(prefix + ".running_var"))

    norm(model.embed.input_bn, "embed.input_bn", batch=True)
    for i, (ln, lin) in enumerate(zip(model.embed.norms, model.embed.linears)):
        norm(ln, f"embed.embed.{3 * i}")
        linear(lin, f"embed.embed.{3 * i + 1}")
    norm(model.pair_embed.input_bn, "pair_embed.embed.0", batch=True)
    for i, (conv, bn) in enumerate(zip(model.pair_embed.convs, model.pair_embed.bns)):
        linear(conv, f"pair_embed.embed.{3 * i + 1}")
        norm(bn, f"pair_embed.embed.{3 * i + 2}", batch=True)
    for group, blocks in (("blocks", model.blocks), ("cls_blocks", model.cls_blocks)):
        for i, block in enumerate(blocks):
            p = f"{group}.{i}."
            for name in ("pre_attn_norm", "post_attn_norm", "pre_fc_norm", "post_fc_norm"):
                norm(getattr(block, name), p + name)
            linear(block.attn.in_proj, p + "attn.in_proj")
            linear(block.attn.out_proj, p + "attn.out_proj")
            linear(block.fc1, p + "fc1")
            linear(block.fc2, p + "fc2")
            put(block.c_attn, take(p + "c_attn"))
            put(block.w_resid, take(p + "w_resid"))
    if model.cls_token is not None:
        put(model.cls_token, take("cls_token"))
    norm(model.norm, "norm")
    for i, fc in enumerate(model.fc):
        linear(fc, f"fc.{i}.0")
    linear(model.out, f"fc.{len(model.fc)}")
    sd.done()


def counts(torch_model, model):
    """``(torch params, torch BN stats, e2ejax params, e2ejax BN stats)``."""
    import jax
    from flax import nnx

    t_params = sum(p.numel() for p in torch_model.parameters())
    t_stats = sum(b.numel() for n, b in torch_model.named_buffers() if n.endswith(("running_mean", "running_var")))
    j_params = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.Param)))
    j_stats = sum(x.size for x in jax.tree.leaves(nnx.state(model, nnx.BatchStat)))
    return t_params, t_stats, j_params, j_stats


def torch_inputs(features, vectors, mask):
    import torch

    return (torch.from_numpy(np.ascontiguousarray(features.transpose(0, 2, 1))),
            torch.from_numpy(np.ascontiguousarray(vectors.transpose(0, 2, 1))),
            torch.from_numpy(np.ascontiguousarray(mask[:, None, :])))


def compare(name, config, *, timing, batch, n_particles, repeat, full, rng):
    import jax
    import torch
    from flax import nnx

    from e2ejax.nets import make_apply
    from e2ejax.nets._part import ParT

    torch.manual_seed(0)
    reference = weaver_model(config)
    perturb(reference)
    reference.eval()
    model = ParT(config, rngs=nnx.Rngs(0))
    t_params, t_stats, j_params, j_stats = counts(reference, model)
    print(f"[{name}] parameters: weaver {t_params:,}, e2ejax {j_params:,}; "
          f"BatchNorm running statistics (not parameters): weaver {t_stats:,}, e2ejax {j_stats:,}")
    load_weaver_state(model, reference.state_dict())
    apply, params = make_apply(model)
    run = jax.jit(apply)

    diffs = {}
    for exact in (True, False):
        features, vectors, mask = make_jets(8, 64, config.n_features, rng, exact_masses=exact)
        with torch.inference_mode():
            expected = reference(*torch_inputs(features, vectors, mask)).numpy()
        diffs[exact] = float(np.max(np.abs(np.asarray(run(params, features, vectors, mask)) - expected)))
    diff = diffs[True]
    print(f"[{name}] logits: max |e2ejax - weaver| = {diff:.2e} (tolerance {TOLERANCE:.0e}); "
          f"{diffs[False]:.2e} with unrounded four-vectors (float32 rounding of ln m^2, not checked)")
    ok = diff <= TOLERANCE and j_params == t_params and j_stats == t_stats

    if timing:
        features, vectors, mask = make_jets(batch, n_particles, config.n_features, rng, full=full)
        t_in = torch_inputs(features, vectors, mask)
        j_in = [jax.device_put(a) for a in (features, vectors, mask)]

        def torch_call():
            with torch.inference_mode():
                return reference(*t_in)

        def jax_call():
            return run(params, *j_in).block_until_ready()

        for fn in (torch_call, jax_call):  # compilation, weaver's trimmer warm-up
            for _ in range(6):
                fn()
        best = {"torch": float("inf"), "jax": float("inf")}
        for _ in range(repeat):
            for key, fn in (("torch", torch_call), ("jax", jax_call)):
                t0 = time.perf_counter()
                fn()
                best[key] = min(best[key], time.perf_counter() - t0)
        print(f"[{name}] inference batch {batch}, {n_particles} particles ({'all' if full else 'P/4 to P'} real), "
              f"{torch.get_num_threads()} thread(s), "
              f"best of {repeat}: torch eager {best['torch'] * 1e3:.1f} ms, jax.jit {best['jax'] * 1e3:.1f} ms, "
              f"torch / jax = {best['torch'] / best['jax']:.2f}")
    return ok


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timing", action="store_true", help="time inference, torch eager vs jax.jit")
    parser.add_argument("--threads", type=int, default=1, help="threads for both frameworks in --timing (default 1)")
    parser.add_argument("--batch", type=int, default=128, help="batch size of --timing (default 128)")
    parser.add_argument("--particles", type=int, default=64, help="particles per jet in --timing (default 64)")
    parser.add_argument("--repeat", type=int, default=10, help="interleaved timing repeats (default 10)")
    parser.add_argument("--full-jets", action="store_true",
                        help="--timing on jets without padding (weaver's eval-mode pair embedding skips padded pairs)")
    args = parser.parse_args(argv)

    # XLA reads its thread settings when JAX starts
    if args.threads == 1:
        os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + ONE_THREAD_XLA).strip()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[: args.threads])
    import torch

    from e2ejax.nets._part import PART_SMALL, ParTConfig

    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    ok = True
    for name, config in (("default", ParTConfig()), ("small", PART_SMALL)):
        ok &= compare(name, config, timing=args.timing, batch=args.batch, n_particles=args.particles,
                      repeat=args.repeat, full=args.full_jets, rng=rng)
    print("parity OK" if ok else "parity FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
