"""Benchmark of the E2E ops on this machine: frames and hits -> image, side by side.

Run: ``python benchmarks/ops.py`` (add ``--quick`` for a smaller problem).
Prints ratio tables; absolute times only mean something on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import sys

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time, table  # noqa: E402

from e2ejax.ops import extract_frames, frame_offset, hits_to_image  # noqa: E402


def numpy_per_seed(images, seeds, height, width):
    """Per-seed NumPy crop: one fancy-indexing copy per seed (vectorised within a seed)."""
    B, H, W, C = images.shape
    out = np.zeros((B, seeds.shape[1], height, width, C), images.dtype)
    oh, ow = frame_offset(height), frame_offset(width)
    for b in range(B):
        for s in range(seeds.shape[1]):
            r = seeds[b, s, 0] - oh + np.arange(height)
            c = (seeds[b, s, 1] - ow + np.arange(width)) % W
            inside = (r >= 0) & (r < H)
            out[b, s][inside] = images[b][r[inside]][:, c]
    return out


def recoe2e_pixel_loop(images, seeds, height, width, n_seeds):
    """The RecoE2E FrameCropping loop (pixel by pixel) in Python, on the first ``n_seeds`` seeds."""
    B, H, W, C = images.shape
    out = np.zeros((n_seeds, height, width, C), images.dtype)
    oh, ow = frame_offset(height), frame_offset(width)
    flat = seeds.reshape(-1, 2)
    for k in range(n_seeds):
        b = k // seeds.shape[1]
        for i in range(height):
            r = flat[k, 0] - oh + i
            if r < 0 or r >= H:
                continue
            for j in range(width):
                out[k, i, j] = images[b, r, (flat[k, 1] - ow + j) % W]
    return out


def bench_frames(B, S, height, width, C, rng):
    images = rng.random((B, 280, 360, C), dtype=np.float32)
    seeds = np.stack([rng.integers(0, 280, (B, S)), rng.integers(0, 360, (B, S))], -1).astype(np.int32)
    j_images, j_seeds = jnp.asarray(images), jnp.asarray(seeds)
    fn = jax.jit(lambda x, s: extract_frames(x, s, height=height, width=width))
    np.testing.assert_array_equal(np.asarray(fn(j_images, j_seeds)[0]), numpy_per_seed(images, seeds, height, width))
    nbytes = B * S * height * width * C * 4
    src = rng.random(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    t_jax = best_time(lambda: fn(j_images, j_seeds), repeat=7)
    t_np = best_time(lambda: numpy_per_seed(images, seeds, height, width), repeat=3)
    n_loop = 2
    t_loop = best_time(lambda: recoe2e_pixel_loop(images, seeds, height, width, n_loop), repeat=1) * (B * S / n_loop)
    t_copy = best_time(lambda: src.copy(), repeat=9)
    t_copyto = best_time(lambda: np.copyto(dst, src), repeat=9)
    gbs = lambda t: f"{nbytes / t / 1e9:.2f}"  # noqa: E731
    return {
        "frames": f"{B}x{S} x {height}x{width}x{C}",
        "MB": f"{nbytes / 1e6:.1f}",
        "jax GB/s": gbs(t_jax),
        "np.copy GB/s": gbs(t_copy),
        "copyto GB/s": gbs(t_copyto),
        "jax/np.copy": f"{t_copy / t_jax:.2f}",
        "jax/copyto": f"{t_copyto / t_jax:.2f}",
        "x per-seed numpy": f"{t_np / t_jax:.1f}",
        "x pixel loop": f"{t_loop / t_jax:.0f}",
        "frames/s": f"{B * S / t_jax:.0f}",
    }


def bench_hits(B, N, rng):
    H, W = 280, 360
    rows = rng.integers(0, H, (B, N)).astype(np.int32)
    cols = rng.integers(0, W, (B, N)).astype(np.int32)
    vals = rng.exponential(size=(B, N)).astype(np.float32)
    mask = rng.random((B, N)) < 0.8
    fn = jax.jit(lambda r, c, v, m: hits_to_image(r, c, v, m, shape=(H, W)))
    args = [jnp.asarray(a) for a in (rows, cols, vals, mask)]

    def numpy_add_at():
        out = np.zeros((B, H * W), np.float32)
        for b in range(B):
            np.add.at(out[b], rows[b][mask[b]] * W + cols[b][mask[b]], vals[b][mask[b]])
        return out

    np.testing.assert_allclose(np.asarray(fn(*args)).reshape(B, -1), numpy_add_at(), rtol=1e-5, atol=1e-5)
    t_jax = best_time(lambda: fn(*args), repeat=7)
    t_np = best_time(numpy_add_at, repeat=3)
    return {
        "hits/event": N,
        "events": B,
        "jax events/s": f"{B / t_jax:.0f}",
        "numpy add.at events/s": f"{B / t_np:.0f}",
        "jax/numpy": f"{t_np / t_jax:.1f}",
        "jax Mhits/s": f"{B * N / t_jax / 1e6:.1f}",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    scale = 4 if args.quick else 1
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} cpus")
    rows = [
        bench_frames(64 // scale, 4, 125, 125, 3, rng),
        bench_frames(256 // scale, 4, 32, 32, 1, rng),
    ]
    print("\nextract_frames (jitted) vs NumPy; bandwidth = frame bytes produced per second")
    print(table(rows, list(rows[0])))
    hits = [bench_hits(256 // scale, n, rng) for n in (256, 2048)]
    print("\nhits_to_image (jitted) vs numpy np.add.at, stitched 280x360 grid")
    print(table(hits, list(hits[0])))


if __name__ == "__main__":
    main()
