"""``e2ejax plot loss|roc|mass``: loss and ROC curves in the CMS style of mplhep (extra ``plot``).

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

The axes name the classes of the truth file's task (``quark`` / ``gluon`` efficiency ...,
the ``sample`` of its ``e2ejax simulate`` record, or ``--task``; else signal / background).
``--baseline NAME`` adds a one-variable curve: a baseline of the task computed from the
input file (``girth``, ``multiplicity``, ``-|mass - 172.5|``, ``phi_width`` ...: those of
``e2ejax.tasks``; ``--baseline all`` for every one) or a per-candidate branch of the truth
file (``BRANCH:low`` when lower values are more signal-like). Samples of fewer than 5000
labelled candidates get 68% bootstrap bands (``--bootstrap N`` resamples; 0: none).

Background mass sculpting of jet taggers (DeepDoubleB's mass-decorrelation figure of merit):
the jet mass of the background before and after a cut on each score at 50% signal
efficiency (``--signal-efficiency``), normalised, with the signal before the cut for
reference; the Jensen-Shannon divergence of the two background shapes
(:func:`e2ejax.metrics.mass_sculpting`), its floor from random selections of the same
background efficiency, and the background efficiency are printed and in the legend::

    e2ejax plot mass scores.root --input e2ejax/data/sim_top.root --score top -o mass.png [--bins 30 --range 0,300]

Event and frame displays::

    e2ejax plot event e2ejax/data/sim_qg.root --entry 3 -o event.png
    e2ejax plot frame e2ejax/data/sim_qg.root --entry 3 --model qg [--candidate 1] -o frame.png

``event`` draws the stitched ECAL, HCAL and track-pT images of one entry with the task's
seeds and frames (green: in acceptance, orange: zero-padded in eta); ``frame`` draws one
candidate's frame with the gradient of the model's score overlaid. Every figure is labelled
"e2ejax Simulation Private Work". The format follows the output's extension (png, pdf, svg
...); the figure is written under a temporary name and renamed when complete, so a failed
run leaves no output.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from e2ejax import tasks
from e2ejax.errors import InputError

#: labelled candidates below which ROC curves get bootstrap bands by default
SMALL_SAMPLE = 5000


#: bootstrap resamples of small samples
_BOOTSTRAP = 200


def _common(p: argparse.ArgumentParser, default_output: str, default_size: str | None = "10x10") -> None:
    p.add_argument("-o", "--output", default=default_output, help=f"output image, format from its extension (default {default_output})")
    p.add_argument("--size", default=default_size,
                   help=f"figure size in inches, WIDTHxHEIGHT (default {default_size or '5 per channel x 5.5'})")
    p.add_argument("--dpi", type=float, default=100.0, help="dots per inch of raster outputs (default 100: a 10x10 figure is 1000x1000 pixels)")
    p.add_argument("--rlabel", default=None, help="text at the top right of the axes")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = "see 'e2ejax plot KIND --help' for loss, roc, mass, event and frame"
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
    roc.add_argument("--baseline", action="append", default=[], metavar="NAME|all|BRANCH[:low]",
                     help="one-variable baseline: one of the task's (e.g. girth, multiplicity, '-|mass - 172.5|', "
                          "phi_width) computed from the input, 'all' of them, or a per-candidate branch of the truth "
                          "file (':low' if lower is more signal-like); repeat for several")
    roc.add_argument("--task", default=None, choices=tasks.taggers(),
                     help="the truth file's task, for class names and baselines (default: from its e2ejax simulate record)")
    roc.add_argument("--bootstrap", type=int, default=None, metavar="N",
                     help=f"bootstrap resamples of the 68%% uncertainty bands (default {_BOOTSTRAP} below "
                          f"{SMALL_SAMPLE} labelled candidates, else 0; 0: no bands)")
    roc.add_argument("--rejection", action="store_true", help="signal efficiency vs background rejection (log scale)")
    _common(roc, "roc.png")
    mass = sub.add_parser("mass", help="background jet mass before and after a cut on each score (mass sculpting, JSD)",
                          description="Background jet mass before and after a cut on each score of friend files written by "
                                      "'e2ejax tag' at a fixed signal efficiency, normalised, with the Jensen-Shannon "
                                      "divergence of the two shapes and the background efficiency.")
    mass.add_argument("scores", nargs="+", metavar="FRIEND",
                      help="friend ROOT file(s) written by 'e2ejax tag' (file.root or file.root:tree), all tagged from --input")
    mass.add_argument("--input", required=True, metavar="INPUT",
                      help="the input ROOT file that was tagged (jet_label and jet_mass)")
    mass.add_argument("--score", action="append", default=None, metavar="NAME",
                      help="score to draw (repeat or comma-separate; default all); with several files NAME is STEM:model")
    mass.add_argument("--signal-efficiency", type=float, default=0.5, metavar="EFF",
                      help="signal efficiency of the cut on each score, in (0, 1] (default 0.5)")
    mass.add_argument("--bins", type=int, default=30, help="mass bins (default 30)")
    mass.add_argument("--range", default="0,300", metavar="LO,HI", help="mass range in GeV (default 0,300)")
    mass.add_argument("--task", default=None, choices=tasks.taggers(),
                      help="the input's task, for class names (default: from its e2ejax simulate record)")
    _common(mass, "mass.png")
    event = sub.add_parser("event", help="stitched ECAL, HCAL and track images of one event with its seeds and frames",
                           description="Event display: the stitched ECAL, HCAL and track-pT images of one entry, "
                                       "with the task's seeds and frames marked.")
    event.add_argument("file", metavar="FILE", help="an E2E ROOT file (file.root or file.root:tree)")
    event.add_argument("--entry", type=int, default=0, help="entry number (default 0)")
    event.add_argument("--task", default=None, choices=tasks.taggers(),
                       help="whose seeds and frames to mark (default: from the file's e2ejax simulate record, else qg "
                            "for jets, egamma for e/gamma candidates)")
    _common(event, "event.png", "18x6")
    frame = sub.add_parser("frame", help="one candidate's frame with the saliency of a model's score",
                           description="Frame display: one candidate's frame, channel by channel, with the gradient "
                                       "of the model's score with respect to each pixel overlaid.")
    frame.add_argument("file", metavar="FILE", help="an E2E ROOT file (file.root or file.root:tree)")
    frame.add_argument("--entry", type=int, default=0, help="entry number (default 0)")
    image_taggers = ", ".join(tasks.get(t).shipped_model for t in tasks.taggers())
    frame.add_argument("--model", required=True, help=f"a shipped image tagger ({image_taggers}) or a checkpoint directory")
    frame.add_argument("--candidate", type=int, default=0, help="seed slot of the candidate in the event (default 0)")
    _common(frame, "frame.png", None)


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

    size = _size(args.size) if args.size is not None else None
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


def _baseline_specs(specs, task: str | None) -> tuple[list[str], list[str]]:
    """(task baselines to compute from the input, truth-file branches) of the --baseline values."""
    known = list(tasks.get(task).baselines) if task else []
    computed, branches = [], []
    for spec in specs:
        if spec == "all":
            if not known:
                raise InputError("--baseline all: expected a task with baselines; the truth file has no e2ejax simulate "
                                 f"record naming one; pass --task (one of {tasks.taggers()})")
            computed += known
        elif spec in known:
            computed.append(spec)
        else:
            branches.append(spec)
    return list(dict.fromkeys(computed)), branches


def _run_roc(args, size) -> int:
    from e2ejax import plotting
    from e2ejax.io import file_provenance

    models = [m.strip() for m in args.model.split(",") if m.strip()] if args.model is not None else None
    if models is not None and not models:
        raise InputError("--model: expected at least one score name")
    if args.bootstrap is not None and args.bootstrap < 0:
        raise InputError(f"--bootstrap: expected 0 (no bands) or a number of resamples >= 2; found {args.bootstrap}")
    truth_path = args.truth.split(":")[0]
    task = args.task or tasks.sample_task(file_provenance(truth_path))
    computed, branches = _baseline_specs(args.baseline, task)
    inputs = plotting.load_roc_inputs(args.scores, args.truth, models=models, baselines=branches)
    if task and tasks.get(task).seed_group != inputs.group:
        raise InputError(f"expected {tasks.get(task).seed_group} scores for task {task} of {truth_path!r}; found "
                         f"{inputs.group} scores; pass --task with the task of the scores")
    scores = dict(inputs.scores)
    if computed:
        computed_scores = plotting.input_baselines(args.truth, task, computed, inputs.entry, inputs.slot)
        scores.update(plotting.better_orientation(inputs.labels, computed_scores))
    n = len(inputs.labels)
    bootstrap = args.bootstrap if args.bootstrap is not None else (_BOOTSTRAP if n < SMALL_SAMPLE else 0)
    curves = plotting.roc_curves(inputs.labels, scores, bootstrap=bootstrap)
    classes = plotting.roc_classes(task, inputs.group)
    rlabel = args.rlabel if args.rlabel is not None else Path(truth_path).name
    fig = plotting.roc_figure(curves, classes=classes, rejection=args.rejection, size=size, rlabel=rlabel)
    skipped = f", {inputs.n_unknown} with unknown label skipped" if inputs.n_unknown else ""
    print(f"{args.truth}: {inputs.n_entries} entries, {n} labelled {inputs.group} candidates "
          f"({curves[0].n_signal} {classes[1]}, {curves[0].n_background} {classes[0]}{skipped})"
          f"{f'; task {task}' if task else '; task unknown (pass --task to name the classes)'}")
    for c in curves:
        spread = f" +- {c.band.auc_std:.4f} (bootstrap, {c.band.n_resamples} resamples)" if c.band is not None else ""
        print(f"{c.name}: AUC {c.auc:.4f}{spread}")
    print(f"wrote {plotting.save_figure(fig, args.output, dpi=args.dpi)}")
    return 0


def _mass_edges(bins: int, text: str):
    import numpy as np

    if bins < 1:
        raise InputError(f"--bins: expected a positive number of mass bins; found {bins}")
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise InputError(f"--range: expected LO,HI in GeV such as 0,300; found {text!r}") from None
    if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo):
        raise InputError(f"--range: expected finite LO < HI; found {text!r}")
    return np.linspace(lo, hi, bins + 1)


def _run_mass(args, size) -> int:
    import numpy as np

    from e2ejax import plotting
    from e2ejax.io import file_provenance
    from e2ejax.metrics import mass_sculpting
    from e2ejax.plotting.mass import input_jet_mass

    names = None
    if args.score is not None:
        names = list(dict.fromkeys(n.strip() for spec in args.score for n in spec.split(",") if n.strip()))
        if not names:
            raise InputError("--score: expected at least one score name")
    if not 0.0 < args.signal_efficiency <= 1.0:
        raise InputError(f"--signal-efficiency: expected a fraction in (0, 1]; found {args.signal_efficiency}")
    edges = _mass_edges(args.bins, args.range)
    input_path = args.input.split(":")[0]
    task = args.task or tasks.sample_task(file_provenance(input_path))
    try:
        inputs = plotting.load_roc_inputs(args.scores, args.input)
    except InputError as exc:  # its messages name plot roc's --truth: here the flag is --input
        raise InputError(str(exc).replace("--truth", "--input")) from None
    if inputs.group != "jet":
        raise InputError(f"expected jet scores (a mass-sculpting figure needs jet masses); found {inputs.group} scores in "
                         f"{args.scores[0]!r}; tag a jet sample (e.g. --model top)")
    if names is not None:
        unknown = [n for n in names if n not in inputs.scores]
        if unknown:
            raise InputError(f"--score: expected names among {sorted(inputs.scores)}; found {unknown}; drop or fix them")
    scores = {n: inputs.scores[n] for n in (names or inputs.scores)}
    mass = input_jet_mass(args.input, inputs.entry, inputs.slot)
    labels = inputs.labels
    results = {}
    for name, s in scores.items():
        try:
            results[name] = mass_sculpting(labels, s, mass, signal_efficiency=args.signal_efficiency, bins=edges)
        except InputError as exc:
            raise InputError(f"mass sculpting of {name!r}: {exc}") from None
    signal = np.histogram(mass[labels == 1], edges)[0]
    if not signal.sum() > 0:
        signal = None  # no signal jet inside the range: nothing to draw for reference
    classes = plotting.roc_classes(task, inputs.group)
    rlabel = args.rlabel if args.rlabel is not None else Path(input_path).name
    fig = plotting.mass_figure(results, signal=signal, signal_efficiency=args.signal_efficiency, classes=classes,
                               size=size, rlabel=rlabel)
    n_sig, n_bkg = int((labels == 1).sum()), int((labels == 0).sum())
    inside = int(((mass[labels == 0] >= edges[0]) & (mass[labels == 0] <= edges[-1])).sum())
    print(f"{args.input}: {inputs.n_entries} entries, {n_sig} {classes[1]} and {n_bkg} {classes[0]} jets "
          f"({inside} {classes[0]} in {edges[0]:g}-{edges[-1]:g} GeV); cut at {classes[1]} efficiency "
          f"{args.signal_efficiency:g}")
    for name, r in results.items():
        jsd = "n/a (no background left in range)" if np.isnan(r.jsd) else f"{r.jsd:.4f}"
        floor = "" if np.isnan(r.jsd_random) else f" (random selection {r.jsd_random:.4f} +- {r.jsd_random_std:.4f})"
        print(f"{name}: JSD {jsd}{floor}, {classes[0]} efficiency {r.background_efficiency:.4f}, "
              f"{classes[1]} efficiency {r.signal_efficiency:.4f} at score >= {r.threshold:.6g}")
    print(f"wrote {plotting.save_figure(fig, args.output, dpi=args.dpi)}")
    return 0


def _display_task(path: str, task: str | None) -> str:
    """The task of an event display: ``--task``, the file's e2ejax simulate record, else by the groups it holds."""
    from e2ejax.io import file_provenance

    from e2ejax.io import check_files

    task = task or tasks.sample_task(file_provenance(path))
    if task:
        return task

    try:
        check_files([path], require=tasks.get("egamma").hit_groups)
        return "egamma"
    except InputError:
        return "qg"


