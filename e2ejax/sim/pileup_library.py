"""The premixed-pileup library: minimum-bias interactions at z = 0 through the detector, before the readout.

``e2ejax simulate minbias`` runs Pythia ``SoftQCD:nonDiffractive`` interactions at the
vertex ``z = 0`` through :func:`e2ejax.sim.detector.deposit_response` (the detector code of
every sample, stopped before noise and zero suppression) and stores per interaction its
noise-free ECAL and HCAL cell deposits, its tracks (``dz`` relative to ``z = 0``), BPIX
hits and particle-flow candidates (docs/FORMAT.md). Seeding follows
:mod:`e2ejax.sim.run` on a stream of its own: chunk ``c`` draws everything from
``SeedSequence([seed, c], spawn_key=(2,))`` (so no sample of the same seed, not even the
minimum-bias events of ``egamma``, repeats the library's interactions), and the library
depends on ``(events, seed, detector)`` only, not on the worker count.
:mod:`e2ejax.sim.premix` overlays the stored interactions on simulated events.
"""

from __future__ import annotations

import hashlib
import os
import time

import numpy as np
from tqdm import tqdm

from e2ejax import __version__, geometry
from e2ejax.errors import InputError
from e2ejax.io import COMPRESSION, atomic_path, open_output
from e2ejax.io._write_events import (
    PILEUP_LIBRARY_GROUPS,
    PILEUP_LIBRARY_KIND,
    PILEUP_LIBRARY_TREE,
    PileupLibrary,
    TreeWriter,
    jagged_groups,
    read_pileup_library,
)
from e2ejax.sim import generate
from e2ejax.sim.config import DetectorConfig
from e2ejax.sim.detector import deposit_response

__all__ = [
    "CHUNK_ENTRIES",
    "READOUT_FIELDS",
    "BPIX_MARGIN_SIGMAS",
    "library_config",
    "library_record",
    "library_chunk",
    "simulate_library",
    "load_library",
    "file_sha256",
]

#: interactions per chunk: the unit of work and of seeding (fixed: it defines the library content).
CHUNK_ENTRIES = 25
#: settings applied once after the overlay (noise and thresholds), free to differ from the library's.
READOUT_FIELDS = ("eb_noise", "ee_noise", "ecal_zs_sigmas", "hcal_noise", "hcal_threshold")
#: BPIX hits are stored this many ``beamspot_sigma_z`` beyond ``bpix_half_length``; the overlay cuts at it.
BPIX_MARGIN_SIGMAS = 5.0
_PYTHIA_SEED_RANGE = 900_000_000
_LIBRARY_STREAM = 2  # spawn key of the library's seeds (samples use none, their premixed draws 1)
_LOADED: dict = {}
_STATE: dict = {}


def library_config(cfg: DetectorConfig) -> DetectorConfig:
    """The settings the library is simulated with: ``cfg`` with the BPIX length widened by
    ``BPIX_MARGIN_SIGMAS`` beam-spot sigmas, so hits that a vertex shift brings inside are stored."""
    return cfg._replace(bpix_half_length=cfg.bpix_half_length + BPIX_MARGIN_SIGMAS * cfg.beamspot_sigma_z)


def _cells(dense):
    flat = np.flatnonzero(dense > 0)
    cols = dense.shape[1]
    return (flat // cols).astype(np.int32), (flat % cols).astype(np.int32), dense.ravel()[flat].astype(np.float32)


def library_record(pythia, rng: np.random.Generator, cfg: DetectorConfig) -> dict:
    """Generate one minimum-bias interaction at ``z = 0`` and simulate it up to the readout.

    Args:
        pythia: an initialised minimum-bias Pythia.
        rng: NumPy generator.
        cfg: the library's settings (:func:`library_config`).

    Returns:
        dict ``"<group>_<field>"`` -> 1-D array for every field of ``PILEUP_LIBRARY_GROUPS``:
        ECAL / HCAL cells with a deposit (> 0) on their grids, tracks, BPIX hits, PF candidates.
    """
    generate.next_event(pythia)
    dep = deposit_response(generate.final_state(pythia.event, vertex_z=0.0, hard=False), rng, cfg, vertex_z=0.0)
    record = {}
    for group, dense in (("ecal", dep.ecal), ("hcal", dep.hcal)):
        record[f"{group}_row"], record[f"{group}_col"], record[f"{group}_energy"] = _cells(dense)
    for group, table in (("trk", dep.tracks), ("bpix", dep.bpix), ("pf", dep.pf)):
        for name, _ in PILEUP_LIBRARY_GROUPS[group]:
            record[f"{group}_{name}"] = getattr(table, name)
    return record


def library_chunk(task: tuple) -> list[dict]:
    """Simulate one chunk of library interactions in this process.

    Args:
        task: ``(seed, cfg, chunk, count)``: ``cfg`` the settings asked for (widened here).

    Returns:
        ``count`` records of :func:`library_record`.
    """
    seed, cfg, chunk, count = task
    if _STATE.get("key") != (seed, cfg):
        init = np.random.SeedSequence([seed], spawn_key=(_LIBRARY_STREAM,)).generate_state(1)[0]
        _STATE.clear()
        _STATE.update(key=(seed, cfg), pythia=generate.make_pythia("minbias", seed=int(init % _PYTHIA_SEED_RANGE) + 1))
    seq = np.random.SeedSequence([seed, chunk], spawn_key=(_LIBRARY_STREAM,))
    generate.reseed(_STATE["pythia"], int(seq.generate_state(1)[0] % _PYTHIA_SEED_RANGE) + 1)
    rng = np.random.default_rng(seq)
    lib_cfg = library_config(cfg)
    return [library_record(_STATE["pythia"], rng, lib_cfg) for _ in range(count)]


def _detector_dict(cfg: DetectorConfig) -> dict:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg._asdict().items()}


