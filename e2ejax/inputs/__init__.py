"""Events -> network inputs: one builder per task, shared by training and inference.

* :mod:`~e2ejax.inputs.images`: stitched detector images of padded events;
* :mod:`~e2ejax.inputs.frames`: seeds and frames of every tagger task, summed straight
  from the hits (:func:`seed_frames`, the builder both the tagger and training call),
  GNN point clouds (:func:`gnn_points`);
* :mod:`~e2ejax.inputs.dense`: the dense images a dense E2E ntuple stores;
* :mod:`~e2ejax.inputs.calibration`: jet-calibration constituents;
* :mod:`~e2ejax.inputs.particles`: each jet's candidates for the particle taggers
  (both select constituents with :mod:`~e2ejax.inputs.constituents`);
* :mod:`~e2ejax.inputs.baselines`: the one-variable observables each tagger must beat.
"""

from e2ejax.inputs.baselines import baseline_scores, has_baseline_fields, jet_observables, phi_width, slot_baselines
from e2ejax.inputs.calibration import (
    CONSTITUENT_FEATURES,
    CONSTITUENT_TYPES,
    JET_FEATURES,
    calibrated_pt,
    calibration_examples,
    jet_constituents,
)
from e2ejax.inputs.constituents import Selection, select_constituents
from e2ejax.inputs.particles import FEATURES as PARTICLE_FEATURES
from e2ejax.inputs.particles import (
    PARTICLE_FIELDS,
    ParticleOverflowWarning,
    Particles,
    jet_particles,
    particle_examples,
    particle_inputs,
)
from e2ejax.inputs.dense import DENSE_CHANNELS, dense_batches, sparse_to_dense
from e2ejax.inputs.frames import (
    DENSE_KEYS,
    dense_jet_inputs,
    egamma_centres,
    egamma_frames,
    egamma_inputs,
    egamma_seed_cells,
    event_frames,
    gnn_points,
    is_dense,
    jet_axes,
    jet_inputs,
    jet_inputs_at,
    jet_seed_cells,
    seed_frames,
    trim_seed_slots,
)
from e2ejax.inputs.images import CHANNELS, check_channels, ecal_hits, ecal_image, event_images, hcal_towers

__all__ = [
    "CHANNELS", "CONSTITUENT_FEATURES", "CONSTITUENT_TYPES", "DENSE_CHANNELS", "DENSE_KEYS", "JET_FEATURES",
    "baseline_scores", "calibrated_pt", "dense_batches", "calibration_examples", "check_channels", "dense_jet_inputs", "ecal_hits",
    "ecal_image", "egamma_centres", "egamma_frames", "egamma_inputs", "egamma_seed_cells", "event_frames",
    "event_images", "gnn_points", "hcal_towers", "is_dense", "jet_axes", "jet_constituents", "jet_inputs",
    "jet_inputs_at", "jet_seed_cells", "jet_observables", "phi_width",
    "has_baseline_fields", "PARTICLE_FEATURES", "PARTICLE_FIELDS", "ParticleOverflowWarning", "Particles", "Selection", "jet_particles",
    "particle_examples", "particle_inputs", "select_constituents", "slot_baselines", "seed_frames", "sparse_to_dense", "trim_seed_slots",
]
