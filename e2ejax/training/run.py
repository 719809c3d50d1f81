"""A training run from a config: examples, steps, checkpoints, resume, provenance and held-out evaluation.

The run directory (``output`` in the config) receives ``checkpoints/`` (orbax, last N +
best, model cards) and ``history.json``; each card records the conventions of the training
images (``input_conventions``, :func:`input_conventions`), which taggers check inputs
against. Running the same config again resumes from the latest complete checkpoint: the
data order depends only on the seed and the epoch, so a resumed run ends where an
uninterrupted one would.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import NamedTuple

import jax
import numpy as np
from flax import nnx

from e2ejax import conventions, tasks
from e2ejax.errors import InputError
from e2ejax.inputs import calibration_examples
from e2ejax.io import count_frame_rows, file_provenance, frame_format, frame_rows, iterate_events, write_json_atomic
from e2ejax.nets import build, takes_particles, takes_points
from e2ejax.store import Checkpointer, save_state
from e2ejax.training.batches import EVENTS_PER_READ, fixed_batches, seed_examples
from e2ejax.training.config import TrainConfig, display_path, load_config, make_optimizer, missing_data, simulate_commands
from e2ejax.training.evaluation import evaluate_calibration, evaluate_tagger, frame_examples, frame_inputs
from e2ejax.training.steps import TrainState, fit, make_steps

__all__ = ["RunResult", "train", "examples", "held_out_summary", "input_conventions"]


class RunResult(NamedTuple):
    """What :func:`train` did: the config, the examples seen per epoch, seconds spent (resumed runs
    included), the validation figures of the best parameters and the best step's held-out evaluation
    (None without ``data.test``)."""

    config: TrainConfig
    n_train: int
    seconds: float
    validation: dict
    evaluation: dict | None
    checkpoints: Path


def examples(files, *, task: str, n_points, n_constituents, max_events, batch_size, seed, shuffle, format_name=None,
             track_impact: str = "pt_weighted", particles=None):
    """Fixed-size :class:`~e2ejax.training.Batch` es of ``task`` from ``files`` (shuffled with ``seed``): ROOT
    files (frames built with ``track_impact``, or the jets' candidates for a particle network with input
    names ``particles``) or pre-cut frame files (of ``format_name``, default detected)."""
    if frame_inputs(files) and particles is not None:
        raise InputError(f"expected ROOT files with particle-flow candidates for a particle network; found frame files "
                         f"{list(files)[:2]}, which hold images only; fix: train a particle network on e2ejax simulate files")
    if frame_inputs(files):
        chunks = frame_examples(files, task=task, n_points=n_points, max_events=max_events, format_name=format_name)
    elif tasks.get(task).inputs == "constituents":
        events = iterate_events(list(files), max_events=max_events, step_size=EVENTS_PER_READ)
        chunks = ((x, t, np.zeros_like(t)) for x, t, _, _ in (calibration_examples(ev, n_constituents=n_constituents) for ev in events))
    else:
        events = iterate_events(list(files), max_events=max_events, step_size=EVENTS_PER_READ)
        chunks = (seed_examples(ev, task=task, n_points=n_points, track_impact=track_impact, particles=particles) for ev in events)
    rng = np.random.default_rng(seed) if shuffle else None
    return fixed_batches(chunks, batch_size=batch_size, rng=rng, buffer=8 * batch_size if shuffle else 0)


def _check_model_task(name: str, task: str) -> None:
    fits = tasks.get(task).networks
    if name not in fits:
        raise InputError(f"model {name!r} does not fit task {task!r}: expected model {' or '.join(fits)} for this task; "
                         "fix the config's model.name or task")


def _evaluate(predict, params, cfg, files, *, n_points, n_constituents, particles=None) -> dict:
    if tasks.get(cfg.task).inputs == "constituents":
        return evaluate_calibration(predict, params, files, n_constituents=n_constituents)
    return evaluate_tagger(predict, params, files, task=cfg.task, n_points=n_points, batch_size=cfg.training.batch_size,
                           format_name=cfg.data.format, track_impact=cfg.data.track_impact, particles=particles)


def _file_conventions(spec: str, cfg: TrainConfig) -> dict:
    """The conventions of the images the model sees from one data file: a frame file's format's; for a ROOT
    file GeV images built with the config's ``data.track_impact``, under what its first batch declares."""
    if frame_inputs([spec]):
        return dict(frame_format(frame_rows(spec)[0], cfg.data.format).conventions)
    first = next(iter(iterate_events([spec], max_events=1)), None)
    return {"image_units": "GeV", "track_impact": cfg.data.track_impact, **(first.conventions if first is not None else {})}


