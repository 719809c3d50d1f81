"""Simulate a sample into an E2E ROOT file: chunks of events, worker processes, seeds, writing.

Events are generated in fixed-size chunks. Chunk ``c`` draws all its randomness
(Pythia's generator, the vertex, the gun, pileup and the detector) from
``numpy.random.SeedSequence([seed, c])``, and every Pythia instance is initialised
with the same seed, so a file depends on ``(sample, events, seed, pileup)`` only,
not on the number of worker processes. With a premixed-pileup library the choice of
library entries and their vertices comes from the child stream
``SeedSequence([seed, c], spawn_key=(1,))``, and the file depends on the library too.
"""

from __future__ import annotations

import os
import sys
import time
import warnings

import numpy as np
from tqdm import tqdm

from e2ejax import __version__, geometry
from e2ejax.errors import InputError
from e2ejax.io import COMPRESSION, MANTISSA_BITS, EventWriter, atomic_path, open_output, to_arrays
from e2ejax.io._write_events import PILEUP_GROUPS, TreeWriter, jagged_groups
from e2ejax.sim import generate
from e2ejax.sim.config import DetectorConfig
from e2ejax.sim.jets import cluster
from e2ejax.sim.pileup_library import load_library
from e2ejax.sim.samples import SAMPLES, make_event, processes
from e2ejax.sim.seeds import add_seeds

__all__ = ["CHUNK_EVENTS", "PileupReuseWarning", "simulate", "simulate_chunk", "event_id"]

#: events per chunk: the unit of work and of seeding (fixed: it defines the file content).
CHUNK_EVENTS = 25
_PYTHIA_SEED_RANGE = 900_000_000

_STATE: dict = {}
_PILEUP_STREAM = 1


class PileupReuseWarning(UserWarning):
    """A premixed run draws more interactions than its library holds (entries are reused)."""


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


def _init_worker(sample: str, seed: int, pileup: float, cfg: DetectorConfig, library) -> None:
    spec = SAMPLES[sample]
    init_seed = int(np.random.SeedSequence([seed]).generate_state(1)[0] % _PYTHIA_SEED_RANGE) + 1
    names = processes(spec, pileup=pileup, premixed=library is not None)
    _STATE.clear()
    _STATE.update(
        key=(sample, seed, pileup, cfg, library),
        spec=spec,
        generators={p: generate.make_pythia(p, seed=init_seed) for p in names},
        library=None if library is None else load_library(library[0], cfg, sha256=library[1])[0],
    )
    _silence_fastjet_banner()


def simulate_chunk(task: tuple) -> list[dict]:
    """Generate one chunk of events in this process.

    Args:
        task: ``(sample, seed, pileup, cfg, chunk, first, count)``, optionally followed by the
            premixed-pileup library ``(absolute path, sha256)`` (or None).

    Returns:
        ``count`` event records (see :func:`e2ejax.sim.samples.make_event`).
    """
    sample, seed, pileup, cfg, chunk, first, count = task[:7]
    library = task[7] if len(task) > 7 else None
    if _STATE.get("key") != (sample, seed, pileup, cfg, library):
        _init_worker(sample, seed, pileup, cfg, library)
    seq = np.random.SeedSequence([seed, chunk])
    pythia_seeds = seq.generate_state(len(_STATE["generators"]))
    for s, pythia in zip(pythia_seeds, _STATE["generators"].values()):
        generate.reseed(pythia, int(s % _PYTHIA_SEED_RANGE) + 1)
    rng = np.random.default_rng(seq)
    pileup_rng = None
    if library is not None:
        pileup_rng = np.random.default_rng(np.random.SeedSequence([seed, chunk], spawn_key=(_PILEUP_STREAM,)))
    return [
        make_event(_STATE["spec"], _STATE["generators"], number=n, event_id=event_id(seed, n),
                   rng=rng, cfg=cfg, pileup=pileup, library=_STATE["library"], pileup_rng=pileup_rng)
        for n in range(first, first + count)
    ]


def _tasks(sample, seed, pileup, cfg, events, library=None):
    return [
        (sample, seed, pileup, cfg, c, first, min(CHUNK_EVENTS, events - first)) + ((library,) if library else ())
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


def _premix_setup(pileup_library, pileup, events, cfg):
    """Check the library; returns ``(task entry (path, sha256) or None, info record or None)``."""
    if pileup_library is None:
        return None, None
    library, sha256 = load_library(pileup_library, cfg)
    if pileup == 0:  # nothing is overlaid: the file is that of a run without a library
        return None, None
    path = os.path.abspath(os.fspath(pileup_library))
    reuse = pileup * events / library.entries
    if reuse > 1.0:
        warnings.warn(PileupReuseWarning(
            f"pileup library {path!r} holds {library.entries} interactions for about {pileup * events:.0f} draws "
            f"(pileup {pileup:g} x {events} events): each entry is reused about {reuse:.1f} times on average; a "
            f"larger library (e2ejax simulate minbias --events {int(np.ceil(pileup * events))}) gives independent pileup"),
            stacklevel=3)
    record = {"path": path, "sha256": sha256, "entries": library.entries, "seed": library.info.get("seed"),
              "reuse_factor": round(reuse, 4), "command": library.info.get("command", "")}
    return (path, sha256), record


def simulate(sample: str, *, events: int, seed: int, output: str, executor=None, pileup: float = 0.0,
             cfg: DetectorConfig = DetectorConfig(), compression: str = "lz4", progress: bool = True,
             command: str = "", pileup_library: str | None = None) -> dict:
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
        pileup_library: a library from :func:`e2ejax.sim.pileup_library.simulate_library`: pileup is
            premixed from it (docs/SIMULATION.md, "Premixed pileup") instead of generated per event,
            and the events get the ``npileup``, ``pileup_entry`` and ``pileup_z`` branches. Checked
            even at ``pileup == 0``, where it is not used (the file is that of a run without it).

    Returns:
        dict with ``events``, ``seconds`` (wall time) and ``events_per_second``.

    Raises:
        InputError: for an unknown sample or compression, a number out of range, or a bad library
            (not a file, not a library, another detector configuration).

    Warns:
        PileupReuseWarning: when ``pileup * events`` exceeds the library's entries.
    """
    _check_arguments(sample, events=events, seed=seed, pileup=pileup, compression=compression)
    library, library_record = _premix_setup(pileup_library, pileup, events, cfg)
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
                      for p in processes(spec, pileup=pileup, premixed=library is not None)},
        "jets": {"radius": spec.jet_radius, "pt_min": spec.jet_pt_min,
                 "pt_max": spec.jet_pt_max if np.isfinite(spec.jet_pt_max) else None, "eta_max": spec.jet_eta_max},
        "detector": {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg._asdict().items()},
    }
    if library_record is not None:
        info["pileup_library"] = library_record
    tasks = _tasks(sample, seed, pileup, cfg, events, library)
    start = time.perf_counter()
    with atomic_path(output) as tmp, open_output(tmp, compression=compression) as file, \
            tqdm(total=events, unit="ev", desc=f"simulate {sample}", disable=not progress) as bar:
        writer = EventWriter(file, info) if library is None else TreeWriter(file, info)
        for records in _chunk_results(tasks, executor):
            add_seeds(records)
            if library is None:
                writer.add(records)
            else:
                writer.add({**to_arrays(records), **jagged_groups(records, PILEUP_GROUPS)}, len(records))
            bar.update(len(records))
        writer.flush()
    seconds = time.perf_counter() - start
    return {"events": events, "seconds": seconds, "events_per_second": events / seconds}
