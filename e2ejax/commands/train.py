"""``e2ejax train CONFIG.yaml``: train a tagger on E2E ROOT files, with checkpoints and early stopping.

The run directory (``output`` in the config) receives ``checkpoints/`` (orbax,
last N + best, model cards) and ``history.json``. Re-running the same command
resumes from the latest complete checkpoint: data order depends only on the
seed and the epoch, so a resumed run ends where an uninterrupted one would.
"""

from __future__ import annotations

import argparse
import json
import shlex
import time
from pathlib import Path

import numpy as np

from e2ejax.errors import InputError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("config", help="training YAML (see e2ejax.config)")
    parser.add_argument("--fresh", action="store_true",
                        help="start over: delete the checkpoints and history already in the output directory")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


def _examples(files, *, task, n_points, n_constituents, max_events, batch_size, seed, shuffle):
    from e2ejax.frame_batches import EVENTS_PER_READ, fixed_batches, seed_examples
    from e2ejax.io import iterate_events

    events = iterate_events(list(files), max_events=max_events, step_size=EVENTS_PER_READ)
    if task == "jetcalib":
        from e2ejax.calibration import calibration_examples

        chunks = ((x, t, np.zeros_like(t)) for x, t, _, _ in (calibration_examples(ev, n_constituents=n_constituents) for ev in events))
    else:
        chunks = (seed_examples(ev, task=task, n_points=n_points) for ev in events)
    rng = np.random.default_rng(seed) if shuffle else None
    return fixed_batches(chunks, batch_size=batch_size, rng=rng, buffer=8 * batch_size if shuffle else 0)


def _check_model_task(name: str, task: str) -> None:
    wants_deepsets = task == "jetcalib"
    if wants_deepsets != (name == "deepsets"):
        expected = "deepsets" if wants_deepsets else "vgg, resnet15 or gnn"
        raise InputError(f"model {name!r} does not fit task {task!r}: expected model {expected} for this task; fix the config's model.name or task")


def _evaluate(steps, params, cfg, files, *, n_points, n_constituents) -> dict:
    from e2ejax.evaluation import evaluate_calibration, evaluate_tagger

    if cfg.task == "jetcalib":
        return evaluate_calibration(steps.predict, params, files, n_constituents=n_constituents)
    return evaluate_tagger(steps.predict, params, files, task=cfg.task, n_points=n_points, batch_size=cfg.training.batch_size)


def _summary(cfg, evaluation: dict) -> str:
    if cfg.task == "jetcalib":
        u, c = evaluation["uncalibrated"], evaluation["calibrated"]
        return (f"held-out ({evaluation['jets']} jets): response {u['response']:.3f} -> {c['response']:.3f}, "
                f"resolution {u['resolution']:.4f} -> {c['resolution']:.4f}")
    b = evaluation["best_baseline"]
    return (f"held-out ({evaluation['seeds']} seeds): AUC {evaluation['auc']:.4f} vs baseline {b} "
            f"{evaluation['baselines'][b]:.4f} (margin {evaluation['margin']:+.4f})")


def _start_over(out: Path) -> None:
    """``--fresh``: remove the checkpoints and history of an earlier run in ``out`` (a new run
    saving over them would otherwise stop at the first step number they share)."""
    import shutil

    from e2ejax.checkpoint import Checkpointer

    directory = out / "checkpoints"
    (out / "history.json").unlink(missing_ok=True)
    if not directory.is_dir():
        return
    steps = Checkpointer(directory).steps()
    shutil.rmtree(directory)
    if steps:
        print(f"--fresh: removed the {len(steps)} checkpoint(s) (steps {', '.join(map(str, steps))}) in {directory}", flush=True)


