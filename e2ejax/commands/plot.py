"""``e2ejax plot loss|roc``: loss and ROC curves in the CMS style of mplhep (extra ``plot``).

Loss curves of one or more training runs (training dashed, validation solid, best
validation epoch starred)::

    e2ejax plot loss runs/egamma [runs/other ...] -o loss.png [--x step] [--log] [--train-only]

Each source is a run directory of ``e2ejax train`` (its ``history.json``), a checkpoint
directory (the history in the model card of its latest step), one step folder of it,
a ``history.json`` / ``model_card.json`` file, or a shipped model name (``egamma``).

ROC curves of every model in a friend file written by ``e2ejax tag``, against the truth
labels (``eg_label`` / ``jet_label``; -1 = unknown, skipped) of the input it tagged; the
AUC of each model is printed::

    e2ejax tag -q                       # writes sim_egamma_scores.root
    e2ejax plot roc sim_egamma_scores.root --truth e2ejax/data/sim_egamma.root -o roc.png
    e2ejax plot roc scores.root --truth in.root --baseline jet_mass --rejection -o roc.pdf

``--baseline BRANCH`` adds a one-variable curve from a per-candidate branch of the truth
file (``BRANCH:low`` when lower values are more signal-like). The format follows the
output's extension (png, pdf, svg ...); the figure is written under a temporary name and
renamed when complete, so a failed run leaves no output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from e2ejax.errors import InputError


def _common(p: argparse.ArgumentParser, default_output: str) -> None:
    p.add_argument("-o", "--output", default=default_output, help=f"output image, format from its extension (default {default_output})")
    p.add_argument("--size", default="10x10", help="figure size in inches, WIDTHxHEIGHT (default 10x10)")
    p.add_argument("--dpi", type=float, default=100.0, help="dots per inch of raster outputs (default 100: a 10x10 figure is 1000x1000 pixels)")
    p.add_argument("--rlabel", default=None, help="text at the top right of the axes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "see 'e2ejax plot loss --help' and 'e2ejax plot roc --help'"
    sub = parser.add_subparsers(dest="kind", metavar="KIND", required=True)
    loss = sub.add_parser("loss", help="training and validation loss per epoch of training runs",
                          description="Training (dashed) and validation (solid) loss of one or more runs; best validation epoch starred.")
    loss.add_argument("sources", nargs="+", metavar="RUN_OR_CHECKPOINT",
                      help="run directory of 'e2ejax train' (history.json), checkpoint directory or step folder, "
                           "history.json / model_card.json, or a shipped model name")
    loss.add_argument("--label", action="append", default=None, help="legend entry per source, in order (repeat; default the directory name)")
    loss.add_argument("--x", default="epoch", choices=["epoch", "step"], help="x axis (default epoch)")
    loss.add_argument("--log", action="store_true", help="logarithmic loss axis")
    loss.add_argument("--train-only", action="store_true", help="draw the training loss only (runs without a validation set)")
    _common(loss, "loss.png")
    roc = sub.add_parser("roc", help="ROC curves of tagged friend files against the truth labels of their input",
                         description="ROC curves (and AUC) of every model in friend files written by 'e2ejax tag'.")
    roc.add_argument("scores", nargs="+", metavar="SCORES",
                     help="friend ROOT file(s) written by 'e2ejax tag' (file.root or file.root:tree), all tagged from --truth")
    roc.add_argument("--truth", required=True, metavar="INPUT",
                     help="the input ROOT file that was tagged (holds eg_label or jet_label)")
    roc.add_argument("--model", default=None, help="comma-separated score names to draw (default all)")
    roc.add_argument("--baseline", action="append", default=[], metavar="BRANCH[:low]",
                     help="one-variable baseline from a per-candidate branch of the truth file; ':low' if lower is "
                          "more signal-like (repeat for several)")
    roc.add_argument("--rejection", action="store_true", help="signal efficiency vs background rejection (log scale)")
    _common(roc, "roc.png")


def _size(text: str) -> tuple[float, float]:
    parts = text.lower().replace(",", "x").split("x")
    try:
        w, h = (float(p) for p in parts)
    except ValueError:
        raise InputError(f"--size: expected WIDTHxHEIGHT in inches such as 10x10; found {text!r}") from None
    if not (w > 0 and h > 0):
        raise InputError(f"--size: expected positive width and height; found {text!r}")
    return w, h


def _setup(args) -> tuple[float, float]:
    from e2ejax.plotting import check_output

    size = _size(args.size)
    if not args.dpi > 0:
        raise InputError(f"--dpi: expected a positive number; found {args.dpi}")
    check_output(args.output)
    return size


def _run_loss(args, size) -> int:
    import numpy as np

    from e2ejax import plotting

    labels = args.label or []
    if labels and len(labels) != len(args.sources):
        raise InputError(f"--label: expected one per source ({len(args.sources)}); found {len(labels)}; repeat --label once per source")
    histories = [plotting.load_history(s, label=labels[i] if labels else None, require_val=not args.train_only)
                 for i, s in enumerate(args.sources)]
    fig = plotting.loss_figure(histories, x=args.x, log=args.log, train_only=args.train_only, size=size, rlabel=args.rlabel)
    for h in histories:
        line = f"{h.label}: {len(h.epoch)} epochs, last train_loss {h.train_loss[-1]:.4f}"
        if not args.train_only:
            best = int(np.nanargmin(h.val_loss))
            step = f", step {int(h.step[best])}" if np.isfinite(h.step[best]) else ""
            line += f", best val_loss {h.val_loss[best]:.4f} at epoch {int(h.epoch[best])}{step}"
        print(line + f" ({h.source})")
    print(f"wrote {plotting.save_figure(fig, args.output, dpi=args.dpi)}")
    return 0


def _run_roc(args, size) -> int:
    from e2ejax import plotting

    models = [m.strip() for m in args.model.split(",") if m.strip()] if args.model is not None else None
    if models is not None and not models:
        raise InputError("--model: expected at least one score name")
    inputs = plotting.load_roc_inputs(args.scores, args.truth, models=models, baselines=args.baseline)
    curves = plotting.roc_curves(inputs)
    rlabel = args.rlabel if args.rlabel is not None else Path(args.truth.split(":")[0]).name
    fig = plotting.roc_figure(curves, group=inputs.group, rejection=args.rejection, size=size, rlabel=rlabel)
    skipped = f", {inputs.n_unknown} with unknown label skipped" if inputs.n_unknown else ""
    print(f"{args.truth}: {inputs.n_entries} entries, {len(inputs.labels)} labelled {inputs.group} candidates "
          f"({curves[0].n_signal} label 1, {curves[0].n_background} label 0{skipped})")
    for c in curves:
        print(f"{c.name}: AUC {c.auc:.4f}")
    print(f"wrote {plotting.save_figure(fig, args.output, dpi=args.dpi)}")
    return 0


def run(args) -> int:
    size = _setup(args)
    return _run_loss(args, size) if args.kind == "loss" else _run_roc(args, size)
