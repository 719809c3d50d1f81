"""Saving and loading trained models: checkpoints (:class:`~e2ejax.store.Checkpointer`) + model cards.

A training checkpoint stores ``{"params", "opt_state", "step"}`` and a card whose
``model`` section is ``{"name", "config", "input_spec"}``, with the training config
(``config``), the task and the commands that made it. :func:`load_model` rebuilds the
network from the card alone and restores its parameters only (no code or pickle is
read from the checkpoint, no optimiser is built).
"""

from __future__ import annotations

from pathlib import Path

import jax
from flax import nnx

from e2ejax import tasks
from e2ejax.errors import InputError
from e2ejax.nets import VARIABLES, build
from e2ejax.store.cards import json_value, model_section
from e2ejax.store.checkpoint import Checkpointer

__all__ = ["CHECKPOINTS", "shipped_models", "resolve_checkpoint", "save_state", "load_model"]

CHECKPOINTS = Path(__file__).resolve().parent.parent.parent / "checkpoints"


def shipped_models() -> dict[str, str]:
    """Shipped model name -> its task, from the task registry (:func:`e2ejax.tasks.shipped_models`)."""
    return tasks.shipped_models()


def resolve_checkpoint(name_or_path) -> Path:
    """A checkpoint directory from a path or a shipped model name.

    Raises:
        InputError: neither an existing directory nor a shipped name.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path.resolve()
    shipped = shipped_models()
    if str(name_or_path) in shipped:
        directory = CHECKPOINTS / str(name_or_path)
        if directory.is_dir():
            return directory
        raise InputError(f"the shipped model {name_or_path!r} is not installed at {directory}; reinstall e2ejax from its repository")
    raise InputError(
        f"unknown model {str(name_or_path)!r}: expected a shipped model name ({', '.join(shipped)}) "
        f"or a checkpoint directory; fix: pass e.g. --model qg or a directory written by 'e2ejax train'"
    )


def save_state(checkpointer: Checkpointer, state, *, name: str, model, task: str, config: dict, metrics: dict, commands=(), extra=None):
    """Save a training state (``params``, ``opt_state``, ``step``) with its model card
    (``extra``: more JSON entries, e.g. the history)."""
    card = {
        **(extra or {}),
        "model": model_section(name, model),
        "task": task,
        "config": json_value(config),
        "provenance": {"commands": list(commands)},
    }
    checkpointer.save(int(state.step), {"params": state.params, "opt_state": state.opt_state, "step": state.step},
                      metrics=metrics, card=card)


def load_model(name_or_path, *, step="best"):
    """Rebuild a trained network from a checkpoint directory or shipped name.

    Returns:
        ``(model, card, params)``: the NNX model with the restored parameters, its card,
        and the restored parameter state.
    """
    directory = resolve_checkpoint(name_or_path)
    ckpt = Checkpointer(directory)
    card = ckpt.card(step=step)
    try:
        section = card["model"]
        name, options = section["name"], section["config"]
    except (KeyError, TypeError) as exc:
        raise InputError(f"the model card in {directory} lacks {exc}; it was not written by e2ejax train") from None
    # shapes only: the restored parameters replace the initial ones, so they are never computed
    model = nnx.eval_shape(lambda: build(name, options, rngs=nnx.Rngs(0)))
    graphdef, abstract, rest = nnx.split(model, VARIABLES, ...)
    params, card = ckpt.restore_params(abstract, step=step, expected_model=model_section(name, model))
    if any(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in jax.tree.leaves(rest)):
        _, _, rest = nnx.split(build(name, options, rngs=nnx.Rngs(0)), VARIABLES, ...)  # non-parameter state: build it
    return nnx.merge(graphdef, params, rest), card, params