def run(args) -> int:
    from flax import nnx

    from e2ejax.checkpoint import Checkpointer
    from e2ejax.config import load_config, make_optimizer
    from e2ejax.io._info import file_provenance
    from e2ejax.models import abstract_state, save_state
    from e2ejax.nets import build
    from e2ejax.train import TrainState, fit, make_steps

    cfg = load_config(args.config)
    _check_model_task(cfg.model.name, cfg.task)
    if not cfg.data.validation:
        raise InputError("expected data.validation files in the config (early stopping and the best checkpoint use them)")
    out = Path(cfg.output)
    model = build(cfg.model.name, cfg.model.options, rngs=nnx.Rngs(cfg.training.seed))
    n_points = getattr(model.config, "n_points", None) if cfg.model.name == "gnn" else None
    n_constituents = getattr(model.config, "n_constituents", None)
    common = dict(task=cfg.task, n_points=n_points, n_constituents=n_constituents, max_events=cfg.data.max_events,
                  batch_size=cfg.training.batch_size)
    kind = "regression" if cfg.task == "jetcalib" else "classification"
    n_train = sum(int(np.sum(b.weights)) for b in _examples(cfg.data.train, seed=0, shuffle=False, **common))
    if n_train == 0:
        what = "jets matched to generator jets" if cfg.task == "jetcalib" else f"labelled {cfg.task} seeds"
        raise InputError(f"no {what} in {list(cfg.data.train)}; check the files and the task")
    steps_per_epoch = -(-n_train // cfg.training.batch_size)
    tx = make_optimizer(cfg.optimizer, total_steps=steps_per_epoch * cfg.training.epochs)
    steps = make_steps(model, tx, task=kind, decorrelation=cfg.training.decorrelation)
    state = steps.init()
    if args.fresh:
        _start_over(out)
    ckpt = Checkpointer(out / "checkpoints", max_to_keep=cfg.training.keep_checkpoints)
    start_epoch, history, spent, best_params = 0, [], 0.0, None
    if not args.fresh and ckpt.latest_step() is not None:
        abstract = abstract_state(model, cfg.optimizer, total_steps=steps_per_epoch * cfg.training.epochs)
        restored, card = ckpt.restore(abstract, step="latest")
        state = TrainState(restored["params"], restored["opt_state"], restored["step"])
        history = card.get("history", [])
        best_params = ckpt.restore(abstract, step="best")[0]["params"] if history else None
        spent = float(card.get("training_seconds", 0.0))
        start_epoch = len(history)
        print(f"resuming from step {int(state.step)} (epoch {start_epoch})", flush=True)
    command = getattr(args, "command_line", "e2ejax train " + shlex.quote(str(args.config)))
    data_provenance = {split: [file_provenance(f) for f in getattr(cfg.data, split)] for split in ("train", "validation", "test")}
    t0 = time.perf_counter()

    def on_epoch_end(epoch, st, metrics, is_best):
        history.append(metrics)
        extra = {"history": history, "training_seconds": round(time.perf_counter() - t0 + spent, 1), "data": data_provenance}
        if is_best and cfg.data.test:  # the held-out figures of these parameters go in their card
            extra["evaluation"] = _evaluate(steps, st.params, cfg, cfg.data.test, n_points=n_points, n_constituents=n_constituents)
        save_state(ckpt, st, name=cfg.model.name, model=model, task=cfg.task, config=cfg.to_dict(),
                   metrics={"val_loss": metrics["val_loss"], "train_loss": metrics["train_loss"]}, commands=[command],
                   extra=extra)
        (out / "history.json").write_text(json.dumps(history, indent=2))

    state, best, _ = fit(
        steps, state,
        lambda epoch: _examples(cfg.data.train, seed=cfg.training.seed * 1000 + epoch, shuffle=True, **common),
        lambda: _examples(cfg.data.validation, seed=0, shuffle=False, **common),
        epochs=cfg.training.epochs, patience=cfg.training.patience, start_epoch=start_epoch,
        on_epoch_end=on_epoch_end, progress=not args.quiet, history_before=list(history), best_params=best_params,
    )
    took = time.perf_counter() - t0 + spent
    result = _evaluate(steps, best, cfg, cfg.data.validation, n_points=n_points, n_constituents=n_constituents)
    if cfg.task == "jetcalib":
        quality = (f"validation resolution {result['uncalibrated']['resolution']:.4f} uncalibrated -> "
                   f"{result['calibrated']['resolution']:.4f} calibrated")
    else:
        quality = f"best validation AUC {result['auc']:.4f}"
    print(f"trained {cfg.model.name} on {n_train} {cfg.task} examples in {took:.0f} s; {quality}; checkpoints in {out / 'checkpoints'}")
    if cfg.data.test:
        best_card = ckpt.card(step="best")
        if "evaluation" in best_card:
            print(_summary(cfg, best_card["evaluation"]))
    return 0
