"""Saving and loading trained models: checkpoints (:mod:`e2ejax.checkpoint`) + model cards.

A training checkpoint stores ``{"params", "opt_state", "step"}`` and a card whose
``model`` section is ``{"name", "config", "input_spec"}``, with the training config
(``config``), the task and the commands that made it. :func:`load_model` rebuilds the
network from the card alone (no code or pickle is read from the checkpoint).
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np
from flax import nnx

from e2ejax.checkpoint import Checkpointer
from e2ejax.config import parse_config, make_optimizer
from e2ejax.errors import InputError
from e2ejax.nets import build, spec_to_json
from e2ejax.train import TrainState, make_apply

__all__ = ["SHIPPED", "model_section", "resolve_checkpoint", "save_state", "load_model", "abstract_state"]

#: shipped model name -> task
SHIPPED = {"egamma": "egamma", "qg": "qg", "top": "top", "tau": "tau", "jetcalib": "jetcalib"}
CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"


def model_section(name: str, model) -> dict:
    """The ``model`` section of a card: network name, its config and input spec."""
    return {"name": name, "config": _jsonable(dataclasses.asdict(model.config)), "input_spec": spec_to_json(model.input_spec)}


def _jsonable(obj):
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


def resolve_checkpoint(name_or_path) -> Path:
    """A checkpoint directory from a path or a shipped model name.

    Raises:
        InputError: neither an existing directory nor a shipped name.
    """
    path = Path(name_or_path)
    if path.is_dir():
        return path.resolve()
    if str(name_or_path) in SHIPPED:
        shipped = CHECKPOINTS / str(name_or_path)
        if shipped.is_dir():
            return shipped
        raise InputError(f"the shipped model {name_or_path!r} is not installed at {shipped}; reinstall e2ejax from its repository")
    raise InputError(
        f"unknown model {str(name_or_path)!r}: expected a shipped model name ({', '.join(SHIPPED)}) "
        f"or a checkpoint directory; fix: pass e.g. --model qg or a directory written by 'e2ejax train'"
    )


def abstract_state(model, optimizer_spec, *, total_steps: int = 1) -> dict:
    """``jax.ShapeDtypeStruct`` tree of the saved training state of ``model``."""
    _, params = make_apply(model)
    tx = make_optimizer(optimizer_spec, total_steps=total_steps)
    return jax.eval_shape(lambda p: {"params": p, "opt_state": tx.init(p), "step": np.zeros((), np.int32)}, params)


def save_state(checkpointer: Checkpointer, state: TrainState, *, name: str, model, task: str, config: dict, metrics: dict, commands=(), extra=None):
    """Save a :class:`TrainState` with its model card (``extra``: more JSON entries, e.g. the history)."""
    card = {
        **(extra or {}),
        "model": model_section(name, model),
        "task": task,
        "config": _jsonable(config),
        "provenance": {"commands": list(commands)},
    }
    checkpointer.save(int(state.step), {"params": state.params, "opt_state": state.opt_state, "step": state.step}, metrics=metrics, card=card)


def load_model(name_or_path, *, step="best"):
    """Rebuild a trained network from a checkpoint directory or shipped name.

    Returns:
        ``(model, card, train_state_dict)``: the NNX model with the restored
        parameters, its card, and the restored ``{"params", "opt_state", "step"}``.
    """
    directory = resolve_checkpoint(name_or_path)
    ckpt = Checkpointer(directory)
    card = ckpt.card(step=step)
    try:
        section = card["model"]
        config = parse_config(card["config"])
    except (KeyError, TypeError) as exc:
        raise InputError(f"the model card in {directory} lacks {exc}; it was not written by e2ejax train") from None
    # shapes only: the restored parameters replace the initial ones, so they are never computed
    model = nnx.eval_shape(lambda: build(section["name"], section["config"], rngs=nnx.Rngs(0)))
    expected = model_section(section["name"], model)
    state, card = ckpt.restore(abstract_state(model, config.optimizer), step=step, expected_model=expected)
    graphdef, _, rest = nnx.split(model, nnx.Param, ...)
    if any(isinstance(leaf, jax.ShapeDtypeStruct) for leaf in jax.tree.leaves(rest)):  # non-parameter state: build it
        _, _, rest = nnx.split(build(section["name"], section["config"], rngs=nnx.Rngs(0)), nnx.Param, ...)
    model = nnx.merge(graphdef, state["params"], rest)
    return model, card, state
