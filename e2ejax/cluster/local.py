"""Dask clients for the command line: a ``distributed.LocalCluster`` of worker processes, or a
running scheduler to attach to.

Workers are separate processes started with ``spawn`` (Dask's default, kept explicitly):
JAX runs threads from its first import, and a process forked from one that has imported it
can deadlock. Each worker runs one task at a time (one thread) with every numeric library
held to one thread, so ``N`` workers use ``N`` cores.
"""

from __future__ import annotations

import contextlib
import logging
import sys

from e2ejax.errors import InputError, require
from e2ejax.logs import held_back

__all__ = ["dask_client", "WORKER_ENV"]

#: the environment of each LocalCluster worker: one thread per numeric library
WORKER_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "XLA_FLAGS": "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "DASK_LOGGING__DISTRIBUTED": "error",
}


@contextlib.contextmanager
def dask_client(*, workers: int | None = None, scheduler: str | None = None, quiet: bool = False, timeout: float = 20.0):
    """A ``distributed.Client``: of a new LocalCluster of ``workers`` processes, or of the running
    ``scheduler`` (an address such as ``tcp://10.0.0.1:8786`` or a scheduler file ``*.json``).

    Prints the dashboard address of a started cluster on stderr unless ``quiet``.

    Raises:
        InputError: both or neither given, the ``dask`` extra missing, or no scheduler answering.
    """
    if (workers is None) == (scheduler is None):
        raise InputError("expected one of --workers N (start a local Dask cluster) or --scheduler ADDRESS (attach to one)")
    require("distributed", "dask")
    import dask
    import distributed

    if scheduler is not None:
        kind = {"scheduler_file": scheduler} if scheduler.endswith(".json") else {"address": scheduler}
        try:
            client = distributed.Client(**kind, timeout=f"{timeout}s")
        except (OSError, TimeoutError, ValueError) as exc:
            raise InputError(f"--scheduler: expected a Dask scheduler at {scheduler!r}; none answered within {timeout:g} s "
                             f"({type(exc).__name__}); fix: start one (`dask scheduler`) or check the address") from None
        with client:
            yield client
        return
    with held_back("distributed"), dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}):
        cluster = distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=":0",
                                           env=WORKER_ENV, silence_logs=logging.ERROR)
        with cluster, distributed.Client(cluster) as client:
            if not quiet:
                link = client.dashboard_link if "dashboard" in getattr(cluster.scheduler, "services", {}) else None
                print(f"Dask LocalCluster: {workers} worker process(es) at {cluster.scheduler_address}"
                      f"{f', dashboard {link}' if link else ''}", file=sys.stderr)
            yield client
