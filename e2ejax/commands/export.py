"""``e2ejax export MODEL -o DIR --format onnx,savedmodel``: export a trained model and check parity."""

from __future__ import annotations

import argparse
from pathlib import Path

from e2ejax.errors import E2EJaxError, InputError

FORMATS = ("onnx", "savedmodel")
#: largest |exported - JAX| accepted on the random parity inputs (float32; exports of the shipped models are within 1e-5)
PARITY_TOLERANCE = 1e-4


class ExportParityError(E2EJaxError):
    """An exported runtime's scores differ from JAX beyond :data:`PARITY_TOLERANCE`."""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from e2ejax.tasks import shipped_models

    parser.add_argument("model", help=f"a shipped model name ({', '.join(shipped_models())}) or a checkpoint directory")
    parser.add_argument("-o", "--output", required=True, help="output directory")
    parser.add_argument("--format", default="onnx", help="comma-separated: onnx, savedmodel (default onnx)")
    parser.add_argument("--layout", default="NHWC", choices=["NHWC", "NCHW"], help="ONNX image layout (default NHWC)")
    parser.add_argument("--no-verify", action="store_true", help="skip the parity check against JAX")
    parser.add_argument("--bundle", action="store_true",
                        help="also copy the exported step as a one-step checkpoint into the output directory, "
                             "so that it can be loaded by name or path (how the shipped models are made)")


def run(args) -> int:
    from e2ejax import tasks
    from e2ejax.inference import to_onnx, to_saved_model, verify
    from e2ejax.store import Checkpointer, load_model, resolve_checkpoint

    formats = [f.strip() for f in args.format.split(",") if f.strip()]
    bad = [f for f in formats if f not in FORMATS]
    if bad or not formats:
        raise InputError(f"--format: expected a comma-separated subset of {', '.join(FORMATS)}, found {args.format!r}")
    shipped = list(tasks.shipped_models())
    if not Path(args.model).is_dir() and args.model not in shipped:  # the store's hint names tag's --model form
        raise InputError(f"unknown model {args.model!r}: expected a shipped model name ({', '.join(shipped)}) or a "
                         "checkpoint directory; fix: e2ejax export qg -o DIR, or e2ejax export runs/NAME/checkpoints -o DIR "
                         "for a directory written by e2ejax train")
    model, card, _ = load_model(args.model)
    objective = tasks.get(card.get("task")).objective
    out = Path(args.output)
    provenance = {"checkpoint_step": card.get("step"), "metrics": card.get("metrics"), "training": card.get("provenance")}
    report = {}
    if "onnx" in formats:
        path = to_onnx(model, out / "model.onnx", objective=objective, layout=args.layout, card=provenance)
        print(f"wrote {path}")
        if not args.no_verify:
            report.update(verify(model, onnx_path=path, objective=objective, layout=args.layout))
    if "savedmodel" in formats:
        path = to_saved_model(model, out / "savedmodel", objective=objective, card=provenance)
        print(f"wrote {path}")
        if not args.no_verify:
            report.update(verify(model, saved_model=path, objective=objective))
    for runtime, diffs in report.items():
        print(f"parity {runtime}: " + ", ".join(f"batch {b}: {d:.1e}" for b, d in diffs.items()))
    check_parity(report, out)
    if args.bundle:
        source = Checkpointer(resolve_checkpoint(args.model))
        source.copy_step(int(card["step"]), out)
        print(f"bundled checkpoint step {card.get('step')} into {out}")
    return 0


def check_parity(report: dict, out: Path) -> None:
    """Fail the export when a runtime's scores are further than :data:`PARITY_TOLERANCE` from JAX.

    Args:
        report: ``{runtime: {batch: max |exported - JAX|}}`` from :func:`e2ejax.inference.verify`.
        out: the output directory (named in the message; its files stay for inspection).

    Raises:
        ExportParityError: some difference is above the tolerance (or not a number).
    """
    worst = {runtime: max(diffs.values()) for runtime, diffs in report.items() if diffs}
    bad = {runtime: d for runtime, d in worst.items() if not d <= PARITY_TOLERANCE}
    if bad:
        found = ", ".join(f"{runtime} {d:.1e}" for runtime, d in bad.items())
        raise ExportParityError(f"parity check: expected every exported output within {PARITY_TOLERANCE:.0e} of JAX; "
                                f"found a largest difference of {found}; the export in {str(out)!r} is not faithful: "
                                "do not use it (report it with the model and the command)")
