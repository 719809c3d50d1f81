"""Run-wide test settings, loaded before any test or doctest module imports JAX.

One persistent XLA compilation cache serves the whole run: the pytest-xdist workers and the
CLI child processes they start compile the same programs, and each program compiles once.
The controller makes the directory; the workers and child processes inherit it through the
environment; the controller removes it at the end. ``JAX_COMPILATION_CACHE_DIR`` set by the
caller is used as it is (and kept).
"""

from __future__ import annotations

import os
import shutil
import tempfile

_MADE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _MADE = tempfile.mkdtemp(prefix="e2ejax-test-jit-")
    os.environ.update(JAX_COMPILATION_CACHE_DIR=_MADE, JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                      JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")


def pytest_unconfigure(config):
    if _MADE is not None and not os.environ.get("PYTEST_XDIST_WORKER"):
        shutil.rmtree(_MADE, ignore_errors=True)