def simulate_library(*, events: int, seed: int, output: str, executor=None, cfg: DetectorConfig = DetectorConfig(),
                     compression: str = "lz4", progress: bool = True, command: str = "") -> dict:
    """Write a premixed-pileup library of ``events`` minimum-bias interactions to ``output``.

    Args:
        events: number of interactions (>= 1).
        seed: random seed in ``[0, 2**31)``.
        output: ROOT file path; written atomically (temporary name, then rename).
        executor: an ``Executor`` whose ``map`` runs the chunks elsewhere, as for
            :func:`e2ejax.sim.run.simulate`; None: here. The file does not depend on it.
        cfg: detector settings (recorded; a premixed simulation must use the same, the readout aside).
        compression: ``"lz4"`` (default), ``"zstd"``, ``"zlib"`` or ``"lzma"``.
        progress: show a tqdm progress bar on stderr.
        command: command line recorded in the metadata.

    Returns:
        dict with ``events``, ``seconds`` and ``events_per_second``.

    Raises:
        InputError: for a number out of range or an unknown compression.
    """
    checks = [
        (isinstance(events, (int, np.integer)) and 1 <= events < 10**7, "events", "an int in [1, 10**7)", events),
        (isinstance(seed, (int, np.integer)) and 0 <= seed < 2**31, "seed", "an int in [0, 2**31)", seed),
        (compression in COMPRESSION, "compression", f"one of {sorted(COMPRESSION)}", compression),
    ]
    for ok, name, expected, found in checks:
        if not ok:
            raise InputError(f"simulate minbias: expected {name} to be {expected}, found {found!r}; fix: pass {expected}")
    info = {
        "kind": PILEUP_LIBRARY_KIND,
        "entries": int(events),
        "seed": int(seed),
        "chunk_entries": CHUNK_ENTRIES,
        "vertex_z": 0.0,
        "processes": {"minbias": list(generate.COMMON_SETTINGS + generate.PROCESSES["minbias"])},
        "grids": {"ecal": list(geometry.ECAL.shape), "hcal": list(geometry.HBHE.shape)},
        "bpix_half_length_stored": library_config(cfg).bpix_half_length,
        "iphi_origin": geometry.IPHI_ORIGIN,
        "e2ejax_version": __version__,
        "command": command,
        "detector": _detector_dict(cfg),
    }
    tasks = [(int(seed), cfg, c, min(CHUNK_ENTRIES, events - first))
             for c, first in enumerate(range(0, events, CHUNK_ENTRIES))]
    start = time.perf_counter()
    chunks = map(library_chunk, tasks) if executor is None else executor.map(library_chunk, tasks)
    with atomic_path(output) as tmp, open_output(tmp, compression=compression) as file, \
            tqdm(total=events, unit="ev", desc="simulate minbias", disable=not progress) as bar:
        writer = TreeWriter(file, info, tree=PILEUP_LIBRARY_TREE)
        for records in chunks:
            writer.add(jagged_groups(records, PILEUP_LIBRARY_GROUPS), len(records))
            bar.update(len(records))
        writer.flush()
    seconds = time.perf_counter() - start
    return {"events": events, "seconds": seconds, "events_per_second": events / seconds}


def file_sha256(path: str) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_detector(library: PileupLibrary, cfg: DetectorConfig, path: str) -> None:
    stored = library.info.get("detector")
    here = _detector_dict(cfg)
    if not isinstance(stored, dict):
        raise InputError(f"pileup library: expected the detector settings in the record of {path!r}, found none; "
                         f"fix: remake it with e2ejax simulate minbias --events {library.entries} -o {path}")
    differ = [k for k in sorted(set(stored) | set(here)) if k not in READOUT_FIELDS and stored.get(k) != here.get(k)]
    if differ:
        shown = ", ".join(f"{k} (library {stored.get(k)!r}, here {here.get(k)!r})" for k in differ[:4])
        raise InputError(
            f"pileup library: expected a library simulated with this detector configuration, found {path!r} made with "
            f"other settings: {shown}{' ...' if len(differ) > 4 else ''}; fix: remake the library with the same detector "
            f"settings (e2ejax simulate minbias --events {library.entries} -o NEW.root) or simulate with the library's")


def load_library(path: str, cfg: DetectorConfig, *, sha256: str | None = None) -> tuple[PileupLibrary, str]:
    """Read and check a pileup library (kept in memory for the next call with the same file).

    Args:
        path: the library file.
        cfg: the detector settings of the simulation; every field but :data:`READOUT_FIELDS` must
            equal the library's.
        sha256: the expected hash (worker processes check that they read the file the caller checked).

    Returns:
        ``(library, sha256)``: the :class:`e2ejax.io._write_events.PileupLibrary` and the file's hex SHA-256.

    Raises:
        InputError: not a file, not a library, another detector configuration, or a changed file.
    """
    path = os.path.abspath(os.fspath(path))
    digest = file_sha256(path) if os.path.isfile(path) else None
    library = _LOADED.get((path, digest))
    if library is None:
        library = read_pileup_library(path)  # the "not a file" and "not a library" errors
    if sha256 is not None and digest != sha256:
        raise InputError(f"pileup library: expected {path!r} to keep the SHA-256 {sha256[:12]}... checked at the start, "
                         f"found {str(digest)[:12]}...: the file changed during the run; fix: do not rewrite a library in use")
    _check_detector(library, cfg, path)
    _LOADED.clear()
    _LOADED[(path, digest)] = library
    return library, digest
