"""Per-feature preprocessing: a whitelisted non-linear transform, then ``(x - centre) / scale``."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import yaml

from e2ejax.errors import InputError
from e2ejax.io._atomic import atomic_path

__all__ = ["FeatureTransform", "Transform", "TRANSFORMS", "apply_transform", "fit_transform", "load_transform",
           "save_transform"]


def _signed(fn):
    return lambda x, t: np.sign(x) * fn(np.abs(x))


#: name -> elementwise function ``f(x, feature)``; ``log1p`` and ``sqrt`` are odd (sign kept).
TRANSFORMS = {
    "none": lambda x, t: x,
    "log1p": _signed(np.log1p),
    "sqrt": _signed(np.sqrt),
    "clip": lambda x, t: np.clip(x, -np.inf if t.min is None else t.min, np.inf if t.max is None else t.max),
}


@dataclass(frozen=True)
class FeatureTransform:
    """Preprocessing of one batch array: ``y = (f(x) - centre) / scale``; padded slots stay 0.

    Attributes:
        name: the batch key (``"eb_energy"``, ``"trk_pt"``, ``"ecal"`` ...).
        transform: a key of :data:`TRANSFORMS`.
        centre: subtracted after the transform.
        scale: divisor after centring (positive).
        min, max: bounds for ``"clip"`` (``None``: unbounded).
    """

    name: str
    transform: str = "none"
    centre: float = 0.0
    scale: float = 1.0
    min: float | None = None
    max: float | None = None

    def __post_init__(self):
        try:
            for key in ("centre", "scale", "min", "max"):
                value = getattr(self, key)
                if value is not None:
                    object.__setattr__(self, key, float(value))
        except (TypeError, ValueError):
            raise InputError(
                f"expected numbers for centre, scale, min and max of feature {self.name!r}; found "
                f"{self.centre!r}, {self.scale!r}, {self.min!r}, {self.max!r}"
            ) from None
        if self.transform not in TRANSFORMS:
            raise InputError(
                f"expected a transform in {sorted(TRANSFORMS)} for feature {self.name!r}; found {self.transform!r}"
            )
        if not (np.isfinite(self.scale) and self.scale > 0) or not np.isfinite(self.centre):
            raise InputError(
                f"expected a finite centre and a positive scale for feature {self.name!r}; "
                f"found centre={self.centre}, scale={self.scale}; rebuild transform.yaml"
            )

    def forward(self, x: np.ndarray) -> np.ndarray:
        """The non-linear part ``f(x)`` (float32, same shape)."""
        return np.asarray(TRANSFORMS[self.transform](np.asarray(x, np.float32), self), np.float32)


@dataclass(frozen=True)
class Transform:
    """An ordered set of :class:`FeatureTransform` (the content of ``transform.yaml``)."""

    features: tuple[FeatureTransform, ...] = ()

    def to_dict(self) -> dict:
        """Plain data for YAML: ``{"features": {name: {transform, centre, scale[, min, max]}}}``."""
        out = {}
        for f in self.features:
            entry = {k: v for k, v in dataclasses.asdict(f).items() if k != "name" and v is not None}
            out[f.name] = {k: (float(v) if isinstance(v, (float, np.floating)) else v) for k, v in entry.items()}
        return {"features": out}


def _mask_for(batch: Mapping, name: str):
    group = name.split("_", 1)[0]
    return batch.get(f"{group}_mask") if "_" in name else None


def apply_transform(batch: Mapping, transform: Transform) -> dict:
    """Apply a :class:`Transform` to a batch; other arrays pass through unchanged.

    Returns:
        dict name -> array; transformed arrays are float32 of the input shape with padded
        slots (false in ``<group>_mask``) set to 0.

    Raises:
        InputError: when a feature is not in the batch.
    """
    out = dict(batch)
    for f in transform.features:
        if f.name not in batch:
            raise InputError(f"expected feature {f.name!r} (from transform.yaml) in the batch; found {sorted(batch)}")
        y = (f.forward(batch[f.name]) - np.float32(f.centre)) / np.float32(f.scale)
        mask = _mask_for(batch, f.name)
        out[f.name] = np.where(mask, y, np.float32(0)) if mask is not None else y.astype(np.float32)
    return out


def fit_transform(batches: Iterable[Mapping], spec: Mapping[str, object]) -> Transform:
    """Compute centre (mean) and scale (standard deviation) of each transformed feature from data.

    Args:
        batches: batches to measure (only real hits count: ``<group>_mask`` is applied).
        spec: feature -> transform name, or -> mapping ``{transform, min, max}``.

    Returns:
        :class:`Transform` in the order of ``spec``; a feature with no spread gets scale 1.
    """
    proto = {}
    for name, entry in spec.items():
        entry = {"transform": entry} if isinstance(entry, str) else dict(entry)
        unknown = set(entry) - {"transform", "min", "max"}
        if unknown:
            raise InputError(f"unknown keys {sorted(unknown)} for feature {name!r}; expected transform, min, max")
        proto[name] = FeatureTransform(name, **entry)
    sums = {n: np.zeros(3) for n in proto}
    for batch in batches:
        for name, f in proto.items():
            if name not in batch:
                raise InputError(f"expected feature {name!r} in the data; found {sorted(batch)}")
            x = f.forward(batch[name]).astype(np.float64)
            mask = _mask_for(batch, name)
            if mask is not None:
                x = x[np.asarray(mask, bool)]
            sums[name] += (x.size, x.sum(), np.square(x).sum())
    features = []
    for name, f in proto.items():
        n, s, s2 = sums[name]
        mean = s / n if n else 0.0
        std = float(np.sqrt(max(s2 / n - mean**2, 0.0))) if n else 0.0
        features.append(dataclasses.replace(f, centre=float(mean), scale=std if std > 1e-12 else 1.0))
    return Transform(tuple(features))


def save_transform(transform: Transform, path: str) -> None:
    """Write ``transform.yaml`` (atomically)."""
    with atomic_path(path) as tmp, open(tmp, "w") as f:
        yaml.safe_dump(transform.to_dict(), f, sort_keys=False)


def load_transform(path: str) -> Transform:
    """Read ``transform.yaml`` (``yaml.safe_load``) into a :class:`Transform`.

    Raises:
        InputError: on a malformed file, an unknown key or transform.
    """
    with open(path) as f:
        data = yaml.safe_load(f) or {}
    if not isinstance(data, dict) or set(data) - {"features"} or not isinstance(data.get("features", {}), dict):
        raise InputError(f"expected {path!r} to hold a mapping 'features: {{name: {{transform, centre, scale}}}}'; "
                         f"found {type(data).__name__} with keys {sorted(data) if isinstance(data, dict) else []}")
    features = []
    allowed = {f.name for f in dataclasses.fields(FeatureTransform)} - {"name"}
    for name, entry in data.get("features", {}).items():
        if not isinstance(entry, dict) or set(entry) - allowed:
            raise InputError(f"expected feature {name!r} in {path!r} with keys from {sorted(allowed)}; found {entry!r}")
        features.append(FeatureTransform(str(name), **entry))
    return Transform(tuple(features))
