"""The C frame cutter of ``_frame_rows.c``, compiled on first use (benchmark-only reference)."""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile

import numpy as np

SOURCE = os.path.join(os.path.dirname(__file__), "_frame_rows.c")


def load_c_cutter():
    """``(cut, None)`` with ``cut(images, seeds, height, width, row_offset, col_offset)`` a
    NumPy-callable cutter, or ``(None, reason)`` when no C compiler is found or compilation fails."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc")
    if cc is None:
        return None, "no C compiler (set CC)"
    with tempfile.TemporaryDirectory(prefix="e2ejax-bench-") as tmp:  # the loaded library outlives its file
        lib_path = os.path.join(tmp, "frame_rows.so")
        build = subprocess.run([cc, "-O2", "-shared", "-fPIC", "-o", lib_path, SOURCE], capture_output=True, text=True)
        if build.returncode != 0:
            return None, f"{cc} failed: {build.stderr.strip()[:200]}"
        lib = ctypes.CDLL(lib_path)
    i32, ptr = ctypes.c_int32, ctypes.c_void_p
    lib.cut_frames.argtypes = [ptr, i32, i32, i32, i32, ptr, i32, i32, i32, i32, i32, ptr]
    lib.cut_frames.restype = None

    def cut(images, seeds, height, width, row_offset, col_offset):
        images = np.ascontiguousarray(images, np.float32)
        seeds = np.ascontiguousarray(seeds, np.int32)
        B, H, W, C = images.shape
        out = np.empty((B, seeds.shape[1], height, width, C), np.float32)
        lib.cut_frames(images.ctypes.data, B, H, W, C, seeds.ctypes.data, seeds.shape[1],
                       height, width, row_offset, col_offset, out.ctypes.data)
        return out

    return cut, None
