"""JAX's persistent compilation cache for the ``e2ejax`` command line: on by default, per user.

Every ``e2ejax`` process compiles the same programs (the input builders at each
:func:`~e2ejax.inference.pad_rows` size, the networks); with the cache a second run reads
them from disk instead of compiling again. :func:`enable` is called by the CLI before a
command runs, never by ``import e2ejax``: a library user keeps JAX's own settings.

Where: ``JAX_COMPILATION_CACHE_DIR`` when set (JAX's own variable, used as it is), else
``$XDG_CACHE_HOME/e2ejax/jit``, else ``~/.cache/e2ejax/jit``. Off: ``E2EJAX_JIT_CACHE=0``
in the environment or ``--no-jit-cache`` on the command line. A directory that cannot be
created or written leaves the cache off and says nothing.

Several processes may share the directory: JAX names each entry by the hash of the
program, compiler and backend, so concurrent writers write the same bytes, and an entry
read while it is being written fails JAX's decompression and is compiled again. Such a
failed read or write (a full disk, a file-size limit) is no error of the command: JAX's
warnings about it are silenced here.

Configuration goes through the environment (``JAX_COMPILATION_CACHE_DIR``,
``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS``), which JAX reads when it is first imported,
so that enabling costs no JAX import (``e2ejax --help`` and bad-input errors stay fast);
when JAX is already imported the same values go through ``jax.config.update``.
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

__all__ = ["DISABLE_ENV", "cache_directory", "enable"]

#: the environment variable that turns the cache off (``0``, ``false``, ``no`` or ``off``)
DISABLE_ENV = "E2EJAX_JIT_CACHE"

#: JAX's warnings when a cache entry cannot be read or written (the program is compiled instead)
_CACHE_WARNINGS = ("Error writing persistent compilation cache entry", "Error reading persistent compilation cache entry")

#: JAX caches only programs that took at least 1 s to compile by default; the tagger's input
#: builders take less each but are many (one per padded row count), so every program is kept
_SETTINGS = {"JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0"}


def cache_directory(environ=None) -> Path | None:
    """The cache directory the environment asks for, or None when the cache is turned off.

    Args:
        environ: the environment mapping (default ``os.environ``).

    Examples:
        >>> str(cache_directory({"XDG_CACHE_HOME": "/scratch/me"}))
        '/scratch/me/e2ejax/jit'
        >>> str(cache_directory({"JAX_COMPILATION_CACHE_DIR": "/tmp/jit", "XDG_CACHE_HOME": "/scratch/me"}))
        '/tmp/jit'
        >>> cache_directory({"E2EJAX_JIT_CACHE": "0"}) is None
        True
    """
    environ = os.environ if environ is None else environ
    if environ.get(DISABLE_ENV, "1").strip().lower() in ("0", "false", "no", "off"):
        return None
    if environ.get("JAX_COMPILATION_CACHE_DIR"):
        return Path(environ["JAX_COMPILATION_CACHE_DIR"])
    base = environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "e2ejax" / "jit"


def _writable(directory: Path) -> bool:
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError:
        return False
    return os.access(directory, os.W_OK | os.X_OK)


def enable(*, disabled: bool = False) -> Path | None:
    """Turn the persistent compilation cache on for this process (and the processes it starts).

    Call it before the first JAX compilation. The environment's own
    ``JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS`` is kept when set.

    Args:
        disabled: turn the cache off (``--no-jit-cache``), as ``E2EJAX_JIT_CACHE=0`` does.

    Returns:
        The cache directory in use, or None when the cache is off.
    """
    for message in _CACHE_WARNINGS:
        warnings.filterwarnings("ignore", message=message, category=UserWarning)
    directory = None if disabled else cache_directory()
    if directory is not None and not _writable(directory):
        directory = None
    if directory is None:
        os.environ["JAX_ENABLE_COMPILATION_CACHE"] = "false"
        if "jax" in sys.modules:
            sys.modules["jax"].config.update("jax_enable_compilation_cache", False)
        return None
    values = {"JAX_COMPILATION_CACHE_DIR": str(directory), **_SETTINGS}
    for name, value in values.items():
        os.environ.setdefault(name, value)
    if "jax" in sys.modules:
        config = sys.modules["jax"].config
        config.update("jax_compilation_cache_dir", os.environ["JAX_COMPILATION_CACHE_DIR"])
        config.update("jax_persistent_cache_min_compile_time_secs", float(os.environ["JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS"]))
    return directory
