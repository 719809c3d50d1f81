"""Flax NNX networks, a read-only registry ``name -> (config class, model class)`` and the
``apply`` / ``predict`` functions every model is run through (:func:`make_predict`).

Examples:
    >>> from flax import nnx
    >>> model = build("resnet15", {"channels": 3}, rngs=nnx.Rngs(0))
    >>> [s.name for s in model.input_spec]
    ['frames']
"""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

from flax import nnx

from e2ejax.errors import InputError
from e2ejax.nets._cnn import EGammaVGG, ResNet15, ResNetConfig, VGGConfig
from e2ejax.nets._deepsets import DeepSetsCalibration, DeepSetsConfig
from e2ejax.nets._gnn import GNNConfig, GNNTagger
from e2ejax.nets._mlpf import MLPF, MLPFConfig
from e2ejax.nets._mlpf_layout import ELEMENT_FEATURES, ELEMENT_TYPES, FEATURE_INDEX, PARTICLE_CLASSES, REGRESSION_TARGETS
from e2ejax.nets._part import PART_SMALL, ParT, ParTConfig, pair_features
from e2ejax.nets._particlenet import ParticleNet, ParticleNetConfig, ParticleNetLiteConfig
from e2ejax.nets._pcnn import PCNN, PCNNConfig
from e2ejax.nets._pfn import PFN, PFNConfig
from e2ejax.nets._predict import OBJECTIVES, VARIABLES, make_apply, make_predict, predict_from
from e2ejax.nets._spec import InputSpec, spec_mismatch, spec_to_json

__all__ = [
    "REGISTRY",
    "build",
    "make_config",
    "InputSpec",
    "OBJECTIVES",
    "VARIABLES",
    "make_apply",
    "make_predict",
    "predict_from",
    "takes_points",
    "takes_particles",
    "spec_to_json",
    "spec_mismatch",
    "EGammaVGG",
    "VGGConfig",
    "ResNet15",
    "ResNetConfig",
    "GNNTagger",
    "GNNConfig",
    "DeepSetsCalibration",
    "DeepSetsConfig",
    "ParT",
    "ParTConfig",
    "PART_SMALL",
    "pair_features",
    "ParticleNet",
    "ParticleNetConfig",
    "ParticleNetLiteConfig",
    "PCNN",
    "PCNNConfig",
    "PFN",
    "PFNConfig",
    "MLPF",
    "MLPFConfig",
    "ELEMENT_FEATURES",
    "ELEMENT_TYPES",
    "FEATURE_INDEX",
    "PARTICLE_CLASSES",
    "REGRESSION_TARGETS",
]

REGISTRY = MappingProxyType(
    {
        "vgg": (VGGConfig, EGammaVGG),
        "resnet15": (ResNetConfig, ResNet15),
        "gnn": (GNNConfig, GNNTagger),
        "deepsets": (DeepSetsConfig, DeepSetsCalibration),
        "particlenet": (ParticleNetConfig, ParticleNet),
        "particlenet_lite": (ParticleNetLiteConfig, ParticleNet),
        "part": (ParTConfig, ParT),
        "pcnn": (PCNNConfig, PCNN),
        "pfn": (PFNConfig, PFN),
        "mlpf": (MLPFConfig, MLPF),
    }
)


def make_config(name: str, options: dict | None = None):
    """The frozen config dataclass of network ``name`` from a plain dict (e.g. parsed YAML).

    Lists become tuples; unknown keys raise :class:`InputError` naming the valid ones.
    """
    if name not in REGISTRY:
        raise InputError(f"unknown network {name!r}; expected one of {sorted(REGISTRY)}")
    cls = REGISTRY[name][0]
    fields = {f.name for f in dataclasses.fields(cls)}
    options = dict(options or {})
    unknown = sorted(set(options) - fields)
    if unknown:
        raise InputError(f"unknown option(s) {unknown} for network {name!r}; valid options: {sorted(fields)}")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in options.items()})


def takes_points(model) -> bool:
    """True when ``model`` takes point clouds ``(points, mask)`` (the GNN), false for frames:
    decided by its ``input_spec``, the one answer every layer uses."""
    return [s.name for s in model.input_spec] == ["points", "mask"]


def takes_particles(model) -> bool:
    """True when ``model`` takes each jet's particle-flow candidates (ParticleNet, ParT, P-CNN,
    PFN: :func:`e2ejax.inputs.jet_particles`): its inputs have a named particle axis ``"P"``."""
    return any("P" in s.shape for s in model.input_spec)


def build(name: str, options: dict | None = None, *, rngs: nnx.Rngs):
    """Build network ``name`` with ``options`` (see :func:`make_config`)."""
    config = make_config(name, options)
    return REGISTRY[name][1](config, rngs=rngs)