def _run_event(args, size) -> int:
    from e2ejax import plotting

    task = _display_task(args.file.split(":")[0], args.task)
    t = tasks.get(task)
    groups = tuple(dict.fromkeys(t.hit_groups + ("trk", "hbhe")))
    event = plotting.read_entry(args.file, args.entry, groups=groups)
    fig = plotting.event_figure(event, task=task, size=size, rlabel=args.rlabel or f"{Path(args.file.split(':')[0]).name} entry {args.entry}")
    mask = event[t.mask_field][0]
    print(f"{args.file} entry {args.entry}: {int(mask.sum())} {t.seed_group} seeds of task {task} "
          f"(frames {t.frame_size}x{t.frame_size})")
    print(f"wrote {plotting.save_figure(fig, args.output, dpi=args.dpi)}")
    return 0


def _run_frame(args, size) -> int:
    import numpy as np

    from e2ejax import plotting
    from e2ejax.store import load_model

    model, card, _ = load_model(args.model)
    task = card.get("task")
    if task not in tasks.taggers():
        raise InputError(f"--model: expected a tagger ({', '.join(tasks.taggers())}); found a model of task {task!r}; "
                         "pick a tagger or one of its checkpoints")
    event = plotting.read_entry(args.file, args.entry, groups=tasks.get(task).hit_groups)
    sal = plotting.frame_saliency(model, task, event, args.candidate)
    fig = plotting.frame_figure(sal, size=size, rlabel=args.rlabel)
    peak = np.unravel_index(int(np.argmax(np.abs(sal.saliency))), sal.saliency.shape)
    print(f"{args.file} entry {args.entry} candidate {args.candidate}: {task} score {sal.score:.4f}; largest "
          f"|d score / d pixel| {float(np.abs(sal.saliency).max()):.3g} /GeV at pixel ({peak[0]}, {peak[1]}) of {sal.channels[peak[2]]}")
    print(f"wrote {plotting.save_figure(fig, args.output, dpi=args.dpi)}")
    return 0


def run(args) -> int:
    size = _setup(args)
    return {"loss": _run_loss, "roc": _run_roc, "mass": _run_mass, "event": _run_event, "frame": _run_frame}[args.kind](args, size)
