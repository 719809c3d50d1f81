"""Inference: the :class:`Tagger` (backends ``xla`` / ``onnxruntime`` / ``auto``), :func:`tag_files`
(file -> aligned friend tree, with a per-stage timer), :func:`tag_frame_files` (pre-cut frame
files, one scored row per frame) and export (ONNX, TF SavedModel, parity).

Nothing here imports optax: ``import e2ejax.inference`` loads no training code.
"""

from e2ejax.inference.export import (
           OUTPUT_NAME,
           check_export_card,
           onnx_session,
           random_inputs,
           to_onnx,
           to_saved_model,
           verify,
)
from e2ejax.inference.tag_files import (
           EVENTS_PER_READ,
           STAGES,
           PileupWarning,
           StageTimer,
           check_pileup,
           TruthTally,
           score_batches,
           tag_files,
           truth_task,
)
from e2ejax.inference.tag_frames import frame_scores, tag_frame_files
from e2ejax.inference.seed_rows import CALL_BYTES, pad_rows, rows_per_call
from e2ejax.inference.tagger import Tagger, TagResult, resolve_backend

__all__ = ["CALL_BYTES", "EVENTS_PER_READ", "OUTPUT_NAME", "PileupWarning", "STAGES", "check_pileup", "StageTimer", "TagResult", "Tagger", "TruthTally", "score_batches", "truth_task",
           "check_export_card", "onnx_session", "pad_rows", "random_inputs", "resolve_backend", "rows_per_call",
           "tag_files", "frame_scores", "tag_frame_files", "to_onnx", "to_saved_model", "verify"]
