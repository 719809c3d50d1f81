"""``e2ejax calibrate FILE [-o OUT.root] [--model jetcalib] [-n N] [--entries START:STOP] [--overwrite]``.

Applies the jet calibration (the shipped ``jetcalib`` Deep Sets model or a checkpoint
directory of that task) to every jet of FILE and writes the calibrated pT, branch
``jet_pt_calibrated`` float32 GeV (one value per jet, ``jet_valid`` the jet mask), to a
``Predictions`` friend tree aligned entry by entry with the input, through the writer
and output policy of ``e2ejax tag``. Where the file holds generator jets
(``jet_pt_true``), the summary gives the response and resolution before and after.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from e2ejax import tasks
from e2ejax.commands._options import add_event_range, event_range, positive
from e2ejax.errors import InputError
from e2ejax.model_names import task_of

__all__ = ["add_arguments", "run", "SCORE"]

#: the friend tree's score name: branch ``jet_pt_calibrated``
SCORE = "pt_calibrated"

_TASK = tasks.get("jetcalib")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", help="E2E ROOT file with jets and their particle-flow candidates (jet_*, pf_* branches)")
    parser.add_argument("-o", "--output", help="output file (.root or .parquet; default <input>_calibrated.root in the working directory)")
    parser.add_argument("--model", default=_TASK.shipped_model,
                        help=f"the shipped {_TASK.shipped_model!r} model or a checkpoint directory of that task (default {_TASK.shipped_model})")
    parser.add_argument("--batch-size", type=int, default=256, help="events per batch (default 256)")
    add_event_range(parser)
    parser.add_argument("--overwrite", action="store_true",
                        help="replace an existing output that is not an e2ejax prediction file (earlier predictions are always replaced)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")


def _refuse_task(spec: str, task) -> None:
    """Raise InputError unless ``task`` (a model's, None when unknown before loading) is the calibration's."""
    if task not in (None, _TASK.name):
        raise InputError(f"--model: expected a {_TASK.title} model (task {_TASK.name}); found {spec!r} of task "
                         f"{task!r}; fix: use --model {_TASK.shipped_model} (and e2ejax tag for taggers)")


def _calibrator(spec: str):
    """``(batch -> calibrated pT float32 [B, S], 0 on padded slots)`` of a jet-calibration model."""
    import jax
    import numpy as np

    from e2ejax.inference import pad_rows
    from e2ejax.inputs import calibrated_pt, jet_constituents
    from e2ejax.nets import make_predict
    from e2ejax.store import load_model

    model, card, _ = load_model(spec)
    _refuse_task(spec, card.get("task") or "unknown")
    predict, params = make_predict(model, objective=_TASK.objective)
    predict = jax.jit(predict)
    constituents = jax.jit(lambda ev: jet_constituents(ev, n_constituents=model.config.n_constituents))

    def calibrate(batch) -> np.ndarray:
        mask = np.asarray(batch["jet_mask"], bool)
        rows = np.flatnonzero(mask)
        padded = pad_rows(rows)  # few compiled sizes; the padding rows' results are dropped
        inputs = constituents({k: batch[k] for k in batch if k.startswith(("jet_", "pf_"))})
        flat = [np.asarray(x).reshape((-1,) + x.shape[2:])[padded] for x in inputs]
        log_correction = np.asarray(predict(params, *flat))[: len(rows)]
        pt = np.zeros(mask.shape, np.float32)
        pt.reshape(-1)[rows] = calibrated_pt(np.asarray(batch["jet_pt"]).reshape(-1)[rows], log_correction)
        return pt

    return calibrate


def _resolution_line(reco, calibrated, true) -> str:
    """Response and resolution before and after, on the jets matched to a generator jet (``true >= 1`` GeV)."""
    import numpy as np

    from e2ejax.metrics import response_and_resolution

    if len(true) != len(reco):
        return "no generator jets (jet_pt_true) in the file: no response or resolution"
    reco, calibrated, true = (np.concatenate(x) if x else np.zeros(0) for x in (reco, calibrated, true))
    keep = (true >= 1.0) & (reco > 0)
    if not keep.any():
        return "no generator jets (jet_pt_true) in the file: no response or resolution"
    before = response_and_resolution(reco[keep], true[keep])
    after = response_and_resolution(calibrated[keep], true[keep])
    return (f"{int(keep.sum())} matched jets: response {before.response:.3f} -> {after.response:.3f}, "
            f"resolution {before.resolution:.4f} -> {after.resolution:.4f}")


def run(args) -> int:
    from e2ejax.io import check_files, check_output

    positive("--batch-size", args.batch_size)
    start, stop = event_range(args)
    _refuse_task(args.model, task_of(args.model))
    check_files(args.file, require=_TASK.hit_groups)
    path = args.file.split(":")[0]
    out = args.output or f"{Path(path).stem}_calibrated.root"
    check_output(out, overwrite=args.overwrite, source=args.file)

    import numpy as np
    from tqdm.auto import tqdm

    from e2ejax.io import PredictionWriter, entry_range_stop, iterate_events

    calibrate = _calibrator(args.model)
    stop = entry_range_stop(start, stop, args.max_events)
    n_events, reco, calibrated, true = 0, [], [], []
    with PredictionWriter(out, group=_TASK.seed_group, entry_start=start, entry_stop=stop, overwrite=args.overwrite) as writer, \
            tqdm(desc="calibrate", unit="ev", disable=args.quiet) as bar:
        for batch in iterate_events(args.file, step_size=args.batch_size, entry_start=start, entry_stop=stop,
                                    groups=_TASK.hit_groups):
            pt = calibrate(batch)
            mask = np.asarray(batch["jet_mask"], bool)
            writer.write({SCORE: pt}, mask=mask, batch=batch)
            reco.append(np.asarray(batch["jet_pt"])[mask])
            calibrated.append(pt[mask])
            if "jet_pt_true" in batch:
                true.append(np.asarray(batch["jet_pt_true"])[mask])
            n_events += len(mask)
            bar.update(len(mask))
        if n_events == 0:
            raise InputError(f"expected entries to calibrate in {args.file!r}; found none in entries [{start}, "
                             f"{'end' if stop is None else stop}); fix: choose a range inside the file")
    n_jets = sum(len(r) for r in reco)
    where = f"{args.file} entries [{start}, {start + n_events})" if args.entries or args.max_events else args.file
    print(f"{where}: {n_events} events, {n_jets} jets calibrated by model {args.model} -> {out} "
          f"(branch {_TASK.seed_group}_{SCORE})")
    print("  " + _resolution_line(reco, calibrated, true))
    if writer.replaced:
        print(f"replaced an earlier e2ejax prediction file at {out}")
    return 0