def input_conventions(cfg: TrainConfig, say=print) -> dict:
    """The input conventions (:mod:`e2ejax.conventions`) of a config's data, one set for all its files,
    for the model card's ``input_conventions``; the line about stored channels the models do not read
    goes to ``say``, once per frame format.

    Raises:
        InputError: files whose conventions differ (e.g. ROOT files with ML4SCI frame files).
    """
    files = list(dict.fromkeys(cfg.data.train + cfg.data.validation + cfg.data.test))
    found = {f: _file_conventions(f, cfg) for f in files}
    first = files[0]
    for f in files[1:]:
        if found[f] != found[first]:
            raise InputError(f"expected one set of input conventions for all the data files of the config; found "
                             f"{found[first]} in {display_path(first)!r} and {found[f]} in {display_path(f)!r}; "
                             "fix: train on files whose images are made alike (docs/ML4SCI.md, e2ejax.conventions)")
    if frame_inputs(files):
        by_format = {}
        for f in files:
            fmt = frame_format(frame_rows(f)[0], cfg.data.format)
            by_format.setdefault(fmt.name, (fmt, []))[1].append(display_path(frame_rows(f)[0]))
        for fmt, paths in by_format.values():
            note = fmt.unread_note(", ".join(dict.fromkeys(paths)))
            if note:
                say(note)
    return {k: v for k, v in found[first].items() if k in conventions.KEYS}


def held_out_summary(task: str, evaluation: dict) -> str:
    """One line of an evaluation of :mod:`e2ejax.training.evaluation`."""
    if tasks.get(task).objective == "regression":
        u, c = evaluation["uncalibrated"], evaluation["calibrated"]
        return (f"held-out ({evaluation['jets']} jets): response {u['response']:.3f} -> {c['response']:.3f}, "
                f"resolution {u['resolution']:.4f} -> {c['resolution']:.4f}")
    b = evaluation["best_baseline"]
    if b is None:
        return (f"held-out ({evaluation['seeds']} seeds): AUC {evaluation['auc']:.4f} ± {evaluation['auc_error']:.4f} "
                f"(no one-variable baseline: {evaluation['no_baselines']})")
    return (f"held-out ({evaluation['seeds']} seeds): AUC {evaluation['auc']:.4f} ± {evaluation['auc_error']:.4f} "
            f"vs baseline {b} {evaluation['baselines'][b]:.4f} ± {evaluation['baseline_errors'][b]:.4f} "
            f"(margin {evaluation['margin']:+.4f}, {evaluation['margin_sigma']:+.1f} standard errors)")


def _check_data(cfg: TrainConfig, config_path) -> None:
    """InputError naming the missing data files and the config's own commands that make them."""
    missing = missing_data(cfg)
    if not missing:
        return
    if frame_inputs(missing):
        files = dict.fromkeys(display_path(frame_rows(f)[0]) for f in missing)
        raise InputError(f"expected the data files of {str(config_path)!r} (paths relative to the config); missing: "
                         f"{', '.join(files)}; fix: download ML4SCI's files (the config's header, docs/ML4SCI.md) there, or fix the paths")
    commands = simulate_commands(config_path, missing)
    how = (f"make them with: {'; '.join(commands)}" if commands else
           "make them with 'e2ejax simulate' (the config's header holds no command writing them), or fix the paths")
    raise InputError(f"expected the data files of {str(config_path)!r} (paths relative to the config); "
                     f"missing: {', '.join(display_path(f) for f in missing)}; {how}")


def _start_over(out: Path, say) -> None:
    """``fresh``: remove the checkpoints and history of an earlier run in ``out`` (a new run
    saving over them would otherwise stop at the first step number they share)."""
    directory = out / "checkpoints"
    (out / "history.json").unlink(missing_ok=True)
    if not directory.is_dir():
        return
    steps = Checkpointer(directory).steps()
    shutil.rmtree(directory)
    if steps:
        say(f"--fresh: removed the {len(steps)} checkpoint(s) (steps {', '.join(map(str, steps))}) in {directory}")


HELD_OUT_LOG = "held_out.json"


