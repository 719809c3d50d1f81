"""Many files at once: tag (and simulate) on a Dask cluster or in this process, resumably.

* :func:`tag`: inputs -> one friend file each in an output directory, with a manifest;
  ``client=None`` runs here, a ``distributed.Client`` runs on its cluster, same outputs.
* :func:`tag_chunk` / :func:`file_entries`: the worker functions, for a user's own graph
  (``client.map(tag_chunk, items, models=...)`` over :func:`plan_chunks` items).
* :func:`dask_client`: a LocalCluster of worker processes or an attached scheduler.

Dask (``pip install 'e2ejax[dask]'``) is imported only by :func:`dask_client` and when a
client is passed. See docs/DISTRIBUTED.md.
"""

import importlib

#: public name -> the module defining it; imported on first use, so that the command line can
#: read :data:`DEFAULT_CHUNK_EVENTS` without importing JAX
_MODULES = {
    "DEFAULT_CHUNK_EVENTS": "chunks", "WorkItem": "chunks", "plan_chunks": "chunks",
    "model_records": "engine", "prepare_outdir": "engine", "tag": "engine",
    "expand_inputs": "inputs", "is_url": "inputs", "output_names": "inputs",
    "WORKER_ENV": "local", "dask_client": "local",
    "MANIFEST_NAME": "manifest", "Manifest": "manifest", "sha256_file": "manifest",
    "file_entries": "worker", "tag_chunk": "worker", "taggers_for": "worker",
}


def __getattr__(name):
    if name in _MODULES:
        return getattr(importlib.import_module(f"e2ejax.cluster.{_MODULES[name]}"), name)
    raise AttributeError(f"module 'e2ejax.cluster' has no attribute {name!r}")


__all__ = [
    "DEFAULT_CHUNK_EVENTS",
    "MANIFEST_NAME",
    "Manifest",
    "WORKER_ENV",
    "WorkItem",
    "dask_client",
    "expand_inputs",
    "file_entries",
    "is_url",
    "model_records",
    "output_names",
    "plan_chunks",
    "prepare_outdir",
    "sha256_file",
    "tag",
    "tag_chunk",
    "taggers_for",
]
