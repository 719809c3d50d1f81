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
from _c_frames import load_c_cutter  # noqa: E402
from _timing import best_time, table  # noqa: E402

from e2ejax.ops import extract_frames, frame_offset, hits_to_frames, hits_to_image  # noqa: E402


FRAMES_NOTE = """\
references, same bytes as the frames: np.copy (allocates), np.copyto (into an existing
array), xla copy (a jitted -x writing a fresh buffer: what any XLA op producing the
frames pays). x copy images: np.copy of the input images over extract_frames' time
(>1: cutting the frames is faster than reading the images once). np gather: np.take of
exactly the frame pixels with precomputed flat indices, NumPy's C gather loop (the same
scattered reads as any frame cutter, no index arithmetic timed): where it is as slow as
extract_frames, the reads themselves (rows of 32 x 4 bytes spread over the images) set
the pace, not the copy bandwidth.
C rows: _frame_rows.c, one memcpy per frame row (two where it wraps), compiled -O2 with
ctypes: what this access pattern allows a frame cutter written for the CPU. C rows/np.copy
is the ceiling for any extract_frames; jax/C rows is how close the jitted op gets to it.
Output buffers above glibc's mmap threshold (32 MiB at most) are fresh mappings,
page-faulted 4 KiB at a time on every call, while NumPy asks for huge pages: that,
not the gather, caps the 48 MB row near 'xla copy'. Run with
MALLOC_MMAP_THRESHOLD_=1000000000 to take the allocator out of the comparison."""


HITS_NOTE = """\
The output (B x 280 x 360 floats) is most of the work: XLA zero-fills a fresh buffer and
scatters into it in place. At 256 events that buffer (103 MB) is a fresh mapping on every
call: the kernel zeroes each 4 KiB page at its first touch and XLA writes zeros again (a
jitted fill of that size alone took about as long as hits_to_image here), while NumPy's
np.zeros (calloc) relies on the kernel's zeroing. At the tagger's 64 events it is reused."""


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


def _frame_pixels(seeds, shape, height, width):
    """Flat ``(event, row, col)`` index of every frame pixel, ``[B, S, height, width]``
    (rows outside the image clipped: only the reads matter here)."""
    H, W = shape
    B = seeds.shape[0]
    rows = np.clip(seeds[..., 0, None] - frame_offset(height) + np.arange(height), 0, H - 1)
    cols = (seeds[..., 1, None] - frame_offset(width) + np.arange(width)) % W
    return (np.arange(B)[:, None, None, None] * H + rows[..., :, None]) * W + cols[..., None, :]


