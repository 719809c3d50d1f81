"""Simulate a sample into an E2E ROOT file: chunks of events, worker processes, seeds, writing.

Events are generated in fixed-size chunks. Chunk ``c`` draws all its randomness
(Pythia's generator, the vertex, the gun, pileup and the detector) from
``numpy.random.SeedSequence([seed, c])``, and every Pythia instance is initialised
with the same seed, so a file depends on ``(sample, events, seed, pileup)`` only,
not on the number of worker processes.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
from tqdm import tqdm

from e2ejax import __version__, geometry
from e2ejax.errors import InputError
from e2ejax.io import COMPRESSION, MANTISSA_BITS, EventWriter, atomic_path, open_output
from e2ejax.sim import generate
from e2ejax.sim.config import DetectorConfig
from e2ejax.sim.jets import cluster
from e2ejax.sim.samples import SAMPLES, make_event, processes
from e2ejax.sim.seeds import add_seeds

__all__ = ["CHUNK_EVENTS", "simulate", "simulate_chunk", "event_id"]

#: events per chunk: the unit of work and of seeding (fixed: it defines the file content).
CHUNK_EVENTS = 25
_PYTHIA_SEED_RANGE = 900_000_000

_STATE: dict = {}


def event_id(seed: int, number: int) -> int:
    """The ``event`` branch value: ``seed * 10**7 + number``."""
    return int(seed) * 10**7 + int(number)


def _silence_fastjet_banner() -> None:
    """Run one clustering with stdout closed: fastjet prints its banner on first use."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            cluster(np.ones(1), np.zeros(1), np.zeros(1), radius=0.4, min_pt=0.0)
    finally:
        os.dup2(saved, 1)
        os.close(saved)


def _init_worker(sample: str, seed: int, pileup: float, cfg: DetectorConfig) -> None:
    spec = SAMPLES[sample]
    init_seed = int(np.random.SeedSequence([seed]).generate_state(1)[0] % _PYTHIA_SEED_RANGE) + 1
    _STATE.clear()
    _STATE.update(
        key=(sample, seed, pileup, cfg),
        spec=spec,
        generators={p: generate.make_pythia(p, seed=init_seed) for p in processes(spec, pileup=pileup)},
    )
    _silence_fastjet_banner()


def simulate_chunk(task: tuple) -> list[dict]:
    """Generate one chunk of events in this process.

    Args:
        task: ``(sample, seed, pileup, cfg, chunk, first, count)``.

    Returns:
        ``count`` event records (see :func:`e2ejax.sim.samples.make_event`).
    """
    sample, seed, pileup, cfg, chunk, first, count = task
    if _STATE.get("key") != (sample, seed, pileup, cfg):
        _init_worker(sample, seed, pileup, cfg)
    seq = np.random.SeedSequence([seed, chunk])
    pythia_seeds = seq.generate_state(len(_STATE["generators"]))
    for s, pythia in zip(pythia_seeds, _STATE["generators"].values()):
        generate.reseed(pythia, int(s % _PYTHIA_SEED_RANGE) + 1)
    rng = np.random.default_rng(seq)
    return [
        make_event(_STATE["spec"], _STATE["generators"], number=n, event_id=event_id(seed, n),
                   rng=rng, cfg=cfg, pileup=pileup)
        for n in range(first, first + count)
    ]


def _tasks(sample, seed, pileup, cfg, events):
    return [
        (sample, seed, pileup, cfg, c, first, min(CHUNK_EVENTS, events - first))
        for c, first in enumerate(range(0, events, CHUNK_EVENTS))
    ]


def _check_arguments(sample, *, events, seed, pileup, compression):
    checks = [
        (sample in SAMPLES, "sample", f"one of {sorted(SAMPLES)}", sample),
        (isinstance(events, (int, np.integer)) and 1 <= events < 10**7, "events", "an int in [1, 10**7)", events),
        (isinstance(seed, (int, np.integer)) and 0 <= seed < 2**31, "seed", "an int in [0, 2**31)", seed),
        (np.isfinite(pileup) and pileup >= 0, "pileup", "a finite number >= 0", pileup),
        (compression in COMPRESSION, "compression", f"one of {sorted(COMPRESSION)}", compression),
    ]
    for ok, name, expected, found in checks:
        if not ok:
            raise InputError(f"simulate: expected {name} to be {expected}, found {found!r}; fix: pass {expected}")


def _chunk_results(tasks, executor):
    """The records of each chunk in chunk order: computed here, or by ``executor.map``."""
    return map(simulate_chunk, tasks) if executor is None else executor.map(simulate_chunk, tasks)


def simulate(sample: str, *, events: int, seed: int, output: str, executor=None, pileup: float = 0.0,
             cfg: DetectorConfig = DetectorConfig(), compression: str = "lz4", progress: bool = True,
             command: str = "") -> dict:
    """Generate ``events`` events of ``sample`` through the detector into ``output``.

    Args:
        sample: ``"qg"``, ``"egamma"``, ``"top"`` or ``"tau"``.
        events: number of events (>= 1).
        seed: random seed in ``[0, 2**31)``.
        output: ROOT file path; written atomically (temporary name, then rename).
        executor: a ``concurrent.futures.Executor`` whose ``map`` runs the chunks elsewhere (a Dask
            ``client.get_executor()``, or a ``ProcessPoolExecutor`` with the ``spawn`` context:
            never fork a process that imported JAX); None: here. The file does not depend on it.
        pileup: mean number of overlaid minimum-bias interactions (Poisson).
        cfg: detector settings.
        compression: ``"lz4"`` (default), ``"zstd"``, ``"zlib"`` or ``"lzma"``.
        progress: show a tqdm progress bar on stderr.
        command: command line recorded in the metadata.

    Returns:
        dict with ``events``, ``seconds`` (wall time) and ``events_per_second``.

    Raises:
        InputError: for an unknown sample or compression, or a number out of range.
    """
    _check_arguments(sample, events=events, seed=seed, pileup=pileup, compression=compression)
    spec = SAMPLES[sample]
    info = {
        "sample": sample,
        "seed": int(seed),
        "events": int(events),
        "pileup": float(pileup),
        "chunk_events": CHUNK_EVENTS,
        "float_mantissa_bits": MANTISSA_BITS,
        "iphi_origin": geometry.IPHI_ORIGIN,
        "e2ejax_version": __version__,
        "command": command,
        "processes": {p: list(generate.COMMON_SETTINGS + generate.PROCESSES[p])
                      for p in processes(spec, pileup=pileup)},
        "jets": {"radius": spec.jet_radius, "pt_min": spec.jet_pt_min,
                 "pt_max": spec.jet_pt_max if np.isfinite(spec.jet_pt_max) else None, "eta_max": spec.jet_eta_max},
        "detector": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg._asdict().items()},
    }
    tasks = _tasks(sample, seed, pileup, cfg, events)
    start = time.perf_counter()
    with atomic_path(output) as tmp, open_output(tmp, compression=compression) as file, \
            tqdm(total=events, unit="ev", desc=f"simulate {sample}", disable=not progress) as bar:
        writer = EventWriter(file, info)
        for records in _chunk_results(tasks, executor):
            add_seeds(records)
            writer.add(records)
            bar.update(len(records))
        writer.flush()
    seconds = time.perf_counter() - start
    return {"events": events, "seconds": seconds, "events_per_second": events / seconds}
