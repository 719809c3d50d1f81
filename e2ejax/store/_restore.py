"""Restoring checkpoint steps: the whole saved state, or its parameters alone, checked against the
saved structure and SHA-256 of every array (:class:`e2ejax.store.Checkpointer` inherits these methods)."""

from __future__ import annotations

from typing import Mapping

import jax
import orbax.checkpoint as ocp

from e2ejax.errors import InputError
from e2ejax.store._orbax import first_line, one_device, quiet_orbax
from e2ejax.store.cards import abstract_record, compare_model_sections, leaf_record, structure_mismatch, tree_paths

__all__ = ["RestoreMixin", "STATE_ITEM", "INTEGRITY_ITEM"]

#: the orbax items of a step that hold the arrays and their records
STATE_ITEM, INTEGRITY_ITEM = "state", "integrity"


class RestoreMixin:
    """The restore half of :class:`~e2ejax.store.Checkpointer` (which provides ``directory``, ``steps``,
    ``_resolve``, ``_read_card``, ``_read_json_item``, ``_step_dir`` and the orbax manager ``_mgr``)."""

    def restore(self, abstract_state, *, step=None, expected_model: Mapping | None = None):
        """Restore a step into the structure of ``abstract_state``.

        Args:
            abstract_state: the pytree saved, with ``jax.ShapeDtypeStruct`` (from
                ``nnx.eval_shape`` / ``jax.eval_shape``) or concrete arrays as
                leaves; it fixes the tree structure (so integer ``nnx.List`` keys
                stay integers), shapes, dtypes and shardings of the result.
            step: an int, ``"latest"`` / None (default), or ``"best"``.
            expected_model: if given, the ``model`` section (name, config,
                input_spec) the checkpoint must carry; checked before any array is
                read.

        Returns:
            ``(state, card)``: the restored pytree (jax arrays where the abstract
            leaf was a ShapeDtypeStruct or jax array, numpy where it was numpy) and
            the step's model card dict.

        Raises:
            InputError: missing or empty directory, unknown step, a card that is not
                valid JSON, a model section that differs from ``expected_model``
                (listing the differing keys), an abstract state whose paths, shapes
                or dtypes differ from the saved ones, or a corrupt / truncated step
                (unreadable file or checksum mismatch).
        """
        step = self._resolve(step)
        card = self._read_card(step)
        self._check_model(step, card, expected_model)
        saved = self._read_json_item(step, INTEGRITY_ITEM).get("leaves", {})
        wanted = {p: abstract_record(leaf) for p, leaf in tree_paths(abstract_state)}
        self._check_structure(step, saved, wanted)
        state = self._restore_arrays(step, ocp.args.Composite(**{STATE_ITEM: ocp.args.StandardRestore(abstract_state)}))
        self._check_checksums(step, saved, state)
        return state, card

    def restore_params(self, abstract_params, *, step=None, expected_model: Mapping | None = None):
        """Restore the ``params`` entry of a saved training state alone (no optimiser state is read or built).

        Args:
            abstract_params: the parameter pytree (``jax.ShapeDtypeStruct`` leaves, e.g.
                ``nnx.state(nnx.eval_shape(...), e2ejax.nets.VARIABLES)``).
            step, expected_model: as for :meth:`restore`.

        Returns:
            ``(params, card)``.

        Raises:
            InputError: as :meth:`restore`, for the parameter arrays.
        """
        step = self._resolve(step)
        card = self._read_card(step)
        self._check_model(step, card, expected_model)
        saved = self._read_json_item(step, INTEGRITY_ITEM).get("leaves", {})
        target = {"params": abstract_params}
        wanted = {p: abstract_record(leaf) for p, leaf in tree_paths(target)}
        self._check_structure(step, {p: r for p, r in saved.items() if p.startswith("['params']")}, wanted)
        args = ocp.args.Composite(**{STATE_ITEM: ocp.args.PyTreeRestore(
            item=target, restore_args=jax.tree.map(lambda _: ocp.ArrayRestoreArgs(sharding=one_device()), target), partial_restore=True)})
        state = self._restore_arrays(step, args, reader=True)
        self._check_checksums(step, saved, state)
        return state["params"], card

    def _check_model(self, step: int, card: Mapping, expected_model: Mapping | None) -> None:
        if expected_model is None:
            return
        diff = compare_model_sections(card["model"], expected_model)
        if diff:
            raise InputError(
                f"the checkpoint {self._step_dir(step)} is for a different model; differing keys: "
                + "; ".join(diff)
                + ". Build the model from the checkpoint's card (Checkpointer.card()) or pick the matching checkpoint"
            )

    def _restore_arrays(self, step: int, args, *, reader: bool = False):
        """The state item of ``step``; ``reader``: through a read-only manager whose handler restores subtrees."""
        try:
            with quiet_orbax():
                mgr = self._mgr
                if reader:
                    mgr = ocp.CheckpointManager(self.directory, options=ocp.CheckpointManagerOptions(read_only=True, create=False),
                                                item_handlers={STATE_ITEM: ocp.PyTreeCheckpointHandler()})
                restored = mgr.restore(step, args=args)
        except Exception as exc:
            raise InputError(
                f"step {step} in {self.directory} is corrupt or incomplete ({first_line(exc)}); "
                f"restore another step ({self.steps()}) or re-save it"
            ) from exc
        return restored[STATE_ITEM]

    def _check_checksums(self, step: int, saved: Mapping, state) -> None:
        bad = [p for p, leaf in tree_paths(state) if saved[p].get("sha256") not in (None, leaf_record(leaf).get("sha256"))]
        if bad:
            raise InputError(
                f"step {step} in {self.directory} is corrupt: the data of {len(bad)} array(s) does not match the "
                f"checksum saved with it (first: {bad[0]}); restore another step ({self.steps()}) or re-save it"
            )

    def _check_structure(self, step: int, saved: Mapping, wanted: Mapping) -> None:
        mismatch = structure_mismatch(saved, wanted)
        if mismatch:
            raise InputError(
                f"the abstract state does not match step {step} in {self.directory}: {mismatch}. Build the abstract state "
                "from the same model config and tree layout as at save time "
                "(e.g. nnx.eval_shape of the model described by the checkpoint's card)"
            )