def _held_out(ckpt: Checkpointer, out: Path, files: list, evaluate, say) -> dict:
    """The held-out evaluation of the best step, made once: after training, on the best parameters only
    (never while epochs are chosen). A best step whose card holds an evaluation of the same test files
    (same SHA-256) is not evaluated again; every evaluation made in the run directory is logged in
    ``held_out.json`` and the card records how many there were (``held_out_evaluations``)."""
    card = ckpt.card(step="best")
    if card.get("evaluation") is not None and card.get("data", {}).get("test") == files:
        return card["evaluation"]
    log_path = out / HELD_OUT_LOG
    log = json.loads(log_path.read_text()) if log_path.is_file() else []
    evaluation = evaluate()
    log.append({"step": int(card["step"]), "files": files, "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())})
    write_json_atomic(log_path, log)
    ckpt.update_card("best", {"evaluation": evaluation, "held_out_evaluations": len(log),
                              "data": {**card.get("data", {}), "test": files}})
    if len(log) > 1:
        say(f"held-out evaluation {len(log)} of this run directory ({display_path(log_path)}): figures of a held-out "
            "sample evaluated more than once are biased by the choice between its evaluations")
    return evaluation


def train(config_path, *, fresh: bool = False, progress: bool = True, command: str | None = None, say=print) -> RunResult:
    """Train the model of a config (see :mod:`e2ejax.training.config`), resuming an earlier run of it.

    Args:
        config_path: the training YAML.
        fresh: delete the checkpoints and history already in the output directory first.
        progress: progress bars and one line per epoch.
        command: the command line recorded in the model cards (default ``e2ejax train CONFIG``).
        say: where progress lines go (``print``).

    Raises:
        InputError: a bad config, a network that does not fit the task, no validation files,
            no labelled examples.
    """
    cfg = load_config(config_path)
    _check_model_task(cfg.model.name, cfg.task)
    task = tasks.get(cfg.task)
    if not cfg.data.validation:
        raise InputError("expected data.validation files in the config (early stopping and the best checkpoint use them)")
    _check_data(cfg, config_path)
    out = Path(cfg.output)
    model = build(cfg.model.name, cfg.model.options, rngs=nnx.Rngs(cfg.training.seed))
    n_points = model.config.n_points if takes_points(model) else None
    n_constituents = getattr(model.config, "n_constituents", None)
    particles = tuple(s.name for s in model.input_spec) if takes_particles(model) else None
    common = dict(task=cfg.task, n_points=n_points, n_constituents=n_constituents, max_events=cfg.data.max_events,
                  batch_size=cfg.training.batch_size, format_name=cfg.data.format, track_impact=cfg.data.track_impact,
                  particles=particles)
    limits = [n for n in (cfg.data.max_events, cfg.data.train_events) if n is not None]
    train_common = {**common, "max_events": min(limits) if limits else None}
    data_conventions = input_conventions(cfg, say)
    if frame_inputs(cfg.data.train):  # every row is a labelled example: counted without reading the frames
        n_train = count_frame_rows(cfg.data.train, task=cfg.task, format_name=cfg.data.format, max_rows=train_common["max_events"])
    else:
        n_train = sum(int(np.sum(b.weights)) for b in examples(cfg.data.train, seed=0, shuffle=False, **train_common))
    if n_train == 0:
        what = "jets matched to generator jets" if task.inputs == "constituents" else f"labelled {cfg.task} seeds"
        raise InputError(f"no {what} in {list(cfg.data.train)}; check the files and the task")
    steps_per_epoch = -(-n_train // cfg.training.batch_size)
    tx = make_optimizer(cfg.optimizer, total_steps=steps_per_epoch * cfg.training.epochs)
    steps = make_steps(model, tx, objective=task.objective, decorrelation=cfg.training.decorrelation)
    state = steps.init()
    if fresh:
        _start_over(out, say)
    ckpt = Checkpointer(out / "checkpoints", max_to_keep=cfg.training.keep_checkpoints)
    start_epoch, history, spent, best_params = 0, [], 0.0, None
    if not fresh and ckpt.latest_step() is not None:
        abstract = jax.eval_shape(lambda: steps.init())._asdict()
        restored, card = ckpt.restore(abstract, step="latest")
        state = TrainState(restored["params"], restored["opt_state"], restored["step"])
        history = card.get("history", [])
        best_params = ckpt.restore_params(abstract["params"], step="best")[0] if history else None
        spent = float(card.get("training_seconds", 0.0))
        start_epoch = len(history)
        say(f"resuming from step {int(state.step)} (epoch {start_epoch})")
    command = command or f"e2ejax train {config_path}"
    data_provenance = {split: [file_provenance(f) for f in getattr(cfg.data, split)] for split in ("train", "validation", "test")}
    t0 = time.perf_counter()

    def on_epoch_end(epoch, st, metrics, is_best):
        history.append(metrics)
        extra = {"history": history, "training_seconds": round(time.perf_counter() - t0 + spent, 1), "data": data_provenance,
                 "input_conventions": data_conventions}
        save_state(ckpt, st, name=cfg.model.name, model=model, task=cfg.task, config=cfg.to_dict(),
                   metrics={"val_loss": metrics["val_loss"], "train_loss": metrics["train_loss"]}, commands=[command],
                   extra=extra)
        (out / "history.json").write_text(json.dumps(history, indent=2))

    state, best, _ = fit(
        steps, state,
        lambda epoch: examples(cfg.data.train, seed=cfg.training.seed * 1000 + epoch, shuffle=True, **train_common),
        lambda: examples(cfg.data.validation, seed=0, shuffle=False, **common),
        epochs=cfg.training.epochs, patience=cfg.training.patience, start_epoch=start_epoch,
        on_epoch_end=on_epoch_end, progress=progress, history_before=list(history), best_params=best_params,
        steps_per_epoch=steps_per_epoch,
    )
    seconds = time.perf_counter() - t0 + spent
    validation = _evaluate(steps.predict, best, cfg, cfg.data.validation, n_points=n_points, n_constituents=n_constituents,
                           particles=particles)
    evaluation = None
    if cfg.data.test:
        evaluation = _held_out(ckpt, out, data_provenance["test"],
                               lambda: _evaluate(steps.predict, best, cfg, cfg.data.test, n_points=n_points,
                                                 n_constituents=n_constituents, particles=particles), say)
    return RunResult(cfg, n_train, seconds, validation, evaluation, out / "checkpoints")
