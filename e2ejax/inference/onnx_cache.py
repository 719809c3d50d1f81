"""The ONNX export of a checkpoint step, made once and kept beside the checkpoint.

A checkpoint folder without an exported ``model.onnx`` is exported on the fly for the
``onnxruntime`` backend. The export is kept as ``<checkpoint>/.e2ejax-onnx/<key>.onnx``;
the key hashes the step's integrity record (the SHA-256 of every saved array, written by
:class:`e2ejax.store.Checkpointer`), the objective and the e2ejax version, so a retrained
step, another objective or another e2ejax gets its own export. A read-only checkpoint
folder gets the export in a temporary directory that lives as long as the returned handle.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from e2ejax import __version__
from e2ejax.inference.export import to_onnx
from e2ejax.logs import held_back

__all__ = ["CACHE_FOLDER", "cached_onnx", "export_key", "temporary_onnx"]

#: the folder of a checkpoint directory that holds its cached exports
CACHE_FOLDER = ".e2ejax-onnx"


def export_key(directory, step: int, objective: str) -> str:
    """The cache key of the export of ``directory``'s step ``step``: 16 hex digits.

    Raises:
        OSError: the step has no readable integrity record.
    """
    digest = hashlib.sha256()
    digest.update((Path(directory) / str(int(step)) / "integrity" / "metadata").read_bytes())
    digest.update(f"\0{objective}\0{__version__}".encode())
    return digest.hexdigest()[:16]


def _quiet_onnx_ir():
    """Hold back the ``onnx_ir`` library's log warnings while exporting (notes on its own
    serialisation that concern no e2ejax user; the export is checked by ``onnx.checker``)."""
    return held_back("onnx_ir")


def cached_onnx(model, directory, *, step: int, objective: str = "classification"):
    """The ONNX export of ``model``, restored from step ``step`` of the checkpoint ``directory``.

    Returns:
        ``(path, keep)``: the ``.onnx`` file, and a temporary directory object to hold on to
        while it is used (None when the export is kept beside the checkpoint).
    """
    try:
        key = export_key(directory, step, objective)
    except OSError:
        key = None
    if key is not None:
        cached = Path(directory) / CACHE_FOLDER / f"{key}.onnx"
        if cached.is_file() and cached.with_name(cached.name + ".json").is_file():
            return cached, None
        if os.access(directory, os.W_OK | os.X_OK):
            try:
                with _quiet_onnx_ir():
                    return to_onnx(model, cached, objective=objective), None
            except OSError:
                pass  # a full disk or a folder made read-only meanwhile: export to a temporary folder instead
    return temporary_onnx(model, objective=objective)


def temporary_onnx(model, *, objective: str = "classification"):
    """``(path, keep)``: an ONNX export of ``model`` in a temporary directory ``keep``, deleted with it."""
    keep = tempfile.TemporaryDirectory(prefix="e2ejax-")
    with _quiet_onnx_ir():
        return to_onnx(model, Path(keep.name) / "model.onnx", objective=objective), keep
