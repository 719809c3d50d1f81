"""Trained models on disk: orbax checkpoints, model cards, integrity hashes, and loading for inference.

:func:`load_model` restores the parameters alone (no optimiser), so inference needs no optax.
"""

from e2ejax.store.cards import card_pileup, compare_model_sections, json_value, model_section
from e2ejax.store.checkpoint import MODEL_CARD_FILE, Checkpointer
from e2ejax.store.models import CHECKPOINTS, load_model, resolve_checkpoint, save_state, shipped_models

__all__ = ["CHECKPOINTS", "Checkpointer", "MODEL_CARD_FILE", "card_pileup", "compare_model_sections", "json_value", "load_model",
           "model_section", "resolve_checkpoint", "save_state", "shipped_models"]
