"""A flat table of generator-level particles, the input of the detector response."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

__all__ = ["Particles", "concat", "stack", "select", "charge_of", "NEUTRINOS"]

NEUTRINOS = (12, 14, 16)

_CHARGED_3 = {11: -3, 13: -3, 15: -3, 211: 3, 321: 3, 2212: 3, 3112: -3, 3222: 3, 3312: -3, 3334: -3}


class Particles(NamedTuple):
    """``N`` particles; every field is a 1-D array of length ``N``.

    Attributes:
        pid: int32 PDG id.
        charge: float64 electric charge in units of e.
        px, py, pz, e: float64 momentum and energy (GeV).
        x, y, z: float64 production vertex (cm); z includes the event vertex.
        hard: bool, true for particles of the hard-scatter event (false for pileup).
        source: int32 index of the generator particle this one comes from (itself
            for generator particles; conversion legs and brem photons point at their parent).
    """

    pid: np.ndarray
    charge: np.ndarray
    px: np.ndarray
    py: np.ndarray
    pz: np.ndarray
    e: np.ndarray
    x: np.ndarray
    y: np.ndarray
    z: np.ndarray
    hard: np.ndarray
    source: np.ndarray

    @property
    def pt(self) -> np.ndarray:
        """float64 ``[N]`` transverse momentum."""
        return np.hypot(self.px, self.py)

    @property
    def eta(self) -> np.ndarray:
        """float64 ``[N]`` pseudorapidity of the momentum."""
        return np.arcsinh(self.pz / np.maximum(self.pt, 1e-12))

    @property
    def phi(self) -> np.ndarray:
        """float64 ``[N]`` azimuth of the momentum."""
        return np.arctan2(self.py, self.px)

    @property
    def size(self) -> int:
        """Number of particles ``N``."""
        return len(self.pid)

    @classmethod
    def from_columns(cls, pid, px, py, pz, e, x, y, z, *, hard: bool, charge=None) -> "Particles":
        """Build a table from columns; ``charge`` defaults to :func:`charge_of` ``(pid)``."""
        pid = np.asarray(pid, np.int32)
        n = len(pid)
        f = lambda a: np.broadcast_to(np.asarray(a, np.float64), (n,)).copy()  # noqa: E731
        return cls(
            pid, f(charge_of(pid) if charge is None else charge), f(px), f(py), f(pz), f(e),
            f(x), f(y), f(z), np.full(n, bool(hard)), np.arange(n, dtype=np.int32),
        )


def charge_of(pid) -> np.ndarray:
    """float64 charges of common long-lived particles (0 for the rest) from PDG ids ``[N]``."""
    pid = np.asarray(pid)
    out = np.zeros(pid.shape)
    for code, q3 in _CHARGED_3.items():
        out[np.abs(pid) == code] = np.sign(pid[np.abs(pid) == code]) * q3 / 3.0
    return out


def concat(tables: list[Particles]) -> Particles:
    """Concatenate tables; ``source`` indices are offset to stay valid."""
    offsets = np.cumsum([0] + [t.size for t in tables[:-1]])
    fields = {}
    for name in Particles._fields:
        parts = [getattr(t, name) + o if name == "source" else getattr(t, name) for t, o in zip(tables, offsets)]
        fields[name] = np.concatenate(parts) if parts else np.zeros(0)
    return Particles(**fields)


def stack(tables: list[Particles]) -> Particles:
    """Concatenate tables keeping ``source`` as is (rows derived from one generator table)."""
    return Particles(*(np.concatenate([getattr(t, f) for t in tables]) for f in Particles._fields))


def select(table: Particles, keep: np.ndarray) -> Particles:
    """Rows of ``table`` selected by ``keep`` (bool ``[N]`` or integer indices); ``source`` is kept."""
    return Particles(*(getattr(table, f)[keep] for f in Particles._fields))
