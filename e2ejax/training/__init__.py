"""Training: configs, examples and batches, losses, jitted steps from one ``apply``, evaluation, runs.

* :mod:`~e2ejax.training.config`: training YAML into frozen dataclasses, the optax optimiser;
* :mod:`~e2ejax.training.batches`: labelled fixed-size batches built with the inference input builder;
* :mod:`~e2ejax.training.steps`: ``make_steps`` (train / eval / predict), ``fit`` with early stopping;
* :mod:`~e2ejax.training.evaluation`: held-out figures next to the one-variable baselines;
* :mod:`~e2ejax.training.run`: a run from a config with checkpoints, resume and provenance.
"""

from e2ejax.training.batches import EVENTS_PER_READ, fixed_batches, seed_examples
from e2ejax.training.config import (
    DataSpec,
    ModelSpec,
    OptimizerSpec,
    TrainConfig,
    TrainingSpec,
    load_config,
    make_optimizer,
    parse_config,
)
from e2ejax.training.evaluation import evaluate_calibration, evaluate_tagger
from e2ejax.training.losses import mass_decorrelation_kl, weighted_bce, weighted_mse
from e2ejax.training.run import RunResult, examples, held_out_summary, train
from e2ejax.training.steps import Batch, Steps, TrainState, evaluate, fit, make_steps

__all__ = [
    "Batch", "DataSpec", "EVENTS_PER_READ", "ModelSpec", "OptimizerSpec", "RunResult", "Steps", "TrainConfig",
    "TrainState", "TrainingSpec", "evaluate", "evaluate_calibration", "evaluate_tagger", "examples", "fit",
    "fixed_batches", "held_out_summary", "load_config", "make_optimizer", "make_steps", "mass_decorrelation_kl",
    "parse_config", "seed_examples", "train", "weighted_bce", "weighted_mse",
]