def bench_frames(B, S, height, width, C, rng, c_cut=None):
    images = rng.random((B, 280, 360, C), dtype=np.float32)
    seeds = np.stack([rng.integers(0, 280, (B, S)), rng.integers(0, 360, (B, S))], -1).astype(np.int32)
    j_images, j_seeds = jnp.asarray(images), jnp.asarray(seeds)
    fn = jax.jit(lambda x, s: extract_frames(x, s, height=height, width=width))
    expected = numpy_per_seed(images, seeds, height, width)
    np.testing.assert_array_equal(np.asarray(fn(j_images, j_seeds)[0]), expected)
    nbytes = B * S * height * width * C * 4
    src = rng.random(nbytes // 4, dtype=np.float32)
    dst = np.empty_like(src)
    j_src = jnp.asarray(src)
    flat_images, pixel_index = images.reshape(-1, C), _frame_pixels(seeds, (280, 360), height, width)
    xla_copy = jax.jit(lambda x: -x)  # one XLA pass writing a fresh buffer of the frames' size
    t_np = best_time(lambda: numpy_per_seed(images, seeds, height, width), repeat=3)
    # the machine may be shared: interleave the fast candidates and keep the best of each
    timed = {
        "jax": lambda: fn(j_images, j_seeds),
        "copy": lambda: src.copy(),
        "copyto": lambda: np.copyto(dst, src),
        "xla": lambda: xla_copy(j_src),
        "images": lambda: images.copy(),
        "gather": lambda: np.take(flat_images, pixel_index, axis=0, mode="clip"),
    }
    if c_cut is not None:
        offsets = (frame_offset(height), frame_offset(width))
        np.testing.assert_array_equal(c_cut(images, seeds, height, width, *offsets), expected)
        timed["c rows"] = lambda: c_cut(images, seeds, height, width, *offsets)
    best = {k: float("inf") for k in timed}
    for _ in range(5):
        for k, f in timed.items():
            best[k] = min(best[k], best_time(f, repeat=3))
    t_jax = best["jax"]
    gbs = lambda t: f"{nbytes / t / 1e9:.2f}"  # noqa: E731
    t_c = best.get("c rows")
    c_columns = {
        "C rows GB/s": gbs(t_c) if t_c else "n/a",
        "C rows/np.copy": f"{best['copy'] / t_c:.2f}" if t_c else "n/a",
        "jax/C rows": f"{t_c / t_jax:.2f}" if t_c else "n/a",
    }
    return {
        "frames": f"{B}x{S} x {height}x{width}x{C}",
        "MB": f"{nbytes / 1e6:.1f}",
        "jax GB/s": gbs(t_jax),
        "np.copy GB/s": gbs(best["copy"]),
        "copyto GB/s": gbs(best["copyto"]),
        "xla copy GB/s": gbs(best["xla"]),
        "jax/np.copy": f"{best['copy'] / t_jax:.2f}",
        "jax/copyto": f"{best['copyto'] / t_jax:.2f}",
        "jax/xla copy": f"{best['xla'] / t_jax:.2f}",
        **c_columns,
        "np gather GB/s": gbs(best["gather"]),
        "jax/np gather": f"{best['gather'] / t_jax:.2f}",
        "x copy images": f"{best['images'] / t_jax:.1f}",
        "x per-seed numpy": f"{t_np / t_jax:.1f}",
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


def bench_hit_frames(B, S, N, C, size, rng):
    """Jet frames straight from hits (hits_to_frames) vs building the 280x360 images and cutting them."""
    H, W = 280, 360
    rows = rng.integers(0, H, (B, N)).astype(np.int32)
    cols = rng.integers(0, W, (B, N)).astype(np.int32)
    vals = rng.exponential(size=(B, N, C)).astype(np.float32)
    mask = rng.random((B, N)) < 0.8
    seeds = np.stack([rng.integers(0, H, (B, S)), rng.integers(0, W, (B, S))], -1).astype(np.int32)
    args = [jnp.asarray(a) for a in (rows, cols, vals, mask, seeds)]
    direct = jax.jit(lambda r, c, v, m, s: hits_to_frames(r, c, v, m, s, shape=(H, W), height=size, width=size)[0])
    via_image = jax.jit(lambda r, c, v, m, s: extract_frames(hits_to_image(r, c, v, m, shape=(H, W)), s,
                                                             height=size, width=size)[0])
    np.testing.assert_allclose(np.asarray(direct(*args)), np.asarray(via_image(*args)), rtol=1e-5, atol=1e-5)
    best = {"direct": float("inf"), "image": float("inf")}
    for _ in range(3):
        best["direct"] = min(best["direct"], best_time(lambda: direct(*args), repeat=3))
        best["image"] = min(best["image"], best_time(lambda: via_image(*args), repeat=3))
    nbytes = B * S * size * size * C * 4
    return {
        "events x seeds": f"{B}x{S}",
        "hits/event": N,
        "frame": f"{size}x{size}x{C}",
        "from hits ms": f"{best['direct'] * 1e3:.1f}",
        "image+cut ms": f"{best['image'] * 1e3:.1f}",
        "speed-up": f"{best['image'] / best['direct']:.1f}",
        "from hits frame GB/s": f"{nbytes / best['direct'] / 1e9:.2f}",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller batches")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    scale = 4 if args.quick else 1
    print(f"jax {jax.__version__} on {jax.devices()[0].platform}, {os.cpu_count()} cpus")
    # events x seeds per event: 4 jets per event for 125x125 jet frames, 2 to 4 e/gamma
    # candidates per event for 32x32 frames; seeds anywhere in the 280x360 image
    # sizes: in cache (2-4 MB), out of cache but under glibc's 32 MiB mmap threshold
    # (12-30 MB: the tagger's 64-event batches; 17 MB of 32x32 frames), and above it (34-48 MB)
    c_cut, c_missing = load_c_cutter()
    sizes = [(16, 4, 125, 3), (40, 4, 125, 3), (64, 4, 125, 3),
             (256, 2, 32, 1), (256, 4, 32, 1), (1024, 4, 32, 1), (2048, 4, 32, 1)]
    rows = [bench_frames(b // scale, s, size, size, c, rng, c_cut) for b, s, size, c in sizes]
    print("\nextract_frames (jitted) vs NumPy; bandwidth = frame bytes produced per second")
    print(table(rows, list(rows[0])))
    print(FRAMES_NOTE)
    if c_missing:
        print(f"C rows: not measured ({c_missing})")
    direct = [bench_hit_frames(64 // scale, 2, n, c, 125, rng) for n, c in ((2048, 3), (4096, 8))]
    print("\njet frames summed from hits (the tagger's path) vs hits -> 280x360 image -> extract_frames")
    print(table(direct, list(direct[0])))
    # 64 events: the tagger's batch (26 MB of images); 256 events: 103 MB, above the mmap threshold
    hits = [bench_hits(b // scale, n, rng) for b, n in ((64, 256), (64, 2048), (256, 256), (256, 2048))]
    print("\nhits_to_image (jitted) vs numpy np.add.at, stitched 280x360 grid")
    print(table(hits, list(hits[0])))
    print(HITS_NOTE)


if __name__ == "__main__":
    main()
