"""Checkpoints: orbax state + a JSON model card per step, the last N and the best kept.

Layout of a checkpoint directory (orbax ``CheckpointManager``, one folder per step)::

    DIR/
      model_card.json        human-readable card of the best step (+ latest and all steps)
      12/                    one step
        state/               the state pytree (orbax StandardSave, OCDBT + zarr arrays)
        card/metadata        the model card (JSON)
        integrity/metadata   path, shape, dtype and SHA-256 of every array (JSON)
        metrics/metrics      the metrics of the step (JSON, read by orbax to rank steps)
        _CHECKPOINT_METADATA

Saving is atomic: orbax writes a step to ``DIR/<step>.orbax-checkpoint-tmp-<n>`` and
renames it to ``DIR/<step>`` once everything is on disk (``AtomicRenameTemporaryPath``,
chosen explicitly here); a process killed mid-save leaves only the temporary folder,
which is ignored when listing steps and deleted the next time the directory is opened
(here, before orbax opens it: orbax's own clean-up runs in a thread that an exiting
process could cut short, with a traceback at interpreter shutdown).
``model_card.json`` is written to a temporary name and ``os.replace``d (a temporary card
left by a killed process is removed by the next save). Saves are
synchronous, so a step reported as saved is complete.

Kept steps: the ``max_to_keep`` most recent ones plus the best by ``best_metric``
(so at most ``max_to_keep + 1`` step folders); among equal metrics the latest step
is the best. A non-finite metric ranks worst.

Nothing here unpickles or evaluates: arrays are read by tensorstore into the abstract
state you pass, cards and metrics are JSON, and orbax's item handlers are fixed here
rather than looked up from the checkpoint. Orbax checksums its b-tree nodes but not
array chunks (a flipped byte in a chunk restores silently as a wrong value), so the
SHA-256 of every array is stored with the step and checked on restore; this costs
one host copy of the state per save and per restore.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint import checkpoint_managers as policies
from orbax.checkpoint.path import atomicity

import e2ejax
from e2ejax.errors import InputError
from e2ejax.io import write_json_atomic
from e2ejax.store._orbax import first_line, quiet_orbax
from e2ejax.store._restore import INTEGRITY_ITEM, STATE_ITEM, RestoreMixin
from e2ejax.store.cards import clean_metrics, json_value, leaf_record, tree_paths

__all__ = ["Checkpointer", "MODEL_CARD_FILE"]

#: Name of the card of the best step, written in the checkpoint directory.
MODEL_CARD_FILE = "model_card.json"

_CARD = "card"
_STATE, _INTEGRITY = STATE_ITEM, INTEGRITY_ITEM
_MODEL_KEYS = ("name", "config", "input_spec")
_FILLED_IN = ("e2ejax_version", "step", "metrics")


def _remove_unfinished_steps(directory: Path) -> None:
    """Delete the temporary step folders (``<step>.orbax-checkpoint-tmp-<n>``) a killed save left in ``directory``.

    A read-only directory keeps them (they are never listed as steps).
    """
    for path in directory.glob(f"*{atomicity.TMP_DIR_SUFFIX}*"):
        shutil.rmtree(path, ignore_errors=True)


class Checkpointer(RestoreMixin):
    """Save and restore training state with a model card, keeping the last N and the best.

    Args:
        directory: checkpoint folder (made absolute; created on the first save).
        max_to_keep: how many of the most recent steps to keep (the best step is
            kept in addition).
        best_metric: the entry of ``metrics`` that ranks steps.
        best_mode: ``"min"`` (losses) or ``"max"`` (AUC) for ``best_metric``.

    Examples:
        >>> import tempfile, numpy as np, jax
        >>> ckpt = Checkpointer(tempfile.mkdtemp() + "/run", max_to_keep=2)
        >>> card = {"model": {"name": "toy", "config": {"width": 2}, "input_spec": []}}
        >>> for step, loss in [(1, 0.5), (2, 0.2), (3, 0.4), (4, 0.3)]:
        ...     ckpt.save(step, {"w": np.full(2, step, np.float32)}, metrics={"val_loss": loss}, card=card)
        >>> ckpt.steps(), ckpt.best_step(), ckpt.latest_step()
        ([2, 3, 4], 2, 4)
        >>> state, card = ckpt.restore({"w": jax.ShapeDtypeStruct((2,), np.float32)}, step="best")
        >>> np.asarray(state["w"]).tolist(), card["metrics"]
        ([2.0, 2.0], {'val_loss': 0.2})
    """

    def __init__(self, directory, *, max_to_keep: int = 3, best_metric: str = "val_loss", best_mode: str = "min"):
        if isinstance(max_to_keep, bool) or not isinstance(max_to_keep, int) or max_to_keep < 1:
            raise InputError(f"expected max_to_keep to be a positive int, got {max_to_keep!r}")
        if best_mode not in ("min", "max"):
            raise InputError(f"expected best_mode 'min' or 'max', got {best_mode!r}")
        if not isinstance(best_metric, str) or not best_metric:
            raise InputError(f"expected best_metric as a metric name (str), got {best_metric!r}")
        self.directory = Path(os.path.abspath(os.path.expanduser(os.fspath(directory))))
        if self.directory.exists() and not self.directory.is_dir():
            raise InputError(
                f"expected a checkpoint directory, found a file at {self.directory}; pass the folder that holds the step folders"
            )
        self.max_to_keep = max_to_keep
        self.best_metric = best_metric
        self.best_mode = best_mode
        self._mgr: ocp.CheckpointManager | None = None

    # -- orbax manager -------------------------------------------------------------------

    def _rank(self, metrics) -> float:
        value = metrics.get(self.best_metric) if isinstance(metrics, Mapping) else None
        if value is None or not math.isfinite(float(value)):
            return math.inf if self.best_mode == "min" else -math.inf
        return float(value)

    def _manager(self, *, create: bool) -> ocp.CheckpointManager | None:
        if self._mgr is not None:
            return self._mgr
        if not self.directory.is_dir():
            if not create:
                return None
            self.directory.mkdir(parents=True, exist_ok=True)
        options = ocp.CheckpointManagerOptions(
            best_fn=self._rank,
            best_mode=self.best_mode,
            preservation_policy=policies.AnyPreservationPolicy(
                [
                    policies.LatestN(n=self.max_to_keep),
                    policies.BestN(get_metric_fn=self._rank, reverse=self.best_mode == "min", n=1),
                ]
            ),
            enable_async_checkpointing=False,
            cleanup_tmp_directories=False,  # done by _remove_unfinished_steps, in this thread
            create=False,
            temporary_path_class=atomicity.AtomicRenameTemporaryPath,
        )
        handlers = {
            _STATE: ocp.StandardCheckpointHandler(),
            _CARD: ocp.JsonCheckpointHandler(),
            _INTEGRITY: ocp.JsonCheckpointHandler(),
        }
        _remove_unfinished_steps(self.directory)
        try:
            with quiet_orbax():
                self._mgr = ocp.CheckpointManager(self.directory, options=options, item_handlers=handlers)
        except Exception as exc:
            raise InputError(
                f"cannot open checkpoint directory {self.directory}: {first_line(exc)}; "
                "check that it holds e2ejax checkpoints (numbered step folders) and is readable"
            ) from exc
        return self._mgr

    def close(self) -> None:
        """Release orbax resources; the object may be used again afterwards."""
        if self._mgr is not None:
            self._mgr.close()
            self._mgr = None

    def __enter__(self) -> Checkpointer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- queries -------------------------------------------------------------------------

    def steps(self) -> list[int]:
        """Complete steps on disk, ascending (``[]`` for a missing or empty directory)."""
        mgr = self._manager(create=False)
        if mgr is None:
            return []
        with quiet_orbax():
            mgr.reload()
            return sorted(int(s) for s in mgr.all_steps())

    def latest_step(self) -> int | None:
        """The most recent complete step, or None."""
        steps = self.steps()
        return steps[-1] if steps else None

    def best_step(self) -> int | None:
        """The step with the best ``best_metric`` (ties: the latest of them), or None."""
        steps = self.steps()
        return None if not steps else int(self._mgr.best_step())

    def _resolve(self, step) -> int:
        if not self.directory.is_dir():
            raise InputError(
                f"checkpoint directory {self.directory} does not exist; check the path "
                "(it is the folder given to Checkpointer when training)"
            )
        steps = self.steps()
        if not steps:
            raise InputError(
                f"no checkpoint found in {self.directory} (expected numbered step folders such as 10/ "
                "with state/ and card/ inside); train first or point to the right folder"
            )
        if step is None or step == "latest":
            return steps[-1]
        if step == "best":
            return self.best_step()
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise InputError(f"expected step as an int, 'latest', 'best' or None, got {step!r}")
        if int(step) not in steps:
            raise InputError(f"step {int(step)} is not in {self.directory}; available steps: {steps}")
        return int(step)

    def card(self, *, step=None) -> dict:
        """The model card of a step (default the latest) without restoring arrays.

        Args:
            step: an int, ``"latest"`` / None, or ``"best"``.

        Returns:
            The card dict: ``model``, ``metrics``, ``step``, ``e2ejax_version`` and
            whatever else was saved (``provenance`` ...).

        Raises:
            InputError: missing or empty directory, unknown step, unreadable card.
        """
        return self._read_card(self._resolve(step))

    def _step_dir(self, step: int) -> Path:
        return self.directory / str(step)

    def _read_json_item(self, step: int, item: str) -> dict:
        path = self._step_dir(step) / item / "metadata"
        try:
            with quiet_orbax():
                restored = self._mgr.restore(step, args=ocp.args.Composite(**{item: ocp.args.JsonRestore()}))
        except json.JSONDecodeError as exc:
            raise InputError(
                f"the {item} file {path} of step {step} is not valid JSON ({exc.msg} at line {exc.lineno}, "
                f"column {exc.colno}); the checkpoint is corrupt: restore another step ({self.steps()}) or re-save it"
            ) from exc
        except Exception as exc:
            raise InputError(
                f"cannot read the {item} of step {step} in {self.directory} ({first_line(exc)}); the checkpoint is "
                f"corrupt or incomplete: restore another step ({self.steps()}) or re-save it"
            ) from exc
        value = restored[item]
        if not isinstance(value, dict):
            raise InputError(f"expected the {item} file {path} to hold a JSON object, found {type(value).__name__}")
        return value

    def _read_card(self, step: int) -> dict:
        card = self._read_json_item(step, _CARD)
        if not isinstance(card.get("model"), dict):
            raise InputError(
                f"the model card of step {step} in {self.directory} has no 'model' section; it was not written by e2ejax"
            )
        return card

    # -- save ----------------------------------------------------------------------------

    def save(self, step: int, state, *, metrics: Mapping[str, float], card: Mapping[str, Any]) -> None:
        """Save ``state`` and its model card as ``step``; prune old steps; update ``model_card.json``.

        Args:
            step: non-negative int, new in this directory (e.g. the optimiser step).
            state: any pytree of jax / numpy arrays, e.g. ``{"model": nnx.state(model),
                "opt": nnx.state(optimizer), "rng": key}``; typed PRNG keys are fine.
            metrics: name -> number, must contain ``best_metric``; non-finite values
                are stored as null and rank worst.
            card: JSON-able dict with a ``model`` section ``{"name": str, "config": dict,
                "input_spec": list}`` (checked on restore) and any other entries,
                conventionally ``provenance: {"commands": [...]}`` and ``data``. The
                keys ``e2ejax_version``, ``step`` and ``metrics`` are filled in here.

        Raises:
            InputError: a card that is not JSON-able or lacks the model section,
                a reserved card key, ``best_metric`` missing from ``metrics``, a step
                that exists already, a negative step.
        """
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)) or step < 0:
            raise InputError(f"expected step as a non-negative int, got {step!r}")
        step = int(step)
        clean = clean_metrics(metrics)
        if self.best_metric not in clean:
            raise InputError(
                f"expected metrics to contain {self.best_metric!r} (the best_metric of this Checkpointer), "
                f"got {sorted(clean)}; pass it or build the Checkpointer with best_metric=one of those"
            )
        if not isinstance(card, Mapping):
            raise InputError(f"expected card as a dict, got {type(card).__name__}")
        reserved = sorted(set(card) & set(_FILLED_IN))
        if reserved:
            raise InputError(f"card keys {reserved} are filled in by Checkpointer.save; remove them from the card")
        body = json_value(dict(card))
        model = body.get("model")
        if not isinstance(model, dict) or any(k not in model for k in _MODEL_KEYS):
            raise InputError(
                f"expected card['model'] with keys {list(_MODEL_KEYS)}, found "
                f"{sorted(model) if isinstance(model, dict) else type(model).__name__}; e.g. "
                "{'name': 'resnet15', 'config': dataclasses.asdict(config), 'input_spec': nets.spec_to_json(model.input_spec)}"
            )
        full_card = {**body, "e2ejax_version": e2ejax.__version__, "step": step, "metrics": clean}
        integrity = {"algorithm": "sha256", "leaves": {p: leaf_record(leaf) for p, leaf in tree_paths(state)}}

        mgr = self._manager(create=True)
        mgr.reload()
        if step in mgr.all_steps():
            raise InputError(
                f"step {step} already exists in {self.directory}; save under a new step or use a new directory"
            )
        args = ocp.args.Composite(
            **{
                _STATE: ocp.args.StandardSave(state),
                _CARD: ocp.args.JsonSave(full_card),
                _INTEGRITY: ocp.args.JsonSave(integrity),
            }
        )
        mgr.save(step, args=args, metrics=clean, force=True)
        mgr.wait_until_finished()
        self._write_root_card(just_saved=(step, full_card))

    def update_card(self, step, entries: Mapping[str, Any]) -> dict:
        """Add or replace ``entries`` in the card of a saved step (arrays untouched), e.g. a held-out
        evaluation made after training; the step's card is replaced atomically and ``model_card.json``
        rewritten. Returns the new card.

        Raises:
            InputError: an unknown step, entries that are not JSON-able or that name a key filled in by
                :meth:`save` or the model section.
        """
        step = self._resolve(step)
        fixed = sorted(set(entries) & {*_FILLED_IN, "model"})
        if fixed:
            raise InputError(f"card keys {fixed} are written by Checkpointer.save only; update other keys")
        card = {**self._read_card(step), **json_value(dict(entries))}
        write_json_atomic(self._step_dir(step) / _CARD / "metadata", card)
        self._write_root_card(just_saved=(step, card))
        return card

    def copy_step(self, step: int, destination) -> None:
        """Copy one complete step (arrays, card, checksums) into the checkpoint directory ``destination``
        and write its ``model_card.json``: a one-step bundle loadable by path, byte for byte the saved step.

        Raises:
            InputError: an unknown step, or a ``destination`` that holds this step already.
        """
        step = self._resolve(step)
        target = Checkpointer(destination, max_to_keep=1, best_metric=self.best_metric, best_mode=self.best_mode)
        if target._step_dir(step).exists():
            raise InputError(f"step {step} already exists in {target.directory}; bundle into a new directory")
        target.directory.mkdir(parents=True, exist_ok=True)
        tmp = target.directory / f".{step}.copy-tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        shutil.copytree(self._step_dir(step), tmp)
        os.replace(tmp, target._step_dir(step))
        target._manager(create=True)
        target._write_root_card(just_saved=(step, self._read_card(step)))

    def _write_root_card(self, *, just_saved: tuple[int, dict]) -> None:
        steps = self.steps()
        best = int(self._mgr.best_step())
        best_card = just_saved[1] if best == just_saved[0] else self._read_card(best)
        summary = {
            "best_step": best,
            "best_checkpoint": self._step_dir(best).name,  # relative to this card: bundles move between machines
            "best_metric": self.best_metric,
            "best_mode": self.best_mode,
            "latest_step": steps[-1],
            "steps": steps,
            "card": best_card,
        }
        for stale in self.directory.glob(f".{MODEL_CARD_FILE}.*.tmp"):  # left by a process killed mid-write
            with contextlib.suppress(OSError):
                stale.unlink()
        write_json_atomic(self.directory / MODEL_CARD_FILE, summary)
