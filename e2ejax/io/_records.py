"""Write event records (one dict of per-hit arrays per event, as the simulation makes them) to an E2E ROOT file.

The schema is that of docs/FORMAT.md. Callers open the file on a temporary path
(:func:`e2ejax.io.atomic_path`) so that a partial output never appears under the
requested name.
"""

from __future__ import annotations

import json

import awkward as ak
import numpy as np
import uproot

from e2ejax.io._schema import GROUPS, INT_FIELDS
from e2ejax.io._write_events import _TreeSink

__all__ = ["branch_names", "to_arrays", "EventWriter", "open_output", "round_mantissa", "MANTISSA_BITS", "COMPRESSION"]

#: mantissa bits kept in float32 branches (relative precision 2**-13, as in CMS NanoAOD).
MANTISSA_BITS = 12
#: name -> uproot compression.
COMPRESSION = {"lz4": lambda: uproot.LZ4(1), "zstd": lambda: uproot.ZSTD(5), "lzma": lambda: uproot.LZMA(6), "zlib": lambda: uproot.ZLIB(6)}


def round_mantissa(x, *, bits: int = MANTISSA_BITS) -> np.ndarray:
    """Round float32 values to ``bits`` mantissa bits (nearest, ties away), so they compress better.

    Examples:
        >>> float(round_mantissa(np.float32([1.00001]))[0])
        1.0
    """
    a = np.ascontiguousarray(x, np.float32).view(np.uint32)
    drop = 23 - bits
    finite = np.isfinite(a.view(np.float32))
    rounded = (a + np.uint32(1 << (drop - 1))) & np.uint32((0xFFFFFFFF >> drop) << drop)
    return np.where(finite, rounded, a).view(np.float32)


def branch_names() -> list[str]:
    """All branch names of the ``Events`` tree, counters included."""
    names = ["event"]
    for group, fields in GROUPS.items():
        names += [f"n{group}"] + [f"{group}_{f}" for f in fields]
    return names


def to_arrays(records: list[dict]) -> dict:
    """Event records -> ``{"event": int64 [B], group: awkward record array [B, var]}``."""
    out = {"event": np.array([r["event"] for r in records], np.int64)}
    for group, fields in GROUPS.items():
        counts = np.array([len(r[f"{group}_{fields[0]}"]) for r in records], np.int64)
        columns = {}
        for f in fields:
            dtype = np.int32 if f in INT_FIELDS else np.float32
            flat = np.concatenate([np.asarray(r[f"{group}_{f}"], dtype) for r in records] + [np.zeros(0, dtype)])
            if dtype == np.float32:
                flat = round_mantissa(flat)
            columns[f] = ak.unflatten(flat, counts)
        out[group] = ak.zip(columns)
    return out


class EventWriter:
    """Append chunks of event records to the ``Events`` tree of an open uproot file.

    Records are buffered until ``flush_events`` are pending so that each
    ``extend`` writes reasonably large baskets.

    Args:
        file: an ``uproot.WritableDirectory`` (from ``uproot.recreate``).
        info: JSON-serialisable metadata, stored as the ``TObjString`` ``e2ejax_info``.
        flush_events: events per ``extend`` (keyword-only).
    """

    def __init__(self, file, info: dict, *, flush_events: int = 1000):
        self._sink = _TreeSink(file, "Events", flush_entries=flush_events)
        file["e2ejax_info"] = json.dumps(info, sort_keys=True)

    def add(self, records: list[dict]) -> None:
        """Queue event records (dicts as from :func:`e2ejax.sim.samples.make_event`)."""
        self._sink.add(to_arrays(records), len(records))

    def flush(self) -> None:
        """Write the queued records."""
        self._sink.flush()


def open_output(path: str, *, compression: str = "lz4"):
    """``uproot.recreate`` with a compression named in :data:`COMPRESSION`."""
    return uproot.recreate(path, compression=COMPRESSION[compression]())

